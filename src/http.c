/*-------------------------------------------------------------------------
 *
 * http.c
 *	  All libcurl: one POST at a time from the sync worker to Shopify.
 *
 * One easy handle lives for the life of the worker, driven through a multi
 * handle, so connections are kept alive between requests.  The rules:
 *   - TLS peer and host verification always on; plain http only to a
 *     loopback address (127.0.0.0/8, ::1, localhost: the simulator);
 *   - redirects are never followed (the caller treats 3xx as an error);
 *   - connect and total timeouts from kcloud_shopify.connect_timeout and
 *     kcloud_shopify.request_timeout; the body is capped at
 *     kcloud_shopify.max_response_size;
 *   - the transfer is polled every 100 ms and abandoned as soon as a
 *     signal asks the worker to stop or to reload its configuration, so
 *     SIGTERM and SIGHUP are honoured promptly even during a hung request.
 * Nothing inside a curl callback may ereport or palloc: the callbacks use
 * malloc and flags, and errors are reported after curl returns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/procsignal.h"
#include "utils/timestamp.h"

#include "kcloud_shopify.h"
#include "transport.h"

static CURL *easy = NULL;
static CURLM *multi = NULL;

/* per-transfer state seen by the callbacks */
typedef struct Transfer
{
	char	   *buf;			/* malloc'd */
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		too_large;
	bool		oom;
	double		retry_after;
} Transfer;

/* Does a signal want the worker's attention?  Safe in a callback. */
static bool
interrupt_wanted(void)
{
	return ProcDiePending || ShutdownRequestPending || ConfigReloadPending ||
		QueryCancelPending || ProcSignalBarrierPending;
}

static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Transfer   *t = (Transfer *) userdata;
	size_t		n = size * nmemb;

	if (t->len + n > t->limit)
	{
		t->too_large = true;
		return 0;				/* aborts the transfer */
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = Max(t->cap * 2, t->len + n + 1);
		char	   *nb;

		newcap = Max(newcap, 8192);
		nb = realloc(t->buf, newcap);
		if (nb == NULL)
		{
			t->oom = true;
			return 0;
		}
		t->buf = nb;
		t->cap = newcap;
	}
	memcpy(t->buf + t->len, ptr, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

static size_t
header_cb(char *buffer, size_t size, size_t nitems, void *userdata)
{
	Transfer   *t = (Transfer *) userdata;
	size_t		n = size * nitems;
	static const char name[] = "retry-after:";

	if (n > sizeof(name) - 1 && pg_strncasecmp(buffer, name, sizeof(name) - 1) == 0)
	{
		char		tmp[32];
		size_t		m = Min(n - (sizeof(name) - 1), sizeof(tmp) - 1);
		char	   *end;
		double		v;

		memcpy(tmp, buffer + sizeof(name) - 1, m);
		tmp[m] = '\0';
		v = strtod(tmp, &end);
		if (end != tmp && v >= 0 && v < 86400)
			t->retry_after = v;
	}
	return n;
}

static int
xferinfo_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
			curl_off_t ultotal, curl_off_t ulnow)
{
	return interrupt_wanted() ? 1 : 0;
}

/*
 * May this URL be used?  https anywhere; http only to loopback.  *why gets
 * a static explanation when not.
 */
bool
kcs_url_allowed(const char *url, const char **why)
{
	CURLU	   *u = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	bool		ok = false;

	*why = "not a valid URL";
	if (u == NULL)
		return false;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto done;
	if (pg_strcasecmp(scheme, "https") == 0)
		ok = true;
	else if (pg_strcasecmp(scheme, "http") == 0)
	{
		struct in_addr a4;

		if (pg_strcasecmp(host, "localhost") == 0 ||
			strcmp(host, "[::1]") == 0 ||
			(inet_pton(AF_INET, host, &a4) == 1 &&
			 (ntohl(a4.s_addr) >> 24) == 127))
			ok = true;
		else
			*why = "plain http is allowed only to a loopback address";
	}
	else
		*why = "the scheme must be https (or http to a loopback address)";
done:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

/* URL-encode s for an application/x-www-form-urlencoded body (palloc'd). */
char *
kcs_http_form_escape(const char *s)
{
	char	   *e;
	char	   *r;

	if (easy == NULL)
		(void) curl_global_init(CURL_GLOBAL_DEFAULT);
	e = curl_easy_escape(NULL, s, 0);
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	r = pstrdup(e);
	curl_free(e);
	return r;
}

static void
http_init(void)
{
	if (easy != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: could not initialise libcurl")));
	easy = curl_easy_init();
	multi = curl_multi_init();
	if (easy == NULL || multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: could not create a libcurl handle")));
}

/*
 * POST body to url with the given headers ("Name: value", NULL terminated).
 * Never throws for transport problems: they are reported in *res.  The
 * caller frees res with kcs_http_result_free().
 */
void
kcs_http_post(const char *url, const char *const *headers,
			  const char *body, size_t body_len, KcsHttpResult *res)
{
	Transfer	t;
	struct curl_slist *hl = NULL;
	struct curl_slist *tmp;
	const char *why;
	CURLcode	cc = CURLE_OK;
	CURLMsg    *msg;
	int			running = 1;
	int			left;
	bool		done = false;
	char		errbuf[CURL_ERROR_SIZE];
	TimestampTz start = GetCurrentTimestamp();
	long		sec;
	int			usec;

	memset(res, 0, sizeof(*res));
	memset(&t, 0, sizeof(t));
	errbuf[0] = '\0';
	t.limit = (size_t) kcs_max_response_kb * 1024;

	if (!kcs_url_allowed(url, &why))
	{
		snprintf(res->error, sizeof(res->error), "refusing URL: %s", why);
		return;
	}

	http_init();

	for (; headers && *headers; headers++)
	{
		tmp = curl_slist_append(hl, *headers);
		if (tmp == NULL)
		{
			curl_slist_free_all(hl);
			snprintf(res->error, sizeof(res->error), "out of memory");
			return;
		}
		hl = tmp;
	}
	/* no "Expect: 100-continue" round trip */
	tmp = curl_slist_append(hl, "Expect:");
	if (tmp != NULL)
		hl = tmp;

	curl_easy_reset(easy);		/* keeps live connections and caches */
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) kcs_connect_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) kcs_request_timeout_ms);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(easy, CURLOPT_POST, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "kcloud_shopify/" "0.1.0");
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");

	curl_multi_add_handle(multi, easy);
	while (!done)
	{
		CURLMcode	mc = curl_multi_perform(multi, &running);

		if (mc != CURLM_OK)
		{
			snprintf(res->error, sizeof(res->error), "%s", curl_multi_strerror(mc));
			cc = CURLE_FAILED_INIT;
			break;
		}
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
			{
				cc = msg->data.result;
				done = true;
			}
		}
		if (done)
			break;
		if (interrupt_wanted())
		{
			res->interrupted = true;
			cc = CURLE_ABORTED_BY_CALLBACK;
			break;
		}
		/* the latch is not watched here: commits must not cut a request */
		(void) curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	curl_multi_remove_handle(multi, easy);
	curl_slist_free_all(hl);

	TimestampDifference(start, GetCurrentTimestamp(), &sec, &usec);
	res->elapsed_ms = sec * 1000.0 + usec / 1000.0;
	res->retry_after = t.retry_after;

	if (cc == CURLE_OK)
	{
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res->status);
		res->body = t.buf;
		res->body_len = t.len;
		if (res->body == NULL)
		{
			res->body = malloc(1);
			if (res->body)
				res->body[0] = '\0';
		}
		return;
	}

	free(t.buf);
	if (t.too_large)
	{
		res->too_large = true;
		snprintf(res->error, sizeof(res->error),
				 "response larger than kcloud_shopify.max_response_size (%d kB)",
				 kcs_max_response_kb);
	}
	else if (t.oom)
		snprintf(res->error, sizeof(res->error), "out of memory reading the response");
	else if (cc == CURLE_ABORTED_BY_CALLBACK || res->interrupted)
	{
		res->interrupted = true;
		snprintf(res->error, sizeof(res->error), "request interrupted by a signal");
	}
	else if (res->error[0] == '\0')
		snprintf(res->error, sizeof(res->error), "%s%s%s",
				 curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
}

void
kcs_http_result_free(KcsHttpResult *res)
{
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
}
