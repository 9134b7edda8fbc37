/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *	  Pace requests from Shopify's throttleStatus; backoff with jitter.
 *
 * Shopify's GraphQL limit is a leaky bucket of cost points per app and
 * shop: maximumAvailable points, refilled at restoreRate points/s; a
 * request first takes its *requested* cost (refunding the difference to the
 * actual cost afterwards) and is THROTTLED when the bucket is short.  Every
 * reply reports the bucket (extensions.cost.throttleStatus).  Before each
 * request the worker estimates the bucket now (last report + restoreRate x
 * elapsed) and, when the request's expected cost exceeds it, sleeps for
 * the deficit.  A backlog so drains at the restore rate with (almost) no
 * THROTTLED replies.  The expected cost of a document is the requested cost
 * Shopify reported the last time the same document was sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "transport.h"

static double bucket_max = 0;
static double bucket_available = 0;
static double bucket_rate = 0;
static TimestampTz bucket_at = 0;

/* requested cost by document: a small direct-mapped cache */
#define COST_SLOTS 64
typedef struct CostSlot
{
	uint32		hash;
	double		cost;
} CostSlot;
static CostSlot cost_cache[COST_SLOTS];

#define DEFAULT_COST 10.0		/* a mutation with a small selection */
#define KCS_MAX_DEFICIT_S 60.0	/* cap of one wait for the bucket */

void
kcs_rl_observe(double max, double available, double restore_rate)
{
	TimestampTz now = GetCurrentTimestamp();

	bucket_max = max;
	bucket_available = available;
	bucket_rate = restore_rate;
	bucket_at = now;

	if (kcs_shared != NULL)
	{
		LWLockAcquire(kcs_shared->lock, LW_EXCLUSIVE);
		kcs_shared->bucket_max = max;
		kcs_shared->bucket_available = available;
		kcs_shared->bucket_restore_rate = restore_rate;
		kcs_shared->bucket_observed_at = now;
		LWLockRelease(kcs_shared->lock);
	}
}

static uint32
doc_hash(const char *query)
{
	return hash_bytes((const unsigned char *) query, strlen(query));
}

/*
 * What the document will take from the bucket: Shopify's own figure from
 * the last time this text was sent, else the caller's estimate, else a
 * small default.
 */
double
kcs_rl_expected_cost(const char *query, double estimate)
{
	uint32		h = doc_hash(query);
	CostSlot   *s = &cost_cache[h % COST_SLOTS];

	if (s->hash == h && s->cost > 0)
		return s->cost;
	if (estimate > 0)
		return estimate;
	return DEFAULT_COST;
}

void
kcs_rl_remember_cost(const char *query, double requested)
{
	uint32		h = doc_hash(query);
	CostSlot   *s = &cost_cache[h % COST_SLOTS];

	if (requested <= 0)
		return;
	s->hash = h;
	s->cost = requested;
}

/* The bucket as estimated now; -1 when Shopify has not reported one yet. */
static double
estimated_available(void)
{
	long		sec;
	int			usec;
	double		elapsed;

	if (bucket_at == 0 || bucket_rate <= 0)
		return -1;
	TimestampDifference(bucket_at, GetCurrentTimestamp(), &sec, &usec);
	elapsed = sec + usec / 1e6;
	return Min(bucket_max, bucket_available + bucket_rate * elapsed);
}

/* Seconds until the bucket holds cost points (0 when it does already). */
double
kcs_rl_deficit_seconds(double cost)
{
	double		avail = estimated_available();

	if (avail < 0)
		return 0;
	if (cost > bucket_max)
		cost = bucket_max;
	if (avail >= cost)
		return 0;
	/* a bucket refills in seconds: never wait days on a bogus restoreRate */
	return Min((cost - avail) / bucket_rate, KCS_MAX_DEFICIT_S);
}

/*
 * Sleep, interruptibly, for ms milliseconds.  Commits that set the latch do
 * not cut the sleep short; signals (SIGTERM, SIGHUP) are handled at once:
 * the caller checks for them when this returns early.
 */
void
kcs_sleep_ms(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		sec;
		int			usec;
		long		left;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending || ShutdownRequestPending)
			return;
		TimestampDifference(GetCurrentTimestamp(), end, &sec, &usec);
		left = sec * 1000 + usec / 1000;
		if (left <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Wait until the bucket is expected to hold expected_cost points. */
void
kcs_rl_pace(double expected_cost)
{
	double		wait = kcs_rl_deficit_seconds(expected_cost);

	if (wait > 0)
		kcs_sleep_ms((long) ceil(wait * 1000.0));
}

/*
 * Retry delay after the attempts-th failed attempt: exponential from 1 s,
 * capped at kcloud_shopify.max_backoff, with "equal jitter" (half fixed,
 * half random) so that many entities failed together do not return
 * together.
 */
double
kcs_backoff_seconds(int attempts)
{
	double		d;

	if (attempts < 1)
		attempts = 1;
	d = (attempts >= 30) ? kcs_max_backoff_s : pow(2.0, attempts - 1);
	if (d > kcs_max_backoff_s)
		d = kcs_max_backoff_s;
	return d / 2.0 + pg_prng_double(&pg_global_prng_state) * d / 2.0;
}
