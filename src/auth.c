/*-------------------------------------------------------------------------
 *
 * auth.c
 *	  The shop connection and its access token, for the sync worker.
 *
 * kcloud_shopify.connect() stores the shop in the owner-only settings
 * table: shop_domain, endpoint (optional), and either access_token (a
 * static Admin API token) or client_id + client_secret (a Dev Dashboard
 * app).  With client credentials the worker obtains a token with the
 * client-credentials grant (POST <endpoint>/admin/oauth/access_token),
 * caches it in memory and in settings (oauth_token, token_expires_at,
 * token_renew_at), renews it before it expires (5 minutes, or a tenth of
 * its lifetime when shorter) and once more when Shopify answers 401.
 *
 * Secrets stay in this process's memory and in the settings table; they
 * never reach shared memory, a GUC, the log or an error message.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* before jansson: fmgrprotos.h declares a json_object() that clashes with jansson's */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include <jansson.h>
#include <math.h>

#include "access/xact.h"
#include "executor/spi.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

KcsConnection kcs_conn;

static MemoryContext conn_cxt = NULL;
static TimestampTz token_renew_at = 0;

static char *
setting(const char *name, int nrows)
{
	int			i;

	for (i = 0; i < nrows; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		char	   *n = SPI_getvalue(tup, td, 1);

		if (n && strcmp(n, name) == 0)
		{
			char	   *v = SPI_getvalue(tup, td, 2);

			return (v && v[0]) ? MemoryContextStrdup(conn_cxt, v) : NULL;
		}
	}
	return NULL;
}

static TimestampTz
parse_ts(const char *s)
{
	if (s == NULL)
		return 0;
	return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
												   CStringGetDatum(s),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
}

/*
 * Read the connection from kcloud_shopify.settings.  Call inside a
 * transaction with SPI connected.  Returns whether a shop is connected.
 * A token obtained earlier is kept while the settings still hold it.
 */
bool
kcs_conn_load(void)
{
	int			rc;
	int			n;
	char	   *ep;
	char	   *granted;

	if (conn_cxt == NULL)
		conn_cxt = AllocSetContextCreate(TopMemoryContext, "kcloud_shopify connection",
										 ALLOCSET_SMALL_SIZES);

	rc = SPI_execute("SELECT name, value FROM kcloud_shopify.settings "
					 "WHERE name IN ('shop_domain', 'endpoint', 'access_token', 'client_id', "
					 "'client_secret', 'oauth_token', 'token_expires_at', 'token_renew_at')",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: could not read the connection settings: %s",
						SPI_result_code_string(rc))));
	n = (int) SPI_processed;

	/* wipe the previous copy, secrets included */
	if (kcs_conn.token)
		explicit_bzero(kcs_conn.token, strlen(kcs_conn.token));
	if (kcs_conn.client_secret)
		explicit_bzero(kcs_conn.client_secret, strlen(kcs_conn.client_secret));
	if (kcs_conn.access_token)
		explicit_bzero(kcs_conn.access_token, strlen(kcs_conn.access_token));
	MemoryContextReset(conn_cxt);
	memset(&kcs_conn, 0, sizeof(kcs_conn));

	kcs_conn.shop_domain = setting("shop_domain", n);
	if (kcs_conn.shop_domain == NULL)
		return false;
	ep = setting("endpoint", n);
	if (ep == NULL)
		ep = psprintf("https://%s/", kcs_conn.shop_domain);
	else if (ep[strlen(ep) - 1] != '/')
		ep = psprintf("%s/", ep);
	kcs_conn.endpoint = MemoryContextStrdup(conn_cxt, ep);
	kcs_conn.access_token = setting("access_token", n);
	kcs_conn.client_id = setting("client_id", n);
	kcs_conn.client_secret = setting("client_secret", n);
	if (kcs_conn.access_token)
	{
		kcs_conn.token = kcs_conn.access_token;
		kcs_conn.token_expires_at = 0;
	}
	else if (kcs_conn.client_id && kcs_conn.client_secret)
	{
		granted = setting("oauth_token", n);
		kcs_conn.token = granted;
		kcs_conn.token_expires_at = parse_ts(setting("token_expires_at", n));
		token_renew_at = parse_ts(setting("token_renew_at", n));
		if (granted && token_renew_at == 0)
			token_renew_at = kcs_conn.token_expires_at;
	}
	else
		return false;			/* half a connection: connect() prevents it */
	kcs_conn.connected = true;
	return true;
}

/* store the granted token for the next worker life (owner-only table) */
static void
persist_token(void)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		vals[2];
	const char *names[3] = {"oauth_token", "token_expires_at", "token_renew_at"};
	TimestampTz tss[2] = {kcs_conn.token_expires_at, token_renew_at};
	int			i;

	if (IsTransactionState())
		return;					/* not from inside somebody's transaction */
	kcs_xact_begin();
	for (i = 0; i < 3; i++)
	{
		const char *v = (i == 0) ? kcs_conn.token
			: timestamptz_to_str(tss[i - 1]);

		vals[0] = CStringGetTextDatum(names[i]);
		vals[1] = CStringGetTextDatum(v);
		if (SPI_execute_with_args("INSERT INTO kcloud_shopify.settings AS s (name, value) "
								  "VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
								  "SET value = EXCLUDED.value, updated_at = pg_catalog.now()",
								  2, types, vals, NULL, false, 0) != SPI_OK_INSERT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: could not store the access token's expiry")));
	}
	kcs_xact_commit();
}

/*
 * The client-credentials grant.  Returns false with *error set (no secret
 * in it) when no token could be obtained.
 */
static bool
request_token(char **error)
{
	KcsHttpResult res;
	StringInfoData body;
	char	   *url;
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
	"Accept: application/json", NULL};
	json_t	   *root;
	json_error_t jerr;
	json_t	   *tok;
	json_t	   *exp;
	double		ttl;
	double		margin;
	TimestampTz now;

	url = psprintf("%sadmin/oauth/access_token", kcs_conn.endpoint);
	initStringInfo(&body);
	appendStringInfo(&body, "grant_type=client_credentials&client_id=%s&client_secret=%s",
					 kcs_http_form_escape(kcs_conn.client_id),
					 kcs_http_form_escape(kcs_conn.client_secret));
	kcs_http_post(url, headers, body.data, body.len, &res);
	explicit_bzero(body.data, body.len);
	pfree(body.data);

	if (res.status == 0)
	{
		*error = psprintf("access token request failed: %s", res.error);
		kcs_http_result_free(&res);
		return false;
	}
	root = json_loadb(res.body ? res.body : "", res.body_len, 0, &jerr);
	if (res.status != 200 || root == NULL || !json_is_object(root))
	{
		const char *code = NULL;

		if (root && json_is_object(root))
			code = json_string_value(json_object_get(root, "error"));
		*error = psprintf("access token request failed: HTTP %ld%s%s",
						  res.status, code ? " " : "", code ? code : "");
		if (root)
			json_decref(root);
		kcs_http_result_free(&res);
		return false;
	}
	tok = json_object_get(root, "access_token");
	exp = json_object_get(root, "expires_in");
	if (!json_is_string(tok) || json_string_length(tok) == 0)
	{
		*error = pstrdup("access token request failed: no access_token in the reply");
		json_decref(root);
		kcs_http_result_free(&res);
		return false;
	}
	ttl = json_is_number(exp) ? json_number_value(exp) : 86399;
	if (ttl <= 0)
		ttl = 86399;
	ttl = Min(ttl, 365 * 86400.0);	/* a bogus expires_in must not overflow */
	margin = Min(300.0, ttl / 10.0);
	now = GetCurrentTimestamp();
	kcs_conn.token = MemoryContextStrdup(conn_cxt, json_string_value(tok));
	kcs_conn.token_expires_at = now + (TimestampTz) (ttl * USECS_PER_SEC);
	token_renew_at = now + (TimestampTz) ((ttl - margin) * USECS_PER_SEC);
	json_decref(root);
	kcs_http_result_free(&res);
	persist_token();
	return true;
}

/*
 * Make sure kcs_conn.token is usable: obtain or renew a granted token when
 * it is missing, due for renewal, or force_renew (after a 401).  With a
 * static token nothing can be renewed: force_renew fails.
 */
bool
kcs_auth_ensure_token(bool force_renew, char **error)
{
	*error = NULL;
	if (!kcs_conn.connected)
	{
		*error = pstrdup("no shop is connected");
		return false;
	}
	if (kcs_conn.access_token)
	{
		if (force_renew)
		{
			*error = pstrdup("Shopify rejected the access token (HTTP 401); "
							 "call kcloud_shopify.connect() with a valid one");
			return false;
		}
		return true;
	}
	if (!force_renew && kcs_conn.token != NULL &&
		GetCurrentTimestamp() < token_renew_at)
		return true;
	return request_token(error);
}
