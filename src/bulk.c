/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  Bulk first load: many styles -> Shopify as one bulk mutation.
 *
 * Called by the worker (kcs_bulk_products(), a weak hook) after locations
 * and before the per-call product batches of a round, with no transaction
 * open.  When more product rows are due than bulk_threshold() (a first
 * sync, or resync_products() over a big catalogue):
 *
 *   1. claim every due product row (queue_claim, one long lease), fence
 *      capture, read the styles (ci_read.c) and record the run (bulk_run);
 *   2. one JSONL line per style: the variables of the productSet the
 *      per-call path sends (kcs_product_set_add, the same builder), the
 *      mutation text made one for all lines (variants page fixed at
 *      KCS_MAX_VARIANTS);
 *   3. stagedUploadsCreate (BULK_MUTATION_VARIABLES, text/jsonl, POST),
 *      multipart upload of the file with every returned parameter, then
 *      bulkOperationRunMutation(mutation, stagedUploadPath = parameter key);
 *   4. poll bulkOperation(id), sleeping on the latch (no transaction open,
 *      nothing held), publishing progress in bulk_run;
 *   5. download the result file; for each line, record product, variant
 *      and inventory item links exactly as the per-call path does
 *      (kcs_product_record_bulk in sync_product.c) and ack its row; lines
 *      with userErrors, errors or no result go back to pending and are sent
 *      by ordinary calls in the same round.
 *
 * Left to ordinary calls from the start: styles deleted in CI (set to
 * DRAFT through their link), styles with too many SKUs, and -- unless the
 * shop has no products at all -- styles never linked, whose first send
 * looks for a product to adopt.
 *
 * Crash safety: a new worker life returns all in-flight rows to pending
 * (queue_recover).  If bulk_run shows a run that was not finished and has
 * a bulk operation, its results are read (polling it to the end first) and
 * the links recorded, without acking anything: the rows stay pending and
 * are sent again -- productSet of a new style by customId is an upsert, a
 * linked one goes by id, and the variant ids are now known, so nothing is
 * duplicated.
 *
 * Linked styles: the line is their productSet by id without a metafield
 * list (the list would delete the merchant's metafields); their metafield
 * calls follow by ordinary calls once the results are recorded
 * (kcs_product_metafields_after_bulk, docs/bulk.md).  A run that died before its
 * operation started is marked abandoned.
 *
 * HTTP: the staged upload and the result download are not GraphQL, so
 * they use their own libcurl handle here, under the same rules as http.c
 * (kcs_url_allowed: https, or http to loopback; no redirects; timeouts;
 * abandoned on a signal).  No Shopify token is ever sent to those URLs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/latch.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "entities.h"
#include "graphql.h"
#include "kcloud_shopify.h"
#include "sync.h"
#include "transport.h"

/* result files can be large: up to this many MB */
#define KCS_BULK_MAX_RESULT_MB	512
/* upload / download: at most this long */
#define KCS_BULK_TRANSFER_S		600
/* polling the operation: from 250 ms, doubling, to at most 5 s */
#define KCS_BULK_POLL_MIN_MS	250
#define KCS_BULK_POLL_MAX_MS	5000
/* record results in transactions of this many lines */
#define KCS_BULK_RECORD_CHUNK	200
/* after a run that failed as a whole, no new run for this long */
#define KCS_BULK_RETRY_MS		(10 * 60 * 1000)

void		kcs_bulk_products(void);
extern bool kcs_product_record_bulk(KcsItem *item, KcsStyle *st, json_t *payload);
extern void kcs_product_metafields_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n);
extern void kcs_product_publish_after_bulk(KcsItem *items, KcsStyle **styles, bool *ok, int n);

static TimestampTz last_failed_run = 0;
/* the run in progress, for clean-up after an error */
static int64 cur_run = 0;
static int64 cur_token = 0;

/* ------------------------------------------------------------- SQL bits */

static void
spi_ok(int rc, int expected, const char *what)
{
	if (rc != expected)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify bulk: %s failed: %s", what, SPI_result_code_string(rc))));
}

/* UPDATE bulk_run SET <set> WHERE run_id = $1, args $2.. as text */
static void
run_update(int64 run_id, const char *set, int nargs, const char **args)
{
	Oid			types[8];
	Datum		vals[8];
	char		nulls[8];
	int			i;

	Assert(nargs < 8);
	types[0] = INT8OID;
	vals[0] = Int64GetDatum(run_id);
	nulls[0] = ' ';
	for (i = 0; i < nargs; i++)
	{
		types[i + 1] = TEXTOID;
		vals[i + 1] = args[i] ? CStringGetTextDatum(args[i]) : (Datum) 0;
		nulls[i + 1] = args[i] ? ' ' : 'n';
	}
	spi_ok(SPI_execute_with_args(psprintf("UPDATE kcloud_shopify.bulk_run SET %s WHERE run_id = $1", set),
								 nargs + 1, types, vals, nulls, false, 0),
		   SPI_OK_UPDATE, "bulk_run update");
}

static void
run_update_xact(int64 run_id, const char *set, int nargs, const char **args)
{
	kcs_xact_begin();
	run_update(run_id, set, nargs, args);
	kcs_activity_flush();
	kcs_xact_commit();
}

/* put claimed rows back to pending now, without counting a failure */
static void
release(int64 token, char **keys, int n)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		vals[5];
	int			i;

	for (i = 0; i < n; i++)
	{
		vals[0] = Int64GetDatum(token);
		vals[1] = CStringGetTextDatum("product");
		vals[2] = CStringGetTextDatum(keys[i]);
		vals[3] = CStringGetTextDatum("");
		vals[4] = TimestampTzGetDatum(GetCurrentTimestamp());
		spi_ok(SPI_execute_with_args("SELECT kcloud_shopify.queue_defer($1, $2, $3, $4, $5)",
									 5, types, vals, NULL, false, 0),
			   SPI_OK_SELECT, "queue_defer");
	}
}

static void
ack(int64 token, char **keys, int n)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTARRAYOID};
	Datum		vals[3];

	if (n == 0)
		return;
	vals[0] = Int64GetDatum(token);
	vals[1] = CStringGetTextDatum("product");
	vals[2] = kcs_text_array(keys, n);
	spi_ok(SPI_execute_with_args("SELECT kcloud_shopify.queue_ack($1, $2, $3)",
								 3, types, vals, NULL, false, 0),
		   SPI_OK_SELECT, "queue_ack");
}

/* ----------------------------------------------------------------- HTTP */

typedef struct Buf
{
	FILE	   *file;			/* when set, the body goes here instead */
	char	   *data;			/* malloc'd */
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		too_large;
	bool		oom;
} Buf;

static size_t
buf_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Buf		   *b = (Buf *) userdata;
	size_t		n = size * nmemb;

	if (b->len + n > b->limit)
	{
		b->too_large = true;
		return 0;
	}
	if (b->file)
	{
		if (fwrite(ptr, 1, n, b->file) != n)
		{
			b->oom = true;
			return 0;
		}
		b->len += n;
		return n;
	}
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = Max(Max(b->cap * 2, b->len + n + 1), 65536);
		char	   *nd = realloc(b->data, cap);

		if (nd == NULL)
		{
			b->oom = true;
			return 0;
		}
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int
bulk_xferinfo(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			  curl_off_t ultotal, curl_off_t ulnow)
{
	return (ProcDiePending || ShutdownRequestPending || QueryCancelPending) ? 1 : 0;
}

/*
 * One transfer: a multipart POST (mime != NULL) or a GET.  Returns the body
 * (palloc'd) and the HTTP status, or NULL with *error set; with sink set the
 * body is written there instead and "" is returned.  Never sends
 * credentials.
 */
static char *
transfer(const char *url, curl_mime *mime, CURL *easy, long *status, size_t *len, char **error,
		 FILE *sink)
{
	Buf			b;
	CURLcode	cc;
	char		errbuf[CURL_ERROR_SIZE];
	const char *why;
	char	   *out;

	*status = 0;
	*error = NULL;
	if (!kcs_url_allowed(url, &why))
	{
		*error = psprintf("refusing URL: %s", why);
		return NULL;
	}
	memset(&b, 0, sizeof(b));
	b.file = sink;
	b.limit = (size_t) KCS_BULK_MAX_RESULT_MB * 1024 * 1024;
	errbuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) kcs_connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT, (long) KCS_BULK_TRANSFER_S);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, bulk_xferinfo);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "kcloud_shopify/0.1.0");
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	if (mime)
		curl_easy_setopt(easy, CURLOPT_MIMEPOST, mime);
	else
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);

	cc = curl_easy_perform(easy);
	if (cc != CURLE_OK)
	{
		if (b.too_large)
			*error = psprintf("bulk transfer larger than %d MB", KCS_BULK_MAX_RESULT_MB);
		else if (b.oom && sink)
			*error = pstrdup("could not write the bulk result to a temporary file");
		else if (cc == CURLE_ABORTED_BY_CALLBACK)
			*error = pstrdup("bulk transfer interrupted by a signal");
		else
			*error = psprintf("%s%s%s", curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
		free(b.data);
		return NULL;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, status);
	*len = b.len;
	if (sink)
		return pstrdup("");
	out = palloc(b.len + 1);
	if (b.len)
		memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	*len = b.len;
	free(b.data);
	return out;
}

/* multipart POST of the JSONL file: every parameter in order, file last */
static bool
upload(const char *url, json_t *params, const char *file, size_t file_len, char **error)
{
	CURL	   *easy = curl_easy_init();
	curl_mime  *mime;
	curl_mimepart *part;
	size_t		i;
	json_t	   *p;
	long		status;
	size_t		len;
	char	   *body;

	if (easy == NULL)
	{
		*error = pstrdup("could not create a libcurl handle");
		return false;
	}
	mime = curl_mime_init(easy);
	json_array_foreach(params, i, p)
	{
		const char *name = kcs_json_str(p, "name");
		const char *value = kcs_json_str(p, "value");

		if (name == NULL || value == NULL)
			continue;
		part = curl_mime_addpart(mime);
		curl_mime_name(part, name);
		curl_mime_data(part, value, CURL_ZERO_TERMINATED);
	}
	part = curl_mime_addpart(mime);
	curl_mime_name(part, "file");
	curl_mime_filename(part, "kcloud_shopify_products.jsonl");
	curl_mime_type(part, "text/jsonl");
	curl_mime_data(part, file, file_len);

	body = transfer(url, mime, easy, &status, &len, error, NULL);
	curl_mime_free(mime);
	curl_easy_cleanup(easy);
	if (body == NULL)
		return false;
	if (status < 200 || status > 299)
	{
		*error = psprintf("staged upload failed: HTTP %ld: %.200s", status, body);
		return false;
	}
	return true;
}

/* GET the result file: into memory, or into sink when that is set */
static char *
download(const char *url, size_t *len, char **error, FILE *sink)
{
	CURL	   *easy = curl_easy_init();
	long		status;
	char	   *body;

	if (easy == NULL)
	{
		*error = pstrdup("could not create a libcurl handle");
		return NULL;
	}
	body = transfer(url, NULL, easy, &status, len, error, sink);
	curl_easy_cleanup(easy);
	if (body != NULL && status != 200)
	{
		*error = psprintf("bulk result download failed: HTTP %ld", status);
		return NULL;
	}
	return body;
}

/* -------------------------------------------------------------- GraphQL */

/* send; on success returns data[root] (borrowed from reply), else NULL + *error */
static json_t *
gql(const char *query, json_t *vars, const char *root, KcsReply *reply, char **error)
{
	json_t	   *payload;
	KcsUserError *errs;
	int			nerr;

	memset(reply, 0, sizeof(*reply));
	kcs_graphql_send(query, vars, reply);
	if (reply->outcome != KCS_OK)
	{
		*error = psprintf("%s: %s", root, reply->error ? reply->error : "no data");
		return NULL;
	}
	payload = json_object_get(reply->data, root);
	if (!json_is_object(payload))
	{
		*error = psprintf("%s returned nothing", root);
		return NULL;
	}
	nerr = kcs_user_errors(payload, "userErrors", &errs);
	if (nerr > 0)
	{
		*error = psprintf("%s: %s", root, kcs_user_errors_text(errs, nerr));
		return NULL;
	}
	return payload;
}

/* does the shop have any product at all? (-1: could not tell) */
static int
shop_has_products(void)
{
	KcsReply	reply;
	char	   *error = NULL;
	json_t	   *nodes;
	int			r = -1;

	memset(&reply, 0, sizeof(reply));
	kcs_graphql_send("query KcsBulkShopEmpty { products(first: 1) { nodes { id } } }", NULL, &reply);
	if (reply.outcome == KCS_OK)
	{
		nodes = kcs_json_path(reply.data, "products", "nodes", NULL);
		if (json_is_array(nodes))
			r = json_array_size(nodes) > 0 ? 1 : 0;
	}
	(void) error;
	kcs_reply_free(&reply);
	return r;
}

/*
 * Poll the operation until it is no longer CREATED/RUNNING; returns its
 * final node (a new reference) or NULL with *error.  run_id 0: no bulk_run
 * row to update (a backend's bulk query, kcs_bulk_poll); deadline 0: none.
 */
static json_t *
poll_operation(int64 run_id, const char *gid, TimestampTz deadline, char **error)
{
	long		ms = KCS_BULK_POLL_MIN_MS;
	int			failures = 0;

	for (;;)
	{
		KcsReply	reply;
		json_t	   *vars = json_pack("{s:s}", "id", gid);
		json_t	   *op;
		const char *status;

		memset(&reply, 0, sizeof(reply));
		kcs_graphql_send("query KcsBulkPoll($id: ID!) { bulkOperation(id: $id) {"
						 " id status errorCode objectCount rootObjectCount url partialDataUrl } }",
						 vars, &reply);
		json_decref(vars);
		op = (reply.outcome == KCS_OK) ? json_object_get(reply.data, "bulkOperation") : NULL;
		if (!json_is_object(op))
		{
			if (reply.outcome == KCS_OK)
			{
				*error = psprintf("bulk operation %s not found", gid);
				kcs_reply_free(&reply);
				return NULL;
			}
			if (++failures > 20)
			{
				*error = psprintf("polling bulk operation %s failed: %s", gid,
								  reply.error ? reply.error : "no reply");
				kcs_reply_free(&reply);
				return NULL;
			}
		}
		else
		{
			const char *args[2];
			json_t	   *cnt = json_object_get(op, "objectCount");
			char		nbuf[32];

			failures = 0;
			status = kcs_json_str(op, "status");
			snprintf(nbuf, sizeof(nbuf), "%lld",
					 json_is_string(cnt) ? atoll(json_string_value(cnt)) :
					 json_is_integer(cnt) ? (long long) json_integer_value(cnt) : 0LL);
			args[0] = status;
			args[1] = nbuf;
			if (run_id != 0)
				run_update_xact(run_id, "op_status = $2, done = LEAST($3::int, total), polled_at = pg_catalog.clock_timestamp()",
								2, args);
			if (status && strcmp(status, "CREATED") != 0 && strcmp(status, "RUNNING") != 0 &&
				strcmp(status, "CANCELING") != 0)
			{
				json_t	   *res = json_deep_copy(op);

				kcs_reply_free(&reply);
				return res;
			}
		}
		kcs_reply_free(&reply);
		if (deadline != 0 && GetCurrentTimestamp() >= deadline)
		{
			*error = psprintf("bulk operation %s did not finish in time", gid);
			return NULL;
		}

		/* wait on the latch: a wake-up only makes us poll sooner */
		if (run_id != 0)
			pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (run_id != 0)
			pgstat_report_activity(STATE_RUNNING, "waiting for a bulk product load");
		ms = Min(ms * 2, KCS_BULK_POLL_MAX_MS);
	}
}

/* ------------------------------------------------------------ the run */

/* the mutation text of a one-style document, with a fixed variants page */
static char *
line_mutation(KcsDoc *doc)
{
	char	   *q = kcs_doc_finish(doc, "mutation", "KcsProductSet");
	char	   *p = strstr(q, "variants(first: ");
	StringInfoData s;
	char	   *end;

	if (p == NULL)
		return q;
	end = strchr(p, ')');
	if (end == NULL)
		return q;
	initStringInfo(&s);
	appendBinaryStringInfo(&s, q, p - q);
	appendStringInfo(&s, "variants(first: %d", KCS_MAX_VARIANTS);
	appendStringInfoString(&s, end);
	return s.data;
}

/*
 * Read the result file: record the lines that went through, return the
 * keys of the others.  items[i] / styles[i] belong to line i.  ok[i] is
 * set for lines recorded.
 */
static int
read_results(const char *body, size_t len, KcsItem *items, KcsStyle **styles, int n,
			 bool *ok, int64 run_id)
{
	const char *p = body;
	const char *endp = body + len;
	json_t	  **payloads = palloc0(sizeof(json_t *) * Max(n, 1));
	int			recorded = 0;
	int			i;

	while (p < endp)
	{
		const char *nl = memchr(p, '\n', endp - p);
		size_t		l = nl ? (size_t) (nl - p) : (size_t) (endp - p);
		json_error_t jerr;
		json_t	   *line = json_loadb(p, l, 0, &jerr);

		p += l + 1;
		if (line == NULL)
			continue;
		{
			json_t	   *ln = json_object_get(line, "__lineNumber");
			json_t	   *data = json_object_get(line, "data");
			json_t	   *payload = NULL;

			if (json_is_integer(ln) && json_is_object(data))
			{
				int			k = (int) json_integer_value(ln);

				/* the one root field, under whatever alias */
				if (json_object_size(data) == 1)
				{
					const char *key;
					json_t	   *v;

					json_object_foreach(data, key, v)
						payload = v;
				}
				if (k >= 0 && k < n && json_is_object(payload) && payloads[k] == NULL)
					payloads[k] = json_incref(payload);
			}
			json_decref(line);
		}
	}

	for (i = 0; i < n; i += KCS_BULK_RECORD_CHUNK)
	{
		int			j;
		char		nbuf[32];
		const char *args[1];

		kcs_xact_begin();
		for (j = i; j < n && j < i + KCS_BULK_RECORD_CHUNK; j++)
		{
			if (payloads[j] == NULL)
			{
				items[j].outcome = KCS_TRANSIENT;
				items[j].error = pstrdup("no result in the bulk operation's file");
				continue;
			}
			ok[j] = kcs_product_record_bulk(&items[j], styles[j], payloads[j]);
			if (ok[j])
				recorded++;
		}
		snprintf(nbuf, sizeof(nbuf), "%d", recorded);
		args[0] = nbuf;
		run_update(run_id, "linked = $2::int", 1, args);
		kcs_xact_commit();
	}
	for (i = 0; i < n; i++)
		if (payloads[i])
			json_decref(payloads[i]);
	return recorded;
}

/* finish a run: outcome in bulk_run, acks and releases */
static void
finish_run(int64 run_id, int64 token, bool ack_rows, KcsItem *items, bool *ok, int n,
		   const char *state, const char *error)
{
	char	  **acked = palloc(sizeof(char *) * Max(n, 1));
	char	  **back = palloc(sizeof(char *) * Max(n, 1));
	int			na = 0,
				nb = 0,
				i;
	char		nbuf[32];
	const char *args[3];

	for (i = 0; i < n; i++)
	{
		if (ok[i])
			acked[na++] = items[i].key1;
		else
			back[nb++] = items[i].key1;
	}
	kcs_xact_begin();
	if (ack_rows)
	{
		ack(token, acked, na);
		release(token, back, nb);
	}
	snprintf(nbuf, sizeof(nbuf), "%d", nb);
	args[0] = state;
	args[1] = error;
	args[2] = nbuf;
	run_update(run_id, "state = $2, error = $3, fell_back = $4::int, finished_at = pg_catalog.clock_timestamp()",
			   3, args);
	if (ack_rows && nb > 0)
		SPI_execute("SELECT kcloud_shopify.wake()", false, 0);
	kcs_activity_flush();
	kcs_xact_commit();
	ereport(LOG,
			(errmsg("kcloud_shopify: bulk product load %lld %s: %d styles linked, %d left to ordinary calls",
					(long long) run_id, state, na, nb),
			 error ? errdetail("%s", error) : 0));
	if (strcmp(state, "failed") == 0)
		last_failed_run = GetCurrentTimestamp();
}

/*
 * Wait for the operation and read its results.  Returns the final state
 * word ("done" / "failed") and sets *error.
 */
static const char *
complete_run(int64 run_id, const char *gid, KcsItem *items, KcsStyle **styles, int n,
			 bool *ok, char **error)
{
	json_t	   *op = poll_operation(run_id, gid, 0, error);
	const char *status;
	const char *url;
	char	   *body;
	size_t		len = 0;
	const char *args[1];

	if (op == NULL)
		return "failed";
	status = kcs_json_str(op, "status");
	url = kcs_json_str(op, "url");
	if (url == NULL)
		url = kcs_json_str(op, "partialDataUrl");
	if (status == NULL || strcmp(status, "COMPLETED") != 0)
		*error = psprintf("bulk operation %s ended %s%s%s", gid, status ? status : "?",
						  kcs_json_str(op, "errorCode") ? ": " : "",
						  kcs_json_str(op, "errorCode") ? kcs_json_str(op, "errorCode") : "");
	if (url == NULL)
	{
		json_decref(op);
		if (*error == NULL)
			*error = psprintf("bulk operation %s has no result file", gid);
		return "failed";
	}
	args[0] = "reading";
	run_update_xact(run_id, "state = $2", 1, args);
	pgstat_report_activity(STATE_RUNNING, "reading a bulk product load's results");
	body = download(url, &len, error, NULL);
	json_decref(op);
	if (body == NULL)
		return "failed";
	read_results(body, len, items, styles, n, ok, run_id);
	pfree(body);
	return *error ? "failed" : "done";
}

/* A previous life died during a run: read what it left, then forget it. */
static void
resume_runs(MemoryContext cxt)
{
	int64		run_id;
	char	   *gid = NULL;
	char	  **codes = NULL;
	int			n = 0;
	int			i;
	bool		isnull;
	Datum		d;

	kcs_xact_begin();
	spi_ok(SPI_execute("SELECT run_id, operation_gid, styles FROM kcloud_shopify.bulk_run"
					   " WHERE state IN ('preparing', 'running', 'reading') ORDER BY run_id LIMIT 1",
					   true, 1), SPI_OK_SELECT, "bulk_run lookup");
	if (SPI_processed == 0)
	{
		kcs_xact_commit();
		return;
	}
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	gid = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (gid)
		gid = MemoryContextStrdup(cxt, gid);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
	if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		MemoryContext old = MemoryContextSwitchTo(cxt);

		deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &n);
		codes = palloc(sizeof(char *) * Max(n, 1));
		for (i = 0; i < n; i++)
			codes[i] = TextDatumGetCString(elems[i]);
		MemoryContextSwitchTo(old);
	}
	if (gid == NULL || n == 0)
	{
		run_update(run_id, "state = 'abandoned', finished_at = pg_catalog.clock_timestamp(),"
				   " error = 'the worker stopped before the bulk operation started'", 0, NULL);
		kcs_xact_commit();
		ereport(LOG, (errmsg("kcloud_shopify: bulk product load %lld abandoned (no bulk operation was started)",
							 (long long) run_id)));
		return;
	}
	{
		KcsStyle  **styles;
		KcsItem    *items;
		bool	   *ok;
		char	   *error = NULL;
		const char *state;

		MemoryContextSwitchTo(cxt);
		styles = kcs_read_styles(codes, n, cxt);
		kcs_xact_commit();
		MemoryContextSwitchTo(cxt);
		ereport(LOG, (errmsg("kcloud_shopify: resuming bulk product load %lld (%s, %d styles)",
							 (long long) run_id, gid, n)));
		run_update_xact(run_id, "resumed = true, state = 'running'", 0, NULL);
		MemoryContextSwitchTo(cxt);
		items = palloc0(sizeof(KcsItem) * n);
		ok = palloc0(sizeof(bool) * n);
		for (i = 0; i < n; i++)
		{
			items[i].kind = "product";
			items[i].key1 = codes[i];
			items[i].key2 = "";
		}
		state = complete_run(run_id, gid, items, styles, n, ok, &error);
		MemoryContextSwitchTo(cxt);
		/* their links are recorded: publish them now (a failure is retried per call) */
		kcs_product_publish_after_bulk(items, styles, ok, n);
		MemoryContextSwitchTo(cxt);
		/* the rows went back to pending when this life started: no acks */
		finish_run(run_id, 0, false, items, ok, n, state, error);
	}
}

static void
bulk_run(MemoryContext cxt)
{
	int			due;
	bool		isnull;
	int			n,
				i;
	int64		token = 0;
	int64		run_id;
	KcsItem    *items;
	KcsStyle  **styles;
	char	  **codes;
	int			empty_shop = -2;
	/* lines */
	int			nl = 0;
	int		   *line_of;		/* line -> item index */
	char	  **bulk_codes;
	KcsItem    *litems;
	KcsStyle  **lstyles;
	bool	   *ok;
	char	  **skip_keys;
	int			nskip = 0;
	char	  **back_keys;
	int			nback = 0;
	char	   *mutation = NULL;
	StringInfoData file;
	char	   *error = NULL;
	const char *state;

	kcs_xact_begin();
	spi_ok(SPI_execute("SELECT kcloud_shopify.bulk_due()", true, 1), SPI_OK_SELECT, "bulk_due");
	due = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull || due <= 0)
	{
		kcs_xact_commit();
		return;
	}

	/* 1. claim them all, under a lease as long as Shopify lets a run take */
	spi_ok(SPI_execute_with_args("SELECT key1, lease_token FROM kcloud_shopify.queue_claim('product', $1, '1 day')",
								 1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(due + 100)},
								 NULL, false, 0),
		   SPI_OK_SELECT, "queue_claim");
	n = (int) SPI_processed;
	MemoryContextSwitchTo(cxt);
	codes = palloc(sizeof(char *) * Max(n, 1));
	items = palloc0(sizeof(KcsItem) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		codes[i] = pstrdup(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		token = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		items[i].kind = "product";
		items[i].key1 = codes[i];
		items[i].key2 = "";
		items[i].lease_token = token;
	}
	spi_ok(SPI_execute_with_args("INSERT INTO kcloud_shopify.bulk_run (lease_token) VALUES ($1) RETURNING run_id",
								 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(token)}, NULL, false, 1),
		   SPI_OK_INSERT_RETURNING, "bulk_run insert");
	run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	kcs_xact_commit();
	cur_run = run_id;
	cur_token = token;
	if (n == 0)
	{
		run_update_xact(run_id, "state = 'done', finished_at = pg_catalog.clock_timestamp()", 0, NULL);
		return;
	}
	ereport(LOG, (errmsg("kcloud_shopify: bulk product load %lld: %d styles claimed", (long long) run_id, n)));
	pgstat_report_activity(STATE_RUNNING, psprintf("preparing a bulk load of %d styles", n));

	/* the capture fence, then read CI */
	kcs_xact_begin();
	kcs_capture_wait();
	kcs_xact_commit();
	kcs_xact_begin();
	styles = kcs_read_styles(codes, n, cxt);
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);

	/* 2. the JSONL file */
	line_of = palloc(sizeof(int) * n);
	skip_keys = palloc(sizeof(char *) * n);
	back_keys = palloc(sizeof(char *) * n);
	initStringInfo(&file);
	for (i = 0; i < n; i++)
	{
		KcsStyle   *st = styles[i];
		KcsDoc		doc;
		char	   *q;
		char	   *line;

		if (kcs_product_skip_reason(st))
		{
			skip_keys[nskip++] = codes[i];
			continue;
		}
		if (!st->exists || list_length(st->skus) > KCS_MAX_VARIANTS)
		{
			back_keys[nback++] = codes[i];
			continue;
		}
		if (st->product_gid == NULL)
		{
			/* never linked: only when there is nothing in the shop to adopt */
			if (empty_shop == -2)
				empty_shop = shop_has_products() == 0 ? 1 : 0;
			if (!empty_shop)
			{
				back_keys[nback++] = codes[i];
				continue;
			}
		}
		/*
		 * A bulk line holds one mutation: the productSet alone.  A new
		 * product carries its metafield list (it has no merchant
		 * metafields); a linked one goes by id without it (the list would
		 * delete the merchant's metafields) and its metafieldsSet /
		 * metafieldsDelete follow by ordinary calls once the run is read
		 * (kcs_product_metafields_after_bulk, docs/bulk.md).
		 */
		kcs_doc_init(&doc);
		kcs_product_set_line_add(&doc, st);
		q = line_mutation(&doc);
		if (mutation == NULL)
			mutation = q;
		else if (strcmp(q, mutation) != 0)
		{
			/* not the same document as the other lines: send it by itself */
			kcs_doc_free(&doc);
			back_keys[nback++] = codes[i];
			continue;
		}
		line = kcs_json_to_cstring(doc.variables);
		kcs_doc_free(&doc);
		/* the builder names the variables identifier0 / input0: keep them */
		appendStringInfoString(&file, line);
		appendStringInfoChar(&file, '\n');
		pfree(line);
		line_of[nl++] = i;
	}

	bulk_codes = palloc(sizeof(char *) * Max(nl, 1));
	litems = palloc0(sizeof(KcsItem) * Max(nl, 1));
	lstyles = palloc(sizeof(KcsStyle *) * Max(nl, 1));
	ok = palloc0(sizeof(bool) * Max(nl, 1));
	for (i = 0; i < nl; i++)
	{
		bulk_codes[i] = codes[line_of[i]];
		litems[i] = items[line_of[i]];
		lstyles[i] = styles[line_of[i]];
	}

	/* acks of skipped styles, releases of the ones left to ordinary calls */
	kcs_xact_begin();
	ack(token, skip_keys, nskip);
	release(token, back_keys, nback);
	{
		Oid			types[3] = {INT8OID, TEXTARRAYOID, INT4OID};
		Datum		vals[3];

		vals[0] = Int64GetDatum(run_id);
		vals[1] = kcs_text_array(bulk_codes, nl);
		vals[2] = Int32GetDatum(nl);
		spi_ok(SPI_execute_with_args("UPDATE kcloud_shopify.bulk_run SET styles = $2, total = $3,"
									 " fell_back = 0 WHERE run_id = $1",
									 3, types, vals, NULL, false, 0),
			   SPI_OK_UPDATE, "bulk_run styles");
	}
	kcs_xact_commit();
	MemoryContextSwitchTo(cxt);

	if (nl == 0)
	{
		finish_run(run_id, token, true, litems, ok, 0, "done", NULL);
		return;
	}

	/* 3. stage, upload, run */
	{
		KcsReply	reply;
		json_t	   *vars;
		json_t	   *payload;
		json_t	   *target;
		json_t	   *params;
		const char *url;
		const char *path = NULL;
		size_t		k;
		json_t	   *p;
		char		sizebuf[32];
		char	   *client;

		snprintf(sizebuf, sizeof(sizebuf), "%d", file.len);
		vars = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s}]}", "input",
						 "resource", "BULK_MUTATION_VARIABLES",
						 "filename", "kcloud_shopify_products.jsonl",
						 "mimeType", "text/jsonl",
						 "httpMethod", "POST",
						 "fileSize", sizebuf);
		pgstat_report_activity(STATE_RUNNING, psprintf("uploading a bulk load of %d styles", nl));
		payload = gql("mutation KcsBulkStage($input: [StagedUploadInput!]!) {"
					  " stagedUploadsCreate(input: $input) {"
					  " stagedTargets { url resourceUrl parameters { name value } }"
					  " userErrors { field message } } }",
					  vars, "stagedUploadsCreate", &reply, &error);
		json_decref(vars);
		MemoryContextSwitchTo(cxt);
		target = payload ? json_array_get(json_object_get(payload, "stagedTargets"), 0) : NULL;
		url = target ? kcs_json_str(target, "url") : NULL;
		params = target ? json_object_get(target, "parameters") : NULL;
		if (payload && (url == NULL || !json_is_array(params)))
			error = pstrdup("stagedUploadsCreate returned no target");
		if (error == NULL)
		{
			json_array_foreach(params, k, p)
			{
				if (kcs_json_str(p, "name") && strcmp(kcs_json_str(p, "name"), "key") == 0)
					path = kcs_json_str(p, "value");
			}
			if (path == NULL)
				error = pstrdup("stagedUploadsCreate returned no key parameter");
		}
		if (error == NULL && !upload(url, params, file.data, file.len, &error))
			Assert(error != NULL);
		path = path ? pstrdup(path) : NULL;
		kcs_reply_free(&reply);
		MemoryContextSwitchTo(cxt);
		if (error != NULL)
		{
			finish_run(run_id, token, true, litems, ok, nl, "failed", error);
			return;
		}

		client = psprintf("kcloud_shopify-bulk-%lld", (long long) run_id);
		vars = json_pack("{s:s, s:s, s:s}", "mutation", mutation, "path", path, "client", client);
		payload = gql("mutation KcsBulkRun($mutation: String!, $path: String!, $client: String) {"
					  " bulkOperationRunMutation(mutation: $mutation, stagedUploadPath: $path,"
					  " clientIdentifier: $client) {"
					  " bulkOperation { id status } userErrors { field message code } } }",
					  vars, "bulkOperationRunMutation", &reply, &error);
		json_decref(vars);
		MemoryContextSwitchTo(cxt);
		if (payload)
		{
			const char *gid = kcs_json_str(json_object_get(payload, "bulkOperation"), "id");

			if (gid == NULL)
				error = pstrdup("bulkOperationRunMutation returned no operation");
			else
			{
				const char *args[2];

				args[0] = gid;
				args[1] = kcs_json_str(json_object_get(payload, "bulkOperation"), "status");
				run_update_xact(run_id, "operation_gid = $2, op_status = $3, state = 'running',"
								" running_at = pg_catalog.clock_timestamp()", 2, args);
				MemoryContextSwitchTo(cxt);
				path = pstrdup(gid);	/* reuse: the operation id */
			}
		}
		kcs_reply_free(&reply);
		MemoryContextSwitchTo(cxt);
		if (error != NULL)
		{
			finish_run(run_id, token, true, litems, ok, nl, "failed", error);
			return;
		}
		ereport(LOG, (errmsg("kcloud_shopify: bulk product load %lld: %d styles sent as %s",
							 (long long) run_id, nl, path)));

		/* 4 and 5 */
		pgstat_report_activity(STATE_RUNNING, "waiting for a bulk product load");
		state = complete_run(run_id, path, litems, lstyles, nl, ok, &error);
		/* linked styles: their metafields, by ordinary calls */
		pgstat_report_activity(STATE_RUNNING, "sending the metafields of a bulk load's linked styles");
		kcs_product_metafields_after_bulk(litems, lstyles, ok, nl);
		MemoryContextSwitchTo(cxt);
		/* internet-active products: on the Online Store, by ordinary calls */
		pgstat_report_activity(STATE_RUNNING, "publishing a bulk load's products");
		kcs_product_publish_after_bulk(litems, lstyles, ok, nl);
		MemoryContextSwitchTo(cxt);
		finish_run(run_id, token, true, litems, ok, nl, state, error);
	}
}

/*
 * The worker's hook, before the per-call product batches.  Errors are the
 * worker's to catch (run_hook); claimed rows are then returned by the
 * lease, or at once by the next life's recovery.
 */
void
kcs_bulk_products(void)
{
	MemoryContext cxt;
	MemoryContext old = CurrentMemoryContext;

	if (kcs_dry_run)
		return;					/* a dry run records per-call requests */
	/* customId upserts need the shop's metafield definitions, as per call */
	kcs_ensure_definitions();
	cxt = AllocSetContextCreate(TopMemoryContext, "kcloud_shopify bulk", ALLOCSET_DEFAULT_SIZES);
	cur_run = cur_token = 0;
	PG_TRY();
	{
		MemoryContextSwitchTo(cxt);
		resume_runs(cxt);
		MemoryContextSwitchTo(cxt);
		if (last_failed_run == 0 ||
			TimestampDifferenceExceeds(last_failed_run, GetCurrentTimestamp(), KCS_BULK_RETRY_MS))
			bulk_run(cxt);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(old);
		edata = CopyErrorData();
		FlushErrorState();
		if (IsTransactionState() || IsAbortedTransactionBlockState())
			AbortCurrentTransaction();
		MemoryContextSwitchTo(old);
		ereport(LOG,
				(errmsg("kcloud_shopify: bulk product load failed: %s", edata->message)));
		if (cur_run != 0)
		{
			/* give the rows back to ordinary calls now, not after the lease */
			const char *args[1];

			last_failed_run = GetCurrentTimestamp();
			args[0] = edata->message;
			kcs_xact_begin();
			run_update(cur_run, "state = 'failed', error = $2, finished_at = pg_catalog.clock_timestamp()",
					   1, args);
			spi_ok(SPI_execute_with_args("SELECT kcloud_shopify.queue_defer(q.lease_token, q.kind, q.key1, q.key2,"
										 " pg_catalog.now()) FROM kcloud_shopify.queue q"
										 " WHERE q.state = 'in_flight' AND q.kind = 'product' AND q.lease_token = $1",
										 1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(cur_token)},
										 NULL, false, 0),
				   SPI_OK_SELECT, "bulk release");
			kcs_xact_commit();
		}
		FreeErrorData(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	cur_run = cur_token = 0;
}

/* ------------------------------------------------ for bulk queries (reconcile.c) */

/*
 * Poll a bulk operation from a backend until it ends or timeout_ms passes
 * (0: no limit); returns its final node (a new reference) or NULL with
 * *error.  Interrupts (statement_timeout, cancel) are served while waiting.
 */
json_t *
kcs_bulk_poll(const char *gid, long timeout_ms, char **error)
{
	TimestampTz deadline = timeout_ms > 0
		? TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms) : 0;

	*error = NULL;
	return poll_operation(0, gid, deadline, error);
}

/*
 * Read a bulk result file line by line: downloaded into a temporary file
 * (never whole in memory), then each non-empty line handed to fn, which may
 * ereport.  Returns false with *error when the download fails.
 */
bool
kcs_bulk_read_lines(const char *url, void (*fn) (const char *line, void *arg), void *arg,
					char **error)
{
	FILE	   *volatile f = tmpfile();
	char	   *volatile held = NULL;	/* getline's buffer, for the clean-up */
	size_t		len = 0;
	bool		ok = false;

	*error = NULL;
	if (f == NULL)
	{
		*error = psprintf("could not create a temporary file: %m");
		return false;
	}
	PG_TRY();
	{
		if (download(url, &len, error, f) != NULL)
		{
			char	   *line = NULL;
			size_t		cap = 0;
			ssize_t		n;

			rewind(f);
			while ((n = getline(&line, &cap, f)) >= 0)
			{
				held = line;
				while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
					line[--n] = '\0';
				if (n > 0)
					fn(line, arg);
				CHECK_FOR_INTERRUPTS();
			}
			held = line;
			ok = true;
		}
	}
	PG_FINALLY();
	{
		free(held);
		fclose(f);
	}
	PG_END_TRY();
	return ok;
}
