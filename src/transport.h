/*-------------------------------------------------------------------------
 *
 * transport.h
 *	  The worker's way to Shopify: connection settings and tokens (auth.c),
 *	  HTTP (http.c, all libcurl) and pacing (ratelimit.c).
 *
 * Only the sync worker process uses these.  Secrets live in process-local
 * memory and in the owner-only settings table, never in shared memory, GUCs
 * or messages.
 *
 *-------------------------------------------------------------------------
 */
#ifndef KCS_TRANSPORT_H
#define KCS_TRANSPORT_H

#include "postgres.h"

#include "utils/timestamp.h"

/* The connected shop, as read from kcloud_shopify.settings (auth.c). */
typedef struct KcsConnection
{
	bool		connected;
	char	   *shop_domain;
	char	   *endpoint;		/* base URL ending in '/' */
	char	   *access_token;	/* static token, or NULL */
	char	   *client_id;		/* client credentials, or NULL */
	char	   *client_secret;
	char	   *token;			/* the token in use (static or granted) */
	TimestampTz token_expires_at;	/* 0 = does not expire */
	char	   *fingerprint;	/* changes whenever the connection changes */
} KcsConnection;

extern KcsConnection kcs_conn;

/* auth.c: call inside a transaction with SPI connected */
extern bool kcs_conn_load(void);
/* auth.c: call with no transaction open */
extern bool kcs_auth_ensure_token(bool force_renew, char **error);

/* http.c: all libcurl */
typedef struct KcsHttpResult
{
	long		status;			/* 0 = no HTTP reply */
	char	   *body;			/* malloc'd, NUL terminated, or NULL */
	size_t		body_len;
	double		retry_after;	/* Retry-After header, seconds, 0 if none */
	bool		interrupted;	/* aborted for a signal */
	bool		too_large;		/* aborted: response over the size cap */
	double		elapsed_ms;
	char		error[256];		/* transport error text (never a secret) */
} KcsHttpResult;

extern bool kcs_url_allowed(const char *url, const char **why);
extern void kcs_http_post(const char *url, const char *const *headers,
						  const char *body, size_t body_len,
						  KcsHttpResult *res);
extern void kcs_http_result_free(KcsHttpResult *res);
extern char *kcs_http_form_escape(const char *s);

/* ratelimit.c: pacing from Shopify's throttleStatus */
extern void kcs_rl_observe(double max, double available, double restore_rate);
extern double kcs_rl_expected_cost(const char *query, double estimate);
extern void kcs_rl_remember_cost(const char *query, double requested);
extern void kcs_rl_pace(double expected_cost);
extern double kcs_rl_deficit_seconds(double cost);
extern double kcs_backoff_seconds(int attempts);
extern void kcs_sleep_ms(long ms);

/* shopify.c: the GraphQL request cycle's activity log (flush needs SPI) */
extern void kcs_activity_flush(void);
extern void kcs_publish_failure(const char *error);

#endif							/* KCS_TRANSPORT_H */
