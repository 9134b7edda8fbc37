/*-------------------------------------------------------------------------
 *
 * reconcile.c
 *	  kcloud_shopify.reconcile(kind, repair): read Shopify's state of the
 *	  objects we linked and report where it drifted from what CI says.
 *
 * For each kind the expected state is what the worker would send now:
 *   product    the productSet input built by the worker's own builder
 *              (kcs_read_styles + kcs_product_set_add): title, status,
 *              vendor, productType; per variant sku, price and
 *              compareAtPrice; CI SKUs with no variant (missing) and
 *              variants with no CI SKU (extra).  A style deleted in CI is
 *              only expected to be DRAFT;
 *   inventory  on_hand of every linked variant of an internet-active style
 *              at every linked, active, web-stock branch: the target
 *              kcs_read_levels computes for the worker (negative CI stock
 *              is 0); read with the worker's own level read
 *              (kcs_inventory_read_add).  Levels at a location Shopify
 *              holds inactive (or no longer has) are left to the location
 *              row;
 *   location   name and isActive of every linked location (the branch's
 *              name, active = the branch exists and is active: what
 *              sync_location.c sends);
 *   customer   email, phone (E.164), firstName, lastName of the
 *              customerSet input built by kcs_customer_set_add; fields CI
 *              leaves empty are not sent, so not compared.
 *
 * Reading is paced by the worker's rate limiter (kcs_graphql_send), in
 * documents well under the single-query limit of 1000 points: aliased
 * product(id:) fields with variants(first: SKUs + 10), aliased inventory
 * level reads (4 points each), nodes(ids:) batches of locations and
 * customers.  Like poll_orders(), the function talks to Shopify from the
 * calling backend: it loads the connection from the settings table and
 * writes its requests to the activity log at the end.
 *
 * Large catalogues are read with one bulk query instead, when a kind has
 * more linked objects than kcloud_shopify.reconcile_bulk_threshold (styles;
 * inventory: levels compared; customers): bulkOperationRunQuery over
 * products with their variants, inventory items with their levels, or
 * customers; polled with backoff on the latch (kcs_bulk_poll, bulk.c); the
 * result file read line by line (kcs_bulk_read_lines), keeping only the
 * linked objects, rebuilt into the shape of the paged replies and fed to
 * the same comparisons, so both paths give the same rows.  A bulk query
 * that cannot start, ends other than COMPLETED, takes longer than
 * kcloud_shopify.reconcile_bulk_timeout (it is then canceled) or whose file
 * cannot be read falls back to the paged reads with a NOTICE.  A cancel
 * (statement_timeout) while it runs ends the call; Shopify finishes the
 * operation unread.  The cost arithmetic behind
 * the default threshold is in docs/operations.md.
 *
 * With repair the fixes are queued for the worker: the style, the stock
 * level (its last known Shopify on_hand forgotten first, so the worker
 * reads it again instead of believing it is in step), the branch, the
 * customer.  Before it compares stock, a repair polls fulfilled orders
 * (poll_orders()), so a web sale CI has not ingested yet is not undone.  A location missing in Shopify is not queued: it needs a new
 * link (docs/operations.md).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "entities.h"
#include "graphql.h"
#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

PG_FUNCTION_INFO_V1(kcloud_shopify_reconcile);

#define RC_PRODUCT_CHUNK	25		/* styles per read (aliases) */
#define RC_LEVEL_CHUNK		200		/* stock levels per read, 4 points each */
#define RC_NODE_CHUNK		50		/* locations / customers per nodes(ids:) */
#define RC_ATTEMPTS			4		/* sends of one read before giving up */

/*
 * What a bulk query brought back: the linked root objects by GID, their
 * nested connection's nodes attached the way a paged reply carries them.
 */
typedef struct RcBulk
{
	json_t	   *want;			/* root GIDs we compare -> true */
	json_t	   *got;			/* root GID -> object */
	const char *child;			/* "variants" (nodes array), "levels" (by location id) or NULL */
	long		lines;
} RcBulk;

/* one queued fix */
typedef struct RcFix
{
	const char *kind;
	char	   *key1;
	char	   *key2;
	bool		forget_level;	/* inventory: forget the last known on_hand */
} RcFix;

typedef struct Rc
{
	Tuplestorestate *ts;
	TupleDesc	td;
	bool		repair;
	MemoryContext cxt;			/* lives for the whole call */
	List	   *fixes;			/* RcFix, in cxt */
	List	   *bad_locations;	/* location GIDs Shopify holds inactive or lacks */
	int			requests;
} Rc;

/* ------------------------------------------------------------- output */

static Datum
jsonb_datum(json_t *j)
{
	char	   *s = kcs_json_to_cstring(j);

	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

static void
emit(Rc *rc, const char *kind, json_t *ci_key, const char *gid, const char *drift,
	 const char *field, const char *ci_value, const char *shopify_value)
{
	Datum		values[7];
	bool		nulls[7];
	MemoryContext old = MemoryContextSwitchTo(rc->cxt);

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(kind);
	values[1] = jsonb_datum(ci_key);
	if (gid)
		values[2] = CStringGetTextDatum(gid);
	else
		nulls[2] = true;
	values[3] = CStringGetTextDatum(drift);
	if (field)
		values[4] = CStringGetTextDatum(field);
	else
		nulls[4] = true;
	if (ci_value)
		values[5] = CStringGetTextDatum(ci_value);
	else
		nulls[5] = true;
	if (shopify_value)
		values[6] = CStringGetTextDatum(shopify_value);
	else
		nulls[6] = true;
	tuplestore_putvalues(rc->ts, rc->td, values, nulls);
	MemoryContextSwitchTo(old);
}

static void
add_fix(Rc *rc, const char *kind, const char *key1, const char *key2, bool forget_level)
{
	MemoryContext old;
	RcFix	   *f;
	ListCell   *lc;

	if (!rc->repair)
		return;
	foreach(lc, rc->fixes)
	{
		f = lfirst(lc);
		if (strcmp(f->kind, kind) == 0 && strcmp(f->key1, key1) == 0 &&
			strcmp(f->key2, key2 ? key2 : "") == 0)
			return;
	}
	old = MemoryContextSwitchTo(rc->cxt);
	f = palloc0(sizeof(RcFix));
	f->kind = kind;
	f->key1 = pstrdup(key1);
	f->key2 = pstrdup(key2 ? key2 : "");
	f->forget_level = forget_level;
	rc->fixes = lappend(rc->fixes, f);
	MemoryContextSwitchTo(old);
}

/* ---------------------------------------------------------------- sql */

static void
run_sql(const char *sql, int nargs, Oid *types, Datum *values, int expect)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (ret != expect)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: reconcile query failed: %s", SPI_result_code_string(ret))));
}

static char *
val(int r, int c)
{
	return SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, c);
}

/* the rows of a query as strings, copied into cxt: out[r * ncols + c] */
static char **
fetch_all(const char *sql, int *nrows, MemoryContext cxt)
{
	char	  **out;
	int			ncols;
	uint64		r;
	int			c;

	run_sql(sql, 0, NULL, NULL, SPI_OK_SELECT);
	ncols = SPI_tuptable->tupdesc->natts;
	*nrows = (int) SPI_processed;
	out = MemoryContextAllocZero(cxt, sizeof(char *) * Max(1, *nrows * ncols));
	for (r = 0; r < SPI_processed; r++)
		for (c = 0; c < ncols; c++)
		{
			char	   *v = val(r, c + 1);

			out[r * ncols + c] = v ? MemoryContextStrdup(cxt, v) : NULL;
		}
	return out;
}

/* --------------------------------------------------------------- http */

/*
 * Send one read; transient failures and THROTTLED replies are retried
 * (paced), anything else ends the call with Shopify's message -- or, when
 * soft, returns false with the failed reply (the caller frees it).
 */
static bool
send_read_soft(Rc *rc, const char *query, json_t *vars, KcsReply *reply, bool soft)
{
	int			attempt;

	for (attempt = 1;; attempt++)
	{
		/*
		 * A backend handles SIGHUP only between commands; a reload pending
		 * here would cut every request and sleep short (http.c, ratelimit.c).
		 */
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		memset(reply, 0, sizeof(*reply));
		kcs_graphql_send(query, vars, reply);
		rc->requests++;
		CHECK_FOR_INTERRUPTS();
		if (reply->outcome == KCS_OK)
		{
			/* into the activity log as we go (the backlog is bounded) */
			kcs_activity_flush();
			return true;
		}
		if ((reply->outcome == KCS_TRANSIENT || reply->outcome == KCS_THROTTLED) &&
			attempt < RC_ATTEMPTS)
		{
			double		wait = reply->retry_after > 0 ? reply->retry_after
				: kcs_backoff_seconds(attempt);

			kcs_reply_free(reply);
			kcs_sleep_ms((long) ceil(Min(wait, 30.0) * 1000.0));
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		if (soft)
			return false;
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("could not read Shopify's state: %s",
						reply->error ? reply->error : "reply without data"),
				 errhint("Nothing was queued.  Check kcloud_shopify.status and try again.")));
	}
}

static void
send_read(Rc *rc, const char *query, json_t *vars, KcsReply *reply)
{
	(void) send_read_soft(rc, query, vars, reply, false);
}

/* the rate limiter of this backend starts from what the worker last saw */
static void
seed_rate_limiter(void)
{
	double		max,
				avail,
				rate;
	TimestampTz at;
	long		sec;
	int			usec;

	if (kcs_shared == NULL)
		return;
	LWLockAcquire(kcs_shared->lock, LW_SHARED);
	max = kcs_shared->bucket_max;
	avail = kcs_shared->bucket_available;
	rate = kcs_shared->bucket_restore_rate;
	at = kcs_shared->bucket_observed_at;
	LWLockRelease(kcs_shared->lock);
	if (at == 0 || max <= 0 || rate <= 0)
		return;
	TimestampDifference(at, GetCurrentTimestamp(), &sec, &usec);
	kcs_rl_observe(max, Min(max, avail + rate * (sec + usec / 1e6)), rate);
}

/* --------------------------------------------------------------- bulk */

/* more than kcloud_shopify.reconcile_bulk_threshold objects (0: never) go to one bulk query */
static bool
use_bulk(int nobjects)
{
	if (kcs_dry_run)
		return false;			/* the bulk query is started by a mutation */
	return kcs_reconcile_bulk_threshold > 0 && nobjects > kcs_reconcile_bulk_threshold;
}

/* the GIDs of the first column of a query, as a set */
static json_t *
gid_set(const char *sql)
{
	json_t	   *set = json_pack("{}");
	uint64		r;

	run_sql(sql, 0, NULL, NULL, SPI_OK_SELECT);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *g = val(r, 1);

		if (g)
			json_object_set_new(set, g, json_true());
	}
	return set;
}

/* the root object of gid, made (empty) when a child line came first */
static json_t *
bulk_root(RcBulk *b, const char *gid)
{
	json_t	   *o = json_object_get(b->got, gid);

	if (o == NULL)
	{
		o = json_pack("{}");
		if (b->child && strcmp(b->child, "variants") == 0)
			json_object_set_new(o, "variants", json_pack("{s:[]}", "nodes"));
		else if (b->child)
			json_object_set_new(o, b->child, json_pack("{}"));
		json_object_set_new(b->got, gid, o);
	}
	return o;
}

/*
 * One line of the result file: a root object (kept when linked) or a node
 * of its nested connection ("__parentId"; kept when its root is).  Lines
 * come in any order (a child may precede its parent).
 */
static void
bulk_line(const char *line, void *arg)
{
	RcBulk	   *b = (RcBulk *) arg;
	json_error_t jerr;
	json_t	   *o = json_loads(line, 0, &jerr);
	const char *parent;
	const char *id;

	if (!json_is_object(o))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("could not read a bulk query result line: %s", jerr.text)));
	b->lines++;
	parent = kcs_json_str(o, "__parentId");
	id = kcs_json_str(o, "id");
	if (parent == NULL && id && json_object_get(b->want, id))
		json_object_update(bulk_root(b, id), o);
	else if (parent && b->child && json_object_get(b->want, parent))
	{
		json_t	   *root = bulk_root(b, parent);

		json_object_del(o, "__parentId");
		if (strcmp(b->child, "variants") == 0)
			json_array_append(kcs_json_path(root, "variants", "nodes", NULL), o);
		else
		{
			const char *loc = kcs_json_str(json_object_get(o, "location"), "id");

			if (loc)
				json_object_set(json_object_get(root, b->child), loc, o);
		}
	}
	json_decref(o);
}

static void
bulk_cancel(const char *gid)
{
	KcsReply	reply;
	json_t	   *vars = json_pack("{s:s}", "id", gid);

	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send("mutation KcsReconcileBulkCancel($id: ID!) {\n"
					 "  bulkOperationCancel(id: $id) { userErrors { field message } }\n}", vars, &reply);
	json_decref(vars);
	kcs_reply_free(&reply);
}

/*
 * Run one bulk query and read its result into b->got.  false (after a
 * NOTICE): it could not be used; the caller reads page by page.
 */
static bool
bulk_read(Rc *rc, const char *kind, const char *query, RcBulk *b)
{
	json_t	   *vars = json_pack("{s:s}", "q", query);
	KcsReply	reply;
	json_t	   *payload;
	KcsUserError *errs;
	int			nerr;
	char	   *gid = NULL;
	json_t	   *op;
	char	   *error = NULL;
	const char *status;
	const char *url;
	bool		ok;

	if (!send_read_soft(rc, "mutation KcsReconcileBulk($q: String!) {\n"
						"  bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } }\n}",
						vars, &reply, true))
	{
		json_decref(vars);
		ereport(NOTICE,
				(errmsg("reading %s page by page: the bulk query could not start: %s", kind,
						reply.error ? reply.error : "reply without data")));
		kcs_reply_free(&reply);
		return false;
	}
	json_decref(vars);
	payload = json_object_get(reply.data, "bulkOperationRunQuery");
	nerr = kcs_user_errors(payload, "userErrors", &errs);
	if (nerr == 0 && kcs_json_str(json_object_get(payload, "bulkOperation"), "id"))
		gid = pstrdup(kcs_json_str(json_object_get(payload, "bulkOperation"), "id"));
	else
		error = nerr > 0 ? kcs_user_errors_text(errs, nerr) : pstrdup("no bulk operation was started");
	kcs_reply_free(&reply);
	if (gid == NULL)
	{
		ereport(NOTICE,
				(errmsg("reading %s page by page: the bulk query could not start: %s", kind, error)));
		return false;
	}

	op = kcs_bulk_poll(gid, kcs_reconcile_bulk_timeout_ms, &error);
	if (op == NULL)
	{
		bulk_cancel(gid);
		ereport(NOTICE,
				(errmsg("reading %s page by page: %s", kind, error)));
		return false;
	}
	status = kcs_json_str(op, "status");
	if (status == NULL || strcmp(status, "COMPLETED") != 0)
	{
		ereport(NOTICE,
				(errmsg("reading %s page by page: bulk operation %s ended %s%s%s", kind, gid,
						status ? status : "without a status",
						kcs_json_str(op, "errorCode") ? " " : "",
						kcs_json_str(op, "errorCode") ? kcs_json_str(op, "errorCode") : "")));
		json_decref(op);
		return false;
	}
	url = kcs_json_str(op, "url");
	/* no file: Shopify found nothing */
	ok = url == NULL || kcs_bulk_read_lines(url, bulk_line, b, &error);
	json_decref(op);
	if (!ok)
	{
		json_object_clear(b->got);
		ereport(NOTICE,
				(errmsg("reading %s page by page: %s", kind, error)));
	}
	return ok;
}

/*
 * With more than the threshold of nobjects: one bulk query into b (its
 * roots: the GIDs want_sql returns).  true when b holds Shopify's state;
 * false: read page by page.
 */
static bool
bulk_try(Rc *rc, int nobjects, const char *kind, const char *want_sql, const char *child,
		 const char *query, RcBulk *b)
{
	memset(b, 0, sizeof(*b));
	if (!use_bulk(nobjects))
		return false;
	b->want = gid_set(want_sql);
	b->got = json_pack("{}");
	b->child = child;
	return bulk_read(rc, kind, query, b);
}

static void
bulk_free(RcBulk *b)
{
	/* (json_decref(NULL) is a no-op) */
	json_decref(b->want);
	json_decref(b->got);
	memset(b, 0, sizeof(*b));
}

/* a root object the bulk query found (borrowed), or NULL */
static json_t *
bulk_found(RcBulk *b, const char *gid)
{
	json_t	   *o = gid ? json_object_get(b->got, gid) : NULL;

	return (o && kcs_json_str(o, "id")) ? o : NULL;
}

/* ----------------------------------------------------------- compare */

static bool
str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* money: "39.9" = "39.90" */
static bool
price_equal(const char *a, const char *b)
{
	char	   *ea,
			   *eb;
	double		x,
				y;

	if (a == NULL || b == NULL)
		return a == b;
	x = strtod(a, &ea);
	y = strtod(b, &eb);
	if (*ea != '\0' || *eb != '\0' || ea == a || eb == b)
		return strcmp(a, b) == 0;
	return fabs(x - y) < 0.005;
}

static json_t *
key1_json(const char *field, const char *v)
{
	return json_pack("{s:s}", field, v);
}

static json_t *
key2_json(const char *f1, const char *v1, const char *f2, const char *v2)
{
	return json_pack("{s:s, s:s}", f1, v1, f2, v2);
}

static bool
gid_listed(List *l, const char *gid)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp((char *) lfirst(lc), gid) == 0)
			return true;
	return false;
}

/* ----------------------------------------------------------- products */

static void
compare_product(Rc *rc, KcsStyle *st, json_t *input, json_t *prod)
{
	json_t	   *key = key1_json("style_code", st->style_code);
	static const char *const fields[] = {"title", "status", "vendor", "productType", NULL};
	int			f;
	bool		drift = false;
	json_t	   *exp_variants;
	json_t	   *nodes;
	bool	   *matched;
	size_t		i,
				j;
	json_t	   *ev,
			   *sv;

	if (!json_is_object(prod))
	{
		emit(rc, "product", key, st->product_gid, "missing", NULL, kcs_json_str(input, "title"), NULL);
		add_fix(rc, "product", st->style_code, NULL, false);
		json_decref(key);
		return;
	}
	for (f = 0; fields[f]; f++)
	{
		const char *e = kcs_json_str(input, fields[f]);
		const char *s = kcs_json_str(prod, fields[f]);

		if (e == NULL)
			continue;			/* not sent: Shopify's value stands */
		if (!str_equal(e, s))
		{
			emit(rc, "product", key, st->product_gid, "different", fields[f], e, s);
			drift = true;
		}
	}

	/* variants: only for a style in CI (a deleted one is just hidden) */
	exp_variants = json_object_get(input, "variants");
	nodes = kcs_json_path(prod, "variants", "nodes", NULL);
	/* (a style without SKUs sends no variants: Shopify keeps its default one) */
	if (st->exists && json_is_array(nodes) && json_is_array(exp_variants))
	{
		matched = palloc0(sizeof(bool) * (json_array_size(nodes) + 1));
		json_array_foreach(exp_variants, i, ev)
		{
			const char *sku = kcs_json_str(ev, "sku");
			const char *vid = kcs_json_str(ev, "id");
			json_t	   *vkey = key2_json("style_code", st->style_code, "sku_code", sku);
			json_t	   *found = NULL;
			size_t		at = 0;

			/* by SKU, else by the linked id (a SKU edited in Shopify) */
			json_array_foreach(nodes, j, sv)
				if (!matched[j] && str_equal(kcs_json_str(sv, "sku"), sku))
				{
					found = sv;
					at = j;
					break;
				}
			if (found == NULL && vid)
				json_array_foreach(nodes, j, sv)
					if (!matched[j] && str_equal(kcs_json_str(sv, "id"), vid))
					{
						found = sv;
						at = j;
						break;
					}
			if (found == NULL)
			{
				emit(rc, "product", vkey, vid, "missing", "variant", sku, NULL);
				drift = true;
				json_decref(vkey);
				continue;
			}
			matched[at] = true;
			if (!str_equal(kcs_json_str(found, "sku"), sku))
			{
				emit(rc, "product", vkey, kcs_json_str(found, "id"), "different", "sku",
					 sku, kcs_json_str(found, "sku"));
				drift = true;
			}
			if (!price_equal(kcs_json_str(ev, "price"), kcs_json_str(found, "price")))
			{
				emit(rc, "product", vkey, kcs_json_str(found, "id"), "different", "price",
					 kcs_json_str(ev, "price"), kcs_json_str(found, "price"));
				drift = true;
			}
			if (!price_equal(kcs_json_str(ev, "compareAtPrice"), kcs_json_str(found, "compareAtPrice")))
			{
				emit(rc, "product", vkey, kcs_json_str(found, "id"), "different", "compareAtPrice",
					 kcs_json_str(ev, "compareAtPrice"), kcs_json_str(found, "compareAtPrice"));
				drift = true;
			}
			if (vid && !str_equal(vid, kcs_json_str(found, "id")))
			{
				emit(rc, "product", vkey, kcs_json_str(found, "id"), "different", "variant_id",
					 vid, kcs_json_str(found, "id"));
				drift = true;
			}
			json_decref(vkey);
		}
		json_array_foreach(nodes, j, sv)
		{
			if (matched[j])
				continue;
			emit(rc, "product", key, kcs_json_str(sv, "id"), "extra", "variant", NULL,
				 kcs_json_str(sv, "sku"));
			drift = true;
		}
		if (json_is_true(kcs_json_path(prod, "variants", "pageInfo", "hasNextPage")))
		{
			emit(rc, "product", key, st->product_gid, "extra", "variant", NULL,
				 psprintf("more than %zu variants", json_array_size(nodes)));
			drift = true;
		}
		pfree(matched);
	}
	if (drift)
		add_fix(rc, "product", st->style_code, NULL, false);
	json_decref(key);
}

/*
 * The product as the paged read would have returned it: its variants cut
 * at the page the read asks for (first), pageInfo.hasNextPage set past it.
 * A new reference, or NULL when Shopify has no such product.
 */
static json_t *
bulk_product(RcBulk *b, const char *gid, int first)
{
	json_t	   *p = bulk_found(b, gid);
	json_t	   *copy;
	json_t	   *nodes;
	json_t	   *page;
	size_t		i;

	if (p == NULL)
		return NULL;
	copy = json_copy(p);
	nodes = kcs_json_path(p, "variants", "nodes", NULL);
	page = json_array();
	for (i = 0; i < json_array_size(nodes) && i < (size_t) first; i++)
		json_array_append(page, json_array_get(nodes, i));
	json_object_set_new(copy, "variants",
						json_pack("{s:o, s:{s:b}}", "nodes", page, "pageInfo", "hasNextPage",
								  json_array_size(nodes) > (size_t) first));
	return copy;
}

static void
reconcile_products(Rc *rc)
{
	MemoryContext chunk = AllocSetContextCreate(rc->cxt, "kcloud_shopify reconcile products",
												ALLOCSET_DEFAULT_SIZES);
	MemoryContext old;
	char	  **codes;
	int			ncodes;
	int			start;
	RcBulk		bulk;
	bool		by_bulk = false;

	codes = fetch_all("SELECT style_code FROM kcloud_shopify.product_link ORDER BY 1",
					  &ncodes, rc->cxt);
	by_bulk = bulk_try(rc, ncodes, "products", "SELECT product_gid FROM kcloud_shopify.product_link",
					   "variants",
					   "{ products { edges { node { id title status vendor productType"
					   " variants { edges { node { id sku price compareAtPrice } } } } } } }",
					   &bulk);
	for (start = 0; start < ncodes;)
	{
		KcsStyle  **st;
		int			n = Min(RC_PRODUCT_CHUNK, ncodes - start);
		int			i;
		KcsDoc		read;
		int			idx[RC_PRODUCT_CHUNK];
		json_t	   *inputs[RC_PRODUCT_CHUNK];
		char	   *query;
		KcsReply	reply;

		old = MemoryContextSwitchTo(chunk);
		memset(inputs, 0, sizeof(inputs));
		st = kcs_read_styles(codes + start, n, chunk);
		kcs_doc_init(&read);
		for (i = 0; i < n; i++)
		{
			KcsDoc		doc;
			int			first;
			double		cost;

			inputs[i] = NULL;
			if (st[i]->product_gid == NULL)
				continue;		/* unlinked meanwhile */
			/* what the worker would send: the productSet input */
			kcs_doc_init(&doc);
			kcs_product_set_add(&doc, st[i]);
			inputs[i] = json_incref(json_object_get(doc.variables, "input0"));
			kcs_doc_free(&doc);

			first = st[i]->exists ? Min(KCS_MAX_VARIANTS, list_length(st[i]->skus) + 10) : 1;
			if (by_bulk)
			{
				json_t	   *prod = bulk_product(&bulk, st[i]->product_gid, first);

				compare_product(rc, st[i], inputs[i], prod);
				json_decref(prod);
				continue;
			}
			cost = 3 + first;
			if (read.n > 0 && read.cost + cost > kcs_cost_budget())
				break;
			appendStringInfo(&read.body,
							 "  p%d: product(id: $p%d) { id title status vendor productType"
							 " variants(first: %d) { nodes { id sku price compareAtPrice } pageInfo { hasNextPage } } }\n",
							 read.n, read.n, first);
			if (read.decl.len > 0)
				appendStringInfoString(&read.decl, ", ");
			appendStringInfo(&read.decl, "$p%d: ID!", read.n);
			json_object_set_new(read.variables, psprintf("p%d", read.n),
								json_string(st[i]->product_gid));
			read.cost += cost;
			idx[read.n++] = i;
		}
		/* styles not read this time are read with the next chunk */
		if (i < n)
		{
			int			k;

			for (k = i; k < n; k++)
				if (inputs[k])
					json_decref(inputs[k]);
			n = i;
		}
		if (read.n > 0)
		{
			query = kcs_doc_finish(&read, "query", "KcsReconcileProducts");
			send_read(rc, query, read.variables, &reply);
			for (i = 0; i < read.n; i++)
			{
				char		a[16];

				snprintf(a, sizeof(a), "p%d", i);
				compare_product(rc, st[idx[i]], inputs[idx[i]], json_object_get(reply.data, a));
			}
			kcs_reply_free(&reply);
		}
		for (i = 0; i < n; i++)
			if (inputs[i])
				json_decref(inputs[i]);
		kcs_doc_free(&read);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk);
		start += Max(n, 1);
	}
	MemoryContextDelete(chunk);
	bulk_free(&bulk);
}

/* ---------------------------------------------------------- locations */

/*
 * Read the linked locations; report name/isActive drift when emit_rows.
 * Remembers the locations Shopify holds inactive or lacks (the inventory
 * comparison leaves their levels alone).
 */
static void
reconcile_locations(Rc *rc, bool emit_rows)
{
	char	  **rows;
	int			nrows;
	int			start;

	rows = fetch_all("SELECT l.branch_code, l.location_gid, b.branch_code IS NOT NULL,"
					 "       b.name, COALESCE(b.active, false)"
					 "  FROM kcloud_shopify.location_link l"
					 "  LEFT JOIN ci.branch b ON b.branch_code::text = l.branch_code"
					 " ORDER BY 1", &nrows, rc->cxt);
	for (start = 0; start < nrows; start += RC_NODE_CHUNK)
	{
		int			n = Min(RC_NODE_CHUNK, nrows - start);
		json_t	   *ids = json_array();
		json_t	   *vars;
		KcsReply	reply;
		json_t	   *nodes;
		int			i;

		for (i = 0; i < n; i++)
			json_array_append_new(ids, json_string(rows[(start + i) * 5 + 1]));
		vars = json_pack("{s:o}", "ids", ids);
		send_read(rc, "query KcsReconcileLocations($ids: [ID!]!) {\n"
				  "  nodes(ids: $ids) { ... on Location { id name isActive } }\n}", vars, &reply);
		json_decref(vars);
		nodes = json_object_get(reply.data, "nodes");
		for (i = 0; i < n; i++)
		{
			char	  **r = rows + (start + i) * 5;
			const char *branch = r[0];
			const char *gid = r[1];
			bool		exists = strcmp(r[2], "t") == 0;
			const char *name = r[3];
			bool		want_active = exists && strcmp(r[4], "t") == 0;
			json_t	   *loc = json_array_get(nodes, i);
			json_t	   *key = key1_json("branch_code", branch);
			bool		is_active;
			bool		drift = false;

			if (!json_is_object(loc) || kcs_json_str(loc, "id") == NULL)
			{
				MemoryContext old = MemoryContextSwitchTo(rc->cxt);

				rc->bad_locations = lappend(rc->bad_locations, pstrdup(gid));
				MemoryContextSwitchTo(old);
				if (emit_rows)
					emit(rc, "location", key, gid, "missing", NULL, exists ? name : NULL, NULL);
				/* not queued: a vanished location needs a new link */
				json_decref(key);
				continue;
			}
			is_active = json_is_true(json_object_get(loc, "isActive"));
			if (!is_active)
			{
				MemoryContext old = MemoryContextSwitchTo(rc->cxt);

				rc->bad_locations = lappend(rc->bad_locations, pstrdup(gid));
				MemoryContextSwitchTo(old);
			}
			if (exists && name && !str_equal(name, kcs_json_str(loc, "name")))
			{
				if (emit_rows)
					emit(rc, "location", key, gid, "different", "name", name, kcs_json_str(loc, "name"));
				drift = true;
			}
			if (is_active != want_active)
			{
				if (emit_rows)
					emit(rc, "location", key, gid, "different", "isActive",
						 want_active ? "true" : "false", is_active ? "true" : "false");
				drift = true;
			}
			if (drift && emit_rows)
				add_fix(rc, "location", branch, NULL, false);
			json_decref(key);
		}
		kcs_reply_free(&reply);
	}
}

/* ---------------------------------------------------------- inventory */

/* one level against its inventoryItem { inventoryLevel(locationId:) } read */
static void
compare_level(Rc *rc, KcsLevel *lv, const char *style, json_t *item)
{
	json_t	   *level;
	json_t	   *key = key2_json("sku_code", lv->sku_code, "branch_code", lv->branch_code);
	char	   *target = psprintf("%d", lv->target);

	if (!json_is_object(item))
	{
		/* the variant is gone: the product's repair recreates it */
		emit(rc, "inventory", key, lv->item_gid, "missing", "inventoryItem", target, NULL);
		add_fix(rc, "product", style, NULL, false);
	}
	else
	{
		level = json_object_get(item, "inventoryLevel");
		if (!json_is_object(level))
		{
			if (lv->target != 0)
			{
				emit(rc, "inventory", key, lv->item_gid, "missing", "on_hand", target, NULL);
				add_fix(rc, "inventory", lv->sku_code, lv->branch_code, true);
			}
		}
		else
		{
			json_t	   *q = json_array_get(json_object_get(level, "quantities"), 0);
			json_t	   *qv = json_object_get(q, "quantity");

			if (!json_is_integer(qv) || json_integer_value(qv) != lv->target)
			{
				emit(rc, "inventory", key, lv->item_gid, "different", "on_hand", target,
					 json_is_integer(qv) ? psprintf("%lld", (long long) json_integer_value(qv)) : NULL);
				add_fix(rc, "inventory", lv->sku_code, lv->branch_code, true);
			}
		}
	}
	json_decref(key);
}

static void
reconcile_inventory(Rc *rc)
{
	MemoryContext chunk = AllocSetContextCreate(rc->cxt, "kcloud_shopify reconcile inventory",
												ALLOCSET_DEFAULT_SIZES);
	char	  **rows;
	int			nrows;
	int			start;
	RcBulk		bulk;
	bool		by_bulk = false;

	/* linked variants of internet-active styles x linked web-stock branches */
	rows = fetch_all("SELECT vl.sku_code, b.branch_code::text, k.style_code::text"
					 "  FROM kcloud_shopify.variant_link vl"
					 "  JOIN ci.sku k ON k.sku_code = vl.sku_code"
					 "  JOIN ci.style s ON s.style_code = k.style_code AND s.internet_active"
					 "  CROSS JOIN kcloud_shopify.location_link ll"
					 "  JOIN ci.branch b ON b.branch_code::text = ll.branch_code"
					 " WHERE ll.active AND b.active AND b.web_stock"
					 " ORDER BY 1, 2", &nrows, rc->cxt);
	by_bulk = bulk_try(rc, nrows, "inventory", "SELECT inventory_item_gid FROM kcloud_shopify.variant_link",
					   "levels",
					   "{ inventoryItems { edges { node { id inventoryLevels { edges { node {"
					   " location { id } quantities(names: [\"on_hand\"]) { name quantity } } } } } } } }",
					   &bulk);
	for (start = 0; start < nrows; start += RC_LEVEL_CHUNK)
	{
		int			n = Min(RC_LEVEL_CHUNK, nrows - start);
		char	  **skus;
		char	  **branches;
		KcsLevelState *ls;
		KcsDoc		doc;
		int		   *idx;
		int			i;
		MemoryContext old = MemoryContextSwitchTo(chunk);

		skus = palloc(sizeof(char *) * n);
		branches = palloc(sizeof(char *) * n);
		idx = palloc(sizeof(int) * n);
		for (i = 0; i < n; i++)
		{
			skus[i] = rows[(start + i) * 3];
			branches[i] = rows[(start + i) * 3 + 1];
		}
		ls = kcs_read_levels(skus, branches, n, chunk);
		kcs_doc_init(&doc);
		for (i = 0; i < n; i++)
		{
			if (ls[i].action != KCS_LEVEL_SEND)
				continue;		/* the worker would not send it either */
			if (gid_listed(rc->bad_locations, ls[i].level.location_gid))
				continue;		/* see the location's row */
			if (by_bulk)
			{
				/* the shape of the paged read: { inventoryLevel } or no item */
				json_t	   *it = bulk_found(&bulk, ls[i].level.item_gid);
				json_t	   *item = it ? json_pack("{s:O?}", "inventoryLevel",
												  json_object_get(json_object_get(it, "levels"),
																  ls[i].level.location_gid)) : NULL;

				compare_level(rc, &ls[i].level, rows[(start + i) * 3 + 2], item);
				json_decref(item);
				continue;
			}
			idx[doc.n] = i;
			kcs_inventory_read_add(&doc, &ls[i].level);
		}
		if (doc.n > 0)
		{
			char	   *query = kcs_doc_finish(&doc, "query", "KcsInventoryLevels");
			KcsReply	reply;

			send_read(rc, query, doc.variables, &reply);
			for (i = 0; i < doc.n; i++)
			{
				char		a[16];

				snprintf(a, sizeof(a), "l%d", i);
				compare_level(rc, &ls[idx[i]].level, rows[(start + idx[i]) * 3 + 2],
							  json_object_get(reply.data, a));
			}
			kcs_reply_free(&reply);
		}
		kcs_doc_free(&doc);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk);
	}
	MemoryContextDelete(chunk);
	bulk_free(&bulk);
}

/* ---------------------------------------------------------- customers */

static void
compare_customer(Rc *rc, KcsCustomer *c, json_t *input, json_t *cust)
{
	json_t	   *key = key1_json("customer_code", c->customer_code);
	bool		drift = false;
	const char *email;
	const char *phone;
	const char *e;

	if (!json_is_object(cust) || kcs_json_str(cust, "id") == NULL)
	{
		emit(rc, "customer", key, c->customer_gid, "missing", NULL,
			 c->email ? c->email : c->phone, NULL);
		add_fix(rc, "customer", c->customer_code, NULL, false);
		json_decref(key);
		return;
	}
	email = kcs_json_str(json_object_get(cust, "defaultEmailAddress"), "emailAddress");
	phone = kcs_json_str(json_object_get(cust, "defaultPhoneNumber"), "phoneNumber");
	/* Shopify keeps emails in lower case */
	if ((e = kcs_json_str(input, "email")) != NULL &&
		(email == NULL || pg_strcasecmp(e, email) != 0))
	{
		emit(rc, "customer", key, c->customer_gid, "different", "email", e, email);
		drift = true;
	}
	if ((e = kcs_json_str(input, "phone")) != NULL && !str_equal(e, phone))
	{
		emit(rc, "customer", key, c->customer_gid, "different", "phone", e, phone);
		drift = true;
	}
	if ((e = kcs_json_str(input, "firstName")) != NULL &&
		!str_equal(e, kcs_json_str(cust, "firstName")))
	{
		emit(rc, "customer", key, c->customer_gid, "different", "firstName", e,
			 kcs_json_str(cust, "firstName"));
		drift = true;
	}
	if ((e = kcs_json_str(input, "lastName")) != NULL &&
		!str_equal(e, kcs_json_str(cust, "lastName")))
	{
		emit(rc, "customer", key, c->customer_gid, "different", "lastName", e,
			 kcs_json_str(cust, "lastName"));
		drift = true;
	}
	if (drift)
		add_fix(rc, "customer", c->customer_code, NULL, false);
	json_decref(key);
}

static void
reconcile_customers(Rc *rc)
{
	MemoryContext chunk = AllocSetContextCreate(rc->cxt, "kcloud_shopify reconcile customers",
												ALLOCSET_DEFAULT_SIZES);
	char	  **codes;
	int			ncodes;
	int			start;
	RcBulk		bulk;
	bool		by_bulk = false;

	codes = fetch_all("SELECT customer_code FROM kcloud_shopify.customer_link ORDER BY 1",
					  &ncodes, rc->cxt);
	by_bulk = bulk_try(rc, ncodes, "customers", "SELECT customer_gid FROM kcloud_shopify.customer_link",
					   NULL,
					   "{ customers { edges { node { id firstName lastName"
					   " defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } } } } }",
					   &bulk);
	for (start = 0; start < ncodes; start += RC_NODE_CHUNK)
	{
		int			n = Min(RC_NODE_CHUNK, ncodes - start);
		MemoryContext old = MemoryContextSwitchTo(chunk);
		KcsCustomer **cs = kcs_read_customers(codes + start, n, chunk);
		json_t	   *ids = json_array();
		json_t	  **inputs = palloc0(sizeof(json_t *) * n);
		int		   *idx = palloc(sizeof(int) * n);
		int			m = 0;
		int			i;

		for (i = 0; i < n; i++)
		{
			KcsDoc		doc;

			if (cs[i]->customer_gid == NULL || kcs_customer_skip_reason(cs[i]) != NULL)
				continue;		/* the worker sends nothing for it */
			kcs_doc_init(&doc);
			kcs_customer_set_add(&doc, cs[i]);
			inputs[m] = json_incref(json_object_get(doc.variables, "input0"));
			kcs_doc_free(&doc);
			json_array_append_new(ids, json_string(cs[i]->customer_gid));
			idx[m++] = i;
		}
		if (m > 0 && by_bulk)
		{
			for (i = 0; i < m; i++)
				compare_customer(rc, cs[idx[i]], inputs[i], bulk_found(&bulk, cs[idx[i]]->customer_gid));
		}
		else if (m > 0)
		{
			json_t	   *vars = json_pack("{s:O}", "ids", ids);
			KcsReply	reply;
			json_t	   *nodes;

			send_read(rc, "query KcsReconcileCustomers($ids: [ID!]!) {\n"
					  "  nodes(ids: $ids) { ... on Customer { id firstName lastName"
					  " defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } } }\n}",
					  vars, &reply);
			json_decref(vars);
			nodes = json_object_get(reply.data, "nodes");
			for (i = 0; i < m; i++)
				compare_customer(rc, cs[idx[i]], inputs[i], json_array_get(nodes, i));
			kcs_reply_free(&reply);
		}
		for (i = 0; i < m; i++)
			json_decref(inputs[i]);
		json_decref(ids);
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk);
	}
	MemoryContextDelete(chunk);
	bulk_free(&bulk);
}

/* -------------------------------------------------------------- repair */

static void
apply_fixes(Rc *rc)
{
	ListCell   *lc;

	foreach(lc, rc->fixes)
	{
		RcFix	   *f = lfirst(lc);
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		vals[3];

		vals[0] = CStringGetTextDatum(f->kind);
		vals[1] = CStringGetTextDatum(f->key1);
		vals[2] = CStringGetTextDatum(f->key2);
		if (f->forget_level)
			run_sql("UPDATE kcloud_shopify.inventory_level SET shopify_on_hand = NULL"
					" WHERE sku_code = $2 AND branch_code = $3 AND idempotency_key IS NULL"
					"   AND $1 = 'inventory'",
					3, types, vals, SPI_OK_UPDATE);
		run_sql("SELECT kcloud_shopify.enqueue($1, $2, $3)", 3, types, vals, SPI_OK_SELECT);
	}
	if (rc->fixes != NIL)
		run_sql("SELECT kcloud_shopify.wake()", 0, NULL, NULL, SPI_OK_SELECT);
}

/* --------------------------------------------------------- entry point */

Datum
kcloud_shopify_reconcile(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *kind;
	bool		all;
	Rc			rc;
	bool		connected;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind must not be null"),
				 errhint("Use product, inventory, location, customer or all.")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	all = strcmp(kind, "all") == 0;
	if (!all && strcmp(kind, "product") != 0 && strcmp(kind, "inventory") != 0 &&
		strcmp(kind, "location") != 0 && strcmp(kind, "customer") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown kind \"%s\"", kind),
				 errhint("Use product, inventory, location, customer or all.")));

	InitMaterializedSRF(fcinfo, 0);
	memset(&rc, 0, sizeof(rc));
	rc.ts = rsinfo->setResult;
	rc.td = rsinfo->setDesc;
	rc.repair = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	rc.cxt = AllocSetContextCreate(CurrentMemoryContext, "kcloud_shopify reconcile",
								   ALLOCSET_DEFAULT_SIZES);

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: SPI_connect failed")));
	connected = kcs_conn_load();
	if (!connected)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no Shopify shop is connected"),
				 errhint("Call kcloud_shopify.connect() first.")));
	seed_rate_limiter();

	/* locations first: inventory leaves the levels of inactive ones alone */
	if (all || strcmp(kind, "location") == 0 || strcmp(kind, "inventory") == 0)
		reconcile_locations(&rc, all || strcmp(kind, "location") == 0);
	if (all || strcmp(kind, "product") == 0)
		reconcile_products(&rc);
	if (all || strcmp(kind, "inventory") == 0)
	{
		/*
		 * Before repairing stock, bring in the web orders Shopify fulfilled
		 * (what the worker does on a stale compare-and-set): a level whose
		 * sale CI has not seen yet would otherwise be set back to CI's count.
		 */
		if (rc.repair)
			run_sql("SELECT kcloud_shopify.poll_orders()", 0, NULL, NULL, SPI_OK_SELECT);
		reconcile_inventory(&rc);
	}
	if (all || strcmp(kind, "customer") == 0)
		reconcile_customers(&rc);

	apply_fixes(&rc);
	kcs_activity_flush();
	SPI_finish();
	MemoryContextDelete(rc.cxt);
	return (Datum) 0;
}
