/*-------------------------------------------------------------------------
 *
 * sync_product.c
 *	  Styles -> Shopify products (productSet), and dated sales.
 *
 * For a batch of claimed styles:
 *   1. one short transaction (after the capture fence) reads the styles,
 *      SKUs, prices, tabs, attributes and links (ci_read.c);
 *   2. styles never synced are looked up in Shopify first (one aliased
 *      query): our own customId (a lost reply of an earlier create), or
 *      variants carrying the style's SKUs (a product made elsewhere, which
 *      is adopted instead of duplicated);
 *   3. productSet per style, several per request (aliases) while the
 *      estimated cost stays under KCS_COST_BUDGET: a new product by
 *      customId kcloud.style_code with our metafield list; a linked one
 *      (link, our customId found, or adopted) by its id WITHOUT a metafield
 *      list -- productSet would delete the merchant's metafields -- and our
 *      metafields by metafieldsSet / metafieldsDelete in the same request;
 *      full variant list (variant ids sent where known); new variants carry
 *      their CI stock at every linked web-stock location;
 *   4. one short transaction records product and variant links (and the
 *      keys of our metafields once Shopify confirmed them all), forgets
 *      removed SKUs, records the stock just set, and queues stock levels
 *      Shopify does not know yet.
 * A style deleted in CI is set to DRAFT through its link (never deleted).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "entities.h"
#include "graphql.h"
#include "kcloud_shopify.h"
#include "sync.h"

typedef struct ProductWork
{
	KcsItem    *item;
	KcsStyle   *st;
	bool		send;			/* still to be sent */
	bool		done;			/* outcome decided */
	bool		product_ok;		/* productSet succeeded: record the links */
	bool		mf_ok;			/* our metafields confirmed: record their keys */
	json_t	   *product;		/* reply's product (borrowed until recorded) */
	char	   *product_gid;
	char	   *status;
	List	   *vskus;			/* returned variants: sku, variant, item */
	List	   *vgids;
	List	   *igids;
} ProductWork;

static MemoryContext callercxt;

static void
outcome(KcsItem *item, KcsOutcome o, const char *error, double retry_after)
{
	item->outcome = o;
	item->retry_after = retry_after;
	item->error = error ? MemoryContextStrdup(callercxt, error) : NULL;
}

const char *
kcs_product_skip_reason(KcsStyle *st)
{
	if (!st->exists && st->product_gid == NULL)
		return "style not in CI and never synced";
	if (st->exists && !st->internet_active && st->product_gid == NULL)
		return "style not internet active and never synced";
	return NULL;
}

/* ------------------------------------------------------------- adoption */

static void
apply_adoption(ProductWork *w, json_t *ours, json_t *variants)
{
	KcsStyle   *st = w->st;
	const char *pid = NULL;
	json_t	   *nodes = kcs_json_path(variants, "nodes", NULL, NULL);
	size_t		i;
	json_t	   *v;
	ListCell   *lc;

	if (json_is_object(ours))
	{
		/*
		 * created by us (a reply was lost, or the link was dropped to relink):
		 * from now on it is a linked product, sent by id without touching
		 * metafields that are not ours
		 */
		pid = kcs_json_str(ours, "id");
		if (pid)
		{
			st->product_gid = pstrdup(pid);
			st->adopt = true;
		}
	}
	else if (json_is_array(nodes) && json_array_size(nodes) > 0)
	{
		/* the product holding most of the style's SKUs */
		int			best = 0;

		json_array_foreach(nodes, i, v)
		{
			const char *p = kcs_json_str(json_object_get(v, "product"), "id");
			size_t		j;
			json_t	   *u;
			int			cnt = 0;

			if (p == NULL)
				continue;
			json_array_foreach(nodes, j, u)
			{
				const char *q = kcs_json_str(json_object_get(u, "product"), "id");

				if (q && strcmp(p, q) == 0)
					cnt++;
			}
			if (cnt > best)
			{
				best = cnt;
				pid = p;
			}
		}
		if (pid)
		{
			st->product_gid = pstrdup(pid);
			st->adopt = true;
		}
	}
	if (pid == NULL || !json_is_array(nodes))
		return;
	/* existing variants keep their ids (and their inventory items) */
	json_array_foreach(nodes, i, v)
	{
		const char *p = kcs_json_str(json_object_get(v, "product"), "id");
		const char *sku = kcs_json_str(v, "sku");

		if (p == NULL || sku == NULL || strcmp(p, pid) != 0)
			continue;
		foreach(lc, st->skus)
		{
			KcsSku	   *k = lfirst(lc);

			if (k->variant_gid == NULL && strcmp(k->sku_code, sku) == 0)
			{
				k->variant_gid = pstrdup(kcs_json_str(v, "id"));
			}
		}
	}
}

/* is this product already linked to another style? (short transaction) */
static void
refuse_taken_adoptions(ProductWork *work, int n)
{
	int			i;

	kcs_xact_begin();
	for (i = 0; i < n; i++)
	{
		KcsStyle   *st = work[i].st;
		Oid			types[2] = {TEXTOID, TEXTOID};
		Datum		vals[2];

		if (!st->adopt)
			continue;
		vals[0] = CStringGetTextDatum(st->product_gid);
		vals[1] = CStringGetTextDatum(st->style_code);
		if (SPI_execute_with_args("SELECT 1 FROM kcloud_shopify.product_link"
								  " WHERE product_gid = $1 AND style_code <> $2",
								  2, types, vals, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "kcloud_shopify: product_link lookup failed");
		if (SPI_processed > 0)
		{
			ListCell   *lc;

			elog(LOG, "kcloud_shopify: product %s holds SKUs of style %s but is linked to another style; not adopted",
				 st->product_gid, st->style_code);
			st->adopt = false;
			st->product_gid = NULL;
			foreach(lc, st->skus)
			{
				KcsSku	   *k = lfirst(lc);

				k->variant_gid = NULL;
				k->inventory_item_gid = NULL;
			}
		}
	}
	kcs_xact_commit();
}

static void
adopt_lookup(ProductWork *work, int n, MemoryContext cxt)
{
	int			start = 0;

	while (start < n)
	{
		KcsDoc		doc;
		int			idx[KCS_MAX_ALIASES];
		int			i;
		char	   *query;
		KcsReply	reply;

		kcs_doc_init(&doc);
		for (i = start; i < n && doc.n < KCS_MAX_ALIASES; i++)
		{
			KcsStyle   *st = work[i].st;

			if (!work[i].send || !st->exists || st->product_gid != NULL)
				continue;
			if (doc.n > 0 && doc.cost + 3 + 2.0 * Min(list_length(st->skus), 50) > kcs_cost_budget())
				break;
			idx[doc.n] = i;
			kcs_product_adopt_add(&doc, st);
		}
		start = i;
		if (doc.n == 0)
		{
			kcs_doc_free(&doc);
			continue;
		}
		query = kcs_doc_finish(&doc, "query", "KcsProductLookup");
		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send_cost(query, doc.variables, doc.cost, &reply);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < doc.n; i++)
		{
			ProductWork *w = &work[idx[i]];
			char		a[16],
						v[16];

			if (reply.outcome != KCS_OK)
			{
				outcome(w->item, reply.outcome,
						reply.error ? reply.error : "product lookup failed", reply.retry_after);
				w->send = false;
				w->done = true;
				continue;
			}
			snprintf(a, sizeof(a), "a%d", i);
			snprintf(v, sizeof(v), "v%d", i);
			apply_adoption(w, json_object_get(reply.data, a), json_object_get(reply.data, v));
		}
		kcs_reply_free(&reply);
		kcs_doc_free(&doc);
	}
}

/* ---------------------------------------------------------- productSet */

static void
take_product(ProductWork *w, json_t *payload)
{
	KcsUserError *errs;
	int			nerr = kcs_user_errors(payload, "userErrors", &errs);
	json_t	   *product = json_object_get(payload, "product");
	json_t	   *nodes;
	size_t		i;
	json_t	   *v;

	if (nerr > 0 || !json_is_object(product))
	{
		int			j;
		bool		stale_variant = false;

		for (j = 0; j < nerr; j++)
			if (errs[j].code && (strcmp(errs[j].code, "PRODUCT_VARIANT_DOES_NOT_EXIST") == 0 ||
								 strcmp(errs[j].code, "NOT_FOUND") == 0))
				stale_variant = true;
		if (stale_variant)
		{
			/* a variant or product we linked was deleted in Shopify: relink */
			w->product_gid = NULL;
			w->status = "RELINK";
			outcome(w->item, KCS_TRANSIENT, kcs_user_errors_text(errs, nerr), 0);
		}
		else
			outcome(w->item, KCS_PERMANENT,
					nerr > 0 ? kcs_user_errors_text(errs, nerr) : "productSet returned no product", 0);
		w->done = true;
		return;
	}
	w->product_gid = pstrdup(kcs_json_str(product, "id"));
	w->status = pstrdup(kcs_json_str(product, "status") ? kcs_json_str(product, "status") : "");
	nodes = kcs_json_path(product, "variants", "nodes", NULL);
	if (json_is_array(nodes))
	{
		json_array_foreach(nodes, i, v)
		{
			const char *sku = kcs_json_str(v, "sku");
			const char *vid = kcs_json_str(v, "id");
			const char *iid = kcs_json_str(json_object_get(v, "inventoryItem"), "id");
			ListCell   *lc;

			if (!sku || !vid || !iid)
				continue;
			foreach(lc, w->st->skus)
			{
				if (strcmp(((KcsSku *) lfirst(lc))->sku_code, sku) == 0)
				{
					w->vskus = lappend(w->vskus, pstrdup(sku));
					w->vgids = lappend(w->vgids, pstrdup(vid));
					w->igids = lappend(w->igids, pstrdup(iid));
					break;
				}
			}
		}
	}
	outcome(w->item, KCS_OK, NULL, 0);
	w->product_ok = true;
	/* a new product's metafields travelled in productSet; a hidden one sends none */
	w->mf_ok = w->st->exists && w->st->product_gid == NULL;
	w->done = true;
}

/*
 * The metafieldsSet m<i>_<j> / metafieldsDelete d<i>_<j> that followed a
 * linked product's productSet p<i> (kcs_product_set_add).  Only after all
 * of them succeeded are the keys recorded (record_product); a failure is
 * the item's outcome, the product and variant links are recorded anyway.
 */
static void
take_metafields(ProductWork *w, json_t *data, int i, int nset, int ndel)
{
	int			j;
	StringInfoData err;

	if (!w->product_ok || nset + ndel == 0)
		return;
	initStringInfo(&err);
	for (j = 0; j < nset + ndel; j++)
	{
		char		alias[32];
		json_t	   *payload;
		KcsUserError *errs;
		int			nerr;

		if (j < nset)
			snprintf(alias, sizeof(alias), "m%d_%d", i, j);
		else
			snprintf(alias, sizeof(alias), "d%d_%d", i, j - nset);
		payload = json_object_get(data, alias);
		if (!json_is_object(payload))
		{
			appendStringInfo(&err, "%s%s returned nothing", err.len ? "; " : "",
							 j < nset ? "metafieldsSet" : "metafieldsDelete");
			continue;
		}
		nerr = kcs_user_errors(payload, "userErrors", &errs);
		if (nerr > 0)
			appendStringInfo(&err, "%s%s: %s", err.len ? "; " : "",
							 j < nset ? "metafieldsSet" : "metafieldsDelete",
							 kcs_user_errors_text(errs, nerr));
	}
	if (err.len > 0)
		outcome(w->item, KCS_PERMANENT, err.data, 0);
	else
		w->mf_ok = true;
	pfree(err.data);
}

/*
 * Send the works marked send, several per request: productSet (plus a
 * linked product's metafield calls), or with metafields_only just the
 * metafield calls (kcs_product_metafields_after_bulk).
 */
static void
product_set(ProductWork *work, int n, MemoryContext cxt, bool metafields_only)
{
	int			start = 0;

	while (start < n)
	{
		KcsDoc		doc;
		int			idx[KCS_MAX_ALIASES];
		int			nset[KCS_MAX_ALIASES];
		int			ndel[KCS_MAX_ALIASES];
		int			roots = 0;
		int			i;
		char	   *query;
		KcsReply	reply;

		kcs_doc_init(&doc);
		for (i = start; i < n && doc.n < KCS_MAX_ALIASES; i++)
		{
			int			calls;
			int			fields;
			double		cost;

			if (!work[i].send)
				continue;
			calls = kcs_product_metafield_calls(work[i].st, &nset[doc.n], &ndel[doc.n]);
			fields = metafields_only ? calls : 1 + calls;
			cost = metafields_only ? KCS_MF_CALL_COST * calls : kcs_product_set_cost(work[i].st);
			/* at most KCS_MAX_ALIASES root fields, metafield calls included */
			if (doc.n > 0 && (doc.cost + cost > kcs_cost_budget() ||
							  roots + fields > KCS_MAX_ALIASES))
				break;
			idx[doc.n] = i;
			roots += fields;
			if (metafields_only)
				kcs_product_metafields_add(&doc, work[i].st);
			else
				kcs_product_set_add(&doc, work[i].st);
		}
		start = i;
		if (doc.n == 0)
		{
			kcs_doc_free(&doc);
			continue;
		}
		query = kcs_doc_finish(&doc, "mutation",
							   metafields_only ? "KcsProductMetafields" : "KcsProductSet");
		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send_cost(query, doc.variables, doc.cost, &reply);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < doc.n; i++)
		{
			ProductWork *w = &work[idx[i]];
			char		p[16];

			if (reply.outcome != KCS_OK)
			{
				outcome(w->item, reply.outcome,
						reply.error ? reply.error : "productSet failed", reply.retry_after);
				w->done = true;
				continue;
			}
			if (!metafields_only)
			{
				snprintf(p, sizeof(p), "p%d", i);
				take_product(w, json_object_get(reply.data, p));
			}
			take_metafields(w, reply.data, i, nset[i], ndel[i]);
		}
		kcs_reply_free(&reply);
		kcs_doc_free(&doc);
	}
}

/* ------------------------------------------------------------- record */

static void
exec_args(const char *sql, int nargs, Oid *types, Datum *vals, int expect)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, vals, NULL, false, 0);

	if (rc != expect)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: recording product links failed: %s",
						SPI_result_code_string(rc))));
}

static char **
list_to_array(List *l)
{
	char	  **a = palloc(sizeof(char *) * Max(list_length(l), 1));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, l)
		a[i++] = lfirst(lc);
	return a;
}

/* the keys of our metafields Shopify just confirmed (deletes are diffed against them) */
static void
record_metafield_keys(KcsStyle *st)
{
	List	   *keys = kcs_product_metafield_keys(st);
	Oid			t[2] = {TEXTOID, TEXTARRAYOID};
	Datum		v[2];

	v[0] = CStringGetTextDatum(st->style_code);
	v[1] = kcs_text_array(list_to_array(keys), list_length(keys));
	exec_args("UPDATE kcloud_shopify.product_link SET metafield_keys = $2 WHERE style_code = $1",
			  2, t, v, SPI_OK_UPDATE);
	list_free_deep(keys);
}

static void
record_product(ProductWork *w)
{
	KcsStyle   *st = w->st;
	Oid			t3[3] = {TEXTOID, TEXTOID, TEXTOID};
	Oid			t4[4] = {TEXTOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		v[4];
	List	   *skus = NIL;
	ListCell   *lc;
	int			nv = list_length(w->vskus);

	v[0] = CStringGetTextDatum(st->style_code);
	v[1] = CStringGetTextDatum(w->product_gid);
	v[2] = CStringGetTextDatum(w->status);
	exec_args("DELETE FROM kcloud_shopify.product_link WHERE product_gid = $2 AND style_code <> $1",
			  3, t3, v, SPI_OK_DELETE);
	exec_args("INSERT INTO kcloud_shopify.product_link (style_code, product_gid, custom_id, status)"
			  " VALUES ($1, $2, $1, $3)"
			  " ON CONFLICT (style_code) DO UPDATE SET product_gid = EXCLUDED.product_gid,"
			  "   custom_id = EXCLUDED.custom_id, status = EXCLUDED.status, synced_at = pg_catalog.now(),"
			  "   published_at = CASE WHEN product_link.product_gid = EXCLUDED.product_gid"
			  "                       THEN product_link.published_at END",
			  3, t3, v, SPI_OK_INSERT);
	if (!st->exists)
		return;					/* hidden: variants and stock left as they are */
	if (w->mf_ok)
		record_metafield_keys(st);

	v[1] = kcs_text_array(list_to_array(w->vskus), nv);
	v[2] = kcs_text_array(list_to_array(w->vgids), nv);
	v[3] = kcs_text_array(list_to_array(w->igids), nv);
	/* a GID linked to another SKU (SKU renamed in CI) moves to this one */
	exec_args("DELETE FROM kcloud_shopify.variant_link l"
			  " USING ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[])) AS v(sku, vg, ig)"
			  " WHERE (l.variant_gid = v.vg OR l.inventory_item_gid = v.ig) AND l.sku_code <> v.sku",
			  4, t4, v, SPI_OK_DELETE);
	exec_args("INSERT INTO kcloud_shopify.variant_link (sku_code, style_code, variant_gid, inventory_item_gid)"
			  " SELECT v.sku, $1, v.vg, v.ig"
			  "   FROM ROWS FROM (pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[])) AS v(sku, vg, ig)"
			  " ON CONFLICT (sku_code) DO UPDATE SET style_code = EXCLUDED.style_code,"
			  "   variant_gid = EXCLUDED.variant_gid, inventory_item_gid = EXCLUDED.inventory_item_gid,"
			  "   synced_at = pg_catalog.now()",
			  4, t4, v, SPI_OK_INSERT);
	/* removed SKUs: their variants are gone in Shopify (productSet deleted them) */
	exec_args("WITH gone AS ("
			  "  DELETE FROM kcloud_shopify.variant_link l"
			  "   WHERE l.style_code = $1 AND NOT (l.sku_code = ANY ($2::text[]))"
			  "  RETURNING l.sku_code)"
			  " DELETE FROM kcloud_shopify.inventory_level il USING gone WHERE il.sku_code = gone.sku_code",
			  4, t4, v, SPI_OK_DELETE);

	/* stock set by inventoryQuantities on the variants just created */
	foreach(lc, st->skus)
	{
		KcsSku	   *k = lfirst(lc);
		ListCell   *qc;

		if (k->variant_gid != NULL)
			continue;
		foreach(qc, k->levels)
		{
			KcsLevelQty *q = lfirst(qc);
			Oid			tl[3] = {TEXTOID, TEXTOID, INT4OID};
			Datum		lv[3];

			lv[0] = CStringGetTextDatum(k->sku_code);
			lv[1] = CStringGetTextDatum(q->branch_code);
			lv[2] = Int32GetDatum(q->quantity);
			exec_args("INSERT INTO kcloud_shopify.inventory_level AS il (sku_code, branch_code, shopify_on_hand)"
					  " VALUES ($1, $2, $3)"
					  " ON CONFLICT (sku_code, branch_code) DO UPDATE SET shopify_on_hand = EXCLUDED.shopify_on_hand,"
					  "   idempotency_key = NULL, sent_quantity = NULL, synced_at = pg_catalog.now()",
					  3, tl, lv, SPI_OK_INSERT);
		}
		skus = lappend(skus, k->sku_code);
	}
	list_free(skus);

	/* stock levels Shopify has not been told about (adopted variants, new locations) */
	exec_args("INSERT INTO kcloud_shopify.queue (kind, key1, key2)"
			  " SELECT 'inventory', st.sku_code::text, st.branch_code::text"
			  "   FROM ci.stock st"
			  "   JOIN ci.sku k ON k.sku_code = st.sku_code"
			  "   JOIN ci.branch b ON b.branch_code = st.branch_code"
			  "  WHERE k.style_code = $1 AND b.active AND b.web_stock"
			  "    AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.inventory_level il"
			  "                     WHERE il.sku_code = st.sku_code AND il.branch_code = st.branch_code"
			  "                       AND il.shopify_on_hand IS NOT NULL)"
			  " ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING",
			  1, t3, v, SPI_OK_INSERT);
}

static void
forget_variants(const char *style_code)
{
	Oid			t[1] = {TEXTOID};
	Datum		v[1];

	v[0] = CStringGetTextDatum(style_code);
	exec_args("DELETE FROM kcloud_shopify.variant_link WHERE style_code = $1", 1, t, v, SPI_OK_DELETE);
	exec_args("DELETE FROM kcloud_shopify.product_link WHERE style_code = $1", 1, t, v, SPI_OK_DELETE);
}

/* ----------------------------------------------------------- publishing */

/*
 * productSet does not put a product on any sales channel: an internet-active
 * style's product is published on the Online Store by publishablePublish,
 * once (product_link.published_at).  A merchant who unpublishes it later
 * keeps it unpublished; nothing is ever unpublished (DRAFT hides it).
 */

typedef enum PubLookup
{
	PUB_FOUND,
	PUB_NONE,					/* the shop has no Online Store publication */
	PUB_FAILED					/* the lookup failed: try again later */
} PubLookup;

/* shop that had no Online Store publication, and when it was last asked */
static char *pub_none_shop = NULL;
static TimestampTz pub_none_at = 0;
/* when Shopify last refused a publish request outright (e.g. scope missing) */
static TimestampTz pub_refused_at = 0;

/*
 * The Online Store publication's GID for the connected shop: from settings
 * row online_store_publication ("<shop domain> <gid>"), else looked up
 * (publications) and recorded.  A shop without one is logged once and asked
 * again at most hourly.  Caller has no transaction open; *gid is palloc'd
 * in the current context.
 */
static PubLookup
online_store_publication(char **gid)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *shop = NULL;
	char	   *cached = NULL;
	char	   *query;
	KcsReply	reply;
	PubLookup	result = PUB_FAILED;

	*gid = NULL;
	kcs_xact_begin();
	if (SPI_execute("SELECT s.value, p.value FROM kcloud_shopify.settings s"
					"  LEFT JOIN kcloud_shopify.settings p ON p.name = 'online_store_publication'"
					" WHERE s.name = 'shop_domain'", true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *c = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		shop = v ? MemoryContextStrdup(cxt, v) : NULL;
		cached = c ? MemoryContextStrdup(cxt, c) : NULL;
	}
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);
	if (shop == NULL)
		return PUB_FAILED;
	if (cached != NULL)
	{
		size_t		len = strlen(shop);

		if (strncmp(cached, shop, len) == 0 && cached[len] == ' ' && cached[len + 1] != '\0')
		{
			*gid = pstrdup(cached + len + 1);
			return PUB_FOUND;
		}
	}
	if (pub_none_shop != NULL && strcmp(pub_none_shop, shop) == 0 &&
		!TimestampDifferenceExceeds(pub_none_at, GetCurrentTimestamp(), 3600 * 1000))
		return PUB_NONE;

	query = kcs_publications_doc();
	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send(query, NULL, &reply);
	MemoryContextSwitchTo(cxt);
	if (reply.outcome == KCS_OK)
	{
		json_t	   *nodes = kcs_json_path(reply.data, "publications", "nodes", NULL);
		size_t		i;
		json_t	   *node;

		json_array_foreach(nodes, i, node)
		{
			const char *name = kcs_json_str(node, "name");
			const char *title = kcs_json_str(json_object_get(node, "catalog"), "title");

			if ((title && strcmp(title, KCS_ONLINE_STORE) == 0) ||
				(name && strcmp(name, KCS_ONLINE_STORE) == 0))
			{
				const char *id = kcs_json_str(node, "id");

				if (id)
					*gid = pstrdup(id);
				break;
			}
		}
		result = *gid ? PUB_FOUND : PUB_NONE;
	}
	else if (reply.outcome == KCS_PERMANENT)
	{
		/* e.g. no read_publications scope: as if there were none */
		elog(LOG, "kcloud_shopify: looking up the Online Store publication failed: %s",
			 reply.error ? reply.error : "?");
		result = PUB_NONE;
	}
	kcs_reply_free(&reply);
	MemoryContextSwitchTo(cxt);

	if (result == PUB_FOUND)
	{
		Oid			types[1] = {TEXTOID};
		Datum		vals[1];

		kcs_xact_begin();
		vals[0] = CStringGetTextDatum(psprintf("%s %s", shop, *gid));
		SPI_execute_with_args("INSERT INTO kcloud_shopify.settings (name, value)"
							  " VALUES ('online_store_publication', $1)"
							  " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value,"
							  "   updated_at = pg_catalog.now()",
							  1, types, vals, NULL, false, 0);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
	}
	else if (result == PUB_NONE)
	{
		if (pub_none_shop == NULL || strcmp(pub_none_shop, shop) != 0)
		{
			ereport(LOG,
					(errmsg("kcloud_shopify: shop %s has no \"%s\" publication; products are not published",
							shop, KCS_ONLINE_STORE),
					 errhint("Add the Online Store sales channel; it is looked for again within the hour.")));
			if (pub_none_shop)
				pfree(pub_none_shop);
			pub_none_shop = MemoryContextStrdup(TopMemoryContext, shop);
		}
		pub_none_at = GetCurrentTimestamp();
	}
	return result;
}

/* forget the recorded publication (Shopify says it does not exist) */
static void
forget_publication(void)
{
	kcs_xact_begin();
	SPI_execute("DELETE FROM kcloud_shopify.settings WHERE name = 'online_store_publication'", false, 0);
	kcs_xact_commit();
}

/*
 * Publish the products of the works just recorded whose style is internet
 * active, whose product is ACTIVE and that were never published by us.
 * One request per chunk of aliased publishablePublish calls.  A transport
 * failure gives the work's item that outcome (the queue retries the style:
 * productSet again, then this), or with ok, ok[i] = false (bulk: the style
 * goes back to ordinary calls).  userErrors are logged; the product stays
 * unpublished until the style's next sync.  No transaction open on entry.
 */
static void
publish_products(ProductWork *work, int n, MemoryContext cxt, bool *ok)
{
	char	  **codes;
	int			ncodes = 0;
	int		   *idx;			/* work index of each candidate */
	int		   *cand;			/* candidates still unpublished */
	char	  **gids;
	int			ncand = 0;
	bool	   *done;
	char	   *pub = NULL;
	PubLookup	lk;
	int			start;
	int			i;

	codes = palloc(sizeof(char *) * Max(n, 1));
	idx = palloc(sizeof(int) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		ProductWork *w = &work[i];

		if (w->product_ok && w->product_gid != NULL && w->st->exists && w->st->internet_active &&
			w->status != NULL && strcmp(w->status, "ACTIVE") == 0 && (ok == NULL || ok[i]))
		{
			idx[ncodes] = i;
			codes[ncodes++] = w->st->style_code;
		}
	}
	if (ncodes == 0)
		return;

	cand = palloc(sizeof(int) * ncodes);
	gids = palloc(sizeof(char *) * ncodes);
	kcs_xact_begin();
	{
		Oid			t[1] = {TEXTARRAYOID};
		Datum		v[1];
		uint64		r;

		v[0] = kcs_text_array(codes, ncodes);
		if (SPI_execute_with_args("SELECT c.i::int4, l.product_gid"
								  "  FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS c(code, i)"
								  "  JOIN kcloud_shopify.product_link l ON l.style_code = c.code"
								  " WHERE l.published_at IS NULL AND l.status = 'ACTIVE'"
								  " ORDER BY c.i",
								  1, t, v, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "kcloud_shopify: reading unpublished products failed");
		for (r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			int			c = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull));

			cand[ncand] = idx[c - 1];
			gids[ncand++] = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2));
		}
	}
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);
	if (ncand == 0)
		return;
	/* refused outright lately: do not send a doomed request per batch */
	if (pub_refused_at != 0 &&
		!TimestampDifferenceExceeds(pub_refused_at, GetCurrentTimestamp(), 3600 * 1000))
		return;

	lk = online_store_publication(&pub);
	MemoryContextSwitchTo(cxt);
	if (lk == PUB_NONE)
		return;
	if (lk == PUB_FAILED)
	{
		for (i = 0; i < ncand; i++)
		{
			if (ok)
				ok[cand[i]] = false;
			else
				outcome(work[cand[i]].item, KCS_TRANSIENT,
						"looking up the Online Store publication failed", 0);
		}
		return;
	}

	done = palloc0(sizeof(bool) * ncand);
	start = 0;
	while (start < ncand)
	{
		KcsDoc		doc;
		int			first = start;
		char	   *query;
		KcsReply	reply;
		bool		bad_pub = false;
		bool		refused;

		kcs_doc_init(&doc);
		while (start < ncand && doc.n < KCS_MAX_ALIASES &&
			   (doc.n == 0 || doc.cost + KCS_PUBLISH_COST <= kcs_cost_budget()))
			kcs_publish_add(&doc, gids[start++], pub);
		query = kcs_doc_finish(&doc, "mutation", "KcsPublish");
		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send_cost(query, doc.variables, doc.cost, &reply);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < doc.n; i++)
		{
			ProductWork *w = &work[cand[first + i]];
			KcsUserError *errs;
			int			ne;
			char		alias[16];

			if (reply.outcome == KCS_PERMANENT)
			{
				/*
				 * e.g. no write_publications scope: the product sync stands;
				 * publishing is tried again in an hour
				 */
				if (i == 0)
					ereport(LOG,
							(errmsg("kcloud_shopify: publishing %d products on the Online Store failed: %s",
									doc.n, reply.error ? reply.error : "?"),
							 errdetail("Products are not published for an hour; their styles' next sync after that publishes them.")));
				pub_refused_at = GetCurrentTimestamp();
				continue;
			}
			if (reply.outcome != KCS_OK)
			{
				if (ok)
					ok[cand[first + i]] = false;
				else
					outcome(w->item, reply.outcome,
							psprintf("publishing on the Online Store failed: %s",
									 reply.error ? reply.error : "?"),
							reply.retry_after);
				continue;
			}
			snprintf(alias, sizeof(alias), "u%d", i);
			ne = kcs_user_errors(json_object_get(reply.data, alias), "userErrors", &errs);
			if (ne > 0)
			{
				elog(LOG, "kcloud_shopify: publishing style %s on the Online Store: %s",
					 w->st->style_code, kcs_user_errors_text(errs, ne));
				if (strstr(kcs_user_errors_text(errs, ne), "ublication") != NULL)
					bad_pub = true;
				continue;
			}
			if (json_object_get(reply.data, alias) == NULL)
				continue;
			done[first + i] = true;
		}
		refused = reply.outcome == KCS_PERMANENT;
		kcs_reply_free(&reply);
		kcs_doc_free(&doc);
		if (refused)
			break;
		if (bad_pub)
		{
			forget_publication();
			MemoryContextSwitchTo(cxt);
			break;
		}
	}

	/* record the ones Shopify confirmed */
	ncodes = 0;
	for (i = 0; i < ncand; i++)
		if (done[i])
			codes[ncodes++] = work[cand[i]].st->style_code;
	if (ncodes > 0)
	{
		Oid			t[1] = {TEXTARRAYOID};
		Datum		v[1];

		kcs_xact_begin();
		v[0] = kcs_text_array(codes, ncodes);
		exec_args("UPDATE kcloud_shopify.product_link SET published_at = pg_catalog.now()"
				  " WHERE style_code = ANY ($1::text[])", 1, t, v, SPI_OK_UPDATE);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
	}
}

/* ---------------------------------------------------------- definitions */

/*
 * The customId upserts need metafield definitions of type id in the shop.
 * Create them once per shop (settings row metafield_definitions_shop holds
 * the shop they were made for); "already exists" is success.  A failure is
 * logged and tried again at a later batch; the sync goes on meanwhile.
 */
void
kcs_ensure_definitions(void)
{
	static TimestampTz checked_at = 0;
	static bool done = false;
	TimestampTz now = GetCurrentTimestamp();
	char	   *shop = NULL;
	bool		have = false;
	json_t	   *vars;
	char	   *query;
	KcsReply	reply;

	if (done && TimestampDifferenceExceeds(checked_at, now, 300 * 1000) == false)
		return;
	checked_at = now;
	kcs_xact_begin();
	if (SPI_execute("SELECT s.value, d.value IS NOT DISTINCT FROM s.value"
					"  FROM kcloud_shopify.settings s"
					"  LEFT JOIN kcloud_shopify.settings d ON d.name = 'metafield_definitions_shop'"
					" WHERE s.name = 'shop_domain'", true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *h = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

		shop = v ? MemoryContextStrdup(TopMemoryContext, v) : NULL;
		have = h && h[0] == 't';
	}
	kcs_xact_commit();
	if (shop == NULL || have)
	{
		done = shop != NULL;
		if (shop)
			pfree(shop);
		return;
	}

	query = kcs_definitions_doc(&vars);
	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send(query, vars, &reply);
	json_decref(vars);
	if (reply.outcome == KCS_OK || reply.outcome == KCS_PERMANENT)
	{
		const char *which[2] = {"p", "c"};
		int			i;

		for (i = 0; i < 2 && reply.data; i++)
		{
			KcsUserError *errs;
			int			n = kcs_user_errors(json_object_get(reply.data, which[i]), "userErrors", &errs);

			if (n > 0 && !(errs[0].code && strcmp(errs[0].code, "TAKEN") == 0))
				elog(LOG, "kcloud_shopify: metafield definition %s.%s: %s", KCS_MF_NS,
					 i == 0 ? KCS_MF_STYLE_KEY : KCS_MF_CUSTOMER_KEY, kcs_user_errors_text(errs, n));
		}
		if (reply.outcome == KCS_PERMANENT)
			elog(LOG, "kcloud_shopify: creating the metafield definitions failed: %s (going on without)",
				 reply.error ? reply.error : "?");
		kcs_xact_begin();
		{
			Oid			types[1] = {TEXTOID};
			Datum		vals[1];

			vals[0] = CStringGetTextDatum(shop);
			SPI_execute_with_args("INSERT INTO kcloud_shopify.settings (name, value)"
								  " VALUES ('metafield_definitions_shop', $1)"
								  " ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value,"
								  "   updated_at = pg_catalog.now()",
								  1, types, vals, NULL, false, 0);
		}
		kcs_xact_commit();
		done = true;
	}
	kcs_reply_free(&reply);
	pfree(shop);
}

/*
 * bulk.c: record one productSet payload of a bulk operation's result file
 * exactly as a per-call reply is recorded (links, stock just set, stock
 * levels to queue).  Caller has a transaction with SPI open.  Sets the
 * item's outcome; true when recorded.
 */
extern bool kcs_product_record_bulk(KcsItem *item, KcsStyle *st, json_t *payload);

bool
kcs_product_record_bulk(KcsItem *item, KcsStyle *st, json_t *payload)
{
	ProductWork w;

	memset(&w, 0, sizeof(w));
	callercxt = CurrentMemoryContext;
	w.item = item;
	w.st = st;
	take_product(&w, payload);
	if (!w.product_ok || w.product_gid == NULL)
		return false;
	record_product(&w);
	return true;
}

/*
 * The work list for a step after a bulk run (bulk.c): one entry per style
 * of the run, in a context of its own (*cxt, current on return; the caller
 * switches back and deletes it).
 */
static ProductWork *
bulk_work(KcsItem *items, KcsStyle **styles, int n, MemoryContext *cxt)
{
	ProductWork *work;
	int			i;

	callercxt = CurrentMemoryContext;
	*cxt = AllocSetContextCreate(callercxt, "kcloud_shopify after bulk", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(*cxt);
	work = palloc0(sizeof(ProductWork) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		work[i].item = &items[i];
		work[i].st = styles[i];
	}
	return work;
}

/*
 * bulk.c: after a bulk run's lines were recorded, the metafields of the
 * linked styles among them (their bulk productSet went by id without the
 * metafield list, which would have deleted the merchant's metafields):
 * metafieldsSet / metafieldsDelete by ordinary calls, several styles per
 * request, then their keys recorded.  A style whose calls fail gets
 * ok[i] = false and goes back to ordinary calls (which send everything
 * again).  No transaction open on entry.
 */
extern void kcs_product_metafields_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n);

void
kcs_product_metafields_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext cxt;
	ProductWork *work = bulk_work(items, styles, n, &cxt);
	int			i;

	for (i = 0; i < n; i++)
	{
		work[i].product_ok = true;
		work[i].send = ok[i] && styles[i]->exists && styles[i]->product_gid != NULL;
	}
	product_set(work, n, cxt, true);
	for (i = 0; i < n; i++)
		if (work[i].send && !work[i].mf_ok)
			ok[i] = false;

	kcs_xact_begin();
	for (i = 0; i < n; i++)
		if (work[i].send && work[i].mf_ok)
			record_metafield_keys(styles[i]);
	kcs_xact_commit();
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(cxt);
}

/*
 * bulk.c: after a bulk run's lines were recorded (and the linked styles'
 * metafields sent), publish the products of the internet-active styles
 * among them that were never published, as the per-call sync does.  A
 * style whose publish request fails gets ok[i] = false and goes back to
 * ordinary calls (which publish it).  No transaction open on entry.
 */
extern void kcs_product_publish_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n);

void
kcs_product_publish_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n)
{
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext cxt;
	ProductWork *work = bulk_work(items, styles, n, &cxt);
	int			i;

	for (i = 0; i < n; i++)
	{
		/* recorded lines; their link rows say which are ACTIVE and unpublished */
		work[i].product_ok = ok[i];
		work[i].product_gid = "";
		work[i].status = "ACTIVE";
	}
	publish_products(work, n, cxt, ok);
	MemoryContextSwitchTo(outer);
	MemoryContextDelete(cxt);
}

/* ---------------------------------------------------------- entry point */

void
kcs_sync_products(KcsItem *items, int n)
{
	MemoryContext cxt;
	char	  **codes;
	KcsStyle  **styles;
	ProductWork *work;
	int			i;
	bool		any_recorded = false;

	if (n <= 0)
		return;
	callercxt = CurrentMemoryContext;
	cxt = AllocSetContextCreate(callercxt, "kcloud_shopify products", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	kcs_ensure_definitions();
	MemoryContextSwitchTo(cxt);

	codes = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
		codes[i] = items[i].key1;

	kcs_xact_begin();
	styles = kcs_read_styles(codes, n, cxt);
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);

	work = palloc0(sizeof(ProductWork) * n);
	for (i = 0; i < n; i++)
	{
		const char *skip;

		work[i].item = &items[i];
		work[i].st = styles[i];
		skip = kcs_product_skip_reason(styles[i]);
		if (skip)
		{
			outcome(&items[i], KCS_OK, NULL, 0);
			work[i].done = true;
		}
		else if (list_length(styles[i]->skus) > KCS_MAX_VARIANTS)
		{
			outcome(&items[i], KCS_PERMANENT,
					psprintf("style has %d SKUs; kcloud_shopify syncs at most %d variants per product",
							 list_length(styles[i]->skus), KCS_MAX_VARIANTS), 0);
			work[i].done = true;
		}
		else
			work[i].send = true;
	}

	adopt_lookup(work, n, cxt);
	for (i = 0; i < n; i++)
		if (work[i].st->adopt)
		{
			refuse_taken_adoptions(work, n);
			MemoryContextSwitchTo(cxt);
			break;
		}
	product_set(work, n, cxt, false);

	for (i = 0; i < n; i++)
		if (work[i].product_gid != NULL || (work[i].status && strcmp(work[i].status, "RELINK") == 0))
			any_recorded = true;
	if (any_recorded)
	{
		kcs_xact_begin();
		for (i = 0; i < n; i++)
		{
			if (work[i].product_ok && work[i].product_gid != NULL)
				record_product(&work[i]);
			else if (work[i].status && strcmp(work[i].status, "RELINK") == 0)
				forget_variants(work[i].st->style_code);
		}
		/* new inventory rows: let the worker see them */
		SPI_execute("SELECT kcloud_shopify.wake()", false, 0);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
		/* internet-active products not yet on the Online Store */
		publish_products(work, n, cxt, NULL);
	}

	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(cxt);
}

/* --------------------------------------------------------- dated sales */

/*
 * Before each round: queue styles whose dated sale started or ended since
 * the last check.  The date changes once a day, so look at most every
 * ten seconds.
 */
void
kcs_entities_round_start(void)
{
	static TimestampTz last = 0;
	TimestampTz now = GetCurrentTimestamp();

	if (last != 0 && !TimestampDifferenceExceeds(last, now, 10 * 1000))
		return;
	last = now;
	kcs_xact_begin();
	if (SPI_execute("SELECT kcloud_shopify.enqueue_due_sales()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "kcloud_shopify: enqueue_due_sales failed");
	kcs_xact_commit();
}
