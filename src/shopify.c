/*-------------------------------------------------------------------------
 *
 * shopify.c
 *	  One GraphQL request to the connected shop: token, pacing, send,
 *	  classification of the outcome, and what the worker publishes about it
 *	  (shared-memory counters, the activity log).
 *
 * Outcome classes (KcsOutcome, sync.h):
 *   TRANSIENT  no reply, timeout, interrupted, HTTP 5xx, 429, 402/423 (shop
 *              frozen or locked), an unreadable reply, a 401 that survives
 *              one token renewal, INTERNAL_SERVER_ERROR-like GraphQL codes;
 *              Retry-After is honoured;
 *   THROTTLED  a GraphQL error with extensions.code THROTTLED (after up to
 *              three in-place waits for the bucket, so rarely seen by the
 *              caller); retry_after is the bucket's deficit;
 *   PERMANENT  HTTP 3xx (redirects are not followed) and other 4xx, any
 *              other top-level GraphQL error (validation, MAX_COST_EXCEEDED,
 *              ...): Shopify's message in reply->error;
 *   OK         a reply with data and no top-level errors (userErrors inside
 *              the data are the entity code's business).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

/* before jansson: fmgrprotos.h declares a json_object() that clashes with jansson's */
#define json_object pg_json_object_fn
#include "utils/builtins.h"
#undef json_object

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

#define json_object() json_pack("{}")

#define MAX_THROTTLE_WAITS 3
#define MAX_PENDING_LOG 1000

/* requests not yet written to the activity log (worker-local) */
typedef struct ActivityEntry
{
	char		operation[64];
	int			entities;
	double		cost;			/* < 0 = unknown */
	const char *outcome;
	double		duration_ms;
	char	   *detail;			/* in log_cxt, or NULL */
} ActivityEntry;

static MemoryContext log_cxt = NULL;
static ActivityEntry *pending_log = NULL;
static int	n_pending_log = 0;

/*
 * The operation of a document: the first root field (after an alias), e.g.
 * "locationAdd".  Good enough for the activity log.
 */
static void
operation_name(const char *q, char *out, size_t outlen)
{
	const char *p = strchr(q, '{');
	const char *s;
	size_t		len;

	out[0] = '\0';
	if (p == NULL)
		return;
	p++;
	for (;;)
	{
		while (*p && (isspace((unsigned char) *p) || *p == ','))
			p++;
		s = p;
		while (*p && (isalnum((unsigned char) *p) || *p == '_'))
			p++;
		len = p - s;
		while (*p && isspace((unsigned char) *p))
			p++;
		if (*p == ':' && len > 0)
		{
			p++;				/* an alias: the field name follows */
			continue;
		}
		break;
	}
	if (len >= outlen)
		len = outlen - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	if (out[0] == '\0')
		strlcpy(out, "graphql", outlen);
}

static bool
is_mutation(const char *q)
{
	while (*q && isspace((unsigned char) *q))
		q++;
	return strncmp(q, "mutation", 8) == 0;
}

static void
log_request(const char *query, int entities, double cost, const char *outcome,
			double duration_ms, const char *detail)
{
	ActivityEntry *e;

	if (log_cxt == NULL)
	{
		log_cxt = AllocSetContextCreate(TopMemoryContext, "kcloud_shopify activity",
										ALLOCSET_DEFAULT_SIZES);
		pending_log = MemoryContextAllocZero(log_cxt, sizeof(ActivityEntry) * MAX_PENDING_LOG);
	}
	if (n_pending_log >= MAX_PENDING_LOG)
		return;					/* the worker flushes after every batch */
	e = &pending_log[n_pending_log++];
	operation_name(query, e->operation, sizeof(e->operation));
	e->entities = entities;
	e->cost = cost;
	e->outcome = outcome;
	e->duration_ms = duration_ms;
	e->detail = detail ? MemoryContextStrdup(log_cxt, pnstrdup(detail, 2000)) : NULL;
}

/* Write the pending requests to kcloud_shopify.log_activity(); SPI connected. */
void
kcs_activity_flush(void)
{
	Oid			types[6] = {TEXTOID, INT4OID, NUMERICOID, TEXTOID, NUMERICOID, TEXTOID};
	Datum		vals[6];
	char		nulls[6];
	int			i;

	for (i = 0; i < n_pending_log; i++)
	{
		ActivityEntry *e = &pending_log[i];
		char		buf[64];

		memset(nulls, ' ', sizeof(nulls));
		vals[0] = CStringGetTextDatum(e->operation);
		vals[1] = Int32GetDatum(e->entities);
		if (e->cost < 0)
			nulls[2] = 'n';
		else
		{
			snprintf(buf, sizeof(buf), "%.1f", e->cost);
			vals[2] = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
										  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		}
		vals[3] = CStringGetTextDatum(e->outcome);
		snprintf(buf, sizeof(buf), "%.1f", e->duration_ms);
		vals[4] = DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
									  ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
		if (e->detail)
			vals[5] = CStringGetTextDatum(e->detail);
		else
			nulls[5] = 'n';
		if (SPI_execute_with_args("SELECT kcloud_shopify.log_activity($1, $2, $3, $4, $5, $6)",
								  6, types, vals, nulls, false, 0) != SPI_OK_SELECT)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("kcloud_shopify: could not write the activity log")));
	}
	n_pending_log = 0;
	if (log_cxt)
	{
		MemoryContextReset(log_cxt);
		pending_log = MemoryContextAllocZero(log_cxt, sizeof(ActivityEntry) * MAX_PENDING_LOG);
	}
}

static void
publish_success(double cost)
{
	if (kcs_shared == NULL)
		return;
	if (cost > 0)
		pg_atomic_fetch_add_u64(&kcs_shared->cost_points, (uint64) llround(cost));
	LWLockAcquire(kcs_shared->lock, LW_EXCLUSIVE);
	kcs_shared->last_success_at = GetCurrentTimestamp();
	LWLockRelease(kcs_shared->lock);
}

void
kcs_publish_failure(const char *error)
{
	if (kcs_shared == NULL)
		return;
	pg_atomic_fetch_add_u64(&kcs_shared->requests_failed, 1);
	LWLockAcquire(kcs_shared->lock, LW_EXCLUSIVE);
	kcs_shared->last_failure_at = GetCurrentTimestamp();
	strlcpy(kcs_shared->last_error, error ? error : "", sizeof(kcs_shared->last_error));
	LWLockRelease(kcs_shared->lock);
}

/* read extensions.cost: remember the cost, feed the pacer */
static void
read_cost(const char *query, KcsReply *reply)
{
	json_t	   *cost = json_object_get(json_object_get(reply->root, "extensions"), "cost");
	json_t	   *ts;
	json_t	   *v;

	if (!json_is_object(cost))
		return;
	v = json_object_get(cost, "requestedQueryCost");
	if (json_is_number(v))
	{
		reply->requested_cost = json_number_value(v);
		kcs_rl_remember_cost(query, reply->requested_cost);
	}
	v = json_object_get(cost, "actualQueryCost");
	if (json_is_number(v))
		reply->actual_cost = json_number_value(v);
	ts = json_object_get(cost, "throttleStatus");
	if (json_is_object(ts))
	{
		json_t	   *mx = json_object_get(ts, "maximumAvailable");
		json_t	   *av = json_object_get(ts, "currentlyAvailable");
		json_t	   *rr = json_object_get(ts, "restoreRate");

		if (json_is_number(mx) && json_is_number(av) && json_is_number(rr))
			kcs_rl_observe(json_number_value(mx), json_number_value(av),
						   json_number_value(rr));
	}
}

/* the first message of a GraphQL "errors" value (array or string) */
static char *
errors_text(json_t *errors, const char **code_out)
{
	size_t		i;
	json_t	   *e;
	StringInfoData s;

	*code_out = NULL;
	if (json_is_string(errors))
		return pstrdup(json_string_value(errors));
	if (!json_is_array(errors) || json_array_size(errors) == 0)
		return NULL;
	initStringInfo(&s);
	json_array_foreach(errors, i, e)
	{
		const char *msg = json_string_value(json_object_get(e, "message"));
		const char *code = json_string_value(json_object_get(json_object_get(e, "extensions"), "code"));

		if (code && (*code_out == NULL || strcmp(code, "THROTTLED") == 0))
			*code_out = code;
		if (i < 3 && msg)
			appendStringInfo(&s, "%s%s", s.len ? "; " : "", msg);
	}
	if (s.len == 0)
		appendStringInfoString(&s, "GraphQL error");
	return s.data;
}

static void
set_result(KcsReply *reply, KcsOutcome outcome, const char *fmt,...) pg_attribute_printf(3, 4);

static void
set_result(KcsReply *reply, KcsOutcome outcome, const char *fmt,...)
{
	va_list		ap;
	char		buf[1024];

	reply->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	reply->error = pstrdup(buf);
}

/* classify an HTTP reply; sets reply->root/data when there is JSON */
static void
classify(const char *query, KcsHttpResult *res, KcsReply *reply)
{
	json_error_t jerr;
	json_t	   *errors;
	const char *code = NULL;
	char	   *msg;

	reply->http_status = res->status;
	reply->retry_after = res->retry_after;

	if (res->status == 0)
	{
		set_result(reply, KCS_TRANSIENT, "%s", res->too_large ? res->error :
				   res->error[0] ? res->error : "no reply");
		if (res->too_large)
			reply->outcome = KCS_PERMANENT;
		return;
	}
	if (res->body && res->body_len > 0)
		reply->root = json_loadb(res->body, res->body_len, 0, &jerr);
	if (reply->root && !json_is_object(reply->root))
	{
		json_decref(reply->root);
		reply->root = NULL;
	}
	if (reply->root)
		read_cost(query, reply);
	errors = reply->root ? json_object_get(reply->root, "errors") : NULL;
	msg = errors ? errors_text(errors, &code) : NULL;

	if (res->status >= 300 && res->status < 400)
	{
		set_result(reply, KCS_PERMANENT, "HTTP %ld: redirect not followed", res->status);
		return;
	}
	if (res->status == 429 || (code && strcmp(code, "THROTTLED") == 0))
	{
		if (kcs_shared)
			pg_atomic_fetch_add_u64(&kcs_shared->throttled_replies, 1);
		if (res->status == 429)
			set_result(reply, KCS_TRANSIENT, "HTTP 429: %s", msg ? msg : "Too Many Requests");
		else
			set_result(reply, KCS_THROTTLED, "%s", msg ? msg : "Throttled");
		if (reply->retry_after <= 0)
			reply->retry_after = Max(1.0, kcs_rl_deficit_seconds(reply->requested_cost > 0 ?
																 reply->requested_cost :
																 kcs_rl_expected_cost(query, 0)));
		return;
	}
	if (res->status >= 500)
	{
		set_result(reply, KCS_TRANSIENT, "HTTP %ld%s%s", res->status,
				   msg ? ": " : "", msg ? msg : "");
		return;
	}
	if (res->status == 401)
	{
		set_result(reply, KCS_TRANSIENT, "HTTP 401: Shopify rejected the access token");
		if (reply->retry_after <= 0)
			reply->retry_after = 60;
		return;
	}
	if (res->status == 402 || res->status == 423)
	{
		set_result(reply, KCS_TRANSIENT, "HTTP %ld: the shop is %s", res->status,
				   res->status == 402 ? "frozen (payment required)" : "locked");
		if (reply->retry_after <= 0)
			reply->retry_after = 60;
		return;
	}
	if (res->status != 200)
	{
		set_result(reply, KCS_PERMANENT, "HTTP %ld%s%s", res->status,
				   msg ? ": " : "", msg ? msg : "");
		return;
	}
	if (reply->root == NULL)
	{
		set_result(reply, KCS_TRANSIENT, "unreadable reply (%zu bytes)", res->body_len);
		return;
	}
	if (msg)
	{
		if (code && (strcmp(code, "INTERNAL_SERVER_ERROR") == 0 ||
					 strcmp(code, "SERVICE_UNAVAILABLE") == 0 ||
					 strcmp(code, "TIMEOUT") == 0))
			set_result(reply, KCS_TRANSIENT, "%s", msg);
		else
			set_result(reply, KCS_PERMANENT, "%s", msg);
		reply->data = json_object_get(reply->root, "data");
		if (json_is_null(reply->data))
			reply->data = NULL;
		return;
	}
	reply->data = json_object_get(reply->root, "data");
	if (reply->data == NULL || json_is_null(reply->data))
	{
		reply->data = NULL;
		set_result(reply, KCS_TRANSIENT, "reply without data");
		return;
	}
	reply->outcome = KCS_OK;
}

static const char *
outcome_word(KcsOutcome o)
{
	switch (o)
	{
		case KCS_OK:
			return "ok";
		case KCS_THROTTLED:
			return "throttled";
		case KCS_PERMANENT:
			return "permanent";
		default:
			return "transient";
	}
}

static int
count_root_fields(json_t *data)
{
	return json_is_object(data) ? (int) json_object_size(data) : 0;
}

void
kcs_graphql_send(const char *query, json_t *variables, KcsReply *reply)
{
	kcs_graphql_send_cost(query, variables, 0, reply);
}

void
kcs_graphql_send_cost(const char *query, json_t *variables, double expected_cost,
					  KcsReply *reply)
{
	json_t	   *req;
	char	   *body;
	char	   *url;
	char	   *auth_error = NULL;
	int			throttle_waits = 0;
	bool		renewed = false;
	KcsHttpResult res;

	memset(reply, 0, sizeof(*reply));
	if (!kcs_conn.connected)
	{
		set_result(reply, KCS_TRANSIENT, "no shop is connected");
		reply->retry_after = 60;
		return;
	}

	if (kcs_dry_run && is_mutation(query))
	{
		char	   *v = variables ? json_dumps(variables, JSON_COMPACT) : NULL;

		log_request(query, 0, -1, "dry_run", 0, v);
		free(v);
		set_result(reply, KCS_WAIT, "dry run: not sent (kcloud_shopify.dry_run is on)");
		reply->retry_after = 10;	/* retried (and logged again) every 10 s */
		return;
	}

	req = json_pack("{s:s}", "query", query);
	if (variables)
		json_object_set(req, "variables", variables);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (body == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("kcloud_shopify: could not serialise a GraphQL request")));
	url = psprintf("%sadmin/api/%s/graphql.json", kcs_conn.endpoint, KCS_API_VERSION);

	for (;;)
	{
		char	   *tokhdr;
		const char *headers[4];

		if (!kcs_auth_ensure_token(false, &auth_error))
		{
			set_result(reply, KCS_TRANSIENT, "%s", auth_error);
			reply->retry_after = 30;
			kcs_publish_failure(reply->error);
			log_request(query, 0, -1, "transient", 0, reply->error);
			break;
		}
		kcs_rl_pace(kcs_rl_expected_cost(query, expected_cost));

		tokhdr = psprintf("X-Shopify-Access-Token: %s", kcs_conn.token);
		headers[0] = "Content-Type: application/json";
		headers[1] = "Accept: application/json";
		headers[2] = tokhdr;
		headers[3] = NULL;
		kcs_http_post(url, headers, body, strlen(body), &res);
		explicit_bzero(tokhdr, strlen(tokhdr));
		pfree(tokhdr);
		if (kcs_shared)
			pg_atomic_fetch_add_u64(&kcs_shared->requests_sent, 1);

		if (res.status == 401 && !renewed && kcs_conn.client_id != NULL)
		{
			/* the token was revoked or expired early: renew once */
			kcs_http_result_free(&res);
			renewed = true;
			if (!kcs_auth_ensure_token(true, &auth_error))
			{
				set_result(reply, KCS_TRANSIENT, "%s", auth_error);
				reply->retry_after = 30;
				kcs_publish_failure(reply->error);
				log_request(query, 0, -1, "transient", 0, reply->error);
				break;
			}
			continue;
		}

		classify(query, &res, reply);
		log_request(query, count_root_fields(reply->data),
					reply->outcome == KCS_OK ? reply->actual_cost : -1,
					outcome_word(reply->outcome), res.elapsed_ms,
					reply->outcome == KCS_OK ? NULL : reply->error);
		kcs_http_result_free(&res);

		if (reply->outcome == KCS_OK)
		{
			publish_success(reply->actual_cost);
			break;
		}
		kcs_publish_failure(reply->error);
		/* a THROTTLED request was not executed: wait for the bucket, resend */
		if (reply->outcome == KCS_THROTTLED && throttle_waits++ < MAX_THROTTLE_WAITS &&
			reply->retry_after <= 60)
		{
			kcs_sleep_ms((long) ceil(reply->retry_after * 1000.0));
			if (ProcDiePending || ConfigReloadPending || ShutdownRequestPending)
				break;
			kcs_reply_free(reply);
			memset(reply, 0, sizeof(*reply));
			continue;
		}
		break;
	}
	free(body);
	pfree(url);
}

void
kcs_reply_free(KcsReply *reply)
{
	if (reply->root)
		json_decref(reply->root);
	reply->root = NULL;
	reply->data = NULL;
	if (reply->error)
		pfree(reply->error);
	reply->error = NULL;
}
