/*-------------------------------------------------------------------------
 *
 * sync.h
 *	  Contract between the worker loop and transport (worker.c, http.c,
 *	  ratelimit.c) and the per-entity sync code (sync_*.c, graphql.c).
 *
 * The worker loop claims queue rows of one kind, hands them to the entity
 * code as KcsItems, and afterwards acks or fails each row from the outcome
 * the entity code left in it.  All queue SQL stays in the worker; all
 * libcurl stays in http.c; all JSON building and parsing uses jansson.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KCS_SYNC_H
#define KCS_SYNC_H

#include "postgres.h"

#include <jansson.h>

typedef enum KcsOutcome
{
	KCS_OK = 0,					/* done: ack the queue row */
	KCS_TRANSIENT,				/* network, timeout, 5xx, 429: retry with backoff */
	KCS_THROTTLED,				/* THROTTLED: retry after retry_after, no penalty */
	KCS_PERMANENT,				/* userErrors, validation: failed until a person acts */
	KCS_WAIT					/* a dependency is not synced yet: retry soon */
} KcsOutcome;

/* What came back from one GraphQL request. */
typedef struct KcsReply
{
	KcsOutcome	outcome;		/* transport / top-level GraphQL classification */
	long		http_status;	/* 0 when no HTTP reply arrived */
	json_t	   *root;			/* the parsed body, or NULL (freed by kcs_reply_free) */
	json_t	   *data;			/* borrowed root["data"]; never NULL when
								 * outcome is KCS_OK (a reply without data
								 * is classified KCS_TRANSIENT) */
	char	   *error;			/* palloc'd text for a failure (Shopify's message) */
	double		retry_after;	/* seconds to wait before a retry, 0 if none */
	double		requested_cost;
	double		actual_cost;
} KcsReply;

/*
 * POST one GraphQL document (with variables, which may be NULL) to the
 * connected shop.  Must be called with no transaction open.  Never throws
 * for network, HTTP or GraphQL errors: they come back classified in *reply.
 * Paces itself from the last throttleStatus (sleeps interruptibly when the
 * bucket is short).  Does not steal the reference to variables.
 */
extern void kcs_graphql_send(const char *query, json_t *variables, KcsReply *reply);
/*
 * The same, for a document whose requested cost the caller has estimated
 * (KcsDoc.cost): the pace waits for that many points when the document's
 * text has not been sent before (aliased batches rarely repeat their text),
 * instead of a small default that would go out early and come back
 * THROTTLED once the bucket runs near empty.
 */
extern void kcs_graphql_send_cost(const char *query, json_t *variables, double expected_cost,
								  KcsReply *reply);
extern void kcs_reply_free(KcsReply *reply);

/* One claimed queue row. */
typedef struct KcsItem
{
	const char *kind;			/* "product", "inventory", "location", "customer" */
	char	   *key1;
	char	   *key2;			/* "" unless inventory (branch_code) */
	int			attempts;		/* including this one */
	int64		lease_token;
	/* set by the entity code: */
	KcsOutcome	outcome;
	char	   *error;			/* palloc'd, for failures */
	double		retry_after;	/* seconds; 0 = let the worker's backoff decide */
} KcsItem;

/*
 * Entity sync: process claimed items of one kind end to end.  Called with
 * no transaction open; opens short transactions itself (kcs_xact_begin /
 * kcs_xact_commit) to read CI rows and to record links, and sends with none
 * open.  Must set outcome (and error) on every item; the worker then acks or
 * fails the queue rows.
 */
extern void kcs_sync_products(KcsItem *items, int n);
extern void kcs_sync_inventory(KcsItem *items, int n);
extern void kcs_sync_locations(KcsItem *items, int n);
extern void kcs_sync_customers(KcsItem *items, int n);

/*
 * bulk.c, for a backend's bulk query (reconcile.c): poll a bulk operation
 * until it ends (or timeout_ms), and read its result file line by line.
 */
extern json_t *kcs_bulk_poll(const char *gid, long timeout_ms, char **error);
extern bool kcs_bulk_read_lines(const char *url, void (*fn) (const char *line, void *arg),
								void *arg, char **error);

/*
 * Per-round hooks of the worker loop, implemented by other areas and called
 * (if linked in: weak symbols) with no transaction open:
 *   kcs_entities_round_start(): before claiming; e.g. queue styles whose
 *     dated sale started or ended since the last round (no CI write happens
 *     then, so capture cannot see it).  Implemented by the entity code.
 *   kcs_orders_round(): the order poller, when its interval is due.
 *   kcs_orders_poll_now(): called by inventory sync on
 *     CHANGE_FROM_QUANTITY_STALE, to ingest fulfilled orders not yet in CI
 *     before recomputing.  Implemented by the order code.
 */
extern void kcs_entities_round_start(void) __attribute__((weak));
extern void kcs_orders_round(void) __attribute__((weak));
extern void kcs_orders_poll_now(void) __attribute__((weak));

/* Short transaction with SPI connected and a snapshot (xact.c). */
extern void kcs_xact_begin(void);
extern void kcs_xact_commit(void);

#endif							/* KCS_SYNC_H */
