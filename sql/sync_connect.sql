-- connect() / disconnect() / link_location() / wait_for_sync() validation
-- (sql/install/20_sync.sql).  No shop is reached: successful connections
-- are rolled back before the worker could see them.  Errors never echo a
-- secret.
SET client_min_messages = warning;     -- whatever earlier tests left behind
DROP EXTENSION IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS ci CASCADE;
RESET client_min_messages;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\i test/gen/small.sql
\set QUIET off
\set ECHO all
CREATE EXTENSION kcloud_shopify;
\set VERBOSITY default

-- the shop domain
SELECT kcloud_shopify.connect(NULL, access_token => 'shpat_SECRET1');
SELECT kcloud_shopify.connect('  ', access_token => 'shpat_SECRET1');
SELECT kcloud_shopify.connect('https://my-store.myshopify.com/', access_token => 'shpat_SECRET1');
SELECT kcloud_shopify.connect('my store.myshopify.com', access_token => 'shpat_SECRET1');
SELECT kcloud_shopify.connect('localhost', access_token => 'shpat_SECRET1');
-- exactly one way to authenticate
SELECT kcloud_shopify.connect('my-store.myshopify.com');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => '');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1',
                              client_id => 'id', client_secret => 'SECRET2');
SELECT kcloud_shopify.connect('my-store.myshopify.com', client_id => 'id');
SELECT kcloud_shopify.connect('my-store.myshopify.com', client_secret => 'SECRET2');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => E'shpat_SECRET1\n');
-- the endpoint: https, or plain http to loopback only
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1',
                              endpoint => 'http://example.com/');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1',
                              endpoint => 'http://127.0.0.1.example.com/');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1',
                              endpoint => 'ftp://127.0.0.1/');
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1',
                              endpoint => 'https://user:pw@example.com/');
-- nothing was stored
SELECT count(*) FROM kcloud_shopify.settings;

-- a good connection (rolled back: no worker may act on it)
BEGIN;
SELECT kcloud_shopify.connect('My-Store.myshopify.com', access_token => 'shpat_SECRET1',
                              endpoint => 'http://127.0.0.1:9/');
SELECT name FROM kcloud_shopify.settings ORDER BY name;
SELECT kind, count(*) FROM kcloud_shopify.pending GROUP BY kind ORDER BY kind;
SELECT connected, shop_domain FROM kcloud_shopify.status;
-- connecting again to the same shop: no second first sync; credentials replaced
SELECT kcloud_shopify.connect('my-store.myshopify.com', client_id => 'id', client_secret => 'SECRET2',
                              endpoint => 'http://[::1]:9');
SELECT name FROM kcloud_shopify.settings ORDER BY name;
SELECT kcloud_shopify.disconnect();
SELECT kcloud_shopify.disconnect();
SELECT name FROM kcloud_shopify.settings ORDER BY name;
ROLLBACK;

-- link_location()
SELECT kcloud_shopify.link_location('NOPE', '1');
SELECT kcloud_shopify.link_location('AKL', 'gid://shopify/Product/1');
SELECT kcloud_shopify.link_location('AKL', NULL);
BEGIN;
SELECT kcloud_shopify.link_location('AKL', '42');
SELECT kcloud_shopify.link_location('AKL', 'gid://shopify/Location/43');
SELECT branch_code, location_gid, adopted FROM kcloud_shopify.location_link;
SELECT kind, count(*) FROM kcloud_shopify.pending GROUP BY kind ORDER BY kind;
SELECT kcloud_shopify.link_location('WLG', '43');
ROLLBACK;

-- wait_for_sync(): an empty queue is in sync; a pending row is not
SELECT kcloud_shopify.wait_for_sync('1s');
BEGIN;
SELECT kcloud_shopify.enqueue('location', 'AKL');
SELECT kcloud_shopify.wait_for_sync('0.2s');
ROLLBACK;

-- the secrets never appear in an error, and nobody but the owner reads them
CREATE ROLE kcs_support;
SET ROLE kcs_support;
SELECT * FROM kcloud_shopify.settings;
SELECT kcloud_shopify.connect('my-store.myshopify.com', access_token => 'shpat_SECRET1');
RESET ROLE;
DROP ROLE kcs_support;

SET client_min_messages = warning;
DROP EXTENSION kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA ci CASCADE;
RESET client_min_messages;
