-- The links view: one row per link between a CI key and a Shopify object,
-- over every link table of the extension.
--
-- expected/ops_links.out is the complete extension (entity sync and order
-- ingestion installed); expected/ops_links_1.out is a build without their
-- link tables, where the view is empty and the inserts below fail.
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

SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'kcloud_shopify.links'::regclass AND attnum > 0
 ORDER BY attnum;

-- every link table of the extension feeds the view (fails when a new link
-- table is added without a line in the list in 40_ops.sql)
SELECT c.relname AS missing_from_links
  FROM pg_class c
  JOIN pg_depend e ON e.classid = 'pg_class'::regclass AND e.objid = c.oid AND e.deptype = 'e'
 WHERE c.relnamespace = 'kcloud_shopify'::regnamespace AND c.relkind = 'r'
   AND (c.relname LIKE '%\_link' OR c.relname IN ('order_fulfillment', 'order_refund'))
   AND NOT EXISTS (SELECT 1 FROM pg_depend v JOIN pg_rewrite r ON r.oid = v.objid
                    WHERE v.classid = 'pg_rewrite'::regclass AND r.ev_class = 'kcloud_shopify.links'::regclass
                      AND v.refclassid = 'pg_class'::regclass AND v.refobjid = c.oid);
SELECT count(*) AS link_rows FROM kcloud_shopify.links;

-- one link of each kind
INSERT INTO ci.branch (branch_code, name) VALUES ('B1', 'Queen St');
INSERT INTO ci.style (style_code, description, retail_price, internet_active) VALUES ('S1', 'Shirt', 10, true);
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('S1-R-M', 'S1', 'Red', 'M');
INSERT INTO ci.customer (customer_code, email) VALUES ('C1', 'c1@example.com');
INSERT INTO kcloud_shopify.product_link (style_code, product_gid, custom_id)
VALUES ('S1', 'gid://shopify/Product/1', 'S1');
INSERT INTO kcloud_shopify.variant_link (sku_code, style_code, variant_gid, inventory_item_gid)
VALUES ('S1-R-M', 'S1', 'gid://shopify/ProductVariant/11', 'gid://shopify/InventoryItem/21');
INSERT INTO kcloud_shopify.location_link (branch_code, location_gid)
VALUES ('B1', 'gid://shopify/Location/31');
INSERT INTO kcloud_shopify.customer_link (customer_code, customer_gid, identifier)
VALUES ('C1', 'gid://shopify/Customer/41', 'email:c1@example.com');
INSERT INTO kcloud_shopify.order_link (order_id, order_name, customer_id, customer_code, first_invoice_no)
VALUES (51, '#1001', 41, 'C1', 7);
INSERT INTO kcloud_shopify.order_fulfillment (fulfillment_id, order_id, location_id, branch_code, invoice_no)
VALUES (61, 51, 31, 'B1', 7);
INSERT INTO kcloud_shopify.order_refund (refund_id, order_id, credit_no) VALUES (71, 51, 3);
INSERT INTO kcloud_shopify.order_customer_link (shopify_customer_id, customer_code, how)
VALUES (41, 'C1', 'email');
INSERT INTO kcloud_shopify.order_location_link (location_id, branch_code) VALUES (31, 'B1');

SELECT kind, ci_key, shopify_gid, synced_at IS NOT NULL AS has_time,
       jsonb_typeof(detail) AS detail
  FROM kcloud_shopify.links
 ORDER BY kind, ci_key::text;
-- a lookup by CI key
SELECT kind, shopify_gid FROM kcloud_shopify.links
 WHERE kind IN ('variant', 'inventory_item') AND ci_key @> '{"sku_code": "S1-R-M"}'
 ORDER BY kind;
-- detail carries the rest of the row, not the key or the GID again
SELECT kind, detail ? 'custom_id' AS has_custom_id, detail ? 'style_code' AS repeats_key,
       detail ? 'product_gid' AS repeats_gid
  FROM kcloud_shopify.links WHERE kind = 'product';

SET client_min_messages = warning;
DROP EXTENSION kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA ci CASCADE;
RESET client_min_messages;
