/*-------------------------------------------------------------------------
 *
 * kcloud_shopify.h
 *	  Declarations shared between the C files of kcloud_shopify.
 *
 * Exported symbols carry a kcs_ prefix: every extension shares the
 * backend's symbol namespace.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KCLOUD_SHOPIFY_H
#define KCLOUD_SHOPIFY_H

#include "postgres.h"

#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/timestamp.h"

#define KCS_EXTNAME			"kcloud_shopify"
#define KCS_API_VERSION		"2026-10"

/*
 * State shared between backends and the sync worker.  Only cross-process
 * facts live here; curl handles, jansson objects and the like stay local to
 * the worker.
 */
typedef struct KcsSharedState
{
	LWLock	   *lock;			/* protects the non-atomic fields */
	pid_t		worker_pid;		/* 0 when no worker runs */
	int			worker_procno;	/* pgprocno of the worker, -1 if none */
	pg_atomic_uint32 wake_pending;	/* set by committing writers */
	pg_atomic_uint64 wakes_sent;	/* counters for the status view */

	/* published by the worker for worker_state() / the status view */
	TimestampTz worker_started_at;
	double		bucket_max;		/* last throttleStatus seen */
	double		bucket_available;
	double		bucket_restore_rate;
	TimestampTz bucket_observed_at; /* 0 = never */
	TimestampTz last_success_at;
	TimestampTz last_failure_at;
	char		last_error[256];	/* never holds a secret */
	pg_atomic_uint64 requests_sent;
	pg_atomic_uint64 requests_failed;
	pg_atomic_uint64 throttled_replies;
	pg_atomic_uint64 cost_points;
} KcsSharedState;

extern KcsSharedState *kcs_shared;

/* module init / GUCs (kcloud_shopify.c) */
extern char *kcs_database;
extern bool kcs_paused;				/* kcloud_shopify.paused */
extern bool kcs_dry_run;			/* kcloud_shopify.dry_run */
extern int	kcs_batch_product;		/* kcloud_shopify.batch_size_* */
extern int	kcs_batch_inventory;
extern int	kcs_batch_location;
extern int	kcs_batch_customer;
extern int	kcs_request_timeout_ms;	/* total time of one HTTP request */
extern int	kcs_connect_timeout_ms;
extern int	kcs_max_response_kb;
extern int	kcs_idle_interval_ms;	/* fallback tick of an idle worker */
extern int	kcs_lease_s;			/* lease of a claimed batch */
extern int	kcs_max_backoff_s;		/* cap of the retry backoff */
extern int	kcs_poll_interval;		/* order poller interval, seconds */
extern int	kcs_reconcile_bulk_threshold;	/* reconcile(): bulk query above this */
extern int	kcs_reconcile_bulk_timeout_ms;	/* ... and its longest wait */

/* the sync worker (worker.c) */
extern void kcs_worker_register(void);

/* capture (capture.c) */
extern void kcs_request_wake(void);

/*
 * Capture fence (capture.c): wait for every transaction that is capturing
 * changes right now.  The worker must call it after committing a claim and
 * before reading the CI rows of the claimed entities, in a READ COMMITTED
 * transaction that has not written: otherwise a change whose capture found
 * the entity already pending can commit after the read and be lost.
 * SQL: kcloud_shopify.capture_wait().
 */
extern void kcs_capture_wait(void);

#endif							/* KCLOUD_SHOPIFY_H */
