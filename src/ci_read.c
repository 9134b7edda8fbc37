/*-------------------------------------------------------------------------
 *
 * ci_read.c
 *	  Read the current CI state of a batch of entities (styles, stock
 *	  levels, customers) together with what we know of Shopify (links, last
 *	  known quantities), one query per kind and table, never one per entity.
 *
 * Prices are decided here, in SQL: effective retail = the SKU's own price
 * if set, else the style's; the sale price (SKU's, else style's) applies
 * when kcloud_shopify.today() lies in [sale_from, sale_to] (either end
 * open) and it is below retail.  Then price = sale, compareAtPrice =
 * retail; otherwise price = retail and no compare-at.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "entities.h"

Datum
kcs_text_array(char **vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		d[i] = CStringGetTextDatum(vals[i]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static void
run(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: reading CI state failed: %s", SPI_result_code_string(rc))));
}

/* column i (1-based) of row r as a string in cxt, NULL for SQL NULL */
/*
 * CI text for a JSON request: converted from the database encoding to UTF-8,
 * and any byte that is still not UTF-8 (SQL_ASCII holds raw bytes) replaced
 * (kcs_utf8).  A UTF-8 database's text is valid already: no copy.
 */
char *
kcs_ci_text(char *v)
{
	if (GetDatabaseEncoding() != PG_UTF8)
		v = pg_server_to_any(v, strlen(v), PG_UTF8);
	return kcs_utf8(v);
}

static char *
col(int r, int i, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i);

	if (v == NULL)
		return NULL;
	return MemoryContextStrdup(cxt, kcs_ci_text(v));
}

static bool
col_bool(int r, int i)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, &isnull);

	return !isnull && DatumGetBool(d);
}

static int
col_int(int r, int i, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, i, isnull);

	return *isnull ? 0 : DatumGetInt32(d);
}

/* ---------------------------------------------------------------- styles */

static const char *STYLES_SQL =
"SELECT k.i::int, k.code, s.style_code IS NOT NULL, s.internet_active,"
"       s.description, s.long_description, b.name, g.description, pl.product_gid,"
"       pg_catalog.array_to_string(pl.metafield_keys, ' ')"
"  FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS k(code, i)"
"  LEFT JOIN ci.style s ON s.style_code = k.code"
"  LEFT JOIN ci.brand b ON b.brand_code = s.brand_code"
"  LEFT JOIN ci.stock_group g ON g.stock_group_code = s.stock_group_code"
"  LEFT JOIN kcloud_shopify.product_link pl ON pl.style_code = k.code";

static const char *SKUS_SQL =
"WITH t AS (SELECT kcloud_shopify.today() AS d),"
" p AS ("
"  SELECT k.style_code::text AS style_code, k.sku_code::text AS sku_code, k.colour, k.size, k.barcode,"
"         k.sort_order,"
"         COALESCE(k.retail_price, s.retail_price) AS retail,"
"         CASE WHEN (s.sale_from IS NULL OR s.sale_from <= t.d)"
"               AND (s.sale_to IS NULL OR s.sale_to >= t.d)"
"              THEN COALESCE(k.sale_price, s.sale_price) END AS sale"
"    FROM ci.sku k JOIN ci.style s ON s.style_code = k.style_code CROSS JOIN t"
"   WHERE k.style_code = ANY ($1::text[]))"
" SELECT p.style_code, p.sku_code, p.colour, p.size, p.barcode,"
"        CASE WHEN p.sale < p.retail THEN p.sale ELSE p.retail END::text,"
"        CASE WHEN p.sale < p.retail THEN p.retail END::text,"
"        vl.variant_gid, vl.inventory_item_gid"
"   FROM p LEFT JOIN LATERAL (SELECT variant_gid, inventory_item_gid FROM kcloud_shopify.variant_link"
"                               WHERE sku_code = p.sku_code OFFSET 0) vl ON true"
"  ORDER BY p.style_code, p.sort_order, p.sku_code";

static const char *TABS_SQL =
"SELECT t.style_code::text, t.tab_no::int, t.heading, t.body"
"  FROM ci.style_info_tab t WHERE t.style_code = ANY ($1::text[])"
" ORDER BY 1, 2";

static const char *ATTRS_SQL =
"SELECT a.style_code::text, a.name, a.value"
"  FROM ci.style_attribute a WHERE a.style_code = ANY ($1::text[]) AND a.name IS NOT NULL"
" ORDER BY 1, 2";

/* CI stock of the styles' SKUs at every linked web-stock location (0 if no row) */
static const char *NEW_LEVELS_SQL =
"SELECT k.sku_code::text, b.branch_code::text, ll.location_gid,"
"       GREATEST(COALESCE(st.on_hand, 0), 0)"
"  FROM ci.sku k"
"  CROSS JOIN ci.branch b"
"  JOIN kcloud_shopify.location_link ll ON ll.branch_code = b.branch_code AND ll.active"
"  LEFT JOIN ci.stock st ON st.sku_code = k.sku_code AND st.branch_code = b.branch_code"
" WHERE k.style_code = ANY ($1::text[]) AND b.active AND b.web_stock"
"   AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.variant_link vl WHERE vl.sku_code = k.sku_code)"
" ORDER BY 1, 2";

static KcsStyle *
find_style(KcsStyle **styles, int n, const char *code)
{
	int			i;

	/* batches are small (tens); a linear search is fine */
	for (i = 0; i < n; i++)
		if (strcmp(styles[i]->style_code, code) == 0)
			return styles[i];
	return NULL;
}

static KcsSku *
find_sku(KcsStyle **styles, int n, const char *sku)
{
	int			i;
	ListCell   *lc;

	for (i = 0; i < n; i++)
		foreach(lc, styles[i]->skus)
			if (strcmp(((KcsSku *) lfirst(lc))->sku_code, sku) == 0)
				return lfirst(lc);
	return NULL;
}

static char *
nonblank(char *s, const char *dflt)
{
	if (s == NULL || s[strspn(s, " \t")] == '\0')
		return (char *) dflt;
	return s;
}

KcsStyle **
kcs_read_styles(char **codes, int n, MemoryContext cxt)
{
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	KcsStyle  **styles;
	MemoryContext old;
	uint64		r;

	values[0] = kcs_text_array(codes, n);
	styles = MemoryContextAllocZero(cxt, sizeof(KcsStyle *) * Max(n, 1));

	run(STYLES_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int			i = col_int(r, 1, &isnull) - 1;
		KcsStyle   *st = MemoryContextAllocZero(cxt, sizeof(KcsStyle));

		st->style_code = col(r, 2, cxt);
		st->exists = col_bool(r, 3);
		st->internet_active = col_bool(r, 4);
		st->title = col(r, 5, cxt);
		st->long_description = col(r, 6, cxt);
		st->vendor = col(r, 7, cxt);
		st->product_type = col(r, 8, cxt);
		st->product_gid = col(r, 9, cxt);
		{
			/* "ns.key" never holds a space (metafield_key() folds them) */
			char	   *keys = col(r, 10, cxt);
			char	   *tok;
			char	   *save = NULL;

			old = MemoryContextSwitchTo(cxt);
			for (tok = keys ? strtok_r(keys, " ", &save) : NULL; tok;
				 tok = strtok_r(NULL, " ", &save))
				st->sent_keys = lappend(st->sent_keys, tok);
			MemoryContextSwitchTo(old);
		}
		styles[i] = st;
	}

	run(SKUS_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *code = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		KcsStyle   *st = find_style(styles, n, code);
		KcsSku	   *k;

		if (st == NULL)
			continue;
		k = MemoryContextAllocZero(cxt, sizeof(KcsSku));
		k->sku_code = col(r, 2, cxt);
		k->colour = nonblank(col(r, 3, cxt), "-");
		k->size = nonblank(col(r, 4, cxt), "-");
		k->barcode = col(r, 5, cxt);
		if (k->barcode && k->barcode[0] == '\0')
			k->barcode = NULL;
		k->price = col(r, 6, cxt);
		k->compare_at = col(r, 7, cxt);
		k->variant_gid = col(r, 8, cxt);
		k->inventory_item_gid = col(r, 9, cxt);
		old = MemoryContextSwitchTo(cxt);
		st->skus = lappend(st->skus, k);
		MemoryContextSwitchTo(old);
	}

	run(TABS_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *code = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		KcsStyle   *st = find_style(styles, n, code);
		KcsNameValue *t;
		bool		isnull;

		if (st == NULL)
			continue;
		t = MemoryContextAllocZero(cxt, sizeof(KcsNameValue));
		t->no = col_int(r, 2, &isnull);
		t->name = col(r, 3, cxt);
		t->value = col(r, 4, cxt);
		old = MemoryContextSwitchTo(cxt);
		st->tabs = lappend(st->tabs, t);
		MemoryContextSwitchTo(old);
	}

	run(ATTRS_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *code = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		KcsStyle   *st = find_style(styles, n, code);
		KcsNameValue *a;

		if (st == NULL)
			continue;
		a = MemoryContextAllocZero(cxt, sizeof(KcsNameValue));
		a->name = col(r, 2, cxt);
		a->value = col(r, 3, cxt);
		old = MemoryContextSwitchTo(cxt);
		st->attrs = lappend(st->attrs, a);
		MemoryContextSwitchTo(old);
	}

	run(NEW_LEVELS_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		char	   *sku = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);
		KcsSku	   *k = find_sku(styles, n, sku);
		KcsLevelQty *q;
		bool		isnull;

		if (k == NULL)
			continue;
		q = MemoryContextAllocZero(cxt, sizeof(KcsLevelQty));
		q->branch_code = col(r, 2, cxt);
		q->location_gid = col(r, 3, cxt);
		q->quantity = col_int(r, 4, &isnull);
		old = MemoryContextSwitchTo(cxt);
		k->levels = lappend(k->levels, q);
		MemoryContextSwitchTo(old);
	}
	return styles;
}

/* ---------------------------------------------------------------- levels */

/*
 * The LATERAL ... OFFSET 0 subqueries are index probes per key, whatever
 * the statistics say: the link and level tables grow from empty during a
 * first sync, and with stale statistics the planner hashed whole tables for
 * every batch of 250 keys (O(catalogue) per batch).
 */

static const char *LEVELS_SQL =
"SELECT k.i::int, k.sku, k.branch,"
"       s.sku_code IS NOT NULL, COALESCE(s.internet_active, false),"
"       b.branch_code IS NOT NULL, COALESCE(b.active, false), COALESCE(b.web_stock, false),"
"       COALESCE(stk.on_hand, 0),"
"       vl.inventory_item_gid, ll.location_gid, COALESCE(ll.active, false),"
"       il.shopify_on_hand, il.idempotency_key, il.sent_quantity"
"  FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) WITH ORDINALITY AS k(sku, branch, i)"
"  LEFT JOIN LATERAL (SELECT s.sku_code, sty.internet_active FROM ci.sku s"
"                       JOIN ci.style sty ON sty.style_code = s.style_code"
"                      WHERE s.sku_code = k.sku OFFSET 0) s ON true"
"  LEFT JOIN ci.branch b ON b.branch_code = k.branch"
"  LEFT JOIN LATERAL (SELECT on_hand FROM ci.stock"
"                      WHERE sku_code = k.sku AND branch_code = k.branch OFFSET 0) stk ON true"
"  LEFT JOIN LATERAL (SELECT inventory_item_gid FROM kcloud_shopify.variant_link"
"                      WHERE sku_code = k.sku OFFSET 0) vl ON true"
"  LEFT JOIN kcloud_shopify.location_link ll ON ll.branch_code = k.branch"
"  LEFT JOIN LATERAL (SELECT shopify_on_hand, idempotency_key, sent_quantity"
"                       FROM kcloud_shopify.inventory_level"
"                      WHERE sku_code = k.sku AND branch_code = k.branch OFFSET 0) il ON true";

KcsLevelState *
kcs_read_levels(char **skus, char **branches, int n, MemoryContext cxt)
{
	Oid			types[2] = {TEXTARRAYOID, TEXTARRAYOID};
	Datum		values[2];
	KcsLevelState *out = MemoryContextAllocZero(cxt, sizeof(KcsLevelState) * Max(n, 1));
	uint64		r;

	values[0] = kcs_text_array(skus, n);
	values[1] = kcs_text_array(branches, n);
	run(LEVELS_SQL, 2, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int			i = col_int(r, 1, &isnull) - 1;
		KcsLevelState *ls = &out[i];
		bool		sku_exists = col_bool(r, 4);
		bool		style_web = col_bool(r, 5);
		bool		branch_exists = col_bool(r, 6);
		bool		branch_active = col_bool(r, 7);
		bool		web_stock = col_bool(r, 8);
		bool		loc_active = col_bool(r, 12);
		bool		wants;
		int			v;

		ls->level.sku_code = col(r, 2, cxt);
		ls->level.branch_code = col(r, 3, cxt);
		ls->level.item_index = i;
		ls->ci_on_hand = col_int(r, 9, &isnull);
		ls->level.item_gid = col(r, 10, cxt);
		ls->level.location_gid = col(r, 11, cxt);
		v = col_int(r, 13, &isnull);
		ls->level.known = !isnull;
		ls->level.shopify_on_hand = v;
		ls->sent_key = col(r, 14, cxt);
		v = col_int(r, 15, &isnull);
		ls->has_sent = !isnull;
		ls->sent_quantity = v;

		wants = branch_exists && branch_active && web_stock && sku_exists;
		ls->negative = wants && ls->ci_on_hand < 0;
		ls->level.target = wants ? Max(ls->ci_on_hand, 0) : 0;
		ls->activate_ok = wants;

		if (ls->level.location_gid == NULL)
		{
			ls->action = (branch_active && web_stock) ? KCS_LEVEL_WAIT : KCS_LEVEL_SKIP;
			ls->why = (branch_active && web_stock) ? "waiting for the branch's location"
				: !branch_active ? "branch inactive or deleted" : "branch holds no web stock";
		}
		else if (!loc_active)
		{
			ls->action = KCS_LEVEL_SKIP;
			ls->why = "location deactivated";
		}
		else if (ls->level.item_gid == NULL && !(branch_active && web_stock))
		{
			ls->action = KCS_LEVEL_SKIP;
			ls->why = !branch_active ? "branch inactive or deleted" : "branch holds no web stock";
		}
		else if (ls->level.item_gid == NULL)
		{
			ls->action = (sku_exists && style_web) ? KCS_LEVEL_WAIT : KCS_LEVEL_SKIP;
			ls->why = (sku_exists && style_web) ? "waiting for the variant"
				: "SKU not on the web (style not internet active or SKU deleted)";
		}
		else
			ls->action = KCS_LEVEL_SEND;
	}
	return out;
}

/* ------------------------------------------------------------- customers */

static const char *CUSTOMERS_SQL =
"SELECT k.i::int, k.code, c.customer_code IS NOT NULL,"
"       NULLIF(pg_catalog.btrim(c.first_name), ''), NULLIF(pg_catalog.btrim(c.last_name), ''),"
"       NULLIF(pg_catalog.btrim(c.email), ''), NULLIF(pg_catalog.btrim(c.phone), ''),"
"       NULLIF(pg_catalog.btrim(c.address1), ''), NULLIF(pg_catalog.btrim(c.address2), ''),"
"       NULLIF(pg_catalog.btrim(c.city), ''), NULLIF(pg_catalog.btrim(c.postcode), ''),"
"       NULLIF(pg_catalog.btrim(c.country_code), ''), cl.customer_gid"
"  FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS k(code, i)"
"  LEFT JOIN ci.customer c ON c.customer_code = k.code"
"  LEFT JOIN kcloud_shopify.customer_link cl ON cl.customer_code = k.code";

KcsCustomer **
kcs_read_customers(char **codes, int n, MemoryContext cxt)
{
	Oid			types[1] = {TEXTARRAYOID};
	Datum		values[1];
	KcsCustomer **out = MemoryContextAllocZero(cxt, sizeof(KcsCustomer *) * Max(n, 1));
	uint64		r;

	values[0] = kcs_text_array(codes, n);
	run(CUSTOMERS_SQL, 1, types, values);
	for (r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int			i = col_int(r, 1, &isnull) - 1;
		KcsCustomer *c = MemoryContextAllocZero(cxt, sizeof(KcsCustomer));
		MemoryContext old;
		char	   *phone;

		c->customer_code = col(r, 2, cxt);
		c->exists = col_bool(r, 3);
		c->first_name = col(r, 4, cxt);
		c->last_name = col(r, 5, cxt);
		c->email = col(r, 6, cxt);
		phone = col(r, 7, cxt);
		c->address1 = col(r, 8, cxt);
		c->address2 = col(r, 9, cxt);
		c->city = col(r, 10, cxt);
		c->postcode = col(r, 11, cxt);
		c->country_code = col(r, 12, cxt);
		c->customer_gid = col(r, 13, cxt);
		old = MemoryContextSwitchTo(cxt);
		c->phone = kcs_normalise_phone(phone, c->country_code);
		if (c->customer_gid)
			c->identifier = psprintf("id:%s", c->customer_gid);
		else if (c->email)
			c->identifier = psprintf("email:%s", c->email);
		else if (c->phone)
			c->identifier = psprintf("phone:%s", c->phone);
		MemoryContextSwitchTo(old);
		out[i] = c;
	}
	return out;
}
