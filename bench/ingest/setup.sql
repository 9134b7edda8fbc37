-- bench/ingest: a CI database with 2 branches linked to Shopify locations,
-- 200 SKUs, 2000 customers, and :norders generated order payloads (REST
-- JSON, as the orders/fulfilled webhook delivers them): 1-4 stock lines, a
-- shipping line on half, GST included; a third guests, a third existing
-- customers (matched by email), a third new customers.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.bench_payload;
DROP SEQUENCE IF EXISTS public.bench_seq;
DROP EXTENSION IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS kcloud_shopify CASCADE;
DROP SCHEMA IF EXISTS ci CASCADE;
\i test/ci_schema.sql
CREATE EXTENSION kcloud_shopify;
INSERT INTO ci.branch (branch_code, name) VALUES ('B1', 'Queen St'), ('B2', 'Lambton Quay');
INSERT INTO ci.style (style_code, description, retail_price, internet_active)
SELECT 'S' || i, 'Style ' || i, 20 + i, true FROM generate_series(1, 50) i;
INSERT INTO ci.sku (sku_code, style_code, colour, size)
SELECT 'S' || i || '-' || s, 'S' || i, 'Black', s FROM generate_series(1, 50) i, unnest(ARRAY['S', 'M', 'L', 'XL']) s;
INSERT INTO ci.stock (sku_code, branch_code, on_hand) SELECT k.sku_code, b.branch_code, 1000000 FROM ci.sku k, ci.branch b;
INSERT INTO ci.customer (customer_code, first_name, last_name, email)
SELECT 'C' || i, 'First' || i, 'Last' || i, 'c' || i || '@example.com' FROM generate_series(1, 2000) i;
INSERT INTO kcloud_shopify.location_link (branch_code, location_gid) VALUES
    ('B1', 'gid://shopify/Location/101'), ('B2', 'gid://shopify/Location/102');

CREATE SEQUENCE public.bench_seq;
CREATE TABLE public.bench_payload (n bigint PRIMARY KEY, body jsonb NOT NULL);
INSERT INTO public.bench_payload
SELECT n, jsonb_build_object(
    'id', 500000 + n, 'name', '#' || (500000 + n), 'email', e.email, 'taxes_included', true,
    'updated_at', '2026-11-26T10:00:00Z',
    'customer', CASE WHEN n % 3 = 0 THEN NULL
                     ELSE jsonb_build_object('id', 900000 + n, 'email', e.email, 'first_name', 'Web', 'last_name', 'Buyer ' || n) END,
    'shipping_address', jsonb_build_object('first_name', 'Web', 'last_name', 'Buyer', 'address1', '1 Queen St',
                                           'city', 'Auckland', 'zip', '1010', 'country_code', 'NZ'),
    'payment_gateway_names', jsonb_build_array('shopify_payments'),
    'line_items', l.items,
    'shipping_lines', CASE WHEN n % 2 = 0 THEN jsonb_build_array(jsonb_build_object('title', 'Courier', 'price', '8.00',
                              'discounted_price', '8.00', 'tax_lines', jsonb_build_array(jsonb_build_object('price', '1.04'))))
                           ELSE '[]'::jsonb END,
    'fulfillments', jsonb_build_array(jsonb_build_object('id', 700000 + n, 'status', 'success',
                              'created_at', '2026-11-26T09:00:00Z', 'location_id', 101 + n % 2,
                              'line_items', (SELECT jsonb_agg(jsonb_build_object('id', i ->> 'id', 'quantity', (i ->> 'quantity')::int))
                                               FROM jsonb_array_elements(l.items) i))))
  FROM generate_series(1, :norders) n
  CROSS JOIN LATERAL (SELECT CASE n % 3 WHEN 1 THEN 'c' || (1 + n % 2000) || '@example.com'   -- existing customer
                                        ELSE 'new' || n || '@example.com' END AS email) e
  CROSS JOIN LATERAL (
      SELECT jsonb_agg(jsonb_build_object('id', n * 10 + j, 'sku', 'S' || (1 + (n * 7 + j * 13) % 50) || '-' || (ARRAY['S', 'M', 'L', 'XL'])[1 + (n + j) % 4],
                                          'name', 'Style item ' || j, 'quantity', 1 + j % 2, 'price', '39.90',
                                          'tax_lines', jsonb_build_array(jsonb_build_object('price', '5.20')),
                                          'discount_allocations', '[]'::jsonb)) AS items
        FROM generate_series(1, 1 + n % 4) j) l;
VACUUM ANALYZE;
