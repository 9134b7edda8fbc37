/*-------------------------------------------------------------------------
 *
 * poller.c
 *	  The order poller: fulfilled Shopify orders and their refunds, read
 *	  with GraphQL, ingested through the same core as the webhooks.
 *
 * A store behind a firewall needs no inbound port: every poll interval the
 * worker asks Shopify for
 *
 *	orders(query: "fulfillment_status:shipped updated_at:>='<mark - overlap>'",
 *		   sortKey: UPDATED_AT)
 *
 * page by page (and the same with fulfillment_status:partial: each
 * fulfilment is invoiced when it happens), and for each order it has not seen at that updatedAt runs
 * the detail queries (each well under the 1000-point single-query limit):
 * the order with its line items, shipping lines and transactions; its
 * fulfilments; and each refund not yet ingested.  An order bigger than the
 * detail queries read (more than 50 lines, 8 fulfilments...) is listed as an
 * exception rather than ingested in part (it comes in whole by webhook or
 * ingest_order()).  SQL
 * turns these into the REST shape (order_from_graphql, refund_from_graphql)
 * and ingest_or_record() ingests them -- or lists them in order_exception,
 * so a bad order never holds up the ones after it.  The high-water mark
 * (settings row orders_poll_mark) moves when a poll has read both feeds; the next poll
 * re-reads an overlap window before it (settings row orders_poll_overlap,
 * default 10 minutes), since Shopify's updated_at index is not a log.
 * Listed exceptions are retried at the end of every poll (the cause may
 * have been fixed: a SKU created, a location linked).
 *
 * Two callers:
 *	- the worker, each round (kcs_orders_round, when the interval is due) and
 *	  on CHANGE_FROM_QUANTITY_STALE (kcs_orders_poll_now), with no
 *	  transaction open: every database step is its own short transaction and
 *	  HTTP runs with none open;
 *	- poll_orders() / backfill_orders() in a session: the database steps run
 *	  in the caller's transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
/* PostgreSQL's SQL function json_object clashes with jansson's json_object() */
#define json_object kcs_pg_json_object
#include "utils/builtins.h"
#undef json_object
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"		/* kcs_poll_interval (GUC kcloud_shopify.poll_interval) */
#include "sync.h"
#include "transport.h"			/* kcs_conn_load, kcs_activity_flush: polling in a session */

PG_FUNCTION_INFO_V1(kcloud_shopify_poll_orders);
PG_FUNCTION_INFO_V1(kcloud_shopify_backfill_orders);


#define KCS_ORDERS_PAGE 50
#define KCS_RETRY_MAX 25		/* exceptions retried per poll */

/*
 * The change feed: ~2 + 50 x 1 points.
 */
static const char *const kcs_q_list =
"query KcsOrderFeed($q: String!, $after: String) {"
" orders(first: 50, after: $after, query: $q, sortKey: UPDATED_AT) {"
"  nodes { id legacyResourceId updatedAt }"
"  pageInfo { hasNextPage endCursor } } }";

/*
 * Order detail: ~520 points (line items 2 + 50 x 9, the rest ~70).
 */
static const char *const kcs_q_order =
"query KcsOrder($id: ID!) {"
" order(id: $id) {"
"  id legacyResourceId name email phone taxesIncluded updatedAt processedAt"
"  paymentGatewayNames"
"  customer { id legacyResourceId firstName lastName"
"   defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }"
"   defaultAddress { firstName lastName address1 address2 city provinceCode zip countryCodeV2 phone } }"
"  billingAddress { firstName lastName address1 address2 city provinceCode zip countryCodeV2 phone }"
"  shippingAddress { firstName lastName address1 address2 city provinceCode zip countryCodeV2 phone }"
"  transactions(first: 10) { kind status gateway }"
"  refunds(first: 20) { id legacyResourceId }"
"  lineItems(first: 50) {"
"   nodes { id sku name title quantity isGiftCard"
"    originalUnitPriceSet { shopMoney { amount } }"
"    discountAllocations { allocatedAmountSet { shopMoney { amount } } }"
"    taxLines { priceSet { shopMoney { amount } } } }"
"   pageInfo { hasNextPage } }"
"  shippingLines(first: 5) {"
"   nodes { title code originalPriceSet { shopMoney { amount } }"
"    discountedPriceSet { shopMoney { amount } }"
"    taxLines { priceSet { shopMoney { amount } } } } } } }";

/*
 * Fulfilments: 8 x (1 + 1 + 2 + 50 x 2) = 832 points.
 */
static const char *const kcs_q_fulfillments =
"query KcsOrderFulfillments($id: ID!) {"
" order(id: $id) {"
"  fulfillments(first: 8) { id legacyResourceId status createdAt location { id legacyResourceId }"
"   fulfillmentLineItems(first: 50) { nodes { quantity lineItem { id } } pageInfo { hasNextPage } } } } }";

/*
 * One refund: 2 + 50 x 9 + 17 + 17 + 1 = ~490 points.
 */
static const char *const kcs_q_refund =
"query KcsRefund($id: ID!) {"
" node(id: $id) { ... on Refund { id legacyResourceId createdAt processedAt note"
"   refundLineItems(first: 50) { nodes { quantity restockType location { id legacyResourceId }"
"    lineItem { id sku name title isGiftCard originalUnitPriceSet { shopMoney { amount } } }"
"    subtotalSet { shopMoney { amount } } totalTaxSet { shopMoney { amount } } }"
"    pageInfo { hasNextPage } }"
"   refundShippingLines(first: 3) { nodes { subtotalAmountSet { shopMoney { amount } }"
"    taxAmountSet { shopMoney { amount } } } }"
"   transactions(first: 5) { nodes { kind status gateway amountSet { shopMoney { amount } } } } } } }";

typedef struct KcsPoll
{
	bool		own_xact;		/* worker: short transactions of our own */
	const char *source;			/* 'poller' / 'backfill' */
	int			orders_listed;
	int			orders_ingested;	/* detail read and handed to the core */
	int			orders_skipped;		/* seen at this updatedAt already */
	int			invoices;
	int			credit_notes;
	int			exceptions;
	int			requests;
	char	   *error;			/* transport failure that stopped the poll */
} KcsPoll;

static TimestampTz kcs_last_poll = 0;

/* ------------------------------------------------------------------ db */

static void
db_begin(KcsPoll *p)
{
	if (p->own_xact)
		kcs_xact_begin();
	else if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: SPI_connect failed")));
}

static void
db_end(KcsPoll *p)
{
	if (p->own_xact)
	{
		kcs_activity_flush();	/* the requests sent since the last step */
		kcs_xact_commit();
	}
	else
		SPI_finish();
}

/* One text value of a one-row query (copied to the caller's context), or NULL. */
static char *
db_text(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
		MemoryContext into)
{
	int			ret;
	char	   *v = NULL;

	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 1);
	if (ret < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: poller query failed: %s", sql)));
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (s != NULL)
			v = MemoryContextStrdup(into, s);
	}
	return v;
}

/* ------------------------------------------------------------------ http */

/* Send; on failure note the error and return NULL.  Caller frees root. */
static json_t *
gql(KcsPoll *p, const char *query, const char *gid)
{
	KcsReply	reply;
	json_t	   *vars = json_pack("{s:s}", "id", gid);
	json_t	   *root = NULL;

	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send(query, vars, &reply);
	json_decref(vars);
	p->requests++;
	if (reply.outcome == KCS_OK)
	{
		root = reply.root;
		json_incref(root);
	}
	else if (p->error == NULL)
		p->error = pstrdup(reply.error ? reply.error : "Shopify request failed");
	kcs_reply_free(&reply);
	return root;
}

static char *
json_dumps_p(json_t *j)
{
	char	   *s = json_dumps(j, JSON_COMPACT);
	char	   *r;

	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("kcloud_shopify: could not serialise JSON")));
	r = pstrdup(s);
	free(s);
	return r;
}

/* ------------------------------------------------------------- one order */

/* Count what ingest_or_record() returned. */
static void
count_result(KcsPoll *p, const char *res, bool refund)
{
	json_t	   *j = res ? json_loads(res, 0, NULL) : NULL;

	if (j == NULL)
		return;
	if (json_object_get(j, "sqlstate") != NULL)
		p->exceptions++;
	else if (refund)
		p->credit_notes += json_is_true(json_object_get(j, "created")) ? 1 : 0;
	else
		p->invoices += (int) json_integer_value(json_object_get(j, "created"));
	json_decref(j);
}

/*
 * Read one order (by GID) and ingest it and its new refunds.  updated_at
 * NULL: always read (an exception being retried).  Returns false when a
 * transport failure stopped it (nothing recorded: it is read again later).
 */
static bool
poll_one_order(KcsPoll *p, const char *gid, const char *updated_at)
{
	MemoryContext cxt = CurrentMemoryContext;
	json_t	   *o_root = NULL,
			   *f_root = NULL,
			   *r_list;
	json_t	   *order,
			   *refunds;
	char	   *skip;
	char	   *known_refunds;
	json_t	   *known;
	char	   *res;
	size_t		i;
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		v2[2];
	Oid			t3[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		v3[3];
	TimestampTz read_at;

	/* seen at this updatedAt and not listed as an exception: nothing new */
	db_begin(p);
	v2[0] = CStringGetTextDatum(gid);
	v2[1] = CStringGetTextDatum(updated_at ? updated_at : "");
	/*
	 * Shopify's updatedAt has second precision: two changes within one
	 * second show the same value.  So the order counts as seen only if our
	 * last read of it started at least 2 s after that second.
	 */
	skip = db_text("SELECT 1 FROM kcloud_shopify.order_link l"
				   " WHERE l.order_id = kcloud_shopify.gid_number($1)"
				   "   AND $2 <> '' AND l.shopify_updated_at >= $2::timestamptz"
				   "   AND l.shopify_read_at >= $2::timestamptz + interval '2 s'"
				   "   AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.order_exception e"
				   "                    WHERE e.order_id = l.order_id)",
				   2, t2, v2, NULL, cxt);
	known_refunds = db_text("SELECT COALESCE(jsonb_agg(r.refund_id), '[]')::text"
							"  FROM kcloud_shopify.order_refund r"
							" WHERE r.order_id = kcloud_shopify.gid_number($1)",
							1, t2, v2, NULL, cxt);
	db_end(p);
	if (skip != NULL)
	{
		p->orders_skipped++;
		return true;
	}

	read_at = GetCurrentTimestamp();
	o_root = gql(p, kcs_q_order, gid);
	if (o_root == NULL)
		return false;
	order = json_object_get(json_object_get(o_root, "data"), "order");
	if (!json_is_object(order))
	{
		/* deleted in Shopify: forget any exception for it */
		json_decref(o_root);
		db_begin(p);
		v2[0] = CStringGetTextDatum(gid);	/* datums live in the SPI context: set them anew */
		db_text("DELETE FROM kcloud_shopify.order_exception e"
				" WHERE e.order_id = kcloud_shopify.gid_number($1) RETURNING 1",
				1, t2, v2, NULL, cxt);
		db_end(p);
		return true;
	}

	f_root = gql(p, kcs_q_fulfillments, gid);
	if (f_root == NULL)
	{
		json_decref(o_root);
		return false;
	}
	json_object_set(order, "fulfillments",
					json_object_get(json_object_get(json_object_get(f_root, "data"), "order"),
									"fulfillments"));

	/* refunds not ingested yet: each read on its own (node query) */
	refunds = json_object_get(order, "refunds");
	known = known_refunds ? json_loads(known_refunds, 0, NULL) : NULL;
	r_list = json_array();
	for (i = 0; json_is_array(refunds) && i < json_array_size(refunds); i++)
	{
		json_t	   *r = json_array_get(refunds, i);
		const char *rid = json_string_value(json_object_get(r, "legacyResourceId"));
		const char *rgid = json_string_value(json_object_get(r, "id"));
		bool		found = false;
		size_t		k;
		json_t	   *r_root;

		if (rid == NULL || rgid == NULL)
			continue;
		for (k = 0; json_is_array(known) && k < json_array_size(known); k++)
			if (json_integer_value(json_array_get(known, k)) == strtoll(rid, NULL, 10))
				found = true;
		if (found)
			continue;
		r_root = gql(p, kcs_q_refund, rgid);
		if (r_root == NULL)
		{
			if (known)
				json_decref(known);
			json_decref(r_list);
			json_decref(o_root);
			json_decref(f_root);
			return false;
		}
		if (json_is_object(json_object_get(json_object_get(r_root, "data"), "node")))
			json_array_append(r_list, json_object_get(json_object_get(r_root, "data"), "node"));
		json_decref(r_root);
	}
	if (known)
		json_decref(known);

	db_begin(p);
	v3[0] = CStringGetTextDatum(json_dumps_p(order));
	v3[1] = CStringGetTextDatum(p->source);
	res = db_text("SELECT kcloud_shopify.ingest_or_record('order',"
				  " kcloud_shopify.order_from_graphql($1::jsonb), $2)::text",
				  2, t3, v3, NULL, cxt);
	count_result(p, res, false);
	p->orders_ingested++;

	for (i = 0; i < json_array_size(r_list); i++)
	{
		char	   *rres;

		v3[0] = CStringGetTextDatum(json_dumps_p(json_array_get(r_list, i)));
		v3[1] = CStringGetTextDatum(gid);
		v3[2] = CStringGetTextDatum(p->source);
		rres = db_text("SELECT kcloud_shopify.ingest_or_record('refund',"
					   " kcloud_shopify.refund_from_graphql($1::jsonb, kcloud_shopify.gid_number($2)), $3)::text",
					   3, t3, v3, NULL, cxt);
		count_result(p, rres, true);
	}

	/* remember the version read, unless something of it is still listed */
	if (updated_at != NULL)
	{
		v3[0] = CStringGetTextDatum(gid);
		v3[1] = CStringGetTextDatum(updated_at);
		v3[2] = CStringGetTextDatum(timestamptz_to_str(read_at));
		db_text("UPDATE kcloud_shopify.order_link l"
				"   SET shopify_updated_at = $2::timestamptz, shopify_read_at = $3::timestamptz"
				" WHERE l.order_id = kcloud_shopify.gid_number($1)"
				"   AND (l.shopify_updated_at IS NULL OR l.shopify_updated_at <= $2::timestamptz)"
				"   AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.order_exception e"
				"                    WHERE e.order_id = l.order_id) RETURNING 1",
				3, t3, v3, NULL, cxt);
	}
	db_end(p);

	json_decref(o_root);
	json_decref(f_root);
	json_decref(r_list);
	return true;
}

/* ------------------------------------------------------------- the poll */

/*
 * since/until: ISO timestamps (UTC); since NULL = the persisted mark less the
 * overlap window; move_mark: advance orders_poll_mark (not for backfills).
 */
static void
kcs_poll(KcsPoll *p, const char *since, const char *until, bool move_mark)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *from;
	char	   *after = NULL;
	char	   *max_seen = NULL;
	char	   *retry;
	bool		more = true;
	List	   *seen = NIL;
	static const char *const feeds[] = {"shipped", "partial"};
	int			feed;
	Oid			t2[2] = {TEXTOID, TEXTOID};
	Datum		v2[2];

	db_begin(p);
	if (since != NULL)
	{
		v2[0] = CStringGetTextDatum(since);
		from = db_text("SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
					   1, t2, v2, NULL, cxt);
	}
	else
		from = db_text("SELECT to_char(COALESCE((SELECT s.value::timestamptz FROM kcloud_shopify.settings s"
					   "                          WHERE s.name = 'orders_poll_mark')"
					   "                         - COALESCE((SELECT s.value::interval FROM kcloud_shopify.settings s"
					   "                                      WHERE s.name = 'orders_poll_overlap'), '10 minutes'),"
					   "                         now() - COALESCE((SELECT s.value::interval FROM kcloud_shopify.settings s"
					   "                                            WHERE s.name = 'orders_poll_lookback'), '1 day'))"
					   "               AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
					   0, NULL, NULL, NULL, cxt);
	if (until != NULL)
	{
		v2[0] = CStringGetTextDatum(until);
		/* Shopify compares whole seconds: round the end of the period up */
		until = db_text("SELECT to_char(($1::timestamptz + interval '999999 microseconds') AT TIME ZONE 'UTC',"
						" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
						1, t2, v2, NULL, cxt);
	}
	/* exceptions to retry afterwards: order GIDs */
	retry = db_text("SELECT string_agg(DISTINCT 'gid://shopify/Order/' || e.order_id, ' ')"
					"  FROM (SELECT e.order_id FROM kcloud_shopify.order_exception e"
					"         WHERE e.order_id IS NOT NULL ORDER BY e.last_failed_at LIMIT "
					CppAsString2(KCS_RETRY_MAX) ") e",
					0, NULL, NULL, NULL, cxt);
	db_end(p);

	/*
	 * Two feeds: fully shipped orders, and partially shipped ones (each
	 * fulfilment is invoiced when it happens).  The mark moves only when
	 * both were read to the end: a failure half way re-reads from the old
	 * mark next time, which costs list queries only (orders seen at their
	 * updatedAt are skipped).
	 */
	for (feed = 0; feed < lengthof(feeds) && p->error == NULL; feed++)
	{
		after = NULL;
		more = true;
		while (more && p->error == NULL)
		{
			KcsReply	reply;
			json_t	   *vars;
			json_t	   *conn;
			json_t	   *nodes;
			char	   *q;
			size_t		i;

			CHECK_FOR_INTERRUPTS();
			q = psprintf("fulfillment_status:%s updated_at:>='%s'%s%s%s", feeds[feed], from,
						 until ? " updated_at:<='" : "", until ? until : "", until ? "'" : "");
			vars = json_pack("{s:s}", "q", q);
			json_object_set_new(vars, "after", after ? json_string(after) : json_null());
			memset(&reply, 0, sizeof(reply));
			kcs_graphql_send(kcs_q_list, vars, &reply);
			json_decref(vars);
			p->requests++;
			if (reply.outcome != KCS_OK)
			{
				p->error = pstrdup(reply.error ? reply.error : "Shopify request failed");
				kcs_reply_free(&reply);
				break;
			}
			conn = json_object_get(reply.data, "orders");
			nodes = json_object_get(conn, "nodes");
			for (i = 0; json_is_array(nodes) && i < json_array_size(nodes) && p->error == NULL; i++)
			{
				json_t	   *n = json_array_get(nodes, i);
				const char *gid = json_string_value(json_object_get(n, "id"));
				const char *upd = json_string_value(json_object_get(n, "updatedAt"));

				if (gid == NULL)
					continue;
				p->orders_listed++;
				if (!poll_one_order(p, gid, upd))
					break;
				seen = lappend(seen, pstrdup(gid));
				if (upd != NULL && (max_seen == NULL || strcmp(upd, max_seen) > 0))
					max_seen = pstrdup(upd);
			}
			more = json_is_true(json_object_get(json_object_get(conn, "pageInfo"), "hasNextPage"));
			after = more ? pstrdup(json_string_value(json_object_get(json_object_get(conn, "pageInfo"),
															 "endCursor"))) : NULL;
			kcs_reply_free(&reply);
		}
	}

	/* the mark moves past every order handled (ingested or listed) */
	if (move_mark && max_seen != NULL && p->error == NULL)
	{
		db_begin(p);
		v2[0] = CStringGetTextDatum(max_seen);
		db_text("INSERT INTO kcloud_shopify.settings AS s (name, value)"
				" VALUES ('orders_poll_mark', $1::timestamptz::text)"
				" ON CONFLICT (name) DO UPDATE"
				"   SET value = GREATEST(s.value::timestamptz, EXCLUDED.value::timestamptz)::text,"
				"       updated_at = now()"
				" RETURNING 1", 1, t2, v2, NULL, cxt);
		db_end(p);
	}

	/* listed exceptions not already re-read above */
	if (retry != NULL && p->error == NULL)
	{
		char	   *tok;
		char	   *save = NULL;

		for (tok = strtok_r(retry, " ", &save); tok != NULL && p->error == NULL;
			 tok = strtok_r(NULL, " ", &save))
		{
			ListCell   *lc;
			bool		done = false;

			foreach(lc, seen)
				if (strcmp((char *) lfirst(lc), tok) == 0)
					done = true;
			if (!done)
				(void) poll_one_order(p, tok, NULL);
		}
	}
}

static Datum
poll_result(KcsPoll *p)
{
	json_t	   *j;
	char	   *s;

	j = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
				  "orders_listed", p->orders_listed, "orders_read", p->orders_ingested,
				  "orders_unchanged", p->orders_skipped, "invoices", p->invoices,
				  "credit_notes", p->credit_notes, "exceptions", p->exceptions,
				  "requests", p->requests);
	if (p->error)
		json_object_set_new(j, "error", json_string(p->error));
	s = json_dumps_p(j);
	json_decref(j);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

/* ------------------------------------------------------- entry points */

/*
 * A session that polls talks to Shopify itself: it loads the connection
 * the worker uses (settings) into this backend, and writes the requests to
 * the activity log afterwards.
 */
static void
session_connect(void)
{
	bool		ok;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: SPI_connect failed")));
	ok = kcs_conn_load();
	SPI_finish();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no Shopify shop is connected"),
				 errhint("Call kcloud_shopify.connect() first.")));
}

static void
session_flush_activity(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		return;
	kcs_activity_flush();
	SPI_finish();
}

/* poll_orders(): one poll now, in this session */
Datum
kcloud_shopify_poll_orders(PG_FUNCTION_ARGS)
{
	KcsPoll		p;

	session_connect();
	memset(&p, 0, sizeof(p));
	p.own_xact = false;
	p.source = "poller";
	kcs_poll(&p, NULL, NULL, true);
	session_flush_activity();
	PG_RETURN_DATUM(poll_result(&p));
}

/* backfill_orders(since, until): re-read a period; the mark stays */
Datum
kcloud_shopify_backfill_orders(PG_FUNCTION_ARGS)
{
	KcsPoll		p;
	char	   *since;
	char	   *until = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("since must not be null")));
	since = DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(0)));
	if (!PG_ARGISNULL(1))
	{
		if (PG_GETARG_TIMESTAMPTZ(1) < PG_GETARG_TIMESTAMPTZ(0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("until must not be before since")));
		until = DatumGetCString(DirectFunctionCall1(timestamptz_out, PG_GETARG_DATUM(1)));
	}
	session_connect();
	memset(&p, 0, sizeof(p));
	p.own_xact = false;
	p.source = "backfill";
	kcs_poll(&p, since, until, false);
	session_flush_activity();
	PG_RETURN_DATUM(poll_result(&p));
}

/* Worker, no transaction open: poll when the interval has passed. */
void
kcs_orders_round(void)
{
	int			interval = kcs_poll_interval;
	TimestampTz now = GetCurrentTimestamp();

	if (kcs_last_poll != 0 &&
		!TimestampDifferenceExceeds(kcs_last_poll, now, interval * 1000))
		return;
	kcs_orders_poll_now();
}

/* Worker, no transaction open: poll now (e.g. after CHANGE_FROM_QUANTITY_STALE). */
void
kcs_orders_poll_now(void)
{
	KcsPoll		p;
	MemoryContext cxt;
	MemoryContext old;

	Assert(!IsTransactionState());
	cxt = AllocSetContextCreate(TopMemoryContext, "kcloud_shopify poller",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	memset(&p, 0, sizeof(p));
	p.own_xact = true;
	p.source = "poller";
	kcs_poll(&p, NULL, NULL, true);
	kcs_last_poll = GetCurrentTimestamp();
	if (p.error)
		elog(LOG, "kcloud_shopify: order poll stopped: %s", p.error);
	else if (p.invoices + p.credit_notes + p.exceptions > 0)
		elog(LOG, "kcloud_shopify: order poll: %d invoices, %d credit notes, %d exceptions",
			 p.invoices, p.credit_notes, p.exceptions);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
