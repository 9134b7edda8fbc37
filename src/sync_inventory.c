/*-------------------------------------------------------------------------
 *
 * sync_inventory.c
 *	  CI stock (SKU at a web-stock branch) -> Shopify on_hand, by
 *	  compare-and-set, idempotently.
 *
 * For a batch of claimed levels:
 *   1. read CI stock, links and the last on_hand Shopify reported
 *      (kcloud_shopify.inventory_level) in one short transaction, after the
 *      capture fence;
 *   2. levels whose variant or location is not linked yet wait (KCS_WAIT);
 *      levels Shopify does not stock at the location are activated
 *      (inventoryActivate, no quantity, so repeating it is harmless);
 *      levels whose Shopify on_hand is unknown are read (aliased query);
 *   3. per level an idempotency key is chosen -- the stored one when the
 *      same quantity is being sent again, else a new one -- and committed
 *      with the quantity BEFORE the request;
 *   4. inventorySetQuantities, name on_hand, <= 250 quantities, each with
 *      changeFromQuantity = the last known on_hand, @idempotent with a key
 *      derived from the level keys and the values (a retry of the same
 *      send is the same request, which Shopify replays);
 *   5. CHANGE_FROM_QUANTITY_STALE (Shopify's level moved: a web order was
 *      fulfilled, or someone edited stock): re-read the levels, let the
 *      order code ingest fulfilled orders (kcs_orders_poll_now), re-read CI
 *      and send again -- Shopify never gets a count that ignores its sales.
 * Negative CI stock is sent as 0 (and logged).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "port.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "entities.h"
#include "graphql.h"
#include "kcloud_shopify.h"
#include "sync.h"

#define KCS_INV_ATTEMPTS	3
#define KCS_READ_CHUNK		200		/* 4 points each */
#define KCS_ACTIVATE_CHUNK	50		/* 14 points each */

typedef struct InvWork
{
	KcsItem    *item;
	bool		decided;
	bool		force_unknown;	/* re-read Shopify's level before sending */
	bool		force_new_key;
	bool		drop_variant;	/* inventory item gone in Shopify */
	KcsLevelState st;
} InvWork;

static MemoryContext callercxt;

static void
decide(InvWork *w, KcsOutcome o, const char *error, double retry_after)
{
	w->decided = true;
	w->item->outcome = o;
	w->item->retry_after = retry_after;
	w->item->error = error ? MemoryContextStrdup(callercxt, error) : NULL;
}

static char *
new_key(void)
{
	uint8		b[8];
	uint64		v = 0;
	int			i;

	if (!pg_strong_random(b, sizeof(b)))
	{
		/* no entropy source: time and pid are unique enough for a key */
		v = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 40);
	}
	else
		for (i = 0; i < 8; i++)
			v = (v << 8) | b[i];
	return psprintf("kcs-lvl-%016llx", (unsigned long long) v);
}

/* ------------------------------------------------------------ arrays */

static Datum
text_array_nulls(char **vals, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		nulls[i] = vals[i] == NULL;
		d[i] = vals[i] ? CStringGetTextDatum(vals[i]) : (Datum) 0;
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
int_array_nulls(int *vals, bool *isnull, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int			i;

	for (i = 0; i < n; i++)
	{
		nulls[i] = isnull[i];
		d[i] = Int32GetDatum(vals[i]);
	}
	return PointerGetDatum(construct_md_array(d, nulls, 1, dims, lbs, INT4OID, 4, true, TYPALIGN_INT));
}

/*
 * Upsert inventory_level rows: (sku, branch, shopify_on_hand, key,
 * sent_quantity); NULL on_hand keeps the stored value.
 */
static void
store_levels(InvWork **ws, int n, bool with_keys)
{
	char	  **skus = palloc(sizeof(char *) * Max(n, 1));
	char	  **branches = palloc(sizeof(char *) * Max(n, 1));
	char	  **keys = palloc(sizeof(char *) * Max(n, 1));
	int		   *oh = palloc(sizeof(int) * Max(n, 1));
	bool	   *ohnull = palloc(sizeof(bool) * Max(n, 1));
	int		   *sent = palloc(sizeof(int) * Max(n, 1));
	bool	   *sentnull = palloc(sizeof(bool) * Max(n, 1));
	Oid			types[5] = {TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID, INT4ARRAYOID};
	Datum		vals[5];
	int			i,
				rc;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
	{
		KcsLevel   *lv = &ws[i]->st.level;

		skus[i] = lv->sku_code;
		branches[i] = lv->branch_code;
		oh[i] = lv->shopify_on_hand;
		ohnull[i] = !lv->known;
		keys[i] = with_keys ? lv->key : NULL;
		sent[i] = lv->target;
		sentnull[i] = !with_keys || lv->key == NULL;
	}
	vals[0] = text_array_nulls(skus, n);
	vals[1] = text_array_nulls(branches, n);
	vals[2] = int_array_nulls(oh, ohnull, n);
	vals[3] = text_array_nulls(keys, n);
	vals[4] = int_array_nulls(sent, sentnull, n);
	rc = SPI_execute_with_args(
							   "INSERT INTO kcloud_shopify.inventory_level AS il"
							   "   (sku_code, branch_code, shopify_on_hand, idempotency_key, sent_quantity)"
							   " SELECT * FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]), pg_catalog.unnest($3::int[]), pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::int[]))"
							   " ON CONFLICT (sku_code, branch_code) DO UPDATE"
							   "   SET shopify_on_hand = COALESCE(EXCLUDED.shopify_on_hand, il.shopify_on_hand),"
							   "       idempotency_key = EXCLUDED.idempotency_key,"
							   "       sent_quantity = EXCLUDED.sent_quantity,"
							   "       synced_at = pg_catalog.now()",
							   5, types, vals, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: recording inventory levels failed: %s", SPI_result_code_string(rc))));
}

/* an inventory item Shopify no longer has: unlink it and resend the product */
static void
drop_variant(InvWork *w)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];

	vals[0] = CStringGetTextDatum(w->st.level.sku_code);
	SPI_execute_with_args("WITH d AS (DELETE FROM kcloud_shopify.variant_link WHERE sku_code = $1"
						  "           RETURNING style_code)"
						  " INSERT INTO kcloud_shopify.queue (kind, key1, key2)"
						  " SELECT 'product', d.style_code, '' FROM d"
						  " ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING",
						  1, types, vals, NULL, false, 0);
	SPI_execute_with_args("DELETE FROM kcloud_shopify.inventory_level WHERE sku_code = $1",
						  1, types, vals, NULL, false, 0);
}

/* quantity "on_hand" out of {quantities: [{name, quantity}]} */
static bool
on_hand_of(json_t *level, int *q)
{
	json_t	   *qs = json_is_object(level) ? json_object_get(level, "quantities") : NULL;
	size_t		i;
	json_t	   *e;

	if (!json_is_array(qs))
		return false;
	json_array_foreach(qs, i, e)
	{
		const char *name = kcs_json_str(e, "name");
		json_t	   *v = json_object_get(e, "quantity");

		if ((name == NULL || strcmp(name, "on_hand") == 0) && json_is_integer(v))
		{
			*q = (int) json_integer_value(v);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------ read / activate levels */

/*
 * One aliased request per chunk of levels: add() puts level i of the chunk
 * into the document (alias <prefix><i>), take() reads its answer (the
 * payload under that alias) when the request went through.  A failed
 * request decides every level of its chunk alike.
 */
typedef void (*ChunkAdd) (KcsDoc *doc, InvWork *w);
typedef void (*ChunkTake) (InvWork *w, json_t *payload, void *arg);

static void
send_chunks(InvWork **ws, int n, MemoryContext cxt, int max_chunk, double cost_each,
			const char *optype, const char *name, char prefix, const char *fail,
			ChunkAdd add, ChunkTake take, void *arg)
{
	int			start = 0;

	while (start < n)
	{
		KcsDoc		doc;
		int			count = Min(n - start, Max(1, Min(max_chunk, (int) (kcs_cost_budget() / cost_each))));
		int			i;
		char	   *query;
		KcsReply	reply;

		kcs_doc_init(&doc);
		for (i = 0; i < count; i++)
			add(&doc, ws[start + i]);
		query = kcs_doc_finish(&doc, optype, name);
		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send_cost(query, doc.variables, doc.cost, &reply);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < count; i++)
		{
			InvWork    *w = ws[start + i];
			char		a[16];

			if (reply.outcome != KCS_OK)
			{
				decide(w, reply.outcome, reply.error ? reply.error : fail, reply.retry_after);
				continue;
			}
			snprintf(a, sizeof(a), "%c%d", prefix, i);
			take(w, json_object_get(reply.data, a), arg);
		}
		kcs_reply_free(&reply);
		kcs_doc_free(&doc);
		start += count;
	}
}

/* levels to activate, collected by take_read */
typedef struct NeedActivate
{
	InvWork   **ws;
	int			n;
} NeedActivate;

static void
add_read(KcsDoc *doc, InvWork *w)
{
	kcs_inventory_read_add(doc, &w->st.level);
}

static void
take_read(InvWork *w, json_t *item, void *arg)
{
	NeedActivate *act = arg;
	json_t	   *level;
	int			q;

	if (!json_is_object(item))
	{
		w->drop_variant = true;
		decide(w, KCS_WAIT, "inventory item not found in Shopify; product queued again", 0);
		return;
	}
	level = json_object_get(item, "inventoryLevel");
	if (!json_is_object(level))
	{
		if (w->st.activate_ok)
			act->ws[act->n++] = w;
		else
			decide(w, KCS_OK, NULL, 0); /* not stocked there and nothing to offer */
		return;
	}
	if (on_hand_of(level, &q))
	{
		w->st.level.known = true;
		w->st.level.shopify_on_hand = q;
	}
	else
		decide(w, KCS_TRANSIENT, "inventory level without an on_hand quantity", 0);
}

static void
read_unknown(InvWork **ws, int n, MemoryContext cxt, InvWork ***need_act, int *nact)
{
	NeedActivate act;

	act.ws = palloc(sizeof(InvWork *) * Max(n, 1));
	act.n = 0;
	send_chunks(ws, n, cxt, KCS_READ_CHUNK, 4, "query", "KcsInventoryLevels", 'l',
				"reading the inventory level failed", add_read, take_read, &act);
	*need_act = act.ws;
	*nact = act.n;
}

static void
add_activate(KcsDoc *doc, InvWork *w)
{
	kcs_inventory_activate_add(doc, &w->st.level, new_key());
}

static void
take_activate(InvWork *w, json_t *payload, void *arg)
{
	KcsUserError *errs;
	int			nerr = kcs_user_errors(payload, "userErrors", &errs);
	int			q;

	if (nerr > 0)
		decide(w, KCS_TRANSIENT, kcs_user_errors_text(errs, nerr), 0);
	else if (on_hand_of(json_object_get(payload, "inventoryLevel"), &q))
	{
		w->st.level.known = true;
		w->st.level.shopify_on_hand = q;
	}
	else
		decide(w, KCS_TRANSIENT, "inventoryActivate returned no level", 0);
}

static void
activate(InvWork **ws, int n, MemoryContext cxt)
{
	send_chunks(ws, n, cxt, KCS_ACTIVATE_CHUNK, 14, "mutation", "KcsInventoryActivate", 'a',
				"inventoryActivate failed", add_activate, take_activate, NULL);
}

/* ----------------------------------------------------------------- set */

/* returns true when a level of the chunk was stale (caller re-reads) */
static bool
set_chunk(InvWork **ws, int n, MemoryContext cxt)
{
	KcsLevel  **lv = palloc(sizeof(KcsLevel *) * n);
	json_t	   *vars;
	char	   *batch_key;
	char	   *query;
	KcsReply	reply;
	json_t	   *payload;
	KcsUserError *errs;
	int			nerr;
	int			i,
				j;
	bool		stale = false;

	for (i = 0; i < n; i++)
		lv[i] = &ws[i]->st.level;
	query = kcs_inventory_set_doc(lv, n, &vars, &batch_key);
	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send(query, vars, &reply);
	json_decref(vars);
	MemoryContextSwitchTo(cxt);

	if (reply.outcome != KCS_OK)
	{
		/* keys stay stored: the retry sends the same request */
		for (i = 0; i < n; i++)
			decide(ws[i], reply.outcome,
				   reply.error ? reply.error : "inventorySetQuantities failed", reply.retry_after);
		kcs_reply_free(&reply);
		return false;
	}
	payload = json_object_get(reply.data, "inventorySetQuantities");
	nerr = kcs_user_errors(payload, "userErrors", &errs);
	if (nerr == 0 && json_is_object(json_object_get(payload, "inventoryAdjustmentGroup")))
	{
		kcs_xact_begin();
		for (i = 0; i < n; i++)
		{
			lv[i]->known = true;
			lv[i]->shopify_on_hand = lv[i]->target;
			lv[i]->key = NULL;
		}
		store_levels(ws, n, false);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < n; i++)
			decide(ws[i], KCS_OK, NULL, 0);
		kcs_reply_free(&reply);
		return false;
	}

	/* all or nothing: nothing was applied */
	for (j = 0; j < nerr; j++)
	{
		const char *code = errs[j].code ? errs[j].code : "";
		int			ix = errs[j].index;
		InvWork    *w = (ix >= 0 && ix < n) ? ws[ix] : NULL;

		if (strcmp(code, "CHANGE_FROM_QUANTITY_STALE") == 0 ||
			strcmp(code, "COMPARE_QUANTITY_STALE") == 0)
		{
			stale = true;
			for (i = 0; i < n; i++)
				ws[i]->force_unknown = true;
		}
		else if (strcmp(code, "IDEMPOTENCY_CONCURRENT_REQUEST") == 0)
		{
			for (i = 0; i < n; i++)
				if (!ws[i]->decided)
					decide(ws[i], KCS_TRANSIENT, errs[j].message, 1);
		}
		else if (strcmp(code, "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED") == 0 ||
				 strcmp(code, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH") == 0)
		{
			stale = true;
			for (i = 0; i < n; i++)
			{
				ws[i]->force_new_key = true;
				ws[i]->force_unknown = true;
			}
		}
		else if (strcmp(code, "INVALID_LOCATION") == 0 && w)
		{
			stale = true;		/* not stocked (any more): read, activate */
			w->force_unknown = true;
		}
		else if (strcmp(code, "INVALID_INVENTORY_ITEM") == 0 && w)
		{
			w->drop_variant = true;
			decide(w, KCS_WAIT, errs[j].message, 0);
		}
		else if (w)
		{
			if (!w->decided)
				decide(w, KCS_PERMANENT, psprintf("%s%s%s", errs[j].code ? errs[j].code : "",
												 errs[j].code ? ": " : "", errs[j].message), 0);
		}
		else
		{
			char	   *txt = kcs_user_errors_text(errs, nerr);

			for (i = 0; i < n; i++)
				if (!ws[i]->decided)
					decide(ws[i], KCS_PERMANENT, txt, 0);
		}
	}
	if (nerr == 0)
		for (i = 0; i < n; i++)
			if (!ws[i]->decided)
				decide(ws[i], KCS_TRANSIENT, "inventorySetQuantities returned no adjustment group", 0);
	/* the others in the chunk were refused with it: send them again */
	if (!stale)
		for (i = 0; i < n; i++)
			if (!ws[i]->decided)
				stale = true;
	kcs_reply_free(&reply);
	return stale;
}

/* ---------------------------------------------------------- entry point */

void
kcs_sync_inventory(KcsItem *items, int n)
{
	MemoryContext cxt;
	char	  **skus;
	char	  **branches;
	InvWork    *work;
	int			i,
				attempt;

	if (n <= 0)
		return;
	callercxt = CurrentMemoryContext;
	cxt = AllocSetContextCreate(callercxt, "kcloud_shopify inventory", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	skus = palloc(sizeof(char *) * n);
	branches = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		skus[i] = items[i].key1;
		branches[i] = items[i].key2;
	}
	work = palloc0(sizeof(InvWork) * n);
	for (i = 0; i < n; i++)
		work[i].item = &items[i];

	for (attempt = 1; attempt <= KCS_INV_ATTEMPTS; attempt++)
	{
		KcsLevelState *states;
		InvWork   **send = palloc(sizeof(InvWork *) * n);
		InvWork   **unknown = palloc(sizeof(InvWork *) * n);
		InvWork   **need_act;
		int			nsend = 0,
					nunknown = 0,
					nact = 0;
		bool		stale = false;
		bool		drops = false;

		kcs_xact_begin();
		states = kcs_read_levels(skus, branches, n, cxt);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);

		for (i = 0; i < n; i++)
		{
			InvWork    *w = &work[i];

			if (w->decided)
				continue;
			w->st = states[i];
			if (w->force_unknown)
			{
				w->st.level.known = false;
				w->force_unknown = false;
			}
			switch (w->st.action)
			{
				case KCS_LEVEL_SKIP:
					decide(w, KCS_OK, NULL, 0);
					break;
				case KCS_LEVEL_WAIT:
					decide(w, KCS_WAIT, w->st.why, 0);
					break;
				case KCS_LEVEL_SEND:
					if (w->st.negative && attempt == 1)
						ereport(LOG,
								(errmsg("kcloud_shopify: CI stock of SKU \"%s\" at branch \"%s\" is %d; sent to Shopify as 0",
										w->st.level.sku_code, w->st.level.branch_code, w->st.ci_on_hand)));
					if (!w->st.level.known)
						unknown[nunknown++] = w;
					break;
			}
		}

		/* what does Shopify hold?  stock the item at the location if needed */
		if (nunknown > 0)
		{
			read_unknown(unknown, nunknown, cxt, &need_act, &nact);
			if (nact > 0)
				activate(need_act, nact, cxt);
		}

		/* choose keys, commit them with the quantities before sending */
		for (i = 0; i < n; i++)
		{
			InvWork    *w = &work[i];
			KcsLevel   *lv = &w->st.level;

			if (w->decided || w->st.action != KCS_LEVEL_SEND || !lv->known)
				continue;
			/*
			 * Equal: nothing to send.  The remembered level is trusted here;
			 * whatever moves it in Shopify without us (an ingested fulfilment
			 * or restock, kcloud_shopify.order_stock()) forgets it first.
			 */
			if (lv->target == lv->shopify_on_hand)
				lv->key = NULL;
			else if (!w->force_new_key && w->st.has_sent && w->st.sent_key &&
					 w->st.sent_quantity == lv->target)
				lv->key = w->st.sent_key;
			else
				lv->key = new_key();
			w->force_new_key = false;
			send[nsend++] = w;
		}
		for (i = 0; i < n; i++)
			if (work[i].drop_variant)
				drops = true;
		if (nsend > 0 || drops)
		{
			kcs_xact_begin();
			store_levels(send, nsend, true);
			for (i = 0; i < n; i++)
				if (work[i].drop_variant)
				{
					drop_variant(&work[i]);
					work[i].drop_variant = false;
				}
			kcs_xact_commit();
			MemoryContextSwitchTo(cxt);
		}

		/* in step with Shopify already: done */
		{
			int			k = 0;

			for (i = 0; i < nsend; i++)
			{
				if (send[i]->st.level.key == NULL)
					decide(send[i], KCS_OK, NULL, 0);
				else
					send[k++] = send[i];
			}
			nsend = k;
		}

		for (i = 0; i < nsend; i += KCS_INV_MAX)
			if (set_chunk(send + i, Min(KCS_INV_MAX, nsend - i), cxt))
				stale = true;

		if (!stale)
			break;
		/* Shopify's stock moved: bring in the orders that moved it first */
		if (kcs_orders_poll_now)
			kcs_orders_poll_now();
		MemoryContextSwitchTo(cxt);
	}
	for (i = 0; i < n; i++)
		if (!work[i].decided)
			decide(&work[i], KCS_TRANSIENT,
				   "Shopify's inventory level kept changing during the compare-and-set; will retry", 0);

	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(cxt);
}

/* ------------------------------------------------- location sync hooks */

static void
queue_branch_levels(const char *branch_code, bool forget)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];

	kcs_xact_begin();
	vals[0] = CStringGetTextDatum(branch_code);
	if (forget &&
		SPI_execute_with_args("SELECT kcloud_shopify.forget_levels($1)",
							  1, types, vals, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "kcloud_shopify: forgetting the levels of a branch failed");
	if (SPI_execute_with_args("INSERT INTO kcloud_shopify.queue (kind, key1, key2)"
							  " SELECT 'inventory', x.sku, $1 FROM ("
							  "   SELECT il.sku_code AS sku FROM kcloud_shopify.inventory_level il"
							  "    WHERE il.branch_code = $1"
							  "   UNION"
							  "   SELECT st.sku_code::text FROM ci.stock st"
							  "     JOIN kcloud_shopify.variant_link vl ON vl.sku_code = st.sku_code"
							  "    WHERE st.branch_code = $1) x"
							  " ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING",
							  1, types, vals, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "kcloud_shopify: queueing the stock levels of a branch failed");
	SPI_execute("SELECT kcloud_shopify.wake()", false, 0);
	kcs_xact_commit();
}

/*
 * Called by location sync (no transaction open) when locationDeactivate was
 * refused because the location still holds stock: queue every stock level
 * of the branch -- an inactive branch's levels are sent as 0 -- and return
 * true, so the location waits and is deactivated once they are empty.
 * Moving the stock to another location (destinationLocationId) would offer
 * the branch's units online from elsewhere.
 */
bool
kcs_inventory_zero_branch(json_t *payload, const char *branch_code)
{
	KcsUserError *errs;
	int			n = kcs_user_errors(payload, "locationDeactivateUserErrors", &errs);
	int			i;

	for (i = 0; i < n; i++)
		if (errs[i].code && strcmp(errs[i].code, "HAS_ACTIVE_INVENTORY_ERROR") == 0)
		{
			queue_branch_levels(branch_code, false);
			return true;
		}
	return false;
}

/*
 * Called by location sync after it (re)activated a location: Shopify
 * dropped the location's levels when it was deactivated, so forget what we
 * knew and send the branch's stock again.
 */
void
kcs_inventory_branch_activated(const char *branch_code)
{
	queue_branch_levels(branch_code, true);
}
