-- Bring the fulfilled web order into CI (the worker's poller does this on its
-- own every poll interval; here we ask for a poll now) and show the invoice.
SELECT kcloud_shopify.poll_orders() AS poll;
SELECT kcloud_shopify.wait_for_sync('60s') AS in_sync;
\pset footer off
\echo '-- web invoices in CI'
SELECT i.invoice_no, i.branch_code, i.customer_code, i.source, i.reference, i.subtotal,
       i.shipping_total, i.tax_total, i.total, i.paid
  FROM ci.invoice i WHERE i.source = 'WEB' ORDER BY 1;
SELECT l.invoice_no, l.line_no, l.sku_code, l.description, l.qty, l.unit_price, l.line_total
  FROM ci.invoice_line l JOIN ci.invoice i USING (invoice_no) WHERE i.source = 'WEB' ORDER BY 1, 2;
SELECT customer_code, first_name, last_name, email FROM ci.customer WHERE customer_code LIKE 'WEB%';
