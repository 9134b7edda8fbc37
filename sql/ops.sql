-- Operations API (sql/install/40_ops.sql): resync, retry/discard failures,
-- pause/resume, the failures/status/activity views, the activity log and
-- privileges.  No worker and no shop are needed: queue rows are put into
-- their states with the queue API (queue_claim / queue_fail / queue_ack).
-- The links view has its own test (ops_links).
SET client_min_messages = warning;     -- whatever earlier tests left behind
DROP EXTENSION IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS ci CASCADE;
RESET client_min_messages;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\set QUIET off
\set ECHO all
CREATE EXTENSION kcloud_shopify;

-- The link tables belong to the entity sync (sql/install/21_links.sql).
-- Without that part installed, create just the columns used here.
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS kcloud_shopify.product_link (
    style_code text PRIMARY KEY, product_gid text NOT NULL UNIQUE, custom_id text NOT NULL);
CREATE TABLE IF NOT EXISTS kcloud_shopify.variant_link (
    sku_code text PRIMARY KEY, style_code text NOT NULL, variant_gid text NOT NULL UNIQUE,
    inventory_item_gid text NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS kcloud_shopify.location_link (
    branch_code text PRIMARY KEY, location_gid text NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS kcloud_shopify.customer_link (
    customer_code text PRIMARY KEY, customer_gid text NOT NULL UNIQUE, identifier text NOT NULL);
RESET client_min_messages;

-- CI fixture
INSERT INTO ci.branch (branch_code, name, active, web_stock) VALUES
    ('B1', 'Queen St', true, true),
    ('B2', 'Warehouse', true, false),       -- no web stock
    ('B3', 'Closed shop', false, true),     -- inactive, but linked to a location
    ('B4', 'Ponsonby', true, true),
    ('B5', 'Old depot', false, false);      -- inactive, never linked
INSERT INTO ci.brand VALUES ('BR', 'Brand');
INSERT INTO ci.stock_group VALUES ('SG', 'Shirts', NULL);
INSERT INTO ci.style (style_code, description, stock_group_code, brand_code, retail_price, internet_active) VALUES
    ('S1', 'Shirt one', 'SG', 'BR', 10, true),
    ('S2', 'Shirt two', 'SG', 'BR', 20, true),
    ('S3', 'Not on the web', 'SG', 'BR', 30, false),
    ('S4', 'Left the web', 'SG', 'BR', 40, false),    -- linked
    ('X1', 'Other range', 'SG', 'BR', 50, true);
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES
    ('S1-R-M', 'S1', 'Red', 'M'), ('S1-R-L', 'S1', 'Red', 'L'),
    ('S2-B-M', 'S2', 'Blue', 'M'),
    ('S3-G-M', 'S3', 'Green', 'M'),
    ('S4-Y-M', 'S4', 'Yellow', 'M'), ('S4-Y-L', 'S4', 'Yellow', 'L'),
    ('X1-W-S', 'X1', 'White', 'S');
INSERT INTO ci.stock (sku_code, branch_code, on_hand)
SELECT k.sku_code, b.branch_code, 5 FROM ci.sku k CROSS JOIN ci.branch b;
INSERT INTO ci.customer (customer_code, first_name, email, phone) VALUES
    ('C1', 'Email', 'c1@example.com', NULL),
    ('C2', 'Phone', NULL, '+64 21 000 0002'),
    ('C3', 'Nothing', NULL, NULL),
    ('C4', 'Blank', '  ', ''),
    ('C5', 'Linked', NULL, NULL);
INSERT INTO kcloud_shopify.product_link (style_code, product_gid, custom_id) VALUES
    ('S4', 'gid://shopify/Product/4', 'S4'),
    ('GONE', 'gid://shopify/Product/99', 'GONE');     -- style deleted from CI
INSERT INTO kcloud_shopify.variant_link VALUES
    ('S4-Y-M', 'S4', 'gid://shopify/ProductVariant/41', 'gid://shopify/InventoryItem/41');
INSERT INTO kcloud_shopify.location_link (branch_code, location_gid) VALUES
    ('B3', 'gid://shopify/Location/3');
INSERT INTO kcloud_shopify.customer_link (customer_code, customer_gid, identifier) VALUES
    ('C5', 'gid://shopify/Customer/5', 'email:old@example.com');
-- start from an empty queue (capture, when installed, queued the fixture)
TRUNCATE kcloud_shopify.queue;

CREATE VIEW q AS
SELECT kind, key1, key2, state, attempts FROM kcloud_shopify.queue ORDER BY kind, key1, key2, state;

-- an empty queue
SELECT pending, due, retrying, in_flight, failed, queue_by_kind, oldest_pending_age, last_failure_at
  FROM kcloud_shopify.status;

-- wake-ups sent at commit, as counted in shared memory
SELECT wakes_sent AS w0 FROM kcloud_shopify.worker_state() \gset

-- CI keys as JSON, as every view shows them
SELECT k, kcloud_shopify.ci_key(k, 'A', 'B')
  FROM unnest(ARRAY['product', 'inventory', 'location', 'customer', 'other']) k;

--
-- resync_product
--
SELECT kcloud_shopify.resync_product('S1');
SELECT kcloud_shopify.resync_product('S1');     -- already pending: still one row
SELECT kcloud_shopify.resync_product('S3');     -- exists, not on the web: the worker decides
SELECT kcloud_shopify.resync_product('GONE');   -- deleted but linked: can be hidden
SELECT * FROM q;
SELECT wakes_sent - :w0 AS wakes FROM kcloud_shopify.worker_state();
-- rolled back: no row, no wake-up
BEGIN;
SELECT kcloud_shopify.resync_product('S2');
ROLLBACK;
SELECT count(*) FROM kcloud_shopify.queue WHERE key1 = 'S2';
SELECT wakes_sent - :w0 AS wakes FROM kcloud_shopify.worker_state();
\set VERBOSITY default
SELECT kcloud_shopify.resync_product('NOPE');
SELECT kcloud_shopify.resync_product(NULL);
\set VERBOSITY terse
SELECT wakes_sent - :w0 AS wakes FROM kcloud_shopify.worker_state();

--
-- resync_products: internet-active or linked styles, optionally LIKE-filtered
--
DELETE FROM kcloud_shopify.queue;
SELECT kcloud_shopify.resync_products('S%');
SELECT * FROM q;
SELECT kcloud_shopify.resync_products('Z%');
SELECT kcloud_shopify.resync_products();        -- S1, S2, X1 on the web; S4, GONE linked
SELECT * FROM q;
SELECT kcloud_shopify.resync_products('X_');     -- LIKE: _ is any one character
SELECT kcloud_shopify.resync_products('X\_');    -- escaped: a literal underscore
SELECT wakes_sent - :w0 AS wakes FROM kcloud_shopify.worker_state();

--
-- resync_inventory: active web-stock branches; SKUs on the web or linked
--
DELETE FROM kcloud_shopify.queue;
SELECT kcloud_shopify.resync_inventory('B4');
SELECT * FROM q;
SELECT kcloud_shopify.resync_inventory();
SELECT key2 AS branch, count(*), string_agg(key1, ' ' ORDER BY key1) AS skus
  FROM kcloud_shopify.queue WHERE kind = 'inventory' GROUP BY key2 ORDER BY 1;
\set VERBOSITY default
SELECT kcloud_shopify.resync_inventory('B2');
SELECT kcloud_shopify.resync_inventory('B3');
SELECT kcloud_shopify.resync_inventory('NOPE');
\set VERBOSITY terse

--
-- resync_locations / resync_customers
--
DELETE FROM kcloud_shopify.queue;
SELECT kcloud_shopify.resync_locations();       -- B1, B2, B4 active; B3 linked
SELECT kcloud_shopify.resync_customers();       -- C1 email, C2 phone, C5 linked
SELECT * FROM q;
SELECT wakes_sent - :w0 AS wakes FROM kcloud_shopify.worker_state();

--
-- failures, retry_failed, discard_failed
--
DELETE FROM kcloud_shopify.queue;
SELECT kcloud_shopify.enqueue('product', k) FROM unnest(ARRAY['S1', 'S2', 'S4']) k;
SELECT kcloud_shopify.enqueue('inventory', 'S1-R-M', 'B1'), kcloud_shopify.enqueue('inventory', 'S1-R-L', 'B1'),
       kcloud_shopify.enqueue('inventory', 'S1-R-M', 'B4'), kcloud_shopify.enqueue('customer', 'C1');
SELECT DISTINCT lease_token AS ptok FROM kcloud_shopify.queue_claim('product', 10, '10 minutes') \gset
SELECT DISTINCT lease_token AS itok FROM kcloud_shopify.queue_claim('inventory', 10, '10 minutes') \gset
SELECT DISTINCT lease_token AS ctok FROM kcloud_shopify.queue_claim('customer', 10, '10 minutes') \gset
-- S1: permanent (userErrors); S2: transient, retry in 5 minutes; S4: sent
SELECT kcloud_shopify.queue_fail(:ptok, 'product', 'S1', '', 'Title can''t be blank', NULL);
SELECT kcloud_shopify.queue_fail(:ptok, 'product', 'S2', '', 'HTTP 503 Service Unavailable',
                                 now() + interval '5 minutes');
SELECT kcloud_shopify.queue_ack(:ptok, 'product', ARRAY['S4']);
SELECT kcloud_shopify.queue_fail(:itok, 'inventory', k, 'B1', 'Inventory item not stocked', NULL)
  FROM unnest(ARRAY['S1-R-M', 'S1-R-L']) k;
SELECT kcloud_shopify.queue_fail(:itok, 'inventory', 'S1-R-M', 'B4', 'Inventory item not stocked', NULL);
SELECT kcloud_shopify.queue_fail(:ctok, 'customer', 'C1', '', 'Email has already been taken', NULL);
SELECT kind, ci_key, state, error, attempts,
       first_failed_at IS NOT NULL AS first_failed, last_failed_at >= first_failed_at AS last_failed,
       CASE WHEN next_retry IS NULL THEN 'none'
            WHEN next_retry > now() + interval '4 minutes' THEN 'in 5 min' ELSE 'other' END AS next_retry
  FROM kcloud_shopify.failures ORDER BY kind, ci_key::text;

-- a newer change to S1 while it is failed: retry merges into that pending row
SELECT kcloud_shopify.enqueue('product', 'S1');
UPDATE kcloud_shopify.queue SET enqueued_at = now() - interval '1 hour'
 WHERE kind = 'product' AND key1 = 'S1' AND state = 'failed';
SELECT * FROM q WHERE kind = 'product';
SELECT wakes_sent AS w2 FROM kcloud_shopify.worker_state() \gset
SELECT kcloud_shopify.retry_failed('product', '{"style_code": "S1"}');
SELECT wakes_sent - :w2 AS wakes FROM kcloud_shopify.worker_state();
SELECT kind, key1, state, attempts, next_attempt_at <= now() AS due_now,
       enqueued_at < now() - interval '59 minutes' AS kept_first_change, last_error
  FROM kcloud_shopify.queue WHERE kind = 'product' ORDER BY key1, state;
SELECT kind, ci_key, state, error, next_retry <= now() AS due_now
  FROM kcloud_shopify.failures WHERE kind = 'product' ORDER BY ci_key::text;
SELECT kcloud_shopify.retry_failed('product');  -- nothing failed any more
-- the retried row can be claimed right away, and a success clears it from failures
SELECT key1, attempts FROM kcloud_shopify.queue_claim('product', 10, '10 minutes') ORDER BY key1;
SELECT DISTINCT lease_token AS ptok FROM kcloud_shopify.queue WHERE state = 'in_flight' AND kind = 'product' \gset
SELECT kcloud_shopify.queue_ack(:ptok, 'product', ARRAY['S1']);
SELECT kind, ci_key, state FROM kcloud_shopify.failures WHERE kind = 'product' ORDER BY ci_key::text;

-- partial key: every failed level at branch B1
SELECT kcloud_shopify.retry_failed('inventory', '{"branch_code": "B1"}');
SELECT kind, key1, key2, state, attempts FROM kcloud_shopify.queue WHERE kind = 'inventory' ORDER BY 1, 2, 3, 4;
-- discard: one kind, then everything that is left
SELECT kcloud_shopify.discard_failed('customer', '{"customer_code": "C9"}');
SELECT kcloud_shopify.discard_failed('customer');
SELECT kcloud_shopify.discard_failed();
SELECT kcloud_shopify.discard_failed();
SELECT kind, key1, key2, state FROM kcloud_shopify.queue ORDER BY 1, 2, 3, 4;   -- pending rows untouched

-- bad filters
\set VERBOSITY default
SELECT kcloud_shopify.retry_failed('products');
SELECT kcloud_shopify.retry_failed(NULL, '{"style_code": "S1"}');
SELECT kcloud_shopify.discard_failed('product', '["S1"]');
SELECT kcloud_shopify.discard_failed('product', '{"sku_code": "S1-R-M"}');
SELECT kcloud_shopify.retry_failed('location', '{"branch_code": 1}');
\set VERBOSITY terse

--
-- pause / resume
--
SELECT wakes_sent AS w1 FROM kcloud_shopify.worker_state() \gset
SELECT kcloud_shopify.is_paused();
SELECT kcloud_shopify.pause('stocktake at B1');
SELECT kcloud_shopify.pause('another reason');   -- already paused: unchanged
SELECT kcloud_shopify.is_paused(), value FROM kcloud_shopify.settings WHERE name = 'paused';
SELECT paused, pause_reason, paused_since <= now() AS since FROM kcloud_shopify.status;
SELECT wakes_sent - :w1 AS wakes FROM kcloud_shopify.worker_state();
SELECT kcloud_shopify.resume();
SELECT kcloud_shopify.resume();
SELECT kcloud_shopify.is_paused(), paused, pause_reason, paused_since FROM kcloud_shopify.status;
SELECT wakes_sent - :w1 AS wakes FROM kcloud_shopify.worker_state();
SELECT kcloud_shopify.pause();
SELECT paused, pause_reason FROM kcloud_shopify.status;
SELECT kcloud_shopify.resume();

--
-- activity log
--
SELECT kcloud_shopify.activity_retention();
SELECT kcloud_shopify.log_activity('productSet', 1, 12.5, 'ok', 210.4);
SELECT kcloud_shopify.log_activity('inventorySetQuantities', 250, 41, 'partial', 380, '3 userErrors');
SELECT kcloud_shopify.log_activity('productSet', 10, NULL, 'transient', 60000, 'timeout');
SELECT operation, entities, cost, outcome, duration_ms, detail FROM kcloud_shopify.activity ORDER BY at, operation;
SELECT kcloud_shopify.log_activity('productSet', 1, 1, 'permanent', 1, repeat('x', 5000));
SELECT length(detail) FROM kcloud_shopify.activity WHERE outcome = 'permanent';
SELECT kcloud_shopify.log_activity('productSet', 1, 1, 'exploded', 1);
SELECT kcloud_shopify.log_activity('productSet', -1, 1, 'ok', 1);
\set VERBOSITY default
SELECT kcloud_shopify.set_activity_retention('-1 day');
\set VERBOSITY terse
SELECT kcloud_shopify.set_activity_retention('1 hour');
-- over the retention by less than the minute of slack: hidden, not trimmed yet
INSERT INTO kcloud_shopify.activity_log (at, operation, entities, outcome)
VALUES (now() - interval '1 hour 20 seconds', 'old', 1, 'ok');
SELECT kcloud_shopify.log_activity('locationAdd', 1, 10, 'ok', 100);
SELECT count(*) AS logged, count(*) FILTER (WHERE operation = 'old') AS old FROM kcloud_shopify.activity_log;
SELECT count(*) AS shown FROM kcloud_shopify.activity;
-- an entry past the slack makes the next call trim everything past the retention
INSERT INTO kcloud_shopify.activity_log (at, operation, entities, outcome)
VALUES (now() - interval '2 hours', 'older', 1, 'ok');
SELECT kcloud_shopify.log_activity('locationAdd', 1, 10, 'ok', 100);
SELECT count(*) AS logged, count(*) FILTER (WHERE operation IN ('old', 'older')) AS old FROM kcloud_shopify.activity_log;
-- 0 turns logging off; NULL restores the default
SELECT kcloud_shopify.set_activity_retention('0');
SELECT kcloud_shopify.log_activity('locationAdd', 1, 10, 'ok', 100);
SELECT count(*) FROM kcloud_shopify.activity_log;
SELECT kcloud_shopify.set_activity_retention(NULL);
SELECT kcloud_shopify.log_activity('productSet', 2, 20, 'ok', 100);
SELECT kcloud_shopify.log_activity('productSet', 2, 20, 'throttled', 100);
SELECT count(*) FROM kcloud_shopify.activity;

--
-- status
--
DELETE FROM kcloud_shopify.queue;
SELECT kcloud_shopify.enqueue('product', 'S1'), kcloud_shopify.enqueue('product', 'S2'),
       kcloud_shopify.enqueue('customer', 'C1'), kcloud_shopify.enqueue('location', 'B1');
UPDATE kcloud_shopify.queue SET enqueued_at = now() - interval '90 seconds' WHERE key1 = 'S2';
SELECT DISTINCT lease_token AS ltok FROM kcloud_shopify.queue_claim('location', 10, '10 minutes') \gset
SELECT DISTINCT lease_token AS ctok FROM kcloud_shopify.queue_claim('customer', 10, '10 minutes') \gset
SELECT kcloud_shopify.queue_fail(:ctok, 'customer', 'C1', '', 'Email is invalid', NULL);
SELECT count(*) AS rows FROM kcloud_shopify.status;
SELECT connected, shop_domain, api_version, paused, pending, due, retrying, in_flight, failed,
       queue_by_kind, oldest_pending_age >= interval '90 seconds' AS oldest_age,
       last_success_at = (SELECT max(at) FROM kcloud_shopify.activity_log WHERE outcome = 'ok') AS last_success,
       last_failure_at >= (SELECT max(at) FROM kcloud_shopify.activity_log WHERE outcome = 'throttled') AS last_failure,
       bucket_available, bucket_max, bucket_restore_rate, token_expires_at, order_poll_mark
  FROM kcloud_shopify.status;
SELECT worker_pid IS NOT DISTINCT FROM (SELECT pid FROM pg_stat_activity
                                        WHERE backend_type = 'kcloud_shopify sync worker') AS worker_pid
  FROM kcloud_shopify.status;
BEGIN;      -- never committed: a worker must not see a half-made connection
INSERT INTO kcloud_shopify.settings (name, value) VALUES
    ('shop_domain', 'example.myshopify.com'),
    ('token_expires_at', '2030-01-02T03:04:05.000000Z'),
    ('orders_poll_mark', '2026-11-01T00:00:00Z');
SET LOCAL TimeZone = 'UTC';
SELECT connected, shop_domain, token_expires_at, order_poll_mark FROM kcloud_shopify.status;
ROLLBACK;

--
-- every function and view of the operations API is documented, in the
-- catalog (COMMENT ON) and with the same words in docs/operations.md
--
\set doc `cat docs/operations.md`
SELECT p.oid::regprocedure::text AS undocumented
  FROM pg_proc p
 WHERE p.pronamespace = 'kcloud_shopify'::regnamespace
   AND p.proname IN ('resync_product', 'resync_products', 'resync_inventory', 'resync_locations',
                     'resync_customers', 'retry_failed', 'discard_failed', 'pause', 'resume',
                     'is_paused', 'wake', 'worker_state', 'api_version', 'log_activity',
                     'activity_retention', 'set_activity_retention', 'ci_key', 'check_queue_filter')
   AND (obj_description(p.oid, 'pg_proc') IS NULL
        OR strpos(:'doc', obj_description(p.oid, 'pg_proc')) = 0)
UNION ALL
SELECT c.oid::regclass::text
  FROM pg_class c
 WHERE c.relnamespace = 'kcloud_shopify'::regnamespace AND c.relname IN ('failures', 'links', 'status', 'activity')
   AND (obj_description(c.oid, 'pg_class') IS NULL
        OR strpos(:'doc', obj_description(c.oid, 'pg_class')) = 0);

--
-- privileges: nothing in the schema is usable by a role that was not
-- granted it; the check covers every object, present and future
--
DROP VIEW q;
CREATE ROLE regress_kcs_ops NOLOGIN;
SELECT p.oid::regprocedure AS executable
  FROM pg_proc p
 WHERE p.pronamespace = 'kcloud_shopify'::regnamespace
   AND has_function_privilege('regress_kcs_ops', p.oid, 'EXECUTE');
SELECT c.oid::regclass AS accessible, c.relkind
  FROM pg_class c
 WHERE c.relnamespace = 'kcloud_shopify'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
   AND has_table_privilege('regress_kcs_ops', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER');
SELECT c.oid::regclass AS accessible_sequence
  FROM pg_class c
 WHERE c.relnamespace = 'kcloud_shopify'::regnamespace AND c.relkind = 'S'
   AND CASE WHEN c.relkind = 'S'
            THEN has_sequence_privilege('regress_kcs_ops', c.oid, 'USAGE, SELECT, UPDATE') END;
SELECT has_schema_privilege('regress_kcs_ops', 'kcloud_shopify', 'USAGE, CREATE') AS schema_usable;
-- even with USAGE on the schema, every call and read is refused
GRANT USAGE ON SCHEMA kcloud_shopify TO regress_kcs_ops;
SET ROLE regress_kcs_ops;
SELECT kcloud_shopify.resync_product('S1');
SELECT kcloud_shopify.resync_products();
SELECT kcloud_shopify.resync_inventory();
SELECT kcloud_shopify.resync_locations();
SELECT kcloud_shopify.resync_customers();
SELECT kcloud_shopify.retry_failed();
SELECT kcloud_shopify.discard_failed();
SELECT kcloud_shopify.pause();
SELECT kcloud_shopify.resume();
SELECT kcloud_shopify.is_paused();
SELECT kcloud_shopify.log_activity('x', 1, 1, 'ok', 1);
SELECT kcloud_shopify.set_activity_retention('1 day');
SELECT * FROM kcloud_shopify.failures;
SELECT * FROM kcloud_shopify.links;
SELECT * FROM kcloud_shopify.status;
SELECT * FROM kcloud_shopify.activity;
SELECT * FROM kcloud_shopify.activity_log;
SELECT * FROM kcloud_shopify.settings;
RESET ROLE;
-- a granted function works without any grant on the tables behind it
GRANT EXECUTE ON FUNCTION kcloud_shopify.resync_product(text), kcloud_shopify.pause(text),
                          kcloud_shopify.resume() TO regress_kcs_ops;
SET ROLE regress_kcs_ops;
SELECT kcloud_shopify.resync_product('S3');
SELECT kcloud_shopify.pause('by support');
SELECT kcloud_shopify.resume();
SELECT * FROM kcloud_shopify.queue;
RESET ROLE;
SELECT kind, key1, state FROM kcloud_shopify.queue WHERE key1 = 'S3';
-- reading status needs SELECT plus EXECUTE on the functions it calls
GRANT SELECT ON kcloud_shopify.status TO regress_kcs_ops;
SET ROLE regress_kcs_ops;
SELECT count(*) FROM kcloud_shopify.status;
RESET ROLE;
GRANT EXECUTE ON FUNCTION kcloud_shopify.worker_state(), kcloud_shopify.api_version() TO regress_kcs_ops;
SET ROLE regress_kcs_ops;
SELECT count(*), pending FROM kcloud_shopify.status GROUP BY pending;
RESET ROLE;

SET client_min_messages = warning;
DROP EXTENSION kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP OWNED BY regress_kcs_ops;
DROP ROLE regress_kcs_ops;
DROP SCHEMA ci CASCADE;
RESET client_min_messages;
