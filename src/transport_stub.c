/*-------------------------------------------------------------------------
 *
 * transport_stub.c
 *	  TEMPORARY stand-in for the worker's kcs_graphql_send (http.c), so the
 *	  order poller builds and can be tried before the worker lands.
 *	  The coordinator deletes this file when merging the worker's transport.
 *
 * Endpoint and token come from the environment of the server:
 *	KCS_STUB_GRAPHQL_URL  e.g. http://127.0.0.1:8787/admin/api/2026-10/graphql.json
 *	KCS_STUB_TOKEN        access token (default shpat_test_token)
 * Without KCS_STUB_GRAPHQL_URL every send fails as KCS_PERMANENT.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <stdlib.h>

#include "lib/stringinfo.h"

#include "sync.h"

static size_t
stub_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	appendBinaryStringInfo((StringInfo) userdata, ptr, size * nmemb);
	return size * nmemb;
}

void
kcs_graphql_send(const char *query, json_t *variables, KcsReply *reply)
{
	const char *url = getenv("KCS_STUB_GRAPHQL_URL");
	const char *token = getenv("KCS_STUB_TOKEN");
	json_t	   *body;
	char	   *bodytxt;
	CURL	   *c;
	struct curl_slist *h = NULL;
	StringInfoData buf;
	CURLcode	rc;
	char	   *hdr;

	memset(reply, 0, sizeof(*reply));
	if (url == NULL)
	{
		reply->outcome = KCS_PERMANENT;
		reply->error = pstrdup("no Shopify transport linked (transport_stub.c: KCS_STUB_GRAPHQL_URL unset)");
		return;
	}
	body = json_pack("{s:s}", "query", query);
	if (variables)
		json_object_set(body, "variables", variables);
	bodytxt = json_dumps(body, JSON_COMPACT);
	json_decref(body);

	initStringInfo(&buf);
	c = curl_easy_init();
	hdr = psprintf("X-Shopify-Access-Token: %s", token ? token : "shpat_test_token");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, hdr);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, bodytxt);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, stub_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply->http_status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(bodytxt);

	if (rc != CURLE_OK)
	{
		reply->outcome = KCS_TRANSIENT;
		reply->error = psprintf("HTTP request failed: %s", curl_easy_strerror(rc));
		return;
	}
	reply->root = json_loads(buf.data, 0, NULL);
	if (reply->root == NULL || reply->http_status != 200)
	{
		reply->outcome = reply->http_status >= 500 || reply->http_status == 429 ? KCS_TRANSIENT : KCS_PERMANENT;
		reply->error = psprintf("HTTP %ld: %.200s", reply->http_status, buf.data);
		return;
	}
	reply->data = json_object_get(reply->root, "data");
	if (json_array_size(json_object_get(reply->root, "errors")) > 0)
	{
		json_t	   *e = json_array_get(json_object_get(reply->root, "errors"), 0);
		const char *m = json_string_value(json_object_get(e, "message"));

		reply->outcome = KCS_PERMANENT;
		reply->error = pstrdup(m ? m : "GraphQL error");
		return;
	}
	reply->outcome = KCS_OK;
}

void
kcs_reply_free(KcsReply *reply)
{
	if (reply->root)
		json_decref(reply->root);
	reply->root = NULL;
	reply->data = NULL;
}
