-- The CI test data generator (test/gen/ci_gen.sql) and the fixed small data
-- set (test/gen/small.sql): shapes, counts, determinism, argument checks.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS kcloud_shopify;
DROP SCHEMA IF EXISTS ci CASCADE;
DROP SCHEMA IF EXISTS ci_gen CASCADE;
RESET client_min_messages;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\i test/gen/ci_gen.sql
\set QUIET off
\set ECHO all
\set VERBOSITY default

SELECT ci_gen.populate(p_styles => 40, p_colours => 3, p_sizes => 4, p_branches => 3,
                       p_customers => 200, p_web_branches => 2, p_seed => 7,
                       p_today => '2026-06-01');

-- counts
SELECT 'branch' AS t, count(*) FROM ci.branch
UNION ALL SELECT 'web branch', count(*) FROM ci.branch WHERE web_stock
UNION ALL SELECT 'stock_group', count(*) FROM ci.stock_group
UNION ALL SELECT 'brand', count(*) FROM ci.brand
UNION ALL SELECT 'style', count(*) FROM ci.style
UNION ALL SELECT 'sku', count(*) FROM ci.sku
UNION ALL SELECT 'stock', count(*) FROM ci.stock
UNION ALL SELECT 'customer', count(*) FROM ci.customer;

-- every SKU is colour x size of its style, and stocked at every branch
SELECT count(*) AS styles_without_12_skus
  FROM (SELECT style_code FROM ci.style st
         WHERE (SELECT count(*) FROM ci.sku k WHERE k.style_code = st.style_code) <> 12) x;
SELECT count(*) AS missing_stock_rows
  FROM ci.sku k CROSS JOIN ci.branch b
 WHERE NOT EXISTS (SELECT FROM ci.stock s WHERE s.sku_code = k.sku_code AND s.branch_code = b.branch_code);
SELECT count(*) FILTER (WHERE on_hand < 0) > 0 AS some_negative,
       count(*) FILTER (WHERE on_hand = 0) > 0 AS some_zero,
       count(*) FILTER (WHERE on_hand > 0) > count(*) / 2 AS mostly_positive
  FROM ci.stock;

-- stock groups: departments at the top, every other group under one
SELECT count(*) FILTER (WHERE parent_code IS NULL) AS departments,
       count(*) FILTER (WHERE parent_code IS NOT NULL
                          AND parent_code IN (SELECT stock_group_code FROM ci.stock_group
                                               WHERE parent_code IS NULL)) AS under_a_department
  FROM ci.stock_group;

-- styles: a mix of web/not, sale windows ended, running, future and undated,
-- plain and HTML copy, some of it long
SELECT count(*) FILTER (WHERE internet_active) BETWEEN 1 AND 39 AS some_internet_active,
       count(*) FILTER (WHERE sale_to < '2026-06-01') > 0 AS sale_ended,
       count(*) FILTER (WHERE sale_from <= '2026-06-01' AND sale_to >= '2026-06-01') > 0 AS sale_running,
       count(*) FILTER (WHERE sale_from > '2026-06-01') > 0 AS sale_future,
       count(*) FILTER (WHERE sale_price IS NOT NULL AND sale_to IS NULL) > 0 AS sale_open_ended,
       bool_and(sale_price IS NULL OR sale_price < retail_price) AS sale_below_retail,
       count(*) FILTER (WHERE long_description LIKE '<p>%</p>%') > 0 AS html_copy,
       count(*) FILTER (WHERE long_description NOT LIKE '<%') > 0 AS plain_copy,
       count(*) FILTER (WHERE length(long_description) > 2000) > 0 AS long_copy
  FROM ci.style;
SELECT count(DISTINCT style_code) > 0 AS styles_with_tabs,
       max(tab_no) <= 3 AS at_most_3_tabs
  FROM ci.style_info_tab;
SELECT name, count(*) > 0 AS present FROM ci.style_attribute GROUP BY name ORDER BY name;

-- SKUs: barcodes are unique, valid EAN-13 (check digit recomputed here), a
-- few missing; a few SKUs have their own price
SELECT count(*) FILTER (WHERE barcode IS NULL) > 0 AS some_without_barcode,
       count(DISTINCT barcode) = count(barcode) AS barcodes_unique,
       bool_and(barcode ~ '^[0-9]{13}$' AND
                (SELECT sum(substr(barcode, i, 1)::int * (1 + 2 * ((i + 1) % 2))) FROM generate_series(1, 13) i) % 10 = 0)
           AS barcodes_valid_ean13
  FROM ci.sku;
SELECT count(*) FILTER (WHERE retail_price IS NOT NULL) > 0 AS own_price FROM ci.sku;

-- customers: emails unique ignoring case (some mixed case), some phone-only,
-- some with neither email nor phone, non-ASCII names
SELECT count(email) = count(DISTINCT lower(email)) AS emails_unique_ci,
       count(*) FILTER (WHERE email <> lower(email)) > 0 AS some_mixed_case,
       count(*) FILTER (WHERE email IS NULL AND phone IS NOT NULL) > 0 AS some_phone_only,
       count(*) FILTER (WHERE email IS NULL AND phone IS NULL) > 0 AS some_neither,
       count(*) FILTER (WHERE first_name || last_name ~ '[^\x01-\x7f]') > 0 AS some_non_ascii_names
  FROM ci.customer;

-- the code helpers name the generated rows
SELECT ci_gen.sku_code(40, 3, 4) AS last_sku,
       EXISTS (SELECT FROM ci.stock WHERE sku_code = ci_gen.sku_code(40, 3, 4)
                                      AND branch_code = ci_gen.branch_code(3)) AS its_stock_row;

-- determinism: the same seed gives the same data, another seed other data
SELECT ci_gen.fingerprint() AS fp7 \gset
SELECT ci_gen.populate(40, 3, 4, 3, 200, 2, 7, '2026-06-01');    -- not empty: refused
SELECT ci_gen.clear();
SELECT ci_gen.populate(40, 3, 4, 3, 200, 2, 7, '2026-06-01') IS NOT NULL AS populated;
SELECT ci_gen.fingerprint() = :'fp7' AS same_seed_same_data;
-- the value itself: the data must not change silently between versions
SELECT :'fp7' AS fingerprint_seed_7;
SELECT ci_gen.clear();
SELECT ci_gen.populate(40, 3, 4, 3, 200, 2, 8, '2026-06-01') IS NOT NULL AS populated;
SELECT ci_gen.fingerprint() <> :'fp7' AS other_seed_other_data;
-- the fingerprint sees a one-unit change
UPDATE ci.stock SET on_hand = on_hand + 1
 WHERE sku_code = ci_gen.sku_code(1, 1, 1) AND branch_code = ci_gen.branch_code(1);
SELECT ci_gen.fingerprint() AS fp8_changed \gset
UPDATE ci.stock SET on_hand = on_hand - 1
 WHERE sku_code = ci_gen.sku_code(1, 1, 1) AND branch_code = ci_gen.branch_code(1);
SELECT ci_gen.fingerprint() <> :'fp8_changed' AS fingerprint_sensitive;

-- bad arguments
SELECT ci_gen.clear();
SELECT ci_gen.populate(0, 3, 4, 3, 10);
SELECT ci_gen.populate(1, 100, 4, 3, 10);
SELECT ci_gen.populate(1, 3, 4, 3, 10, p_web_branches => 4);
SELECT ci_gen.populate(1, 3, 4, 3, NULL);
SELECT count(*) AS nothing_written FROM ci.branch;

-- the fixed small data set
\set ECHO none
\set QUIET on
\i test/gen/small.sql
\set QUIET off
\set ECHO all
SELECT (SELECT count(*) FROM ci.branch) AS branches,
       (SELECT count(*) FROM ci.style) AS styles,
       (SELECT count(*) FROM ci.sku) AS skus,
       (SELECT count(*) FROM ci.stock) AS stock_rows,
       (SELECT count(*) FROM ci.customer) AS customers;
SELECT branch_code, name, web_stock FROM ci.branch ORDER BY branch_code;
SELECT style_code, description, internet_active,
       CASE WHEN sale_price IS NULL THEN 'none'
            WHEN sale_to < CURRENT_DATE THEN 'ended'
            WHEN sale_from > CURRENT_DATE THEN 'future'
            ELSE 'running' END AS sale
  FROM ci.style ORDER BY style_code;
SELECT customer_code, first_name, last_name, email, phone FROM ci.customer ORDER BY customer_code;
SELECT count(*) AS bad_barcodes FROM ci.sku
 WHERE barcode IS NOT NULL
   AND (SELECT sum(substr(barcode, i, 1)::int * (1 + 2 * ((i + 1) % 2))) FROM generate_series(1, 13) i) % 10 <> 0;

SET client_min_messages = warning;
DROP SCHEMA ci_gen CASCADE;
RESET client_min_messages;
