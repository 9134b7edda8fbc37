/*-------------------------------------------------------------------------
 *
 * webhook.c
 *	  Shopify webhook signature check for kcloud_shopify.receive_webhook().
 *
 * Shopify signs every HTTPS delivery with X-Shopify-Hmac-Sha256 =
 * base64(HMAC-SHA256(key = the app's client secret, message = the raw body
 * bytes)).  The check runs over the body exactly as received, before any
 * JSON parsing, and compares in constant time.  The secret is the owner-only
 * settings row 'webhook_secret' if present, and 'client_secret' (the one
 * connect() stores for the client-credentials grant); a signature made with
 * either is accepted (Shopify may sign with the new secret for up to an hour
 * after a rotation, so both can be valid at once).
 *
 * HMAC and base64 come from PostgreSQL's own common code (as SCRAM uses
 * them): no OpenSSL dependency of our own.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/hmac.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(kcloud_shopify_webhook_hmac_ok);

/* Equal lengths and bytes, in time that depends on the length only. */
static bool
kcs_const_time_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	volatile unsigned char diff = 0;
	size_t		i;

	if (alen != blen)
		return false;
	for (i = 0; i < alen; i++)
		diff |= (unsigned char) a[i] ^ (unsigned char) b[i];
	return diff == 0;
}

/*
 * base64(HMAC-SHA256(key, msg)) into out (at least
 * pg_b64_enc_len(PG_SHA256_DIGEST_LENGTH) + 1 bytes); returns its length.
 */
static int
kcs_hmac_sha256_b64(const char *key, size_t keylen, const char *msg, size_t msglen,
					char *out, int outlen)
{
	pg_hmac_ctx *ctx;
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	int			n;

	ctx = pg_hmac_create(PG_SHA256);
	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("kcloud_shopify: could not create an HMAC context")));
	if (pg_hmac_init(ctx, (const uint8 *) key, keylen) < 0 ||
		pg_hmac_update(ctx, (const uint8 *) msg, msglen) < 0 ||
		pg_hmac_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *err = pg_hmac_error(ctx);

		pg_hmac_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: HMAC-SHA256 failed: %s", err)));
	}
	pg_hmac_free(ctx);
	n = pg_b64_encode((const char *) digest, sizeof(digest), out, outlen);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: base64 encoding failed")));
	out[n] = '\0';
	explicit_bzero(digest, sizeof(digest));
	return n;
}

/*
 * webhook_hmac_ok(body text, signature text) returns boolean
 */
Datum
kcloud_shopify_webhook_hmac_ok(PG_FUNCTION_ARGS)
{
	text	   *body = PG_GETARG_TEXT_PP(0);
	text	   *sigt = PG_GETARG_TEXT_PP(1);
	char	   *sig = text_to_cstring(sigt);
	size_t		siglen;
	bool		ok = false;
	bool		any_secret = false;
	uint64		i;
	int			ret;

	/* tolerate surrounding whitespace in the header value */
	while (*sig == ' ' || *sig == '\t')
		sig++;
	siglen = strlen(sig);
	while (siglen > 0 && (sig[siglen - 1] == ' ' || sig[siglen - 1] == '\t' ||
						  sig[siglen - 1] == '\r' || sig[siglen - 1] == '\n'))
		siglen--;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: SPI_connect failed")));
	ret = SPI_execute("SELECT s.value FROM kcloud_shopify.settings s"
					  " WHERE s.name IN ('webhook_secret', 'client_secret') AND s.value <> ''"
					  " ORDER BY s.name DESC", true, 0);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("kcloud_shopify: reading the webhook secret failed")));

	/* try every secret (no early exit: the time does not tell which matched) */
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *secret = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		char		expect[64];
		int			n;

		if (secret == NULL)
			continue;
		any_secret = true;
		n = kcs_hmac_sha256_b64(secret, strlen(secret),
								VARDATA_ANY(body), VARSIZE_ANY_EXHDR(body),
								expect, sizeof(expect));
		if (kcs_const_time_eq(expect, n, sig, siglen))
			ok = true;
		explicit_bzero(secret, strlen(secret));
		explicit_bzero(expect, sizeof(expect));
	}
	SPI_finish();

	if (!any_secret)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("webhook rejected: no webhook secret is configured"),
				 errhint("Connect with client_id and client_secret, or store the secret in settings row webhook_secret.")));

	PG_RETURN_BOOL(ok);
}
