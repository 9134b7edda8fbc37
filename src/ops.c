/*-------------------------------------------------------------------------
 *
 * ops.c
 *	  SQL-callable helpers for the operations API (sql/install/40_ops.sql):
 *	  waking the sync worker at commit and reading the worker's shared state.
 *
 * Everything else in the operations API is SQL; these are the parts that
 * must touch shared memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

#include "kcloud_shopify.h"

PG_FUNCTION_INFO_V1(kcloud_shopify_wake);
PG_FUNCTION_INFO_V1(kcloud_shopify_worker_state);
PG_FUNCTION_INFO_V1(kcloud_shopify_api_version);

/*
 * kcloud_shopify.wake(): wake the sync worker once the calling transaction
 * commits.  Same path as capture (kcs_request_wake), so a rolled-back resync
 * or pause wakes nobody and the worker never looks before the rows it should
 * see are visible.
 */
Datum
kcloud_shopify_wake(PG_FUNCTION_ARGS)
{
	kcs_request_wake();
	PG_RETURN_VOID();
}

/*
 * kcloud_shopify.worker_state(): what the sync worker publishes in shared
 * memory, as one row (columns in 40_ops.sql).  Without
 * shared_preload_libraries there is no shared state and every column is
 * NULL (the status view still works).
 *
 * This build's shared state holds the worker's pid and the wake-up
 * counters; the throttle bucket, last success/failure and request counters
 * (columns 2 and 5-15) are NULL until the worker publishes them.
 */
#define WORKER_STATE_COLS 15
Datum
kcloud_shopify_worker_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[WORKER_STATE_COLS];
	bool		nulls[WORKER_STATE_COLS];
	pid_t		pid;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	if (tupdesc->natts != WORKER_STATE_COLS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("kcloud_shopify.worker_state() is declared with %d columns, the library returns %d",
						tupdesc->natts, WORKER_STATE_COLS),
				 errhint("Run ALTER EXTENSION kcloud_shopify UPDATE, or install the matching library.")));
	tupdesc = BlessTupleDesc(tupdesc);
	memset(values, 0, sizeof(values));
	for (i = 0; i < WORKER_STATE_COLS; i++)
		nulls[i] = true;

	if (kcs_shared != NULL)
	{
		LWLockAcquire(kcs_shared->lock, LW_SHARED);
		pid = kcs_shared->worker_pid;
		LWLockRelease(kcs_shared->lock);

		if (pid != 0)
		{
			values[0] = Int32GetDatum((int32) pid);
			nulls[0] = false;
		}
		values[2] = BoolGetDatum(pg_atomic_read_u32(&kcs_shared->wake_pending) != 0);
		nulls[2] = false;
		values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->wakes_sent));
		nulls[3] = false;
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * kcloud_shopify.api_version(): the Shopify Admin API version this build
 * speaks.  It is fixed at build time because the GraphQL documents are
 * written against it; moving to a new version means a new release.
 */
Datum
kcloud_shopify_api_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(KCS_API_VERSION));
}
