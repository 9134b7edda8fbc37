-- Order ingestion: fulfilled Shopify orders (REST JSON, the orders/fulfilled
-- webhook body) become paid CI invoices (docs/orders.md).
\set ECHO none
\set QUIET on
\i test/fixtures/orders/setup.sql
\set QUIET off
\set ECHO all

-- a guest checkout: cash sale (no customer), tax included, stock off B1
SELECT kcloud_shopify.ingest_order(:'guest') - 'customer_code';
SELECT * FROM inv WHERE reference = '#1001';
SELECT * FROM lines WHERE invoice_no = (SELECT invoice_no FROM ci.invoice WHERE reference = '#1001') ORDER BY line_no;
SELECT invoice_no IS NOT NULL AS has_invoice, line_no, tender, amount, reference
  FROM ci.invoice_payment WHERE invoice_no = (SELECT invoice_no FROM ci.invoice WHERE reference = '#1001');
SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'B1';
-- the decrement is an ordinary CI change: capture queued the level for Shopify
SELECT kind, key1, key2, state FROM kcloud_shopify.queue WHERE kind = 'inventory' ORDER BY key1, key2;

-- the same order again (a webhook redelivery, the poller): nothing new
SELECT kcloud_shopify.ingest_order(:'guest') -> 'invoices' -> 0 ->> 'created' AS created_again;
SELECT count(*) AS invoices_for_1001 FROM ci.invoice WHERE reference = '#1001';
SELECT on_hand FROM ci.stock WHERE sku_code = 'TEE-RED-M' AND branch_code = 'B1';

-- a new customer: created as WEB<shopify customer id> with the order's name and
-- address, and linked; shipping as a non-stock line on the invoice
SELECT kcloud_shopify.ingest_order(:'new_customer') ->> 'customer_code' AS customer;
SELECT customer_code, first_name, last_name, email, phone, address1, city, region, postcode, country_code
  FROM ci.customer WHERE customer_code = 'WEB9002';
SELECT customer_code, customer_gid, identifier FROM kcloud_shopify.customer_link ORDER BY 1;
SELECT * FROM inv WHERE reference = '#1002';
SELECT l.line_no, l.sku_code, l.description, l.qty, l.unit_price, l.discount, l.tax, l.line_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1002' ORDER BY line_no;

-- an existing CI customer, matched by email whatever the case; PayPal
SELECT kcloud_shopify.ingest_order(:'existing_email') ->> 'customer_code' AS customer;
SELECT count(*) AS customers FROM ci.customer;
SELECT i.branch_code, i.customer_code, p.tender, p.amount
  FROM ci.invoice i JOIN ci.invoice_payment p USING (invoice_no) WHERE i.reference = '#1003';
-- ... and now linked: the next order of Shopify customer 9003 finds ALICE by the link
UPDATE ci.customer SET email = 'alice@elsewhere.example' WHERE customer_code = 'ALICE';

-- discounts with allocations, two tax lines, prices excluding tax, shipping
-- discounted to zero: line_total = price x qty - discount + tax
SELECT kcloud_shopify.ingest_order(:'discounts') ->> 'customer_code' AS customer;
SELECT * FROM inv WHERE reference = '#1004';
SELECT l.line_no, l.sku_code, l.description, l.qty, l.unit_price, l.discount, l.tax, l.line_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1004' ORDER BY line_no;
-- total equals the order's total price
SELECT i.total = (:'discounts'::jsonb ->> 'total_price')::numeric AS total_matches
  FROM ci.invoice i WHERE i.reference = '#1004';

-- many lines
SELECT jsonb_array_length(kcloud_shopify.ingest_order(:'many_lines') -> 'invoices') AS invoices;
SELECT count(*) AS lines, sum(qty) AS units, sum(line_total) AS sum_lines,
       (SELECT total FROM ci.invoice WHERE reference = '#1005') AS total,
       (:'many_lines'::jsonb ->> 'total_price')::numeric AS order_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1005';

-- two fulfilments from two locations: an invoice each, at each branch; the
-- shipping on the first (by time, whatever the order in the payload); a line
-- split 1 + 2 gets its discount and tax in shares that add up
SELECT kcloud_shopify.ingest_order(:'two_locations_first') -> 'invoices' AS first_delivery;
SELECT (f ->> 'created')::boolean AS created, f ->> 'branch_code' AS branch
  FROM jsonb_array_elements(kcloud_shopify.ingest_order(:'two_locations') -> 'invoices') f;
SELECT i.branch_code, i.subtotal, i.discount_total, i.shipping_total, i.tax_total, i.total
  FROM inv i WHERE i.reference = '#1006' ORDER BY invoice_no;
SELECT i.branch_code, l.line_no, l.sku_code, l.qty, l.unit_price, l.discount, l.tax, l.line_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1006' ORDER BY l.invoice_no, l.line_no;
SELECT sum(total) AS sum_of_invoices, (:'two_locations'::jsonb ->> 'total_price')::numeric AS order_total
  FROM ci.invoice WHERE reference = '#1006';
SELECT sku_code, branch_code, on_hand FROM ci.stock
 WHERE sku_code IN ('TEE-RED-M', 'SOCK-BLK') ORDER BY 1, 2;

-- unicode names
SELECT kcloud_shopify.ingest_order(:'unicode') ->> 'customer_code' AS customer;
SELECT first_name, last_name, address1, city FROM ci.customer WHERE customer_code = 'WEB9007';
SELECT l.description FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1007';

-- a line without SKU and a gift card: non-stock lines with the item's title
SELECT kcloud_shopify.ingest_order(:'nosku_giftcard') -> 'invoices' -> 0 ->> 'total' AS total;
SELECT l.line_no, l.sku_code, l.description, l.qty, l.unit_price, l.tax, l.line_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1008' ORDER BY line_no;
SELECT p.tender, p.amount FROM ci.invoice_payment p JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1008';

-- cannot be ingested: an error naming the order and the cause, nothing written
SELECT count(*) AS invoices_before FROM ci.invoice \gset
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_order(%L)', :'unknown_sku'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_order(%L)', :'unlinked_location'));
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_order(%L)', :'malformed'));
SELECT pg_temp.try($$SELECT kcloud_shopify.ingest_order('[1, 2]')$$);
SELECT pg_temp.try($$SELECT kcloud_shopify.ingest_order('{"name": "#1012", "line_items": [], "fulfillments": []}')$$);
-- a price that is not a number (fresh order and fulfilment ids)
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_order(%L)',
    jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'guest'::jsonb, '{id}', '1013'), '{name}', '"#1013"'),
                        '{fulfillments,0,id}', '5013'), '{line_items,0,price_set}', 'null')
    || '{"line_items": [{"id": 11001, "sku": "TEE-RED-M", "quantity": 2, "price": "abc"}]}'));
-- a plain ingest_order call that fails raises (and the caller's transaction is lost)
\set VERBOSITY terse
SELECT kcloud_shopify.ingest_order(:'unlinked_location');
\set VERBOSITY default
SELECT count(*) - :invoices_before AS invoices_written FROM ci.invoice;
SELECT count(*) AS links_for_failed FROM kcloud_shopify.order_link WHERE order_id IN (1009, 1010, 1011, 1013);

-- the poller's entry point lists the failure instead of raising, and clears it
-- once the cause is fixed
SELECT kcloud_shopify.ingest_or_record('order', :'unknown_sku', 'poller') - 'id' AS listed;
SELECT kind, shopify_id, order_name, sqlstate, message, attempts FROM kcloud_shopify.order_exceptions;
SELECT kcloud_shopify.ingest_or_record('order', :'unknown_sku', 'poller') ->> 'sqlstate' AS again;
SELECT attempts FROM kcloud_shopify.order_exception;
INSERT INTO ci.sku (sku_code, style_code, colour, size) VALUES ('NO-SUCH-SKU', 'TEE', 'Blue', 'XL');
SELECT kcloud_shopify.ingest_or_record('order', :'unknown_sku', 'poller') ->> 'created' AS created;
SELECT count(*) AS exceptions_left FROM kcloud_shopify.order_exception;

-- the links view shows orders and fulfilments
SELECT kind, count(*) FROM kcloud_shopify.links WHERE kind IN ('order', 'fulfillment') GROUP BY 1 ORDER BY 1;
SELECT order_id, order_name, customer_id, customer_code, taxes_included
  FROM kcloud_shopify.order_link ORDER BY order_id;

-- every web invoice is fully paid and adds up
SELECT count(*) AS web_invoices,
       count(*) FILTER (WHERE i.paid = i.total) AS paid_in_full,
       count(*) FILTER (WHERE i.total = (SELECT sum(line_total) FROM ci.invoice_line l WHERE l.invoice_no = i.invoice_no)) AS lines_add_up,
       count(*) FILTER (WHERE i.total = (SELECT sum(amount) FROM ci.invoice_payment p WHERE p.invoice_no = i.invoice_no)) AS payments_add_up
  FROM ci.invoice i WHERE i.source = 'WEB';

-- the poller's GraphQL order becomes the same internal (REST) form
SELECT jsonb_pretty(kcloud_shopify.order_from_graphql($${
  "id": "gid://shopify/Order/1020", "legacyResourceId": "1020", "name": "#1020", "email": "Alice.Smith@example.com",
  "taxesIncluded": true, "updatedAt": "2026-11-25T10:00:00Z", "paymentGatewayNames": ["shopify_payments"],
  "customer": {"id": "gid://shopify/Customer/9003", "legacyResourceId": "9003", "firstName": "Alice", "lastName": "Smith",
               "defaultEmailAddress": {"emailAddress": "alice.smith@example.com"}, "defaultPhoneNumber": null, "defaultAddress": null},
  "transactions": [{"kind": "SALE", "status": "SUCCESS", "gateway": "shopify_payments"}],
  "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/12001", "sku": "TEE-RED-L", "name": "Tee - Red / L", "title": "Tee",
                           "quantity": 1, "isGiftCard": false, "originalUnitPriceSet": {"shopMoney": {"amount": "39.90"}},
                           "discountAllocations": [{"allocatedAmountSet": {"shopMoney": {"amount": "4.00"}}}],
                           "taxLines": [{"priceSet": {"shopMoney": {"amount": "4.68"}}}]}],
                "pageInfo": {"hasNextPage": false}},
  "shippingLines": {"nodes": [{"title": "Courier", "code": "C", "originalPriceSet": {"shopMoney": {"amount": "8.00"}},
                               "discountedPriceSet": {"shopMoney": {"amount": "8.00"}}, "taxLines": []}]},
  "fulfillments": [{"id": "gid://shopify/Fulfillment/5020", "legacyResourceId": "5020", "status": "SUCCESS",
                    "createdAt": "2026-11-25T09:00:00Z", "location": {"id": "gid://shopify/Location/102", "legacyResourceId": "102"},
                    "fulfillmentLineItems": {"nodes": [{"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/12001"}}],
                                             "pageInfo": {"hasNextPage": false}}}]
}$$) - 'line_items' - 'shipping_lines') AS rest_shape;
SELECT kcloud_shopify.ingest_order(kcloud_shopify.order_from_graphql($${
  "id": "gid://shopify/Order/1020", "name": "#1020", "taxesIncluded": true,
  "customer": {"id": "gid://shopify/Customer/9003"},
  "lineItems": {"nodes": [{"id": "gid://shopify/LineItem/12001", "sku": "TEE-RED-L", "name": "Tee - Red / L", "quantity": 1,
                           "originalUnitPriceSet": {"shopMoney": {"amount": "39.90"}},
                           "discountAllocations": [{"allocatedAmountSet": {"shopMoney": {"amount": "4.00"}}}],
                           "taxLines": [{"priceSet": {"shopMoney": {"amount": "4.68"}}}]}]},
  "shippingLines": {"nodes": [{"title": "Courier", "originalPriceSet": {"shopMoney": {"amount": "8.00"}},
                               "discountedPriceSet": {"shopMoney": {"amount": "8.00"}}, "taxLines": []}]},
  "fulfillments": [{"id": "gid://shopify/Fulfillment/5020", "status": "SUCCESS", "createdAt": "2026-11-25T09:00:00Z",
                    "location": {"id": "gid://shopify/Location/102"},
                    "fulfillmentLineItems": {"nodes": [{"quantity": 1, "lineItem": {"id": "gid://shopify/LineItem/12001"}}]}}]
}$$)) #- '{invoices,0,invoice_no}' AS from_graphql;
SELECT l.sku_code, l.qty, l.unit_price, l.discount, l.tax, l.line_total
  FROM lines l JOIN ci.invoice i USING (invoice_no) WHERE i.reference = '#1020' ORDER BY line_no;
-- an order bigger than the poller's detail queries read is never ingested in part
SELECT pg_temp.try(format('SELECT kcloud_shopify.ingest_order(%L)', kcloud_shopify.order_from_graphql(
    '{"id": "gid://shopify/Order/1021", "name": "#1021", "lineItems": {"nodes": [], "pageInfo": {"hasNextPage": true}}, "fulfillments": []}')));
