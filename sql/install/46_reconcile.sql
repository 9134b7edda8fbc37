/*
 * Reconciliation (src/reconcile.c, docs/operations.md): read Shopify's state
 * of the linked objects and report where it drifted from CI -- what the
 * worker would send now, built by the worker's own code.  Talks to Shopify
 * from the calling session (paced like the worker); with repair the fixes
 * are queued for the worker.  A kind with more linked objects than
 * kcloud_shopify.reconcile_bulk_threshold is read with one bulk query
 * (bulkOperationRunQuery), falling back to paged reads.  SECURITY DEFINER like the resync functions: a
 * support role granted EXECUTE needs no access to CI, the links or the
 * settings (the shop's token).
 */
CREATE FUNCTION kcloud_shopify.reconcile(kind text, repair boolean DEFAULT false)
RETURNS TABLE (kind text, ci_key jsonb, shopify_gid text, drift text,
               field text, ci_value text, shopify_value text)
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'kcloud_shopify_reconcile';
REVOKE ALL ON FUNCTION kcloud_shopify.reconcile(text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.reconcile(text, boolean) IS
'Drift between CI and Shopify for the linked objects of kind product, inventory, location, customer or all: one row per difference (drift missing, extra or different; field, CI value, Shopify value).  With repair = true the fixes are queued for the worker.  Kinds with more linked objects than kcloud_shopify.reconcile_bulk_threshold are read with one bulk query.';
