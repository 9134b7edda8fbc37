/*-------------------------------------------------------------------------
 *
 * fuzz_transport.c
 *	  libFuzzer target over the worker's side of the Shopify conversation:
 *	  the GraphQL request cycle (src/shopify.c: request body, classification
 *	  of replies, throttleStatus and cost, the throttle retry loop, the
 *	  activity log), the client-credentials token grant (src/auth.c), pacing
 *	  (src/ratelimit.c) and the reply plumbing of src/http.c (Retry-After
 *	  header parsing, the body size cap, URL policy, form escaping).
 *
 *	  The real kcs_http_post() (libcurl) is replaced by one that answers
 *	  from the fuzz input.  An input is text:
 *
 *		line 1: mode letters and a query number, e.g. "S0" or "C3" or "Uhttp://x"
 *		  S  a static access token          C  client credentials (token grant first)
 *		  D  dry run (kcloud_shopify.dry_run)
 *		  0-9 which GraphQL document is sent (a fixed list of real ones)
 *		  U<url>   only check the URL policy
 *		  F<text>  only check the form escaping
 *		then HTTP replies, one per request, separated by lines "~~~":
 *		  "STATUS\n" header lines "Name: value\n" ... "\n" body
 *		  a reply whose status is not a number is a transport failure;
 *		  when the replies run out, every further request gets no reply.
 *
 *	  After each request cycle the harness checks the contract of sync.h
 *	  (an outcome, an error text for every failure, data for OK, a sane
 *	  retry_after) and that no secret reached an error text.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE 1			/* memmem */
#include "postgres.h"

/* take http.c whole (its static callbacks are what a reply goes through) */
#define kcs_http_post kcs_http_post_real
#include "../../src/http.c"
#undef kcs_http_post

#include <math.h>

#include "utils/memutils.h"
#include "sync.h"
#include "pg_shim.h"

void		kcs_http_post(const char *url, const char *const *headers,
						  const char *body, size_t body_len, KcsHttpResult *res);

#define SECRET "fuzz-client-secret-9f8e7d"
#define STATIC_TOKEN "shpat_fuzz_static_token_1234"

static const char *const queries[] = {
	"query KcsLocationLookup($id: LocationIdentifierInput!) {"
	" locationByIdentifier(identifier: $id) { id isActive } }",
	"mutation KcsLocationAdd($input: LocationAddInput!) {"
	" locationAdd(input: $input) { location { id isActive } userErrors { field message code } } }",
	"mutation KcsLocationEdit($id: ID!, $input: LocationEditInput!) {"
	" locationEdit(id: $id, input: $input) { location { id isActive } userErrors { field message code } } }",
	"query KcsOrderFeed($q: String!, $after: String) {"
	" orders(first: 50, after: $after, query: $q, sortKey: UPDATED_AT) {"
	"  nodes { id legacyResourceId updatedAt } pageInfo { hasNextPage endCursor } } }",
	"mutation { p1: productSet(input: {title: \"x\"}, synchronous: true) { product { id } userErrors { field message } } }",
	"{ shop { id name } }",
	"query",
	"",
	"mutation KcsInventorySet($input: InventorySetQuantitiesInput!) {"
	" inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id }"
	" userErrors { field message code } } }",
	"query { a : b : c { d } }",
};

/* the replies of the current input */
static const char *in_p;
static const char *in_end;
static int	requests_seen;
static bool token_requested;

/* the next reply, or false when they ran out */
static bool
next_reply(const char **start, size_t *len)
{
	const char *sep;

	if (in_p == NULL || in_p >= in_end)
		return false;
	sep = memmem(in_p, in_end - in_p, "\n~~~\n", 5);
	*start = in_p;
	if (sep == NULL)
	{
		*len = in_end - in_p;
		in_p = in_end;
	}
	else
	{
		*len = sep - in_p;
		in_p = sep + 5;
	}
	return true;
}

static void
check_request(const char *url, const char *const *headers, const char *body, size_t body_len)
{
	bool		token_req = strstr(url, "/admin/oauth/access_token") != NULL;
	const char *const *h;
	bool		has_token = false;

	if (token_req)
	{
		/* a form with exactly the three fields, values escaped */
		char	   *b = strndup(body, body_len);
		char	   *save = NULL;
		int			fields = 0;

		for (char *f = strtok_r(b, "&", &save); f; f = strtok_r(NULL, "&", &save))
		{
			if (strchr(f, '=') == NULL || strchr(strchr(f, '=') + 1, '='))
			{
				fprintf(stderr, "token request field not k=v: %s\n", f);
				abort();
			}
			fields++;
		}
		free(b);
		if (fields != 3)
		{
			fprintf(stderr, "token request has %d fields\n", fields);
			abort();
		}
		token_requested = true;
		return;
	}
	else
	{
		json_error_t jerr;
		json_t	   *req = json_loadb(body, body_len, 0, &jerr);

		if (!json_is_object(req) || !json_is_string(json_object_get(req, "query")))
		{
			fprintf(stderr, "GraphQL request body is not {\"query\": ...}: %.*s\n",
					(int) body_len, body);
			abort();
		}
		json_decref(req);
	}
	for (h = headers; h && *h; h++)
		if (strncmp(*h, "X-Shopify-Access-Token: ", 24) == 0 && (*h)[24] != '\0')
			has_token = true;
	if (!has_token)
	{
		fprintf(stderr, "GraphQL request without an access token header\n");
		abort();
	}
}

/* the replacement for libcurl: feed the next reply through http.c's callbacks */
void
kcs_http_post(const char *url, const char *const *headers,
			  const char *body, size_t body_len, KcsHttpResult *res)
{
	const char *why;
	const char *r;
	size_t		rlen;
	const char *p;
	const char *end;
	Transfer	t;
	char	   *endnum;
	long		status;

	memset(res, 0, sizeof(*res));
	memset(&t, 0, sizeof(t));
	t.limit = (size_t) kcs_max_response_kb * 1024;
	requests_seen++;

	if (!kcs_url_allowed(url, &why))
	{
		fprintf(stderr, "the worker built a URL its own policy refuses: %s (%s)\n", url, why);
		abort();
	}
	check_request(url, headers, body, body_len);

	if (!next_reply(&r, &rlen))
	{
		snprintf(res->error, sizeof(res->error), "Failed to connect: no reply");
		return;
	}
	end = r + rlen;
	status = strtol(r, &endnum, 10);
	if (endnum == r || status < 0 || status > 999)
	{
		snprintf(res->error, sizeof(res->error), "Operation timed out");
		return;
	}
	p = memchr(r, '\n', rlen);
	p = p ? p + 1 : end;
	/* headers: lines up to an empty one */
	while (p < end && *p != '\n')
	{
		const char *nl = memchr(p, '\n', end - p);
		size_t		n = (nl ? nl + 1 : end) - p;
		char	   *line = malloc(n);

		/* curl hands header_cb a buffer that is not NUL terminated */
		memcpy(line, p, n);
		(void) header_cb(line, 1, n, &t);
		free(line);
		p += n;
	}
	if (p < end)
		p++;
	/* the body, in pieces as curl delivers it */
	while (p < end)
	{
		size_t		n = Min((size_t) (end - p), (size_t) 1000);
		char	   *piece = malloc(n);

		memcpy(piece, p, n);
		if (write_cb(piece, 1, n, &t) != n)
		{
			free(piece);
			free(t.buf);
			res->too_large = t.too_large;
			snprintf(res->error, sizeof(res->error), "response too large");
			return;
		}
		free(piece);
		p += n;
	}
	res->status = status;
	res->retry_after = t.retry_after;
	res->body = t.buf ? t.buf : strdup("");
	res->body_len = t.len;
}

static const uint8_t *cur_data;
static size_t cur_size;

/* a secret in a text is a leak unless the input itself put it there */
static void
check_no_secret(const char *s, const char *where)
{
	static const char *const secrets[] = {SECRET, STATIC_TOKEN};

	if (s == NULL)
		return;
	for (int i = 0; i < 2; i++)
		if (strstr(s, secrets[i]) && !memmem(cur_data, cur_size, secrets[i], strlen(secrets[i])))
	{
		fprintf(stderr, "a secret reached %s: %s\n", where, s);
		abort();
	}
}

static void
check_reply(KcsReply *reply)
{
	if ((int) reply->outcome < KCS_OK || reply->outcome > KCS_WAIT)
	{
		fprintf(stderr, "no valid outcome: %d\n", reply->outcome);
		abort();
	}
	if (reply->outcome == KCS_OK && (reply->data == NULL || reply->root == NULL))
	{
		fprintf(stderr, "OK without data\n");
		abort();
	}
	if (reply->outcome != KCS_OK && (reply->error == NULL || reply->error[0] == '\0'))
	{
		fprintf(stderr, "a failure without an error text (outcome %d)\n", reply->outcome);
		abort();
	}
	/* worker.c turns retry_after into a timestamp: (int64) (seconds * 1000) */
	if (!isfinite(reply->retry_after) || reply->retry_after < 0 ||
		reply->retry_after > 7 * 86400)
	{
		fprintf(stderr, "retry_after out of range: %g\n", reply->retry_after);
		abort();
	}
	if (reply->data != NULL && reply->root != NULL &&
		reply->data != json_object_get(reply->root, "data"))
	{
		fprintf(stderr, "data is not root.data\n");
		abort();
	}
	check_no_secret(reply->error, "the reply's error");
}

static void
check_url(const char *url)
{
	const char *why = NULL;
	bool		ok = kcs_url_allowed(url, &why);

	if (!ok && why == NULL)
		abort();
	if (ok)
	{
		CURLU	   *u = curl_url();
		char	   *scheme = NULL;
		char	   *host = NULL;

		if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
			curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
			curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		{
			fprintf(stderr, "allowed but not parseable: %s\n", url);
			abort();
		}
		if (pg_strcasecmp(scheme, "https") != 0 &&
			!(pg_strcasecmp(scheme, "http") == 0 &&
			  (pg_strcasecmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0 ||
			   strncmp(host, "127.", 4) == 0)))
		{
			fprintf(stderr, "allowed a non-loopback plain URL: %s (host %s)\n", url, host);
			abort();
		}
		curl_free(scheme);
		curl_free(host);
		curl_url_cleanup(u);
	}
}

static void
check_form_escape(const char *s)
{
	char	   *e = kcs_http_form_escape(s);
	int			outlen;
	char	   *back;

	for (const char *p = e; *p; p++)
		if (!(isalnum((unsigned char) *p) || strchr("-._~%", *p)))
		{
			fprintf(stderr, "form escape left '%c' in %s\n", *p, e);
			abort();
		}
	back = curl_easy_unescape(NULL, e, 0, &outlen);
	if (back == NULL || (size_t) outlen != strlen(s) || memcmp(back, s, outlen) != 0)
	{
		fprintf(stderr, "form escape does not round-trip\n");
		abort();
	}
	curl_free(back);
	pfree(e);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	shim_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static MemoryContext input_cxt = NULL;
	static char *conn_strings[4];
	char	   *in;
	char	   *nl;
	bool		client_creds = false;
	int			qn = 0;
	json_t	   *vars;
	KcsReply	reply;
	MemoryContext old;
	TimestampTz before;

	if (input_cxt == NULL)
		input_cxt = AllocSetContextCreate(TopMemoryContext, "fuzz input", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(input_cxt);
	cur_data = data;
	cur_size = size;

	/* a NUL-terminated copy (the fuzzer's buffer is not terminated) */
	in = palloc(size + 1);
	memcpy(in, data, size);
	in[size] = '\0';
	nl = memchr(in, '\n', size);

	if (in[0] == 'U' || in[0] == 'F')
	{
		/* the rest of the input, up to a NUL */
		if (in[0] == 'U')
			check_url(in + (size > 0));
		else
			check_form_escape(in + (size > 0));
		goto done;
	}

	kcs_dry_run = false;
	for (const char *c = in; *c && c < (nl ? nl : in + size); c++)
	{
		if (*c == 'C')
			client_creds = true;
		else if (*c == 'D')
			kcs_dry_run = true;
		else if (*c >= '0' && *c <= '9')
			qn = *c - '0';
	}
	in_p = nl ? nl + 1 : NULL;
	in_end = in + size;
	requests_seen = 0;
	token_requested = false;

	/*
	 * A fresh connection as kcs_conn_load() leaves it (the shim's SPI has no
	 * settings rows: not connected); it wipes the previous strings.
	 */
	(void) kcs_conn_load();
	for (int i = 0; i < 4; i++)
		free(conn_strings[i]);
	conn_strings[0] = strdup(STATIC_TOKEN);
	conn_strings[1] = strdup("fuzz client&id=1");
	conn_strings[2] = strdup(SECRET);
	conn_strings[3] = strdup("https://fuzz-shop.myshopify.com/");
	kcs_conn.connected = true;
	kcs_conn.shop_domain = "fuzz-shop.myshopify.com";
	kcs_conn.endpoint = conn_strings[3];
	if (client_creds)
	{
		kcs_conn.client_id = conn_strings[1];
		kcs_conn.client_secret = conn_strings[2];
		kcs_conn.token = NULL;
	}
	else
	{
		kcs_conn.access_token = conn_strings[0];
		kcs_conn.token = kcs_conn.access_token;
	}

	vars = json_pack("{s:s,s:{s:s,s:i,s:b}}", "id", "gid://shopify/Location/1",
					 "input", "name", "Åtautahi \"quoted\" \\ '; DROP TABLE x; --",
					 "n", 42, "flag", 1);
	before = GetCurrentTimestamp();
	kcs_graphql_send(queries[qn], vars, &reply);
	json_decref(vars);
	check_reply(&reply);
	if (requests_seen > 2 + 3 + 2)
	{
		/* token + 1 + 3 throttle waits, one renewal after a 401 (+ its token) */
		fprintf(stderr, "%d requests for one send\n", requests_seen);
		abort();
	}
	kcs_reply_free(&reply);

	/* the activity log of the request (SPI is a no-op here) */
	kcs_activity_flush();

	/* a granted token expires after it was granted */
	if (client_creds && kcs_conn.token != NULL && kcs_conn.token_expires_at != 0 &&
		kcs_conn.token_expires_at <= before)
	{
		fprintf(stderr, "a granted token that has expired already\n");
		abort();
	}

	/* a backoff is always positive and within the cap */
	for (int a = -1; a < 40; a += 7)
	{
		double		b = kcs_backoff_seconds(a);

		if (!(b >= 0 && b <= kcs_max_backoff_s))
			abort();
	}

done:
	MemoryContextSwitchTo(old);
	MemoryContextReset(input_cxt);
	shim_advance_clock(USECS_PER_SEC);
	return 0;
}
