-- What Shopify holds (the simulator's state dump, state.json) beside CI.
\set state `cat state.json`
\pset footer off
\echo
\echo '-- products: CI style | Shopify product'
WITH p AS (SELECT e FROM jsonb_array_elements((:'state'::jsonb)->'products') e)
SELECT st.style_code, st.internet_active AS ci_web, p.e->>'status' AS shopify_status,
       p.e->>'title' AS title, p.e->>'vendor' AS vendor, p.e->>'productType' AS product_type,
       (SELECT count(*) FROM ci.sku k WHERE k.style_code = st.style_code) AS ci_skus,
       jsonb_array_length(p.e->'variants') AS variants,
       jsonb_array_length(p.e->'metafields') AS metafields
  FROM ci.style st
  LEFT JOIN kcloud_shopify.product_link pl USING (style_code)
  LEFT JOIN p ON p.e->>'id' = pl.product_gid
 ORDER BY 1;
\echo '-- prices of a few variants: CI effective price | Shopify price / compare-at'
WITH v AS (SELECT x FROM jsonb_array_elements((:'state'::jsonb)->'products') e,
                          jsonb_array_elements(e->'variants') x)
SELECT k.sku_code,
       COALESCE(CASE WHEN COALESCE(k.sale_price, s.sale_price) IS NOT NULL
                      AND (s.sale_from IS NULL OR s.sale_from <= current_date)
                      AND (s.sale_to IS NULL OR s.sale_to >= current_date)
                     THEN COALESCE(k.sale_price, s.sale_price) END,
                COALESCE(k.retail_price, s.retail_price)) AS ci_price,
       v.x->>'price' AS shopify_price, v.x->>'compareAtPrice' AS shopify_compare_at
  FROM ci.sku k JOIN ci.style s USING (style_code)
  LEFT JOIN v ON v.x->>'sku' = k.sku_code
 WHERE k.sku_code IN ('MER-CREW-NAV-M', 'PUF-JKT-BLK-M', 'TEE-ORG-BLK-M', 'TEE-ORG-WHT-XL')
 ORDER BY 1;
\echo '-- stock of MER-CREW and TEE-ORG-BLK-M: CI on hand | Shopify on hand / available per location'
WITH lv AS (SELECT x FROM jsonb_array_elements((:'state'::jsonb)->'inventoryLevels') x)
SELECT st.sku_code, st.branch_code, b.web_stock, st.on_hand AS ci_on_hand,
       (lv.x->>'on_hand')::int AS shopify_on_hand, (lv.x->>'available')::int AS shopify_available
  FROM ci.stock st
  JOIN ci.branch b USING (branch_code)
  LEFT JOIN kcloud_shopify.variant_link vl USING (sku_code)
  LEFT JOIN kcloud_shopify.location_link ll USING (branch_code)
  LEFT JOIN lv ON lv.x->>'inventoryItemId' = vl.inventory_item_gid AND lv.x->>'locationId' = ll.location_gid
 WHERE st.sku_code IN ('MER-CREW-NAV-M', 'TEE-ORG-BLK-M')
 ORDER BY 1, 2;
\echo '-- whole catalogue: web stock levels where CI and Shopify differ (expect none)'
WITH lv AS (SELECT x FROM jsonb_array_elements((:'state'::jsonb)->'inventoryLevels') x)
SELECT count(*) FILTER (WHERE (lv.x->>'on_hand')::int IS DISTINCT FROM GREATEST(st.on_hand, 0)) AS differing,
       count(*) AS web_levels
  FROM ci.stock st
  JOIN ci.branch b USING (branch_code)
  JOIN ci.sku k USING (sku_code)
  JOIN ci.style s ON s.style_code = k.style_code AND s.internet_active
  LEFT JOIN kcloud_shopify.variant_link vl USING (sku_code)
  LEFT JOIN kcloud_shopify.location_link ll USING (branch_code)
  LEFT JOIN lv ON lv.x->>'inventoryItemId' = vl.inventory_item_gid AND lv.x->>'locationId' = ll.location_gid
 WHERE b.web_stock AND b.active;
\echo '-- locations and customers'
SELECT (SELECT count(*) FROM jsonb_array_elements((:'state'::jsonb)->'locations')) AS shopify_locations,
       (SELECT count(*) FROM kcloud_shopify.location_link) AS linked_branches,
       (SELECT count(*) FROM jsonb_array_elements((:'state'::jsonb)->'customers')) AS shopify_customers,
       (SELECT count(*) FROM kcloud_shopify.customer_link) AS linked_customers;
