/*-------------------------------------------------------------------------
 *
 * adhoc.c
 *	  kcloud_shopify._graphql(query, variables): send one read-only GraphQL
 *	  query to the connected shop from SQL and return Shopify's reply, e.g.
 *	  to find the id of a location before link_location() (docs/operations.md).
 *
 * Mutations are refused: everything that writes to Shopify goes through the
 * queue and the worker.  The request is paced, counted and written to the
 * activity log like the worker's own.  It runs inside the caller's
 * transaction (hold no locks while calling it); a token obtained here is
 * not stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* before jansson: fmgrprotos.h declares a json_object() that clashes with jansson's */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/jsonb.h"

#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

PG_FUNCTION_INFO_V1(kcloud_shopify__graphql);

/* Does the document define a mutation (or subscription) operation? */
static bool
defines_mutation(const char *q)
{
	int			depth = 0;
	bool		in_str = false;
	const char *p;

	for (p = q; *p; p++)
	{
		if (in_str)
		{
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = false;
			continue;
		}
		if (*p == '"')
			in_str = true;
		else if (*p == '#')
		{
			while (*p && *p != '\n')
				p++;
			if (!*p)
				break;
		}
		else if (*p == '{' || *p == '(')
			depth++;
		else if (*p == '}' || *p == ')')
			depth--;
		else if (depth == 0 &&
				 (pg_strncasecmp(p, "mutation", 8) == 0 ||
				  pg_strncasecmp(p, "subscription", 12) == 0))
			return true;
	}
	return false;
}

Datum
kcloud_shopify__graphql(PG_FUNCTION_ARGS)
{
	char	   *query;
	json_t	   *vars = NULL;
	KcsReply	reply;
	char	   *out;
	Datum		result;
	bool		connected;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("query must not be null")));
	query = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (defines_mutation(query))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("kcloud_shopify._graphql() sends queries only"),
				 errhint("Changes reach Shopify through the queue: change CI, or use the resync functions.")));
	if (!PG_ARGISNULL(1))
	{
		json_error_t jerr;
		char	   *v = DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(1)));

		vars = json_loads(v, 0, &jerr);
		if (vars == NULL || !json_is_object(vars))
		{
			if (vars)
				json_decref(vars);
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("variables must be a JSON object")));
		}
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	connected = kcs_conn_load();
	SPI_finish();
	if (!connected)
	{
		if (vars)
			json_decref(vars);
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no shop is connected"),
				 errhint("Call kcloud_shopify.connect() first.")));
	}

	kcs_graphql_send(query, vars, &reply);
	if (vars)
		json_decref(vars);

	if (SPI_connect() == SPI_OK_CONNECT)
	{
		kcs_activity_flush();
		SPI_finish();
	}

	if (reply.root == NULL)
	{
		char	   *err = pstrdup(reply.error ? reply.error : "no reply");

		kcs_reply_free(&reply);
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("Shopify request failed: %s", err)));
	}
	out = json_dumps(reply.root, JSON_COMPACT);
	kcs_reply_free(&reply);
	if (out == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	result = DirectFunctionCall1(jsonb_in, CStringGetDatum(pstrdup(out)));
	free(out);
	PG_RETURN_DATUM(result);
}
