/*-------------------------------------------------------------------------
 *
 * sync_customer.c
 *	  CI customers -> Shopify customers (customerSet + a metafield with the
 *	  CI customer code).
 *
 * A customer never synced is upserted by email (else phone), so a shopper
 * who already has a Shopify account is matched, not duplicated, and a retry
 * after a lost reply finds the customer the first attempt created.  A
 * linked customer is addressed by its GID, so a changed email updates the
 * same Shopify customer.  CustomerSetInput has no metafields in 2026-10:
 * the code goes on with metafieldsSet (kcloud.customer_code, type id) and
 * the link is recorded only after both succeeded.  TAKEN (the email or
 * phone belongs to another Shopify customer) is a permanent failure with
 * Shopify's message: a person has to decide which customer is which.
 * Customers with neither email nor phone are not sent.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "entities.h"
#include "graphql.h"
#include "kcloud_shopify.h"
#include "sync.h"

static MemoryContext callercxt;

static void
outcome(KcsItem *item, KcsOutcome o, const char *error, double retry_after)
{
	item->outcome = o;
	item->retry_after = retry_after;
	item->error = error ? MemoryContextStrdup(callercxt, error) : NULL;
}

const char *
kcs_customer_skip_reason(KcsCustomer *c)
{
	if (!c->exists)
		return "customer not in CI (Shopify's customer is kept)";
	if (c->customer_gid == NULL && c->email == NULL && c->phone == NULL)
		return "customer has neither email nor phone";
	return NULL;
}

static void
record_links(KcsCustomer **cs, char **gids, int n)
{
	int			i;

	kcs_xact_begin();
	for (i = 0; i < n; i++)
	{
		Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
		Datum		vals[3];
		KcsCustomer *c = cs[i];
		const char *ident = c->email ? psprintf("email:%s", c->email)
			: c->phone ? psprintf("phone:%s", c->phone) : "";
		int			rc;

		vals[0] = CStringGetTextDatum(c->customer_code);
		vals[1] = CStringGetTextDatum(gids[i]);
		vals[2] = CStringGetTextDatum(ident);
		SPI_execute_with_args("DELETE FROM kcloud_shopify.customer_link"
							  " WHERE customer_gid = $2 AND customer_code <> $1",
							  3, types, vals, NULL, false, 0);
		rc = SPI_execute_with_args("INSERT INTO kcloud_shopify.customer_link (customer_code, customer_gid, identifier)"
								   " VALUES ($1, $2, $3)"
								   " ON CONFLICT (customer_code) DO UPDATE SET customer_gid = EXCLUDED.customer_gid,"
								   "   identifier = EXCLUDED.identifier, synced_at = pg_catalog.now()",
								   3, types, vals, NULL, false, 0);
		if (rc != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: recording a customer link failed: %s",
							SPI_result_code_string(rc))));
	}
	kcs_xact_commit();
}

static void
forget_link(const char *code)
{
	Oid			types[1] = {TEXTOID};
	Datum		vals[1];

	kcs_xact_begin();
	vals[0] = CStringGetTextDatum(code);
	SPI_execute_with_args("DELETE FROM kcloud_shopify.customer_link WHERE customer_code = $1",
						  1, types, vals, NULL, false, 0);
	kcs_xact_commit();
}

/* metafieldsSet for the customers created or matched just now, then links */
static void
set_codes(KcsItem **items, KcsCustomer **cs, char **gids, int n, MemoryContext cxt)
{
	int			start;

	for (start = 0; start < n; start += 25)
	{
		int			count = Min(25, n - start);
		json_t	   *vars;
		char	   *query = kcs_customer_metafields_doc(cs + start, (const char **) gids + start,
														count, &vars);
		KcsReply	reply;
		json_t	   *payload;
		KcsUserError *errs;
		int			nerr,
					i;

		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send(query, vars, &reply);
		json_decref(vars);
		MemoryContextSwitchTo(cxt);
		if (reply.outcome != KCS_OK)
		{
			for (i = 0; i < count; i++)
				outcome(items[start + i], reply.outcome,
						reply.error ? reply.error : "metafieldsSet failed", reply.retry_after);
			kcs_reply_free(&reply);
			continue;
		}
		payload = json_object_get(reply.data, "metafieldsSet");
		nerr = kcs_user_errors(payload, "userErrors", &errs);
		kcs_reply_free(&reply);
		if (nerr > 0)
		{
			/* atomic: the one at fault fails, the others go again */
			for (i = 0; i < count; i++)
				outcome(items[start + i], KCS_TRANSIENT, kcs_user_errors_text(errs, nerr), 0);
			for (i = 0; i < nerr; i++)
				if (errs[i].index >= 0 && errs[i].index < count)
					outcome(items[start + errs[i].index], KCS_PERMANENT,
							psprintf("%s%s%s", errs[i].code ? errs[i].code : "",
									 errs[i].code ? ": " : "", errs[i].message), 0);
			continue;
		}
		record_links(cs + start, gids + start, count);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < count; i++)
			outcome(items[start + i], KCS_OK, NULL, 0);
	}
}

void
kcs_sync_customers(KcsItem *items, int n)
{
	MemoryContext cxt;
	char	  **codes;
	KcsCustomer **cs;
	int		   *todo;
	int			ntodo = 0;
	int			i,
				start,
				count;
	KcsItem   **meta_items;
	KcsCustomer **meta_cs;
	char	  **meta_gids;
	int			nmeta = 0;
	KcsCustomer **linked_cs;
	char	  **linked_gids;
	int			nlinked = 0;

	if (n <= 0)
		return;
	callercxt = CurrentMemoryContext;
	cxt = AllocSetContextCreate(callercxt, "kcloud_shopify customers", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	kcs_ensure_definitions();
	MemoryContextSwitchTo(cxt);

	codes = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
		codes[i] = items[i].key1;
	kcs_xact_begin();
	cs = kcs_read_customers(codes, n, cxt);
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);

	todo = palloc(sizeof(int) * n);
	meta_items = palloc(sizeof(KcsItem *) * n);
	meta_cs = palloc(sizeof(KcsCustomer *) * n);
	meta_gids = palloc(sizeof(char *) * n);
	linked_cs = palloc(sizeof(KcsCustomer *) * n);
	linked_gids = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		if (kcs_customer_skip_reason(cs[i]))
			outcome(&items[i], KCS_OK, NULL, 0);
		else
			todo[ntodo++] = i;
	}

	for (start = 0; start < ntodo; start += count)
	{
		KcsDoc		doc;
		char	   *query;
		KcsReply	reply;

		count = Min(Max(1, Min(KCS_MAX_ALIASES, (int) (kcs_cost_budget() / 12))), ntodo - start);
		kcs_doc_init(&doc);
		for (i = 0; i < count; i++)
			kcs_customer_set_add(&doc, cs[todo[start + i]]);
		query = kcs_doc_finish(&doc, "mutation", "KcsCustomerSet");
		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send_cost(query, doc.variables, doc.cost, &reply);
		MemoryContextSwitchTo(cxt);
		for (i = 0; i < count; i++)
		{
			int			ix = todo[start + i];
			KcsCustomer *c = cs[ix];
			char		a[16];
			json_t	   *payload;
			KcsUserError *errs;
			int			nerr,
						j;
			const char *gid;

			if (reply.outcome != KCS_OK)
			{
				outcome(&items[ix], reply.outcome,
						reply.error ? reply.error : "customerSet failed", reply.retry_after);
				continue;
			}
			snprintf(a, sizeof(a), "c%d", i);
			payload = json_object_get(reply.data, a);
			nerr = kcs_user_errors(payload, "userErrors", &errs);
			gid = kcs_json_str(json_object_get(payload, "customer"), "id");
			if (nerr > 0 || gid == NULL)
			{
				bool		not_found = false;

				for (j = 0; j < nerr; j++)
					if (errs[j].code && strcmp(errs[j].code, "NOT_FOUND") == 0 && c->customer_gid)
						not_found = true;
				if (not_found)
				{
					/* deleted in Shopify: find or create it by email/phone again */
					forget_link(c->customer_code);
					MemoryContextSwitchTo(cxt);
					outcome(&items[ix], KCS_TRANSIENT, kcs_user_errors_text(errs, nerr), 0);
				}
				else
					outcome(&items[ix], KCS_PERMANENT,
							nerr > 0 ? kcs_user_errors_text(errs, nerr) : "customerSet returned no customer", 0);
				continue;
			}
			if (c->customer_gid && strcmp(c->customer_gid, gid) == 0)
			{
				/* linked: the code metafield is there since the first sync */
				linked_cs[nlinked] = c;
				linked_gids[nlinked++] = pstrdup(gid);
				outcome(&items[ix], KCS_OK, NULL, 0);
			}
			else
			{
				meta_items[nmeta] = &items[ix];
				meta_cs[nmeta] = c;
				meta_gids[nmeta++] = pstrdup(gid);
			}
		}
		kcs_reply_free(&reply);
		kcs_doc_free(&doc);
	}

	if (nlinked > 0)
	{
		record_links(linked_cs, linked_gids, nlinked);	/* identifier, synced_at */
		MemoryContextSwitchTo(cxt);
	}
	if (nmeta > 0)
	{
		/*
		 * Two CI customers matching one Shopify customer (same phone, say):
		 * linking the second would steal the first's link, and they would
		 * take turns for ever.  Refuse it visibly.
		 */
		int			k = 0;

		kcs_xact_begin();
		for (i = 0; i < nmeta; i++)
		{
			Oid			types[2] = {TEXTOID, TEXTOID};
			Datum		vals[2];

			vals[0] = CStringGetTextDatum(meta_gids[i]);
			vals[1] = CStringGetTextDatum(meta_cs[i]->customer_code);
			if (SPI_execute_with_args("SELECT customer_code FROM kcloud_shopify.customer_link"
									  " WHERE customer_gid = $1 AND customer_code <> $2",
									  2, types, vals, NULL, true, 1) != SPI_OK_SELECT)
				elog(ERROR, "kcloud_shopify: customer_link lookup failed");
			if (SPI_processed > 0)
			{
				char	   *other = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

				outcome(meta_items[i], KCS_PERMANENT,
						psprintf("Shopify customer %s (same email or phone) is already linked to CI customer %s",
								 meta_gids[i], other), 0);
				continue;
			}
			meta_items[k] = meta_items[i];
			meta_cs[k] = meta_cs[i];
			meta_gids[k++] = meta_gids[i];
		}
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
		if (k > 0)
			set_codes(meta_items, meta_cs, meta_gids, k, cxt);
	}

	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(cxt);
}
