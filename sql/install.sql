-- CREATE EXTENSION refuses a database that is not Counter Intelligence 11.514+,
-- installs into a CI database, and DROP EXTENSION leaves CI data untouched.
\set VERBOSITY default
-- no CI schema at all
CREATE EXTENSION kcloud_shopify;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\set QUIET off
\set ECHO all
-- too old
UPDATE ci.system_info SET version = 11, build = 513;
CREATE EXTENSION kcloud_shopify;
UPDATE ci.system_info SET version = 10, build = 900;
CREATE EXTENSION kcloud_shopify;
DELETE FROM ci.system_info;
CREATE EXTENSION kcloud_shopify;
INSERT INTO ci.system_info VALUES ('Counter Intelligence', 11, 514);
CREATE EXTENSION kcloud_shopify;
SELECT extname, extversion FROM pg_extension WHERE extname = 'kcloud_shopify';
SELECT relname, relkind FROM pg_class
 WHERE relnamespace = 'kcloud_shopify'::regnamespace AND relkind IN ('r', 'v')
 ORDER BY relname;
-- the extension owns its schema, the capture functions and the triggers on the CI tables
SELECT m.member
  FROM pg_depend d, pg_describe_object(d.classid, d.objid, d.objsubid) AS m(member)
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'kcloud_shopify')
   AND (d.classid IN ('pg_trigger'::regclass, 'pg_namespace'::regclass)
        OR m.member LIKE 'function kcloud_shopify.capture%')
 ORDER BY m.member COLLATE "C";
-- the capture triggers
SELECT tgrelid::regclass AS "table", tgname, tgenabled, pg_get_triggerdef(oid, true) AS definition
  FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgrelid::regclass::text COLLATE "C", tgname;

-- DROP EXTENSION removes all of it and leaves CI data untouched
INSERT INTO ci.branch (branch_code, name) VALUES ('B1', 'Queen St');
INSERT INTO ci.style (style_code, description, retail_price) VALUES ('ST1', 'Shirt', 10);
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('ST1-R-S', 'ST1', 'R', 'S');
INSERT INTO ci.stock VALUES ('ST1-R-S', 'B1', 3);
INSERT INTO ci.customer (customer_code, email) VALUES ('C1', 'c1@example.com');
SELECT count(*) AS queued FROM kcloud_shopify.queue;
DROP EXTENSION kcloud_shopify;
SELECT count(*) AS triggers FROM pg_trigger WHERE NOT tgisinternal;
SELECT nspname FROM pg_namespace WHERE nspname = 'kcloud_shopify';
SELECT count(*) AS functions FROM pg_proc WHERE proname LIKE 'kcloud_shopify%' OR prosrc LIKE 'kcloud_shopify%';
SELECT (SELECT count(*) FROM ci.branch) AS branches, (SELECT count(*) FROM ci.style) AS styles,
       (SELECT count(*) FROM ci.sku) AS skus, (SELECT on_hand FROM ci.stock) AS on_hand,
       (SELECT count(*) FROM ci.customer) AS customers, (SELECT build FROM ci.system_info) AS build;
-- CI keeps working without it, TRUNCATE included
UPDATE ci.stock SET on_hand = on_hand - 1;
TRUNCATE ci.customer CASCADE;
-- a schema of that name that existed before CREATE EXTENSION survives DROP EXTENSION
CREATE SCHEMA kcloud_shopify;
CREATE EXTENSION kcloud_shopify;
DROP EXTENSION kcloud_shopify;
SELECT nspname FROM pg_namespace WHERE nspname = 'kcloud_shopify';
DROP SCHEMA kcloud_shopify;
DROP SCHEMA ci CASCADE;
