-- preview(): the exact request the worker would send for one entity, built
-- by the worker's own C builders (products, stock levels, customers); the
-- business date (today()) and dated sales.
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

INSERT INTO ci.branch (branch_code, name, city) VALUES
    ('B1', 'Queen St', 'Auckland'), ('B2', 'Cuba St', 'Wellington'), ('B3', 'Office', 'Auckland');
UPDATE ci.branch SET web_stock = false WHERE branch_code = 'B3';
INSERT INTO ci.brand VALUES ('ACME', 'Acme & Sons');
INSERT INTO ci.stock_group VALUES ('SHIRTS', 'Shirts', NULL);
INSERT INTO ci.style (style_code, description, long_description, stock_group_code, brand_code,
                      retail_price, sale_price, sale_from, sale_to, internet_active)
VALUES ('S1', 'Linen shirt', E'Cool linen < 5 & "light".\nMade in NZ.\n\nHand wash.', 'SHIRTS', 'ACME',
        49.90, 39.90, '2026-12-01', '2026-12-10', true),
       ('S2', 'Wool hat', '<p>Warm <b>wool</b></p>', NULL, NULL, 25.00, NULL, NULL, NULL, false),
       ('S3', 'Scarf', NULL, NULL, NULL, 30.00, 20.00, NULL, NULL, true);
INSERT INTO ci.sku (sku_code, style_code, colour, size, barcode, retail_price, sale_price, sort_order) VALUES
    ('S1-BLU-M', 'S1', 'Blue', 'M', '9400000000011', NULL, NULL, 1),
    ('S1-BLU-L', 'S1', 'Blue', 'L', NULL, 52.00, NULL, 2),
    ('S1-WHT-M', 'S1', 'White', 'M', '9400000000028', NULL, 35.00, 3),
    ('S2-GRY-OS', 'S2', 'Grey', 'One size', NULL, NULL, NULL, 0),
    ('S3-RED-OS', 'S3', 'Red', 'One size', NULL, NULL, 45.00, 0);
INSERT INTO ci.style_info_tab VALUES ('S1', 1, 'Care', 'Hand wash cold'), ('S1', 2, 'Fit', 'Regular "classic" fit');
INSERT INTO ci.style_attribute VALUES ('S1', 'Fabric', '100% linen'), ('S1', 'Country of origin', 'NZ'),
                                      ('S1', 'A', 'x'), ('S1', 'Notes', E'line 1\nline 2');
INSERT INTO ci.stock VALUES ('S1-BLU-M', 'B1', 5), ('S1-BLU-M', 'B2', -2), ('S1-BLU-L', 'B1', 3),
                            ('S1-WHT-M', 'B3', 7);
INSERT INTO ci.customer (customer_code, first_name, last_name, email, phone, address1, city, postcode, country_code)
VALUES ('C1', 'Ana', 'Silva', 'ana@example.com', '021 123 4567', '1 Queen St', 'Auckland', '1010', 'NZ'),
       ('C2', 'Bo', NULL, NULL, '+64 21 999 000', NULL, NULL, NULL, NULL),
       ('C3', 'No', 'Contact', NULL, NULL, NULL, NULL, NULL, NULL);

-- the business date
SELECT kcloud_shopify.today() = current_date AS today_is_current_date;
INSERT INTO kcloud_shopify.settings (name, value) VALUES ('today_override', '2026-12-05');
SELECT kcloud_shopify.today();

-- a new internet-active style during its sale: the whole document
SELECT jsonb_pretty(kcloud_shopify.preview('product', '{"style_code": "S1"}'));

-- prices before, during (above) and after the sale; SKU prices override the style's
CREATE FUNCTION pg_temp.prices(style text)
RETURNS TABLE (sku text, price text, compare_at text)
LANGUAGE sql AS $$
    SELECT v->>'sku', v->>'price', v->>'compareAtPrice'
      FROM jsonb_array_elements(kcloud_shopify.preview('product', jsonb_build_object('style_code', style))
                                #> '{variables,input0,variants}') v
$$;
UPDATE kcloud_shopify.settings SET value = '2026-11-30' WHERE name = 'today_override';
SELECT * FROM pg_temp.prices('S1');
UPDATE kcloud_shopify.settings SET value = '2026-12-10' WHERE name = 'today_override';
SELECT * FROM pg_temp.prices('S1');
UPDATE kcloud_shopify.settings SET value = '2026-12-11' WHERE name = 'today_override';
SELECT * FROM pg_temp.prices('S1');
-- open-ended sale; a SKU sale price above retail is no sale
SELECT * FROM pg_temp.prices('S3');

-- not internet active and never synced: nothing is sent
SELECT kcloud_shopify.preview('product', '{"style_code": "S2"}');
-- ... once linked it is sent as DRAFT; HTML web copy passes as it is
INSERT INTO kcloud_shopify.product_link (style_code, product_gid) VALUES ('S2', 'gid://shopify/Product/2');
SELECT p #>> '{variables,input0,status}' AS status, p #>> '{variables,input0,descriptionHtml}' AS html,
       p #> '{variables,identifier0}' AS identifier, p ? 'lookup_first' AS looks_up
  FROM kcloud_shopify.preview('product', '{"style_code": "S2"}') p;
-- linked variants carry their ids; only new variants carry stock (at linked web locations)
INSERT INTO kcloud_shopify.location_link (branch_code, location_gid) VALUES
    ('B1', 'gid://shopify/Location/1'), ('B2', 'gid://shopify/Location/2'), ('B3', 'gid://shopify/Location/3');
INSERT INTO kcloud_shopify.product_link (style_code, product_gid) VALUES ('S1', 'gid://shopify/Product/1');
INSERT INTO kcloud_shopify.variant_link VALUES
    ('S1-BLU-M', 'S1', 'gid://shopify/ProductVariant/11', 'gid://shopify/InventoryItem/11');
SELECT v->>'sku' AS sku, v->>'id' AS id, v->'inventoryQuantities' AS quantities
  FROM jsonb_array_elements(kcloud_shopify.preview('product', '{"style_code": "S1"}')
                            #> '{variables,input0,variants}') v;
-- linked: by id and without a metafield list (productSet would delete every metafield not in
-- it, the merchant's included); ours follow as metafieldsSet (ownerId = the product), and the
-- ones of ours CI no longer has (keys last confirmed minus keys now) as metafieldsDelete;
-- custom.care_guide is the merchant's and never deleted
UPDATE kcloud_shopify.product_link
   SET metafield_keys = '{kcloud.style_code,kcloud.info_tabs,kcloud_attr.fabric,kcloud_attr.lining,custom.care_guide}'
 WHERE style_code = 'S1';
SELECT p ->> 'query' AS query FROM kcloud_shopify.preview('product', '{"style_code": "S1"}') p;
SELECT p #> '{variables,identifier0}' AS identifier, p #> '{variables,input0}' ? 'metafields' AS sends_list,
       p #> '{variables,md0_0}' AS metafields_delete
  FROM kcloud_shopify.preview('product', '{"style_code": "S1"}') p;
SELECT m ->> 'ownerId' AS owner, m ->> 'namespace' AS namespace, m ->> 'key' AS key, m ->> 'type' AS type,
       left(m ->> 'value', 30) AS value
  FROM jsonb_array_elements(kcloud_shopify.preview('product', '{"style_code": "S1"}') #> '{variables,mf0_0}') m;
-- more than 25 of ours: metafieldsSet in calls of 25
INSERT INTO ci.style_attribute SELECT 'S1', 'Extra ' || g, 'v' || g FROM generate_series(1, 30) g;
SELECT (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(p -> 'variables') k) AS variables,
       jsonb_array_length(p #> '{variables,mf0_0}') AS first, jsonb_array_length(p #> '{variables,mf0_1}') AS second
  FROM kcloud_shopify.preview('product', '{"style_code": "S1"}') p;
DELETE FROM ci.style_attribute WHERE style_code = 'S1' AND name LIKE 'Extra %';
-- deleted in CI: hidden through its link, nothing else touched
DELETE FROM ci.style WHERE style_code = 'S2';
SELECT jsonb_pretty(kcloud_shopify.preview('product', '{"style_code": "S2"}'));
SELECT kcloud_shopify.preview('product', '{"style_code": "NOPE"}');
-- a new style without SKUs yet: its lookup searches no variants (an empty
-- search matches every variant: the shop's first product was taken for it)
BEGIN;
INSERT INTO ci.style (style_code, description, retail_price, internet_active) VALUES ('S4', 'Belt', 20.00, true);
SELECT p -> 'lookup_first' AS lookup_without_skus FROM kcloud_shopify.preview('product', '{"style_code": "S4"}') p;
ROLLBACK;

-- stock levels
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') #> '{variables,input}' AS unknown_level,
       kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') -> 'reads_first' AS reads_first;
INSERT INTO kcloud_shopify.inventory_level (sku_code, branch_code, shopify_on_hand) VALUES ('S1-BLU-M', 'B1', 2),
    ('S1-BLU-M', 'B2', 4);
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') #> '{variables,input,quantities}' AS known_level;
-- negative CI stock is sent as 0
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B2"}') #> '{variables,input,quantities}' AS negative;
-- a send in progress: its stored key is reused for the same quantity
UPDATE kcloud_shopify.inventory_level SET idempotency_key = 'kcs-lvl-0000000000000001', sent_quantity = 5
 WHERE sku_code = 'S1-BLU-M' AND branch_code = 'B1';
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') #>> '{variables,idempotencyKey}' AS same_key_1,
       kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') #>> '{variables,idempotencyKey}' AS same_key_2;
UPDATE kcloud_shopify.inventory_level SET shopify_on_hand = 5 WHERE sku_code = 'S1-BLU-M' AND branch_code = 'B1';
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B1"}') AS in_step;
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-L", "branch_code": "B1"}') AS no_variant_yet;
DELETE FROM kcloud_shopify.location_link WHERE branch_code = 'B2';
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-BLU-M", "branch_code": "B2"}') AS no_location_yet;
SELECT kcloud_shopify.preview('inventory', '{"sku_code": "S1-WHT-M", "branch_code": "B3"}') AS not_web_stock;

-- customers: by email, else phone (E.164); linked ones by id
SELECT jsonb_pretty(kcloud_shopify.preview('customer', '{"customer_code": "C1"}'));
SELECT kcloud_shopify.preview('customer', '{"customer_code": "C2"}') -> 'variables' AS by_phone;
SELECT kcloud_shopify.preview('customer', '{"customer_code": "C3"}') AS no_contact;
INSERT INTO kcloud_shopify.customer_link (customer_code, customer_gid, identifier)
VALUES ('C1', 'gid://shopify/Customer/7', 'email:ana@example.com');
UPDATE ci.customer SET email = 'ana.silva@example.com' WHERE customer_code = 'C1';
SELECT kcloud_shopify.preview('customer', '{"customer_code": "C1"}') #> '{variables,identifier0}' AS linked,
       kcloud_shopify.preview('customer', '{"customer_code": "C1"}') #>> '{variables,input0,email}' AS new_email;

-- bad calls
SELECT kcloud_shopify.preview('location', '{"branch_code": "B1"}');
SELECT kcloud_shopify.preview('nonsense', '{}');
SELECT kcloud_shopify.preview('product', '{"sku_code": "x"}');
SELECT kcloud_shopify.preview('product', '[1]');

-- dated sales: the first check records the date, later ones queue styles whose
-- sale started or ended in between (S1: 2026-12-01 .. 2026-12-10)
DELETE FROM kcloud_shopify.queue;
UPDATE kcloud_shopify.settings SET value = '2026-11-20' WHERE name = 'today_override';
SELECT kcloud_shopify.enqueue_due_sales();
SELECT value FROM kcloud_shopify.settings WHERE name = 'sales_checked_on';
UPDATE kcloud_shopify.settings SET value = '2026-11-30' WHERE name = 'today_override';
SELECT kcloud_shopify.enqueue_due_sales();
UPDATE kcloud_shopify.settings SET value = '2026-12-01' WHERE name = 'today_override';
SELECT kcloud_shopify.enqueue_due_sales();
SELECT kind, key1 FROM kcloud_shopify.queue ORDER BY 1, 2;
DELETE FROM kcloud_shopify.queue;
UPDATE kcloud_shopify.settings SET value = '2026-12-10' WHERE name = 'today_override';
SELECT kcloud_shopify.enqueue_due_sales();
UPDATE kcloud_shopify.settings SET value = '2026-12-11' WHERE name = 'today_override';
SELECT kcloud_shopify.enqueue_due_sales();
SELECT kind, key1 FROM kcloud_shopify.queue ORDER BY 1, 2;

-- owner only
SELECT p.proname, p.proacl IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS not_public,
       obj_description(p.oid, 'pg_proc') IS NOT NULL AS commented
  FROM pg_proc p
 WHERE p.pronamespace = 'kcloud_shopify'::regnamespace
   AND p.proname IN ('today', 'enqueue_due_sales', 'preview')
 ORDER BY 1;
