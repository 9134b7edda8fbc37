-- Webhooks: receive_webhook(topic, headers, body) verifies Shopify's HMAC over
-- the raw body before parsing, drops redeliveries, then ingests.
\set ECHO none
\set QUIET on
\i test/fixtures/orders/setup.sql
CREATE EXTENSION IF NOT EXISTS pgcrypto SCHEMA public;
-- headers as an HTTPS receiver would pass them on
CREATE FUNCTION pg_temp.hdrs(body text, secret text, topic text, webhook_id text) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object(
        'X-Shopify-Topic', topic,
        'X-Shopify-Hmac-Sha256', encode(public.hmac(convert_to(body, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'), 'base64'),
        'X-Shopify-Shop-Domain', 'example.myshopify.com',
        'X-Shopify-API-Version', '2026-10',
        'X-Shopify-Webhook-Id', webhook_id,
        'X-Shopify-Event-Id', 'ev-' || webhook_id,
        'X-Shopify-Triggered-At', '2026-11-20T10:05:00Z');
$$;
\set QUIET off
\set ECHO all

-- no secret configured yet: refused
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
                          pg_temp.hdrs(:'guest', 'whsec_test', 'orders/fulfilled', 'w-1'), :'guest'));
INSERT INTO kcloud_shopify.settings (name, value) VALUES ('client_secret', 'whsec_test');

-- the signature check itself, against a vector computed with openssl
SELECT kcloud_shopify.webhook_hmac_ok('{"a": "ü"}', '4Bwph4KAXbiVDXdm5foUl18NO/EmCYy+B7cosyq1/LQ=') AS openssl_vector_wrong_secret;
UPDATE kcloud_shopify.settings SET value = 'hush' WHERE name = 'client_secret';
SELECT kcloud_shopify.webhook_hmac_ok('{"a": "ü"}', '4Bwph4KAXbiVDXdm5foUl18NO/EmCYy+B7cosyq1/LQ=') AS openssl_vector,
       kcloud_shopify.webhook_hmac_ok('{"a": "ü"} ', '4Bwph4KAXbiVDXdm5foUl18NO/EmCYy+B7cosyq1/LQ=') AS one_byte_more,
       kcloud_shopify.webhook_hmac_ok('{"a": "ü"}', '4Bwph4KAXbiVDXdm5foUl18NO/EmCYy+B7cosyq1/LQ') AS truncated,
       kcloud_shopify.webhook_hmac_ok('{"a": "ü"}', '') AS empty;
UPDATE kcloud_shopify.settings SET value = 'whsec_test' WHERE name = 'client_secret';

-- a good delivery of orders/fulfilled: the invoice is made
SELECT kcloud_shopify.receive_webhook('orders/fulfilled',
           pg_temp.hdrs(:'guest', 'whsec_test', 'orders/fulfilled', 'w-1'), :'guest')
       #- '{result,invoices,0,invoice_no}' AS delivery;
SELECT reference, branch_code, total FROM ci.invoice;

-- the same delivery again (Shopify retries with the same webhook id): ignored
SELECT kcloud_shopify.receive_webhook('orders/fulfilled',
           pg_temp.hdrs(:'guest', 'whsec_test', 'orders/fulfilled', 'w-1'), :'guest') -> 'duplicate' AS duplicate;
-- a different delivery of the same order (another subscription, the poller was first): no second invoice
SELECT kcloud_shopify.receive_webhook('orders/fulfilled',
           pg_temp.hdrs(:'guest', 'whsec_test', 'orders/fulfilled', 'w-2'), :'guest') #> '{result,created}' AS created;
SELECT count(*) AS invoices FROM ci.invoice;
SELECT webhook_id, topic, event_id, shop_domain, result ->> 'created' AS created FROM kcloud_shopify.webhook_delivery ORDER BY 1;

-- header names in any case; the webhook_secret setting is accepted too
INSERT INTO kcloud_shopify.settings (name, value) VALUES ('webhook_secret', 'whsec_other');
SELECT kcloud_shopify.receive_webhook('orders/fulfilled',
           (SELECT jsonb_object_agg(lower(key), value) FROM jsonb_each(
                pg_temp.hdrs(:'new_customer', 'whsec_other', 'orders/fulfilled', 'w-3'))),
           :'new_customer') #>> '{result,customer_code}' AS customer;

-- refunds/create
SELECT kcloud_shopify.receive_webhook('refunds/create',
           pg_temp.hdrs(:'refund_restock', 'whsec_test', 'refunds/create', 'w-4'), :'refund_restock')
       #> '{result,total}' AS credited;

-- other topics are acknowledged and ignored
SELECT kcloud_shopify.receive_webhook('orders/updated',
           pg_temp.hdrs('{"id": 1}', 'whsec_test', 'orders/updated', 'w-5'), '{"id": 1}') -> 'result' AS result;

-- rejected, nothing written: bad signature, wrong secret, missing signature,
-- a body changed after signing, a missing webhook id, not JSON, topic mismatch
SELECT count(*) AS deliveries_before FROM kcloud_shopify.webhook_delivery \gset
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'discounts', 'whsec_test', 'orders/fulfilled', 'w-6') || '{"X-Shopify-Hmac-Sha256": "AAAA"}', :'discounts'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'discounts', 'not-the-secret', 'orders/fulfilled', 'w-6'), :'discounts'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'discounts', 'whsec_test', 'orders/fulfilled', 'w-6') - 'X-Shopify-Hmac-Sha256', :'discounts'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'discounts', 'whsec_test', 'orders/fulfilled', 'w-6'),
    replace(:'discounts', '"40.00"', '"0.01"')));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'discounts', 'whsec_test', 'orders/fulfilled', 'w-6') - 'X-Shopify-Webhook-Id', :'discounts'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs('{not json', 'whsec_test', 'orders/fulfilled', 'w-7'), '{not json'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'refunds/create',
    pg_temp.hdrs(:'discounts', 'whsec_test', 'orders/fulfilled', 'w-8'), :'discounts'));
-- signed correctly but cannot be ingested: an error (Shopify retries), nothing written
SELECT pg_temp.try(format('SELECT kcloud_shopify.receive_webhook(%L, %L, %L)', 'orders/fulfilled',
    pg_temp.hdrs(:'unlinked_location', 'whsec_test', 'orders/fulfilled', 'w-9'), :'unlinked_location'));
SELECT count(*) - :deliveries_before AS deliveries_written,
       (SELECT count(*) FROM ci.invoice WHERE reference IN ('#1004', '#1010')) AS invoices_written
  FROM kcloud_shopify.webhook_delivery;

-- the simulator's own delivery (test/shopify-sim/webhooks.js signs with node's crypto)
-- is covered end to end by TAP test/t/051_orders_webhook.pl

DROP EXTENSION pgcrypto;
