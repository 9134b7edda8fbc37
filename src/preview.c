/*-------------------------------------------------------------------------
 *
 * preview.c
 *	  kcloud_shopify.preview(kind, ci_key): the GraphQL document and
 *	  variables the worker would send now for one entity (a dry run).
 *
 * It reads CI and the links with the worker's own readers (ci_read.c) and
 * builds the request with the worker's own builders (graphql.c), so the
 * result is byte for byte what the worker would send for a batch holding
 * only this entity.  Nothing is sent and nothing is written.
 *
 * The result is {"query": ..., "variables": ...}; plus, where the worker
 * would first ask Shopify something, "lookup_first" (a style never synced:
 * the adoption lookup) or "reads_first" (a stock level whose Shopify
 * quantity is unknown: changeFromQuantity comes from that read).  When the
 * worker would send nothing, query and variables are null and "skipped"
 * (or "waiting") says why.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "entities.h"
#include "graphql.h"

PG_FUNCTION_INFO_V1(kcloud_shopify_preview);

static char *
key_field(json_t *key, const char *field, const char *kind)
{
	const char *v = kcs_json_str(key, field);

	if (v == NULL || v[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ci_key of a %s needs the field \"%s\"", kind, field),
				 errhint("Write it as in the pending view, e.g. {\"%s\": \"...\"}.", field)));
	return pstrdup(v);
}

static json_t *
nothing(const char *label, const char *why)
{
	return json_pack("{s:n, s:n, s:s}", "query", "variables", label, why);
}

static json_t *
doc_result(KcsDoc *doc, const char *optype, const char *name)
{
	char	   *q = kcs_doc_finish(doc, optype, name);
	json_t	   *r = json_pack("{s:s, s:O}", "query", q, "variables", doc->variables);

	kcs_doc_free(doc);
	return r;
}

static json_t *
preview_product(json_t *key, MemoryContext cxt)
{
	char	   *code = key_field(key, "style_code", "product");
	KcsStyle  **st = kcs_read_styles(&code, 1, cxt);
	const char *skip = kcs_product_skip_reason(st[0]);
	KcsDoc		doc;
	json_t	   *r;

	if (skip)
		return nothing("skipped", skip);
	kcs_doc_init(&doc);
	kcs_product_set_add(&doc, st[0]);
	r = doc_result(&doc, "mutation", "KcsProductSet");
	if (st[0]->exists && st[0]->product_gid == NULL)
	{
		kcs_doc_init(&doc);
		kcs_product_adopt_add(&doc, st[0]);
		json_object_set_new(r, "lookup_first", doc_result(&doc, "query", "KcsProductLookup"));
	}
	return r;
}

static json_t *
preview_inventory(json_t *key, MemoryContext cxt)
{
	char	   *sku = key_field(key, "sku_code", "inventory");
	char	   *branch = key_field(key, "branch_code", "inventory");
	KcsLevelState *ls = kcs_read_levels(&sku, &branch, 1, cxt);
	KcsLevel   *lv = &ls->level;
	KcsLevel   *lvs[1];
	json_t	   *vars;
	char	   *batch_key;
	char	   *q;
	json_t	   *r;
	json_t	   *reads = NULL;

	if (ls->action == KCS_LEVEL_SKIP)
		return nothing("skipped", ls->why);
	if (ls->action == KCS_LEVEL_WAIT)
		return nothing("waiting", ls->why);
	if (lv->known && lv->target == lv->shopify_on_hand)
		return nothing("skipped", "Shopify already holds this on_hand");
	if (!lv->known)
	{
		KcsDoc		doc;

		kcs_doc_init(&doc);
		kcs_inventory_read_add(&doc, lv);
		reads = doc_result(&doc, "query", "KcsInventoryLevels");
	}
	/* the stored key when this quantity is being sent again */
	lv->key = (ls->has_sent && ls->sent_key && ls->sent_quantity == lv->target)
		? ls->sent_key : "(new key)";
	lvs[0] = lv;
	q = kcs_inventory_set_doc(lvs, 1, &vars, &batch_key);
	r = json_pack("{s:s, s:o}", "query", q, "variables", vars);
	if (reads)
		json_object_set_new(r, "reads_first", reads);
	return r;
}

static json_t *
preview_customer(json_t *key, MemoryContext cxt)
{
	char	   *code = key_field(key, "customer_code", "customer");
	KcsCustomer **c = kcs_read_customers(&code, 1, cxt);
	const char *skip = kcs_customer_skip_reason(c[0]);
	KcsDoc		doc;

	if (skip)
		return nothing("skipped", skip);
	kcs_doc_init(&doc);
	kcs_customer_set_add(&doc, c[0]);
	return doc_result(&doc, "mutation", "KcsCustomerSet");
}

Datum
kcloud_shopify_preview(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *kind;
	char	   *keytxt;
	json_t	   *key;
	json_t	   *result = NULL;
	json_error_t jerr;
	char	   *out;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("kind and ci_key must not be null")));
	kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	keytxt = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(1)));
	key = json_loads(keytxt, JSON_DECODE_ANY, &jerr);
	if (!json_is_object(key))
	{
		if (key)
			json_decref(key);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ci_key must be a JSON object"),
				 errhint("Copy it from the pending or failures view, e.g. {\"style_code\": \"S1\"}.")));
	}
	if (strcmp(kind, "location") == 0)
	{
		json_decref(key);
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("preview of locations is not available"),
				 errhint("preview() covers product, inventory and customer.")));
	}
	if (strcmp(kind, "product") != 0 && strcmp(kind, "inventory") != 0 &&
		strcmp(kind, "customer") != 0)
	{
		json_decref(key);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown kind \"%s\"", kind),
				 errhint("Use product, inventory or customer.")));
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "kcloud_shopify: SPI_connect failed");
	PG_TRY();
	{
		if (strcmp(kind, "product") == 0)
			result = preview_product(key, cxt);
		else if (strcmp(kind, "inventory") == 0)
			result = preview_inventory(key, cxt);
		else
			result = preview_customer(key, cxt);
	}
	PG_FINALLY();
	{
		json_decref(key);
	}
	PG_END_TRY();
	SPI_finish();

	out = json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(result);
	if (out == NULL)
		elog(ERROR, "kcloud_shopify: could not serialise the preview");
	{
		char	   *p = pstrdup(out);

		free(out);
		PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(p)));
	}
}
