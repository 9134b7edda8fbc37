/*-------------------------------------------------------------------------
 *
 * sync_location.c
 *	  Branches become Shopify locations.
 *
 * For each claimed branch (state read from ci.branch now):
 *   - linked (kcloud_shopify.location_link): locationEdit (name, address,
 *     fulfillsOnlineOrders = web_stock), then locationActivate or
 *     locationDeactivate when Shopify's isActive differs from the branch's
 *     active flag; before deactivating, its on_hand is set to 0 (Shopify
 *     refuses to deactivate a location holding stock), and after
 *     reactivating, the branch's web stock is queued again;
 *   - not linked, active: look the location up by its custom id (metafield
 *     kcloud_shopify.branch_code, type id, written by locationAdd), so a
 *     locationAdd whose reply was lost is found again instead of being
 *     repeated; if none, locationAdd;
 *   - not linked, inactive or deleted: nothing to do.
 * The GID is stored in location_link in one short transaction after the
 * batch.  A branch deleted from CI keeps its link and is deactivated.
 * (Real Shopify needs a metafield definition of type id for the custom id
 * lookup; docs/worker.md.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* before jansson: fmgrprotos.h declares a json_object() that clashes with jansson's */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"

#include "kcloud_shopify.h"
#include "sync.h"
#include "entities.h"

#define json_object() json_pack("{}")

/* entity code (sync_inventory.c): stock levels of a branch being (de)activated */
extern bool kcs_inventory_zero_branch(json_t *payload, const char *branch_code) __attribute__((weak));
extern void kcs_inventory_branch_activated(const char *branch_code) __attribute__((weak));

#define KCS_MF_NAMESPACE "kcloud_shopify"
#define KCS_MF_BRANCH "branch_code"

typedef struct Branch
{
	bool		exists;
	char	   *name;
	char	   *address1;
	char	   *address2;
	char	   *city;
	char	   *postcode;
	char	   *country;
	char	   *phone;
	bool		active;
	bool		web_stock;
	char	   *gid;			/* linked location, or NULL */
	bool		adopted;
	bool		new_link;		/* store gid after the batch */
	bool		activated;		/* queue its stock again after the batch */
	bool		levels_gone;	/* Shopify's levels there were removed */
	bool		link_active;	/* location_link.active: the state last recorded as sent */
} Branch;

static const char *Q_LOOKUP =
"query KcsLocationLookup($id: LocationIdentifierInput!) {"
" locationByIdentifier(identifier: $id) { id isActive } }";

static const char *Q_ADD =
"mutation KcsLocationAdd($input: LocationAddInput!) {"
" locationAdd(input: $input) { location { id isActive } userErrors { field message code } } }";

static const char *Q_EDIT =
"mutation KcsLocationEdit($id: ID!, $input: LocationEditInput!) {"
" locationEdit(id: $id, input: $input) { location { id isActive } userErrors { field message code } } }";

static const char *Q_ACTIVATE =
"mutation KcsLocationActivate($id: ID!, $k: String!) {"
" locationActivate(locationId: $id) @idempotent(key: $k) { location { id isActive }"
" locationActivateUserErrors { field message code } } }";

static const char *Q_DEACTIVATE =
"mutation KcsLocationDeactivate($id: ID!, $k: String!) {"
" locationDeactivate(locationId: $id) @idempotent(key: $k) { location { id isActive }"
" locationDeactivateUserErrors { field message code } } }";

static const char *Q_LEVELS =
"query KcsLocationLevels($id: ID!, $after: String) {"
" location(id: $id) { inventoryLevels(first: 100, after: $after) {"
" nodes { item { id } quantities(names: [\"on_hand\"]) { name quantity } }"
" pageInfo { hasNextPage endCursor } } } }";

static const char *Q_ZERO =
"mutation KcsLocationEmpty($input: InventorySetQuantitiesInput!, $k: String!) {"
" inventorySetQuantities(input: $input) @idempotent(key: $k) {"
" userErrors { field message code } } }";

static char *
dup_or_null(MemoryContext cxt, HeapTuple tup, TupleDesc td, int col)
{
	char	   *v = SPI_getvalue(tup, td, col);

	return v ? MemoryContextStrdup(cxt, kcs_ci_text(v)) : NULL;
}

static bool
get_bool(HeapTuple tup, TupleDesc td, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, td, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/* read the branches and their links in one query */
static void
load_branches(KcsItem *items, int n, Branch *br)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum	   *keys = palloc(sizeof(Datum) * n);
	Oid			types[1] = {TEXTARRAYOID};
	Datum		vals[1];
	int			i;
	int			r;

	for (i = 0; i < n; i++)
		keys[i] = CStringGetTextDatum(items[i].key1);
	vals[0] = PointerGetDatum(construct_array(keys, n, TEXTOID, -1, false, TYPALIGN_INT));

	kcs_xact_begin();
	if (SPI_execute_with_args("SELECT k.ord::int, b.branch_code IS NOT NULL, b.name, b.address1, "
							  "b.address2, b.city, b.postcode, upper(b.country_code::text), b.phone, "
							  "b.active, b.web_stock, l.location_gid, l.adopted, COALESCE(l.active, false) "
							  "FROM unnest($1::text[]) WITH ORDINALITY AS k(code, ord) "
							  "LEFT JOIN ci.branch b ON b.branch_code::text = k.code "
							  "LEFT JOIN kcloud_shopify.location_link l ON l.branch_code = k.code",
							  1, types, vals, NULL, true, 0) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: could not read ci.branch")));
	for (r = 0; r < (int) SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		int			ord = DatumGetInt32(SPI_getbinval(tup, td, 1, &isnull)) - 1;
		Branch	   *b;

		if (ord < 0 || ord >= n)
			continue;
		b = &br[ord];
		b->exists = get_bool(tup, td, 2);
		b->name = dup_or_null(cxt, tup, td, 3);
		b->address1 = dup_or_null(cxt, tup, td, 4);
		b->address2 = dup_or_null(cxt, tup, td, 5);
		b->city = dup_or_null(cxt, tup, td, 6);
		b->postcode = dup_or_null(cxt, tup, td, 7);
		b->country = dup_or_null(cxt, tup, td, 8);
		b->phone = dup_or_null(cxt, tup, td, 9);
		b->active = get_bool(tup, td, 10);
		b->web_stock = get_bool(tup, td, 11);
		b->gid = dup_or_null(cxt, tup, td, 12);
		b->adopted = get_bool(tup, td, 13);
		b->link_active = get_bool(tup, td, 14);
	}
	kcs_xact_commit();
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
address(const Branch *b)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:s}",
					 "address1", str_or_null(b->address1),
					 "address2", str_or_null(b->address2),
					 "city", str_or_null(b->city),
					 "zip", str_or_null(b->postcode),
					 "phone", str_or_null(b->phone),
					 "countryCode", b->country ? b->country : "NZ");
}

static void
item_fail(KcsItem *it, KcsReply *reply)
{
	it->outcome = reply->outcome == KCS_OK ? KCS_PERMANENT : reply->outcome;
	it->error = pstrdup(reply->error ? reply->error : "failed");
	it->retry_after = reply->retry_after;
}

/* userErrors of a payload: PERMANENT with Shopify's message; true if any */
static bool
user_errors(KcsItem *it, json_t *payload, const char *field)
{
	json_t	   *ue = json_object_get(payload, field);
	json_t	   *e;
	size_t		i;
	StringInfoData s;

	if (!json_is_array(ue) || json_array_size(ue) == 0)
		return false;
	initStringInfo(&s);
	json_array_foreach(ue, i, e)
	{
		const char *msg = json_string_value(json_object_get(e, "message"));
		const char *code = json_string_value(json_object_get(e, "code"));

		appendStringInfo(&s, "%s%s%s%s%s", s.len ? "; " : "",
						 msg ? msg : "error", code ? " (" : "", code ? code : "",
						 code ? ")" : "");
	}
	it->outcome = KCS_PERMANENT;
	it->error = s.data;
	return true;
}

/* the location of a payload: its id and isActive */
static const char *
payload_location(json_t *payload, bool *is_active)
{
	json_t	   *loc = json_object_get(payload, "location");

	*is_active = json_is_true(json_object_get(loc, "isActive"));
	return json_string_value(json_object_get(loc, "id"));
}

static bool
has_error_code(json_t *payload, const char *field, const char *code)
{
	json_t	   *ue = json_object_get(payload, field);
	json_t	   *e;
	size_t		i;

	json_array_foreach(ue, i, e)
	{
		const char *c = json_string_value(json_object_get(e, "code"));

		if (c && strcmp(c, code) == 0)
			return true;
	}
	return false;
}

/*
 * Find the location carrying this branch's custom id (one that an earlier
 * locationAdd created).  Sets b->gid when found; false (item failed) when
 * the lookup itself failed.
 */
static bool
lookup_custom_id(KcsItem *it, Branch *b)
{
	KcsReply	reply;
	json_t	   *vars;
	json_t	   *payload;
	const char *gid;

	vars = json_pack("{s:{s:{s:s,s:s,s:s}}}", "id", "customId",
					 "namespace", KCS_MF_NAMESPACE, "key", KCS_MF_BRANCH,
					 "value", it->key1);
	kcs_graphql_send(Q_LOOKUP, vars, &reply);
	json_decref(vars);
	if (reply.outcome != KCS_OK)
	{
		item_fail(it, &reply);
		kcs_reply_free(&reply);
		return false;
	}
	payload = json_object_get(reply.data, "locationByIdentifier");
	gid = json_string_value(json_object_get(payload, "id"));
	if (gid)
	{
		b->gid = pstrdup(gid);
		b->new_link = true;
	}
	kcs_reply_free(&reply);
	return true;
}

/*
 * Before a location can be deactivated Shopify wants it empty (or its
 * stock moved elsewhere, which would overstate that location's stock).  A
 * branch leaving the web offers nothing any more: set every on_hand at the
 * location to 0, compare-and-set against the quantity just read, with an
 * idempotency key.  Returns false (item failed) on an error.
 */
static bool
empty_location(KcsItem *it, Branch *b)
{
	json_t	   *zero = json_array();
	char	   *after = NULL;
	bool		more = true;
	int			page = 0;
	bool		ok = true;

	while (more && page++ < 100)
	{
		KcsReply	reply;
		json_t	   *vars = json_pack("{s:s,s:o}", "id", b->gid,
									 "after", after ? json_string(after) : json_null());
		json_t	   *conn;
		json_t	   *node;
		size_t		i;

		kcs_graphql_send(Q_LEVELS, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			kcs_reply_free(&reply);
			ok = false;
			break;
		}
		conn = json_object_get(json_object_get(json_object_get(reply.data, "location"),
											   "inventoryLevels"), "pageInfo");
		more = json_is_true(json_object_get(conn, "hasNextPage"));
		after = more ? pstrdup(json_string_value(json_object_get(conn, "endCursor"))) : NULL;
		conn = json_object_get(json_object_get(json_object_get(reply.data, "location"),
											   "inventoryLevels"), "nodes");
		json_array_foreach(conn, i, node)
		{
			const char *item = json_string_value(json_object_get(json_object_get(node, "item"), "id"));
			json_t	   *q = json_array_get(json_object_get(node, "quantities"), 0);
			json_int_t	on_hand = json_integer_value(json_object_get(q, "quantity"));

			if (item && on_hand != 0)
				json_array_append_new(zero, json_pack("{s:s,s:s,s:i,s:I}",
													  "inventoryItemId", item,
													  "locationId", b->gid,
													  "quantity", 0,
													  "changeFromQuantity", on_hand));
		}
		kcs_reply_free(&reply);
		if (after == NULL)
			more = false;
	}

	while (ok && json_array_size(zero) > 0)
	{
		KcsReply	reply;
		json_t	   *chunk = json_array();
		json_t	   *vars;
		json_t	   *payload;
		char	   *key;
		size_t		n = Min(json_array_size(zero), 250);
		size_t		i;

		for (i = 0; i < n; i++)
			json_array_append(chunk, json_array_get(zero, i));
		for (i = 0; i < n; i++)
			json_array_remove(zero, 0);
		key = psprintf("kcs-location-empty-%s-" INT64_FORMAT "-%zu", it->key1, it->lease_token,
					   json_array_size(zero));
		vars = json_pack("{s:{s:s,s:s,s:o},s:s}",
						 "input", "name", "on_hand", "reason", "correction", "quantities", chunk,
						 "k", key);
		kcs_graphql_send(Q_ZERO, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			ok = false;
		}
		else
		{
			payload = json_object_get(reply.data, "inventorySetQuantities");
			if (has_error_code(payload, "userErrors", "CHANGE_FROM_QUANTITY_STALE"))
			{
				/* sold meanwhile: read again on the next attempt */
				it->outcome = KCS_TRANSIENT;
				it->error = pstrdup("stock changed while the location was being emptied");
				ok = false;
			}
			else if (user_errors(it, payload, "userErrors"))
				ok = false;
		}
		kcs_reply_free(&reply);
	}
	json_decref(zero);
	return ok;
}

static void
sync_one(KcsItem *it, Branch *b)
{
	KcsReply	reply;
	json_t	   *vars;
	json_t	   *payload;
	bool		is_active = true;
	bool		want_active = b->exists && b->active;
	const char *gid;

	if (b->gid == NULL)
	{
		if (!want_active)
		{
			it->outcome = KCS_OK;	/* nothing in Shopify to hide */
			return;
		}
		/* a lost reply to an earlier locationAdd: find what it created */
		if (!lookup_custom_id(it, b))
			return;
	}

	if (b->gid == NULL)
	{
		vars = json_pack("{s:{s:s,s:o,s:b,s:[{s:s,s:s,s:s,s:s}]}}",
						 "input",
						 "name", b->name,
						 "address", address(b),
						 "fulfillsOnlineOrders", b->web_stock,
						 "metafields",
						 "namespace", KCS_MF_NAMESPACE, "key", KCS_MF_BRANCH,
						 "type", "id", "value", it->key1);
		kcs_graphql_send(Q_ADD, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			kcs_reply_free(&reply);
			return;
		}
		payload = json_object_get(reply.data, "locationAdd");
		if (has_error_code(payload, "userErrors", "TAKEN"))
		{
			/*
			 * The name is taken: maybe by our own earlier add whose reply was
			 * lost (libcurl also resends a request silently when a reused
			 * connection drops before any reply).  Adopt it if it carries our
			 * custom id; otherwise it is somebody else's: a visible failure.
			 */
			if (!lookup_custom_id(it, b))
			{
				kcs_reply_free(&reply);
				return;
			}
			if (b->gid == NULL)
			{
				(void) user_errors(it, payload, "userErrors");
				kcs_reply_free(&reply);
				return;
			}
			kcs_reply_free(&reply);
			sync_one(it, b);	/* edit and (de)activate as for a link */
			return;
		}
		if (user_errors(it, payload, "userErrors"))
		{
			kcs_reply_free(&reply);
			return;
		}
		gid = payload_location(payload, &is_active);
		if (gid == NULL)
		{
			it->outcome = KCS_TRANSIENT;
			it->error = pstrdup("locationAdd returned no location");
			kcs_reply_free(&reply);
			return;
		}
		b->gid = pstrdup(gid);
		b->new_link = true;
		kcs_reply_free(&reply);
	}
	else if (b->exists)
	{
		vars = json_pack("{s:s,s:{s:s,s:o,s:b}}",
						 "id", b->gid,
						 "input",
						 "name", b->name,
						 "address", address(b),
						 "fulfillsOnlineOrders", b->web_stock);
		kcs_graphql_send(Q_EDIT, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			kcs_reply_free(&reply);
			return;
		}
		payload = json_object_get(reply.data, "locationEdit");
		if (user_errors(it, payload, "userErrors"))
		{
			kcs_reply_free(&reply);
			return;
		}
		if (payload_location(payload, &is_active) == NULL)
		{
			it->outcome = KCS_PERMANENT;
			it->error = psprintf("location %s no longer exists in Shopify", b->gid);
			kcs_reply_free(&reply);
			return;
		}
		kcs_reply_free(&reply);
	}
	else
	{
		/* deleted from CI: only deactivate */
		vars = json_pack("{s:{s:s}}", "id", "id", b->gid);
		kcs_graphql_send(Q_LOOKUP, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			kcs_reply_free(&reply);
			return;
		}
		payload = json_object_get(reply.data, "locationByIdentifier");
		if (json_object_get(payload, "id") == NULL)
		{
			it->outcome = KCS_OK;	/* gone in Shopify too */
			kcs_reply_free(&reply);
			return;
		}
		is_active = json_is_true(json_object_get(payload, "isActive"));
		kcs_reply_free(&reply);
	}

	/*
	 * An earlier attempt's (de)activation reached Shopify but never our link
	 * (its reply lost, the worker killed before recording): Shopify dropped
	 * the location's levels all the same, so forget ours and, on
	 * reactivation, send the stock again -- as if this attempt had done it.
	 */
	if (b->gid && !b->new_link && is_active == want_active && b->link_active != want_active)
	{
		b->activated = want_active;
		b->levels_gone = true;
	}
	if (is_active && !want_active)
	{
		b->levels_gone = true;	/* even if only partly emptied */
		if (!empty_location(it, b))
			return;
	}
	if (is_active != want_active)
	{
		char	   *key = psprintf("kcs-location-%s-%s-" INT64_FORMAT,
								   want_active ? "activate" : "deactivate",
								   it->key1, it->lease_token);

		vars = json_pack("{s:s,s:s}", "id", b->gid, "k", key);
		kcs_graphql_send(want_active ? Q_ACTIVATE : Q_DEACTIVATE, vars, &reply);
		json_decref(vars);
		if (reply.outcome != KCS_OK)
		{
			item_fail(it, &reply);
			kcs_reply_free(&reply);
			return;
		}
		payload = json_object_get(reply.data, want_active ? "locationActivate" : "locationDeactivate");
		/* stock still there: entity code sends the branch's levels as 0 first */
		if (!want_active && kcs_inventory_zero_branch &&
			kcs_inventory_zero_branch(payload, it->key1))
		{
			it->outcome = KCS_WAIT;
			it->error = pstrdup("the location still holds stock: its levels are sent as 0 first");
			it->retry_after = 1;
			kcs_reply_free(&reply);
			return;
		}
		if (user_errors(it, payload, want_active ? "locationActivateUserErrors" :
						"locationDeactivateUserErrors"))
		{
			kcs_reply_free(&reply);
			return;
		}
		kcs_reply_free(&reply);
		b->activated = want_active;
		b->levels_gone = true;
	}
	it->outcome = KCS_OK;
}

/* store new links and the active flag as sent */
static void
store_links(KcsItem *items, int n, Branch *br)
{
	int			i;
	bool		any = false;

	for (i = 0; i < n; i++)
		if (br[i].gid && (br[i].new_link || items[i].outcome == KCS_OK || br[i].levels_gone))
			any = true;
	if (!any)
		return;

	kcs_xact_begin();
	for (i = 0; i < n; i++)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, BOOLOID};
		Datum		vals[3];

		if (br[i].gid == NULL ||
			!(br[i].new_link || items[i].outcome == KCS_OK || br[i].levels_gone))
			continue;
		vals[0] = CStringGetTextDatum(items[i].key1);
		if (br[i].levels_gone &&
			SPI_execute_with_args("SELECT kcloud_shopify.forget_levels($1)",
								  1, types, vals, NULL, false, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: could not reset the stock levels of a location")));
		vals[1] = CStringGetTextDatum(br[i].gid);
		vals[2] = BoolGetDatum(br[i].exists && br[i].active);
		if (SPI_execute_with_args("INSERT INTO kcloud_shopify.location_link AS l "
								  "(branch_code, location_gid, active) VALUES ($1, $2, $3) "
								  "ON CONFLICT (branch_code) DO UPDATE SET location_gid = EXCLUDED.location_gid, "
								  "active = EXCLUDED.active, synced_at = pg_catalog.now()",
								  3, types, vals, NULL, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: could not store a location link")));
		/* a reactivated location lost its stock levels: send them again */
		if (br[i].activated && br[i].web_stock &&
			SPI_execute_with_args("SELECT kcloud_shopify.resync_inventory($1)",
								  1, types, vals, NULL, false, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: could not queue the stock of a reactivated location")));
	}
	kcs_xact_commit();
}

void
kcs_sync_locations(KcsItem *items, int n)
{
	Branch	   *br = palloc0(sizeof(Branch) * n);
	int			i;

	load_branches(items, n, br);
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		sync_one(&items[i], &br[i]);
	}
	store_links(items, n, br);
}
