-- Change capture: every CI table and event, the row path (at most 8 rows per
-- statement) and the set-wise path (more rows), no-op updates, key moves,
-- deletes, brand / stock group renames, the web_stock filter, replica role,
-- TRUNCATE, privileges and cache invalidation.
\set VERBOSITY default
SET client_min_messages = warning;  -- leftovers of earlier tests vary
DROP EXTENSION IF EXISTS kcloud_shopify;
DROP SCHEMA IF EXISTS ci CASCADE;
RESET client_min_messages;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\set QUIET off
\set ECHO all
CREATE EXTENSION kcloud_shopify;

-- take(): what the queue holds, one line per kind, and empty it
CREATE FUNCTION take(OUT kind text, OUT n bigint, OUT keys text)
RETURNS SETOF record LANGUAGE sql AS $$
    WITH d AS (DELETE FROM kcloud_shopify.queue RETURNING kind, key1, key2, state)
    SELECT d.kind, count(*),
           string_agg(d.key1 || CASE WHEN d.key2 <> '' THEN '/' || d.key2 ELSE '' END
                      || CASE WHEN d.state <> 'pending' THEN '(' || d.state || ')' ELSE '' END,
                      ' ' ORDER BY d.key1, d.key2, d.state)
      FROM d GROUP BY d.kind ORDER BY d.kind
$$;

--
-- Fixture.  Branches B1, B2 hold web stock, B3 does not.
-- Row path: branches, styles, customers (3 rows each).
-- Set path: 12 SKUs, 36 stock rows (only the 24 at B1/B2 are inventory).
--
INSERT INTO ci.branch (branch_code, name, web_stock)
VALUES ('B1', 'Queen St', true), ('B2', 'Ponsonby', true), ('B3', 'Warehouse', false);
INSERT INTO ci.brand VALUES ('BR1', 'Kowhai'), ('BR2', 'Rata');
INSERT INTO ci.stock_group VALUES ('G1', 'Shirts', NULL), ('G2', 'Trousers', NULL), ('G3', 'Tops', 'G1');
INSERT INTO ci.style (style_code, description, brand_code, stock_group_code, retail_price)
VALUES ('ST1', 'Linen shirt', 'BR1', 'G1', 89.00),
       ('ST2', 'Chinos', 'BR1', 'G2', 120.00),
       ('ST3', 'Cargo pants', 'BR2', 'G2', 99.00);
INSERT INTO ci.sku (sku_code, style_code, colour, size, sort_order)
SELECT s || '-' || c || '-' || z, s, c, z, 0
  FROM unnest(ARRAY['ST1', 'ST2', 'ST3']) s, unnest(ARRAY['RED', 'BLUE']) c, unnest(ARRAY['S', 'M']) z;
INSERT INTO ci.stock (sku_code, branch_code, on_hand)
SELECT k.sku_code, b.branch_code, 5 FROM ci.sku k, ci.branch b;
INSERT INTO ci.customer (customer_code, first_name, last_name, email)
VALUES ('C1', 'Aroha', 'Smith', 'aroha@example.com'),
       ('C2', 'Ben', 'Jones', 'ben@example.com'),
       ('C3', 'Cam', 'Lee', NULL);
SELECT * FROM take();

--
-- ci.stock, row path: the POS sale
--
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = 'ST1-RED-S' AND branch_code = 'B1';
SELECT * FROM take();
-- a branch without web stock is not inventory
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = 'ST1-RED-S' AND branch_code = 'B3';
SELECT * FROM take();
-- no-op updates enqueue nothing
UPDATE ci.stock SET on_hand = on_hand WHERE sku_code = 'ST1-RED-S';
UPDATE ci.stock SET on_hand = on_hand + 1 - 1 WHERE sku_code = 'ST2-RED-S' AND branch_code = 'B2';
SELECT * FROM take();
-- repeated changes collapse into one pending row, and an entity already
-- pending is not written again (same row version)
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = 'ST1-RED-M' AND branch_code = 'B2';
SELECT xmin AS first_xmin, ctid AS first_ctid FROM kcloud_shopify.queue \gset
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = 'ST1-RED-M' AND branch_code = 'B2';
UPDATE ci.stock SET on_hand = on_hand + 3 WHERE sku_code = 'ST1-RED-M' AND branch_code = 'B2';
SELECT count(*), bool_and(xmin = :'first_xmin' AND ctid = :'first_ctid') AS unchanged
  FROM kcloud_shopify.queue;
SELECT * FROM take();
-- a few rows in one statement (row path), web filter per row
UPDATE ci.stock SET on_hand = on_hand + 2 WHERE sku_code = 'ST2-BLUE-M';
SELECT * FROM take();
-- insert and delete of one row
DELETE FROM ci.stock WHERE sku_code = 'ST3-BLUE-M' AND branch_code = 'B2';
DELETE FROM ci.stock WHERE sku_code = 'ST3-BLUE-M' AND branch_code = 'B3';
SELECT * FROM take();
INSERT INTO ci.stock VALUES ('ST3-BLUE-M', 'B2', 1);
SELECT * FROM take();
-- key move: the old key (B3: not web) and the new key (B2) are both candidates
DELETE FROM ci.stock WHERE sku_code = 'ST3-BLUE-S' AND branch_code = 'B2';
SELECT * FROM take();
UPDATE ci.stock SET branch_code = 'B2' WHERE sku_code = 'ST3-BLUE-S' AND branch_code = 'B3';
SELECT * FROM take();
UPDATE ci.stock SET branch_code = 'B3' WHERE sku_code = 'ST3-BLUE-S' AND branch_code = 'B2';
SELECT * FROM take();
INSERT INTO ci.stock VALUES ('ST3-BLUE-S', 'B2', 5);
SELECT * FROM take();
-- upsert fires both the INSERT and the UPDATE capture
DELETE FROM ci.stock WHERE sku_code = 'ST3-BLUE-M' AND branch_code = 'B1';
SELECT * FROM take();
INSERT INTO ci.stock VALUES ('ST2-RED-S', 'B1', 7), ('ST3-BLUE-M', 'B3', 2), ('ST3-BLUE-M', 'B1', 2)
ON CONFLICT (sku_code, branch_code) DO UPDATE SET on_hand = excluded.on_hand;
SELECT * FROM take();
-- MERGE
MERGE INTO ci.stock s
USING (VALUES ('ST2-RED-M', 'B2', 9)) AS v(sku_code, branch_code, on_hand)
   ON s.sku_code = v.sku_code AND s.branch_code = v.branch_code
 WHEN MATCHED THEN UPDATE SET on_hand = v.on_hand;
SELECT * FROM take();
-- a rolled-back change leaves nothing behind
BEGIN;
UPDATE ci.stock SET on_hand = 0 WHERE sku_code = 'ST1-BLUE-S' AND branch_code = 'B1';
SELECT count(*) FROM kcloud_shopify.queue;
ROLLBACK;
SELECT * FROM take();
-- ... and a rolled-back subtransaction neither
BEGIN;
SAVEPOINT a;
UPDATE ci.stock SET on_hand = 0 WHERE sku_code = 'ST1-BLUE-S' AND branch_code = 'B1';
ROLLBACK TO a;
UPDATE ci.stock SET on_hand = 0 WHERE sku_code = 'ST1-BLUE-M' AND branch_code = 'B1';
COMMIT;
SELECT * FROM take();

--
-- ci.stock, set path (36 rows)
--
UPDATE ci.stock SET on_hand = on_hand + 1;
SELECT * FROM take();
-- bulk no-op
UPDATE ci.stock SET on_hand = on_hand;
SELECT * FROM take();
-- only the rows that really change, only at web branches
UPDATE ci.stock SET on_hand = CASE WHEN sku_code LIKE 'ST1-%' THEN on_hand + 1 ELSE on_hand END;
SELECT * FROM take();
-- key moves: B2 emptied, B3 moved to B2 (old key B3 not web), and back
DELETE FROM ci.stock WHERE branch_code = 'B2';
SELECT * FROM take();
UPDATE ci.stock SET branch_code = 'B2' WHERE branch_code = 'B3';
SELECT * FROM take();
UPDATE ci.stock SET branch_code = 'B3' WHERE branch_code = 'B2';
SELECT * FROM take();
INSERT INTO ci.stock SELECT sku_code, 'B2', 4 FROM ci.sku;
SELECT * FROM take();

--
-- ci.branch: location; web_stock on/off dirties the branch's stock levels
--
UPDATE ci.branch SET name = 'Queen Street' WHERE branch_code = 'B1';
SELECT * FROM take();
UPDATE ci.branch SET name = name, phone = NULL WHERE branch_code = 'B1';
SELECT * FROM take();
UPDATE ci.branch SET phone = '09 555 0101' WHERE branch_code = 'B1';
SELECT * FROM take();
UPDATE ci.branch SET web_stock = false WHERE branch_code = 'B2';
SELECT * FROM take();
-- B2's stock is no longer inventory
UPDATE ci.stock SET on_hand = on_hand + 1 WHERE sku_code = 'ST1-RED-S';
SELECT * FROM take();
UPDATE ci.branch SET web_stock = true WHERE branch_code = 'B3';
SELECT * FROM take();
UPDATE ci.stock SET on_hand = on_hand + 1 WHERE sku_code = 'ST1-RED-S';
SELECT * FROM take();
-- set path: 9 more branches
INSERT INTO ci.branch (branch_code, name, web_stock)
SELECT 'X' || i, 'Pop-up ' || i, i % 2 = 0 FROM generate_series(1, 9) i;
SELECT * FROM take();
UPDATE ci.branch SET region = 'Auckland';
SELECT * FROM take();
UPDATE ci.branch SET region = region, country_code = 'NZ';
SELECT * FROM take();
-- flip web_stock everywhere: 12 locations and every stock level
UPDATE ci.branch SET web_stock = NOT web_stock;
SELECT kind, n FROM take();
UPDATE ci.branch SET web_stock = NOT web_stock;
SELECT kind, n FROM take();
-- branch code change and deletes
UPDATE ci.branch SET branch_code = 'X10' WHERE branch_code = 'X1';
SELECT * FROM take();
DELETE FROM ci.branch WHERE branch_code = 'X10';
SELECT * FROM take();
DELETE FROM ci.branch WHERE branch_code LIKE 'X%';
SELECT * FROM take();

--
-- ci.style: product (every column is synced)
--
UPDATE ci.style SET description = 'Linen shirt, short sleeve' WHERE style_code = 'ST1';
SELECT * FROM take();
UPDATE ci.style SET description = description, sale_price = NULL WHERE style_code = 'ST1';
SELECT * FROM take();
UPDATE ci.style SET internet_active = true WHERE style_code = 'ST2';
SELECT * FROM take();
UPDATE ci.style SET sale_price = 79.00, sale_from = '2026-12-01' WHERE style_code = 'ST3';
SELECT * FROM take();
UPDATE ci.style SET sale_to = NULL WHERE style_code = 'ST3';
SELECT * FROM take();
-- set path: 9 more styles
INSERT INTO ci.style (style_code, description, brand_code, stock_group_code, retail_price)
SELECT 'SX' || i, 'Sock ' || i, 'BR2', 'G3', 10 + i FROM generate_series(1, 9) i;
SELECT * FROM take();
UPDATE ci.style SET internet_active = true;
SELECT * FROM take();
UPDATE ci.style SET internet_active = true;
SELECT * FROM take();
-- NULL to NULL is no change, NULL to a value is
UPDATE ci.style SET sale_price = CASE WHEN style_code IN ('SX1', 'SX2') THEN 5.00 ELSE sale_price END;
SELECT * FROM take();
-- numeric equality, not bytes: 10.0 = 10.00
UPDATE ci.style SET retail_price = retail_price::numeric(12,1)::numeric;
SELECT * FROM take();
-- a style code change dirties both codes (row path and set path)
UPDATE ci.style SET style_code = 'SX1A' WHERE style_code = 'SX1';
SELECT * FROM take();
UPDATE ci.style SET style_code = style_code || 'B' WHERE style_code LIKE 'SX%';
SELECT * FROM take();

--
-- ci.sku: product of its style
--
UPDATE ci.sku SET colour = 'CRIMSON' WHERE sku_code = 'ST2-RED-S';
SELECT * FROM take();
UPDATE ci.sku SET colour = colour, barcode = NULL WHERE sku_code = 'ST2-RED-S';
SELECT * FROM take();
UPDATE ci.sku SET barcode = '9400000000017' WHERE sku_code = 'ST2-RED-S';
SELECT * FROM take();
-- moved to another style: both styles
UPDATE ci.sku SET style_code = 'ST3', colour = 'GREEN' WHERE sku_code = 'ST2-RED-S';
SELECT * FROM take();
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('ST1-RED-L', 'ST1', 'RED', 'L');
SELECT * FROM take();
-- delete (a SKU's stock rows cascade: see the style delete below)
DELETE FROM ci.sku WHERE sku_code = 'ST1-RED-L';
SELECT * FROM take();
-- set path: 12 SKUs, one row per style
UPDATE ci.sku SET sort_order = sort_order + 1;
SELECT * FROM take();
UPDATE ci.sku SET sort_order = sort_order, barcode = barcode;
SELECT * FROM take();
UPDATE ci.sku SET retail_price = CASE WHEN style_code = 'ST1' THEN 95.00 END;
SELECT * FROM take();
-- moves in a bulk statement: old and new styles only
UPDATE ci.sku SET style_code = CASE WHEN sku_code = 'ST2-RED-S' THEN 'ST2' ELSE style_code END,
                  colour = CASE WHEN sku_code = 'ST2-RED-S' THEN 'RED' ELSE colour END;
SELECT * FROM take();

--
-- ci.style_info_tab and ci.style_attribute: product
--
INSERT INTO ci.style_info_tab VALUES ('ST1', 1, 'Care', 'Cold wash');
SELECT * FROM take();
UPDATE ci.style_info_tab SET body = 'Cold wash only' WHERE style_code = 'ST1';
SELECT * FROM take();
UPDATE ci.style_info_tab SET body = body;
SELECT * FROM take();
UPDATE ci.style_info_tab SET style_code = 'ST2' WHERE style_code = 'ST1';
SELECT * FROM take();
DELETE FROM ci.style_info_tab;
SELECT * FROM take();
-- set path: 15 tabs
INSERT INTO ci.style_info_tab
SELECT s, t, 'Tab ' || t, 'Body' FROM unnest(ARRAY['ST1', 'ST2', 'ST3']) s, generate_series(1, 5) t;
SELECT * FROM take();
UPDATE ci.style_info_tab SET heading = CASE WHEN style_code = 'ST3' AND tab_no = 2 THEN 'Fit' ELSE heading END;
SELECT * FROM take();
UPDATE ci.style_info_tab SET heading = heading, body = body;
SELECT * FROM take();
-- primary key changes: the rows pair by nothing, both sides count
UPDATE ci.style_info_tab SET tab_no = tab_no + 10 WHERE style_code <> 'ST3';
SELECT * FROM take();
UPDATE ci.style_info_tab SET style_code = CASE WHEN style_code = 'ST1' THEN 'ST3' ELSE style_code END;
SELECT * FROM take();
DELETE FROM ci.style_info_tab;
SELECT * FROM take();
INSERT INTO ci.style_attribute VALUES ('ST1', 'fabric', 'linen');
SELECT * FROM take();
UPDATE ci.style_attribute SET value = 'linen' WHERE style_code = 'ST1';
SELECT * FROM take();
UPDATE ci.style_attribute SET value = 'linen blend' WHERE style_code = 'ST1';
SELECT * FROM take();
UPDATE ci.style_attribute SET name = 'material' WHERE style_code = 'ST1';
SELECT * FROM take();
-- set path
INSERT INTO ci.style_attribute
SELECT s, 'a' || i, 'v' FROM unnest(ARRAY['ST2', 'ST3']) s, generate_series(1, 5) i;
SELECT * FROM take();
UPDATE ci.style_attribute SET value = CASE WHEN style_code = 'ST3' AND name = 'a1' THEN 'w' ELSE value END;
SELECT * FROM take();
UPDATE ci.style_attribute SET style_code = CASE WHEN name = 'material' THEN 'ST2' ELSE style_code END;
SELECT * FROM take();
DELETE FROM ci.style_attribute WHERE style_code = 'ST3' OR name = 'a1';
SELECT * FROM take();

--
-- ci.brand and ci.stock_group: a rename dirties every style using it
--
UPDATE ci.brand SET name = 'Kowhai Design' WHERE brand_code = 'BR1';
SELECT * FROM take();
UPDATE ci.brand SET name = name;
SELECT * FROM take();
UPDATE ci.stock_group SET description = 'Pants' WHERE stock_group_code = 'G2';
SELECT * FROM take();
-- the parent of a stock group is not synced
UPDATE ci.stock_group SET parent_code = NULL WHERE stock_group_code = 'G3';
SELECT * FROM take();
-- set path: 11 brands, 9 of them unused
INSERT INTO ci.brand SELECT 'BX' || i, 'Brand ' || i FROM generate_series(1, 9) i;
SELECT * FROM take();
UPDATE ci.brand SET name = upper(name);
SELECT * FROM take();
UPDATE ci.brand SET name = CASE WHEN brand_code = 'BR2' THEN 'Rata NZ' ELSE name END;
SELECT * FROM take();
INSERT INTO ci.stock_group SELECT 'GX' || i, 'Group ' || i, NULL FROM generate_series(1, 9) i;
UPDATE ci.stock_group SET description = description || '.';
SELECT * FROM take();
-- brand code change of an unused brand: no style uses either code
UPDATE ci.brand SET brand_code = 'BX0' WHERE brand_code = 'BX1';
SELECT * FROM take();

--
-- ci.style delete: the product stays queued so it can be hidden
--
DELETE FROM ci.style WHERE style_code = 'ST1';
SELECT * FROM take();
DELETE FROM ci.style WHERE style_code LIKE 'SX%';
SELECT * FROM take();

--
-- ci.customer: synced columns only (created_at is not)
--
UPDATE ci.customer SET email = 'aroha@example.org' WHERE customer_code = 'C1';
SELECT * FROM take();
UPDATE ci.customer SET email = email, created_at = created_at - interval '1 day' WHERE customer_code = 'C1';
SELECT * FROM take();
UPDATE ci.customer SET accepts_marketing = true WHERE customer_code = 'C2';
SELECT * FROM take();
UPDATE ci.customer SET country_code = 'AU' WHERE customer_code = 'C3';
SELECT * FROM take();
DELETE FROM ci.customer WHERE customer_code = 'C3';
SELECT * FROM take();
INSERT INTO ci.customer (customer_code, first_name, email)
SELECT 'CX' || i, 'Guest', 'guest' || i || '@example.com' FROM generate_series(1, 9) i;
SELECT * FROM take();
UPDATE ci.customer SET created_at = created_at + interval '1 hour';
SELECT * FROM take();
UPDATE ci.customer SET phone = CASE WHEN customer_code LIKE 'CX%' AND customer_code <> 'CX9' THEN '021 000 000' ELSE phone END;
SELECT * FROM take();
UPDATE ci.customer SET customer_code = customer_code || 'A' WHERE customer_code LIKE 'CX%';
SELECT * FROM take();
DELETE FROM ci.customer WHERE customer_code LIKE 'CX%';
SELECT * FROM take();

--
-- The pending view's ci_key shapes, straight from capture
--
UPDATE ci.stock SET on_hand = 1 WHERE sku_code = 'ST2-RED-S' AND branch_code = 'B1';
UPDATE ci.branch SET phone = '09 555 0102' WHERE branch_code = 'B1';
UPDATE ci.customer SET last_name = 'Smith-Jones' WHERE customer_code = 'C1';
UPDATE ci.style SET description = 'Chinos, slim' WHERE style_code = 'ST2';
SELECT kind, ci_key, state FROM kcloud_shopify.pending ORDER BY kind;
SELECT count(*) FROM take();

--
-- session_replication_role = replica disables capture (and TRUNCATE's refusal)
--
SET session_replication_role = replica;
UPDATE ci.stock SET on_hand = on_hand + 1;
UPDATE ci.style SET description = description || '.';
UPDATE ci.customer SET email = upper(email);
SELECT * FROM take();
RESET session_replication_role;
UPDATE ci.customer SET email = lower(email) WHERE customer_code = 'C1';
SELECT * FROM take();

--
-- TRUNCATE is refused
--
TRUNCATE ci.stock;
TRUNCATE ci.customer CASCADE;
TRUNCATE ci.brand CASCADE;
SELECT count(*) FROM ci.stock;
-- replica role lets a deliberate reload through
SET session_replication_role = replica;
TRUNCATE ci.style_attribute;
RESET session_replication_role;
SELECT * FROM take();

--
-- A POS role needs no privilege on kcloud_shopify (SECURITY DEFINER capture)
--
CREATE ROLE regress_kcs_pos;
GRANT USAGE ON SCHEMA ci TO regress_kcs_pos;
GRANT SELECT, UPDATE ON ci.stock TO regress_kcs_pos;
SET ROLE regress_kcs_pos;
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code = 'ST3-RED-S' AND branch_code = 'B1';
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code LIKE 'ST3-%' AND branch_code = 'B1';
SELECT count(*) FROM kcloud_shopify.queue;
RESET ROLE;
SELECT * FROM take();
-- nor can a hostile search_path redirect the capture's SQL
CREATE SCHEMA regress_evil;
GRANT USAGE, CREATE ON SCHEMA regress_evil TO regress_kcs_pos;
SET ROLE regress_kcs_pos;
CREATE FUNCTION regress_evil.texteq(text, text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT NOT pg_catalog.texteq($1, $2) $$;
CREATE OPERATOR regress_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = regress_evil.texteq);
SET search_path = regress_evil, pg_catalog;
UPDATE ci.stock SET on_hand = on_hand - 1 WHERE sku_code OPERATOR(pg_catalog.=) 'ST3-RED-M' AND branch_code OPERATOR(pg_catalog.=) 'B1';
UPDATE ci.stock SET on_hand = on_hand + 1 WHERE branch_code OPERATOR(pg_catalog.=) 'B1';
RESET search_path;
RESET ROLE;
SELECT kind, n FROM take();
DROP SCHEMA regress_evil CASCADE;
REVOKE ALL ON ci.stock FROM regress_kcs_pos;
REVOKE ALL ON SCHEMA ci FROM regress_kcs_pos;
DROP ROLE regress_kcs_pos;

--
-- Cached rules follow ALTER TABLE (relcache invalidation), on both paths
--
UPDATE ci.customer SET phone = '1' WHERE customer_code = 'C1';
SELECT * FROM take();
ALTER TABLE ci.customer DROP COLUMN phone;
UPDATE ci.customer SET first_name = 'Ana' WHERE customer_code = 'C1';
ALTER TABLE ci.customer ADD COLUMN phone text;
UPDATE ci.customer SET phone = '2' WHERE customer_code = 'C1';
SELECT * FROM take();
INSERT INTO ci.customer (customer_code, email) SELECT 'CY' || i, 'y' || i || '@example.com' FROM generate_series(1, 9) i;
SELECT count(*) FROM take();
UPDATE ci.customer SET phone = '3' WHERE customer_code LIKE 'CY%';
SELECT * FROM take();

--
-- Misuse of the trigger functions
--
SELECT kcloud_shopify.capture();
CREATE TABLE public.t (a int);
CREATE TRIGGER bad AFTER INSERT ON public.t FOR EACH ROW EXECUTE FUNCTION kcloud_shopify.capture('stock');
INSERT INTO public.t VALUES (1);
DROP TRIGGER bad ON public.t;
CREATE TRIGGER bad AFTER INSERT ON public.t REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
INSERT INTO public.t VALUES (1);
DROP TRIGGER bad ON public.t;
CREATE TRIGGER bad AFTER INSERT ON public.t REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('nonsense');
INSERT INTO public.t VALUES (1);
DROP TRIGGER bad ON public.t;
CREATE TRIGGER bad AFTER INSERT ON public.t
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
INSERT INTO public.t VALUES (1);
DROP TRIGGER bad ON public.t;
CREATE TRIGGER bad AFTER INSERT ON public.t REFERENCING NEW TABLE AS newrows
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
INSERT INTO public.t VALUES (1);
DROP TABLE public.t;
-- the worker's capture_wait() refuses where it could not do its job
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT kcloud_shopify.capture_wait();
ROLLBACK;
BEGIN;
SELECT kcloud_shopify.enqueue('product', 'ST2');
SELECT kcloud_shopify.capture_wait();
ROLLBACK;
SELECT kcloud_shopify.capture_wait();

DROP FUNCTION take();
DROP EXTENSION kcloud_shopify;
DROP SCHEMA ci CASCADE;
