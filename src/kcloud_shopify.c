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

	MarkGUCPrefixReserved(KCS_EXTNAME);

	if (!process_shared_preload_libraries_in_progress)
		return;

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = kcs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = kcs_shmem_startup;
}
