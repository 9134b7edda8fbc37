/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The sync worker: drain kcloud_shopify.queue to Shopify.
 *
 * One background worker, registered from shared_preload_libraries, runs in
 * the database named by kcloud_shopify.database.  It sleeps on its latch;
 * committing writers wake it (kcs_request_wake), and a slow fallback tick
 * (kcloud_shopify.idle_interval) covers a missed wake-up.  A round:
 *
 *   1. one short transaction: is the extension installed, is a shop
 *      connected (settings), first sync still to queue, leases of a
 *      previous life to recover, paused?
 *   2. the per-round hooks of the entity and order code, if linked in;
 *   3. for each kind in dependency order (location, product, customer,
 *      inventory), batch after batch:
 *        claim   short transaction: queue_claim(kind, batch, lease), commit;
 *        fence   kcs_capture_wait() in a fresh READ COMMITTED transaction, so
 *                every change whose capture saw the entity pending has
 *                committed before the entity code reads CI;
 *        send    kcs_sync_<kind>s(items, n) with no transaction open;
 *        record  short transaction: ack the items that went through, fail
 *                (backoff with jitter) or defer the others, write the
 *                activity log.
 *   4. sleep until woken, the next retry is due, or the fallback tick.
 *
 * The worker idles on a standby (RecoveryInProgress) and starts working
 * after promotion.  SIGHUP reloads the configuration, SIGTERM stops it
 * promptly (HTTP transfers are abandoned, see http.c).  An unexpected error
 * ends the process with exit code 1 and the postmaster starts it again
 * after 5 s; the new life returns the rows its predecessor had in flight to
 * pending before claiming anything.  An error raised by entity code for one
 * batch is caught instead: the batch is retried with backoff, so one bad
 * entity cannot make the worker crash in a loop.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* before jansson: fmgrprotos.h declares a json_object() that clashes with jansson's */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

#define KCS_WORKER_NAME "kcloud_shopify sync worker"

/* retry an entity waiting for a dependency after this many seconds */
#define KCS_WAIT_RETRY_S 5
/* check for expired leases this often */
#define KCS_RECOVER_EVERY_MS 60000

PGDLLEXPORT void kcs_worker_main(Datum main_arg);

typedef void (*KcsSyncFn) (KcsItem *items, int n);

typedef struct KindDef
{
	const char *kind;
	int		   *batch;
	KcsSyncFn	fn;
	/* the last key claimed: the next claim goes on from there (queue_claim) */
	char		cursor1[NAMEDATALEN * 2];
	char		cursor2[NAMEDATALEN * 2];
	bool		has_cursor;
} KindDef;

static KindDef kinds[] = {
	{"location", &kcs_batch_location, kcs_sync_locations},
	{"product", &kcs_batch_product, kcs_sync_products},
	{"customer", &kcs_batch_customer, kcs_sync_customers},
	{"inventory", &kcs_batch_inventory, kcs_sync_inventory},
};
#define NKINDS lengthof(kinds)

/* bulk.c, if linked in: a big product backlog as one bulk mutation */
extern void kcs_bulk_products(void) __attribute__((weak));

static MemoryContext batch_cxt = NULL;
static bool recovered = false;
static TimestampTz last_recover_at = 0;

void
kcs_worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "kcloud_shopify");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "kcs_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, KCS_WORKER_NAME);
	snprintf(worker.bgw_type, BGW_MAXLEN, KCS_WORKER_NAME);
	worker.bgw_main_arg = (Datum) 0;
	worker.bgw_notify_pid = 0;
	RegisterBackgroundWorker(&worker);
}

static void
worker_exit(int code, Datum arg)
{
	if (kcs_shared == NULL)
		return;
	LWLockAcquire(kcs_shared->lock, LW_EXCLUSIVE);
	if (kcs_shared->worker_pid == MyProcPid)
	{
		kcs_shared->worker_pid = 0;
		kcs_shared->worker_procno = -1;
	}
	LWLockRelease(kcs_shared->lock);
}

static void
spi_check(int rc, int expected, const char *what)
{
	if (rc != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify worker: %s failed: %s", what,
						SPI_result_code_string(rc))));
}

static void
handle_reload(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Sleep until woken (latch), timeout, or a signal. */
static void
worker_wait(long ms)
{
	if (pg_atomic_read_u32(&kcs_shared->wake_pending) != 0)
		return;
	pgstat_report_activity(STATE_IDLE, NULL);
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(ms, 1), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * Is sending paused, by kcloud_shopify.pause() (a settings row, so it
 * survives restarts) or by the kcloud_shopify.paused GUC?  One short
 * transaction, at the start of a round and before each further batch, so a
 * pause committed mid-round stops the next batch.  pause() and resume()
 * wake the worker at commit.
 */
static bool
sync_paused(void)
{
	bool		paused;
	bool		isnull;

	if (kcs_paused)
		return true;
	kcs_xact_begin();
	spi_check(SPI_execute("SELECT kcloud_shopify.is_paused()", true, 1),
			  SPI_OK_SELECT, "is_paused");
	paused = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	kcs_xact_commit();
	return paused && !isnull;
}

/*
 * Start of a round: is there anything to do?  Loads the connection, queues
 * the first sync of a newly found connection and recovers leases.
 */
static bool
round_prepare(void)
{
	bool		connected;

	kcs_xact_begin();
	if (!OidIsValid(get_extension_oid(KCS_EXTNAME, true)))
	{
		kcs_xact_commit();
		recovered = false;
		return false;
	}
	connected = kcs_conn_load();
	if (!connected)
	{
		/* no shop: leave the queue alone (tests claim rows by hand, too) */
		kcs_xact_commit();
		return false;
	}
	if (!recovered)
	{
		int			rc = SPI_execute("SELECT kcloud_shopify.queue_recover(true)", false, 1);

		spi_check(rc, SPI_OK_SELECT, "queue_recover");
		recovered = true;
		last_recover_at = GetCurrentTimestamp();
	}
	else if (TimestampDifferenceExceeds(last_recover_at, GetCurrentTimestamp(),
										KCS_RECOVER_EVERY_MS))
	{
		spi_check(SPI_execute("SELECT kcloud_shopify.queue_recover(false)", false, 1),
				  SPI_OK_SELECT, "queue_recover");
		last_recover_at = GetCurrentTimestamp();
	}
	/* a connection restored with the database: queue its first sync */
	spi_check(SPI_execute("SELECT kcloud_shopify.first_sync()", false, 1),
			  SPI_OK_SELECT, "first_sync");
	kcs_xact_commit();
	return true;
}

/* Claim a batch of one kind; items are allocated in batch_cxt. */
static int
claim(KindDef *kd, KcsItem **items_out)
{
	Oid			types[5] = {TEXTOID, INT4OID, INTERVALOID, TEXTOID, TEXTOID};
	Datum		vals[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	int			n;
	int			i;
	KcsItem    *items;
	char	   *lease;

	kcs_xact_begin();
	lease = psprintf("%d seconds", kcs_lease_s);
	vals[0] = CStringGetTextDatum(kd->kind);
	vals[1] = Int32GetDatum(*kd->batch);
	vals[2] = DirectFunctionCall3(interval_in, CStringGetDatum(lease),
								  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	if (kd->has_cursor)
	{
		vals[3] = CStringGetTextDatum(kd->cursor1);
		vals[4] = CStringGetTextDatum(kd->cursor2);
	}
	else
		nulls[3] = nulls[4] = 'n';
	spi_check(SPI_execute_with_args("SELECT key1, key2, attempts, lease_token "
									"FROM kcloud_shopify.queue_claim($1, $2, $3, $4, $5)",
									5, types, vals, nulls, false, 0),
			  SPI_OK_SELECT, "queue_claim");
	n = (int) SPI_processed;
	items = MemoryContextAllocZero(batch_cxt, sizeof(KcsItem) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;

		items[i].kind = kd->kind;
		items[i].key1 = MemoryContextStrdup(batch_cxt, SPI_getvalue(tup, td, 1));
		items[i].key2 = MemoryContextStrdup(batch_cxt, SPI_getvalue(tup, td, 2) ?
											SPI_getvalue(tup, td, 2) : "");
		items[i].attempts = DatumGetInt32(SPI_getbinval(tup, td, 3, &isnull));
		items[i].lease_token = DatumGetInt64(SPI_getbinval(tup, td, 4, &isnull));
		items[i].outcome = KCS_WAIT;	/* entity code must set it */
		items[i].error = NULL;
		items[i].retry_after = 0;
	}
	if (n > 0)
	{
		/* keys longer than the buffer (not in CI's schema) restart the walk */
		kd->has_cursor = strlen(items[n - 1].key1) < sizeof(kd->cursor1) &&
			strlen(items[n - 1].key2) < sizeof(kd->cursor2);
		if (kd->has_cursor)
		{
			strlcpy(kd->cursor1, items[n - 1].key1, sizeof(kd->cursor1));
			strlcpy(kd->cursor2, items[n - 1].key2, sizeof(kd->cursor2));
		}
	}
	kcs_xact_commit();

	if (n > 0)
	{
		/* the capture fence: see kcs_capture_wait() in kcloud_shopify.h */
		kcs_xact_begin();
		kcs_capture_wait();
		kcs_xact_commit();
	}
	*items_out = items;
	return n;
}

static Datum
text_array(const char **elems, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(elems[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
ts_datum(double seconds_from_now)
{
	/* whatever an entity asked for, retry within a day */
	if (!(seconds_from_now >= 0))
		seconds_from_now = 0;
	if (seconds_from_now > 86400)
		seconds_from_now = 86400;
	return TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   (int64) (seconds_from_now * 1000.0)));
}

/*
 * Record the outcome of a batch in one short transaction: ack, fail or
 * defer each item, and write the activity log.
 */
static void
record(const KindDef *kd, KcsItem *items, int n)
{
	const char **k1 = palloc(sizeof(char *) * Max(n, 1));
	const char **k2 = palloc(sizeof(char *) * Max(n, 1));
	int			nok = 0;
	int			i;
	int			j;

	kcs_xact_begin();

	/* acks, one call per lease token (one per batch in practice) */
	for (i = 0; i < n; i++)
	{
		int64		tok = items[i].lease_token;
		bool		seen = false;

		if (items[i].outcome != KCS_OK)
			continue;
		for (j = 0; j < i; j++)
			if (items[j].outcome == KCS_OK && items[j].lease_token == tok)
				seen = true;
		if (seen)
			continue;
		nok = 0;
		for (j = i; j < n; j++)
		{
			if (items[j].outcome == KCS_OK && items[j].lease_token == tok)
			{
				k1[nok] = items[j].key1;
				k2[nok] = items[j].key2;
				nok++;
			}
		}
		{
			Oid			types[4] = {INT8OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID};
			Datum		vals[4];

			vals[0] = Int64GetDatum(tok);
			vals[1] = CStringGetTextDatum(kd->kind);
			vals[2] = text_array(k1, nok);
			vals[3] = text_array(k2, nok);
			spi_check(SPI_execute_with_args("SELECT kcloud_shopify.queue_ack($1, $2, $3, $4)",
											4, types, vals, NULL, false, 0),
					  SPI_OK_SELECT, "queue_ack");
		}
	}

	for (i = 0; i < n; i++)
	{
		KcsItem    *it = &items[i];
		Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
		Datum		vals[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		const char *err;

		if (it->outcome == KCS_OK)
			continue;
		vals[0] = Int64GetDatum(it->lease_token);
		vals[1] = CStringGetTextDatum(kd->kind);
		vals[2] = CStringGetTextDatum(it->key1);
		vals[3] = CStringGetTextDatum(it->key2 ? it->key2 : "");

		if (it->outcome == KCS_WAIT || it->outcome == KCS_THROTTLED)
		{
			double		after = it->retry_after > 0 ? it->retry_after :
				(it->outcome == KCS_WAIT ? KCS_WAIT_RETRY_S : 1.0);

			Oid			dtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};

			vals[4] = ts_datum(after);
			spi_check(SPI_execute_with_args("SELECT kcloud_shopify.queue_defer($1, $2, $3, $4, $5)",
											5, dtypes, vals, NULL, false, 0),
					  SPI_OK_SELECT, "queue_defer");
			continue;
		}

		err = it->error ? it->error : "failed without a message";
		vals[4] = CStringGetTextDatum(err);
		if (it->outcome == KCS_PERMANENT)
			nulls[5] = 'n';
		else
		{
			double		after = kcs_backoff_seconds(it->attempts);

			if (it->retry_after > after)
				after = it->retry_after;
			vals[5] = ts_datum(after);
		}
		spi_check(SPI_execute_with_args("SELECT kcloud_shopify.queue_fail($1, $2, $3, $4, $5, $6)",
										6, types, vals, nulls, false, 0),
				  SPI_OK_SELECT, "queue_fail");
	}

	kcs_activity_flush();
	kcs_xact_commit();
}

/*
 * Run the entity code for one batch.  An ERROR it raises is caught: the
 * batch is marked transient (retried with backoff) and the worker lives on.
 */
static void
run_entity_code(const KindDef *kd, KcsItem *items, int n)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	int			i;

	PG_TRY();
	{
		kd->fn(items, n);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *msg;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (IsTransactionState() || IsSubTransaction() ||
			IsAbortedTransactionBlockState())
			AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);
		ereport(LOG,
				(errmsg("kcloud_shopify worker: syncing %d %s entities failed: %s",
						n, kd->kind, edata->message)));
		msg = MemoryContextStrdup(batch_cxt, psprintf("internal error: %s", edata->message));
		for (i = 0; i < n; i++)
		{
			items[i].outcome = KCS_TRANSIENT;
			items[i].error = msg;
			items[i].retry_after = 0;
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * Run a per-round hook of another area.  An ERROR is logged and the round
 * goes on: the hook is tried again next round, the worker does not crash in
 * a loop.
 */
static void
run_hook(void (*hook) (void), const char *what)
{
	MemoryContext oldcxt = CurrentMemoryContext;

	PG_TRY();
	{
		hook();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (IsTransactionState() || IsAbortedTransactionBlockState())
			AbortCurrentTransaction();
		MemoryContextSwitchTo(oldcxt);
		ereport(LOG,
				(errmsg("kcloud_shopify worker: %s failed: %s", what, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/* Drain one kind, batch after batch.  Returns false when paused meanwhile. */
static bool
process_kind(KindDef *kd)
{
	int			batches = 0;

	for (;;)
	{
		KcsItem    *items;
		int			n;
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		handle_reload();
		if (batches > 0 && sync_paused())
			return false;

		MemoryContextReset(batch_cxt);
		old = MemoryContextSwitchTo(batch_cxt);
		n = claim(kd, &items);
		if (n == 0)
		{
			MemoryContextSwitchTo(old);
			return true;
		}
		pgstat_report_activity(STATE_RUNNING, psprintf("syncing %d %s entities", n, kd->kind));
		run_entity_code(kd, items, n);
		MemoryContextSwitchTo(batch_cxt);
		record(kd, items, n);
		MemoryContextSwitchTo(old);
		batches++;
		if (n < *kd->batch)
			return true;
	}
}

/* milliseconds until the next pending row is due (capped at the tick) */
static long
next_due_ms(void)
{
	long		ms = kcs_idle_interval_ms;
	bool		isnull;
	Datum		d;

	kcs_xact_begin();
	/* next_attempt_at is -infinity for fresh rows: clamp before subtracting */
	spi_check(SPI_execute("SELECT EXTRACT(epoch FROM (LEAST(GREATEST(min(next_attempt_at), clock_timestamp()), "
						  "clock_timestamp() + interval '1 day') - clock_timestamp())) * 1000 "
						  "FROM kcloud_shopify.queue WHERE state = 'pending'", true, 1),
			  SPI_OK_SELECT, "next due");
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
	{
		double		v = DatumGetFloat8(DirectFunctionCall1(numeric_float8, d));

		/*
		 * A row already due after the round could not be claimed (its
		 * entity is locked or in flight elsewhere): look again in a second
		 * rather than spin.
		 */
		if (v <= 0)
			v = 1000;
		if (v < ms)
			ms = (long) Max(v, 10.0);
	}
	kcs_xact_commit();
	/* the order poller runs in rounds: be back when it is due */
	if (kcs_orders_round && ms > kcs_poll_interval * 1000L)
		ms = kcs_poll_interval * 1000L;
	return ms;
}

/* One round; returns how long to sleep afterwards. */
static long
run_round(void)
{
	int			k;

	if (!round_prepare())
		return kcs_idle_interval_ms;
	if (sync_paused())
		return kcs_idle_interval_ms;

	if (kcs_entities_round_start)
		run_hook(kcs_entities_round_start, "kcs_entities_round_start");
	if (kcs_orders_round)
		run_hook(kcs_orders_round, "the order poller");

	for (k = 0; k < (int) NKINDS; k++)
	{
		if (kcs_bulk_products && strcmp(kinds[k].kind, "product") == 0)
			run_hook(kcs_bulk_products, "the bulk product load");
		if (!process_kind(&kinds[k]))
			return kcs_idle_interval_ms;	/* paused */
	}
	return next_due_ms();
}

void
kcs_worker_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(kcs_database, NULL, 0);
	pgstat_report_appname(KCS_WORKER_NAME);

	/* the capture fence needs READ COMMITTED, whatever the default */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	before_shmem_exit(worker_exit, (Datum) 0);
	LWLockAcquire(kcs_shared->lock, LW_EXCLUSIVE);
	kcs_shared->worker_pid = MyProcPid;
	kcs_shared->worker_procno = MyProc->pgprocno;
	kcs_shared->worker_started_at = GetCurrentTimestamp();
	LWLockRelease(kcs_shared->lock);

	batch_cxt = AllocSetContextCreate(TopMemoryContext, "kcloud_shopify batch",
									  ALLOCSET_DEFAULT_SIZES);

	ereport(LOG,
			(errmsg("kcloud_shopify sync worker started in database \"%s\"", kcs_database)));

	for (;;)
	{
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		handle_reload();

		if (RecoveryInProgress())
		{
			/* a standby: nothing to send until promotion */
			worker_wait(kcs_idle_interval_ms);
			continue;
		}

		pg_atomic_write_u32(&kcs_shared->wake_pending, 0);
		sleep_ms = run_round();
		pgstat_report_stat(true);
		worker_wait(sleep_ms);
	}
}
