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

/* a TimestampTz of 0 means "never": NULL */
static void
put_ts(Datum *values, bool *nulls, int i, TimestampTz ts)
{
	if (ts == 0)
		nulls[i] = true;
	else
		values[i] = TimestampTzGetDatum(ts);
}

/*
 * kcloud_shopify.worker_state(): what the sync worker publishes in shared
 * memory, as one row.  Without shared_preload_libraries there is no shared
 * state: every column is NULL then (the status view still works).
 */
#define WORKER_STATE_COLS 15
Datum
kcloud_shopify_worker_state(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[WORKER_STATE_COLS];
	bool		nulls[WORKER_STATE_COLS];
	pid_t		pid;
	TimestampTz started_at,
				observed_at,
				success_at,
				failure_at;
	double		bmax,
				bavail,
				brate;
	char		last_error[sizeof(kcs_shared->last_error)];
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
	memset(nulls, 0, sizeof(nulls));

	if (kcs_shared == NULL)
	{
		for (i = 0; i < WORKER_STATE_COLS; i++)
			nulls[i] = true;
		PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
	}

	/* one consistent copy of the locked fields */
	LWLockAcquire(kcs_shared->lock, LW_SHARED);
	pid = kcs_shared->worker_pid;
	started_at = kcs_shared->worker_started_at;
	bmax = kcs_shared->bucket_max;
	bavail = kcs_shared->bucket_available;
	brate = kcs_shared->bucket_restore_rate;
	observed_at = kcs_shared->bucket_observed_at;
	success_at = kcs_shared->last_success_at;
	failure_at = kcs_shared->last_failure_at;
	strlcpy(last_error, kcs_shared->last_error, sizeof(last_error));
	LWLockRelease(kcs_shared->lock);

	if (pid == 0)
		nulls[0] = true;
	else
		values[0] = Int32GetDatum((int32) pid);
	put_ts(values, nulls, 1, started_at);
	values[2] = BoolGetDatum(pg_atomic_read_u32(&kcs_shared->wake_pending) != 0);
	values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->wakes_sent));
	if (observed_at == 0)
		nulls[4] = nulls[5] = nulls[6] = nulls[7] = true;
	else
	{
		values[4] = Float8GetDatum(bavail);
		values[5] = Float8GetDatum(bmax);
		values[6] = Float8GetDatum(brate);
		values[7] = TimestampTzGetDatum(observed_at);
	}
	put_ts(values, nulls, 8, success_at);
	put_ts(values, nulls, 9, failure_at);
	if (last_error[0] == '\0')
		nulls[10] = true;
	else
		values[10] = CStringGetTextDatum(last_error);
	values[11] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->requests_sent));
	values[12] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->requests_failed));
	values[13] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->throttled_replies));
	values[14] = Int64GetDatum((int64) pg_atomic_read_u64(&kcs_shared->cost_points));

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
