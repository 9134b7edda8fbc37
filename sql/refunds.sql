-- Refund ingestion: Shopify refunds (REST JSON, the refunds/create webhook
-- body) become CI credit notes linked to the order's invoice.
\set ECHO none
\set QUIET on
\i test/fixtures/orders/setup.sql
SELECT kcloud_shopify.ingest_order(:'guest') IS NOT NULL AS o1,
       kcloud_shopify.ingest_order(:'new_customer') IS NOT NULL AS o2,
       kcloud_shopify.ingest_order(:'discounts') IS NOT NULL AS o3,
       kcloud_shopify.ingest_order(:'two_locations') IS NOT NULL AS o4 \gset
CREATE VIEW pg_temp.cn AS
SELECT c.credit_no, c.invoice_no, i.reference AS invoice_ref, c.branch_code, c.customer_code, c.source,
       c.reference, c.tax_total, c.total
  FROM ci.credit_note c LEFT JOIN ci.invoice i USING (invoice_no);
CREATE VIEW pg_temp.cnl AS
SELECT l.credit_no, l.line_no, l.sku_code, l.description, l.qty, l.unit_price, l.tax, l.line_total, l.restock
  FROM ci.credit_note_line l;
\set QUIET off
\set ECHO all

SELECT sku_code, branch_code, on_hand FROM ci.stock WHERE sku_code IN ('TEE-RED-M', 'JEANS-32') ORDER BY 1, 2;

-- a partial refund with restock: one of two tees back on hand at B1
SELECT kcloud_shopify.ingest_refund(:'refund_restock');
SELECT * FROM cn WHERE reference = '#1001';
SELECT * FROM cnl WHERE credit_no = (SELECT credit_no FROM ci.credit_note WHERE reference = '#1001');
SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'B1';
-- again (redelivery): the same credit note, stock unchanged
SELECT kcloud_shopify.ingest_refund(:'refund_restock') ->> 'created' AS created;
SELECT count(*) AS credit_notes, (SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'B1')
  FROM ci.credit_note WHERE reference = '#1001';

-- a partial refund without restock (damaged): no stock movement
SELECT kcloud_shopify.ingest_refund(:'refund_norestock') ->> 'total' AS total;
SELECT * FROM cnl WHERE credit_no = (SELECT credit_no FROM ci.credit_note WHERE reference = '#1002');
SELECT on_hand FROM ci.stock WHERE sku_code = 'JEANS-32' AND branch_code = 'B1';

-- a full refund of an order whose prices exclude tax, returned to another
-- branch (B2) than the one that shipped (B1): credit = the money refunded
SELECT kcloud_shopify.ingest_refund(:'refund_full') ->> 'total' AS total;
SELECT * FROM cn WHERE reference = '#1004';
SELECT * FROM cnl WHERE credit_no = (SELECT credit_no FROM ci.credit_note WHERE reference = '#1004');
SELECT (SELECT total FROM ci.invoice WHERE reference = '#1004') AS invoiced,
       (SELECT total FROM ci.credit_note WHERE reference = '#1004') AS credited;
SELECT sku_code, branch_code, on_hand FROM ci.stock WHERE sku_code IN ('TEE-RED-M', 'JEANS-32') ORDER BY 1, 2;

-- refunded shipping and an order adjustment: non-stock lines, total = money refunded
SELECT kcloud_shopify.ingest_refund(:'refund_adjustment') ->> 'total' AS total;
SELECT * FROM cnl WHERE credit_no = (SELECT credit_no FROM ci.credit_note WHERE reference = '#1006');
SELECT c.total = (:'refund_adjustment'::jsonb #>> '{transactions,0,amount}')::numeric AS total_is_refunded_money
  FROM ci.credit_note c WHERE c.reference = '#1006';

-- units cancelled before they were fulfilled were never invoiced: nothing to credit
SELECT kcloud_shopify.ingest_refund(jsonb_build_object('id', 7010, 'order_id', 1006,
       'refund_line_items', jsonb_build_array(jsonb_build_object('quantity', 1, 'restock_type', 'cancel',
                                                                 'line_item', jsonb_build_object('sku', 'SOCK-BLK'))),
       'transactions', '[]'::jsonb)) - 'order_id';

-- cannot be ingested: an error naming the refund and the cause, nothing written
SELECT count(*) AS notes_before FROM ci.credit_note \gset
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_refund(%L)', :'refund_unknown_order'));
SELECT pg_temp.try($$SELECT kcloud_shopify.ingest_refund('{"id": 7100}')$$);
SELECT pg_temp.try($$SELECT kcloud_shopify.ingest_refund('"refund"')$$);
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_refund(%L)',
    jsonb_set(jsonb_set(:'refund_restock'::jsonb, '{id}', '7101'), '{refund_line_items,0,location_id}', '199')));
SELECT count(*) - :notes_before AS notes_written FROM ci.credit_note;
-- the poller lists a refund whose order is not in CI yet
SELECT kcloud_shopify.ingest_or_record('refund', :'refund_unknown_order', 'poller') ->> 'sqlstate' AS sqlstate;
SELECT kind, shopify_id, order_id, sqlstate FROM kcloud_shopify.order_exceptions;
SELECT kcloud_shopify.discard_order_exception('refund', 7099);

-- the links view shows refunds
SELECT kind, ci_key ? 'credit_no' AS keyed_by_credit_no, shopify_gid LIKE 'gid://shopify/Refund/%' AS gid
  FROM kcloud_shopify.links WHERE kind = 'refund' ORDER BY shopify_gid;
-- every credit note adds up
SELECT count(*) AS notes,
       count(*) FILTER (WHERE c.total = (SELECT sum(line_total) FROM ci.credit_note_line l WHERE l.credit_no = c.credit_no)) AS lines_add_up,
       count(*) FILTER (WHERE c.tax_total = (SELECT sum(tax) FROM ci.credit_note_line l WHERE l.credit_no = c.credit_no)) AS tax_adds_up
  FROM ci.credit_note c;
