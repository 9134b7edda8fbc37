/*-------------------------------------------------------------------------
 *
 * kcloud_shopify.c
 *	  Module initialisation: GUCs, shared memory and the commit-time wake-up
 *	  of the sync worker.
 *
 * Capture triggers only set a backend-local flag; the transaction callback
 * below sets the worker's latch once the transaction has committed, so a
 * rolled-back change never wakes anybody and a trigger never touches shared
 * state.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "kcloud_shopify.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

KcsSharedState *kcs_shared = NULL;
char	   *kcs_database = NULL;
bool		kcs_paused = false;
bool		kcs_dry_run = false;
int			kcs_batch_product = 25;
int			kcs_batch_inventory = 250;
int			kcs_batch_location = 10;
int			kcs_batch_customer = 25;
int			kcs_request_timeout_ms = 30000;
int			kcs_connect_timeout_ms = 10000;
int			kcs_max_response_kb = 16384;
int			kcs_idle_interval_ms = 60000;
int			kcs_lease_s = 300;
int			kcs_max_backoff_s = 300;
int			kcs_poll_interval = 60;
int			kcs_reconcile_bulk_threshold = 200;
int			kcs_reconcile_bulk_timeout_ms = 600000;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* set by capture in this transaction; consumed at commit */
static bool wake_at_commit = false;
static bool xact_callback_registered = false;

static void
kcs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(KcsSharedState)));
	RequestNamedLWLockTranche(KCS_EXTNAME, 1);
}

static void
kcs_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	kcs_shared = ShmemInitStruct("kcloud_shopify", sizeof(KcsSharedState), &found);
	if (!found)
	{
		kcs_shared->lock = &(GetNamedLWLockTranche(KCS_EXTNAME))->lock;
		kcs_shared->worker_pid = 0;
		kcs_shared->worker_procno = -1;
		/* a fresh worker drains whatever is left: start "woken" */
		pg_atomic_init_u32(&kcs_shared->wake_pending, 1);
		pg_atomic_init_u64(&kcs_shared->wakes_sent, 0);
		kcs_shared->worker_started_at = 0;
		kcs_shared->bucket_max = kcs_shared->bucket_available = 0;
		kcs_shared->bucket_restore_rate = 0;
		kcs_shared->bucket_observed_at = 0;
		kcs_shared->last_success_at = kcs_shared->last_failure_at = 0;
		kcs_shared->last_error[0] = '\0';
		pg_atomic_init_u64(&kcs_shared->requests_sent, 0);
		pg_atomic_init_u64(&kcs_shared->requests_failed, 0);
		pg_atomic_init_u64(&kcs_shared->throttled_replies, 0);
		pg_atomic_init_u64(&kcs_shared->cost_points, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Wake the worker after commit.  Reading worker_procno without the lock is
 * fine: a stale value at worst sets the latch of a process that has gone,
 * and the worker's fallback tick covers a missed wake.
 */
static void
kcs_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit && kcs_shared != NULL)
			{
				int			procno = kcs_shared->worker_procno;

				pg_atomic_write_u32(&kcs_shared->wake_pending, 1);
				if (procno >= 0 && procno < (int) ProcGlobal->allProcCount)
					SetLatch(&ProcGlobal->allProcs[procno].procLatch);
				pg_atomic_fetch_add_u64(&kcs_shared->wakes_sent, 1);
			}
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

/*
 * Called by capture whenever it queued something.  Cheap: a flag, plus a
 * one-time callback registration per backend.
 */
void
kcs_request_wake(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(kcs_xact_callback, NULL);
		xact_callback_registered = true;
	}
	wake_at_commit = true;
}

void
_PG_init(void)
{
	DefineCustomStringVariable("kcloud_shopify.database",
							   "Database in which the sync worker runs.",
							   "The database where CREATE EXTENSION kcloud_shopify was run.",
							   &kcs_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("kcloud_shopify.paused",
							 "Stop sending to Shopify (changes keep being queued).",
							 "Server-wide; kcloud_shopify.pause() does the same from SQL.",
							 &kcs_paused, false, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomBoolVariable("kcloud_shopify.dry_run",
							 "Build requests but do not send mutations to Shopify.",
							 "Mutations are written to the activity log with outcome dry_run "
							 "and their entities stay queued; queries are still sent.",
							 &kcs_dry_run, false, PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.batch_size_product",
							"Styles claimed per batch.", NULL,
							&kcs_batch_product, 25, 1, 250, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.batch_size_inventory",
							"Stock levels claimed per batch (at most 250 per Shopify call).", NULL,
							&kcs_batch_inventory, 250, 1, 1000, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.batch_size_location",
							"Branches claimed per batch.", NULL,
							&kcs_batch_location, 10, 1, 250, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.batch_size_customer",
							"Customers claimed per batch.", NULL,
							&kcs_batch_customer, 25, 1, 250, PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.reconcile_bulk_threshold",
							"reconcile() reads a kind with more linked objects than this with one bulk query (0 = never).",
							"Products count styles, inventory the levels compared, customers the linked customers.",
							&kcs_reconcile_bulk_threshold, 200, 0, INT_MAX, PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.reconcile_bulk_timeout",
							"Longest wait of reconcile() for its bulk query before it cancels it and reads page by page.", NULL,
							&kcs_reconcile_bulk_timeout_ms, 600000, 1000, INT_MAX, PGC_USERSET,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.request_timeout",
							"Longest time one request to Shopify may take.", NULL,
							&kcs_request_timeout_ms, 30000, 100, 600000, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.connect_timeout",
							"Longest time to establish a connection to Shopify.", NULL,
							&kcs_connect_timeout_ms, 10000, 100, 600000, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.max_response_size",
							"Largest response body accepted from Shopify.", NULL,
							&kcs_max_response_kb, 16384, 64, 1048576, PGC_SIGHUP,
							GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.idle_interval",
							"Fallback tick of an idle sync worker.",
							"The worker is woken at commit; this only bounds the delay of a missed wake-up.",
							&kcs_idle_interval_ms, 60000, 100, 86400000, PGC_SIGHUP,
							GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.lease_duration",
							"How long a claimed batch stays leased to the worker.",
							"Rows of an expired lease are sent again.",
							&kcs_lease_s, 300, 10, 86400, PGC_SIGHUP,
							GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.max_backoff",
							"Longest wait before a failed entity is retried.", NULL,
							&kcs_max_backoff_s, 300, 1, 86400, PGC_SIGHUP,
							GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("kcloud_shopify.poll_interval",
							"Interval of the order poller.", NULL,
							&kcs_poll_interval, 60, 1, 86400, PGC_SIGHUP,
							GUC_UNIT_S, NULL, NULL, NULL);

	MarkGUCPrefixReserved(KCS_EXTNAME);

	if (!process_shared_preload_libraries_in_progress)
		return;

	kcs_worker_register();

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kcs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kcs_shmem_startup;
}
