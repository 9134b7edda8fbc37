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
