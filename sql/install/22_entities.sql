/*
 * Entity sync state beyond the links (docs/entities.md): the last on_hand
 * Shopify reported per stock level (the changeFromQuantity of the next
 * compare-and-set) and the idempotency key of a send in progress; the
 * business date the sale prices are computed for; dated sales; preview().
 */

/*
 * One row per (SKU, branch) whose Shopify level we know.  shopify_on_hand is
 * what Shopify last confirmed (NULL = unknown: read it before the next set).
 * idempotency_key / sent_quantity are written and committed BEFORE a set is
 * sent, and reused when the same quantity is sent again after a lost reply;
 * both are cleared when Shopify confirms.
 */
CREATE TABLE kcloud_shopify.inventory_level (
    sku_code        text NOT NULL,
    branch_code     text NOT NULL,
    shopify_on_hand int,
    idempotency_key text,
    sent_quantity   int,
    synced_at       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (sku_code, branch_code)
);
REVOKE ALL ON kcloud_shopify.inventory_level FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.inventory_level', '');
COMMENT ON TABLE kcloud_shopify.inventory_level IS
'Last on_hand Shopify reported per CI stock level (the compare-and-set base of the next send), and the idempotency key of a send in progress.';

/*
 * Forget what the inventory sync knows of Shopify's levels (the last on_hand
 * and the idempotency key of the last send) when Shopify moved them without
 * us: a location emptied, deactivated or reactivated (all its levels), a
 * fulfilment or restock ingested (one SKU).  The next send re-reads the
 * level and is a new request, not a replay of an old one.
 */
CREATE FUNCTION kcloud_shopify.forget_levels(p_branch_code text, p_sku_code text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    UPDATE kcloud_shopify.inventory_level il
       SET shopify_on_hand = NULL, idempotency_key = NULL, sent_quantity = NULL
     WHERE il.branch_code = p_branch_code
       AND (p_sku_code IS NULL OR il.sku_code = p_sku_code);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.forget_levels(text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.forget_levels(text, text) IS
'Internal: forget the inventory sync''s knowledge of Shopify''s levels at a branch (or of one SKU there) after Shopify moved them itself; the next send re-reads them.';

/*
 * The business date: current_date, unless the settings row 'today_override'
 * holds a date (tests and demos move time with it).
 */
CREATE FUNCTION kcloud_shopify.today()
RETURNS date
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT s.value::date FROM kcloud_shopify.settings s
                      WHERE s.name = 'today_override' AND s.value <> ''),
                    current_date);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.today() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.today() IS
'The date sale prices are computed for: current_date, or the date in settings row today_override (tests).';

/*
 * Dated sales change prices without any CI write, so capture cannot see them.
 * Queue every style (internet active or linked) with a sale price whose sale
 * started (sale_from) or ended (the day after sale_to) since the last check,
 * kept in settings row 'sales_checked_on'.  The first call only records the
 * date.  Called by the worker at the start of its rounds; returns how many
 * styles were queued.
 */
CREATE FUNCTION kcloud_shopify.enqueue_due_sales()
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d_today date := kcloud_shopify.today();
    d_last  date;
    lo date;
    hi date;
    n int := 0;
BEGIN
    SELECT s.value::date INTO d_last FROM kcloud_shopify.settings s WHERE s.name = 'sales_checked_on';
    IF d_last IS NOT NULL AND d_last <> d_today THEN
        lo := LEAST(d_last, d_today);      -- boundaries in (lo, hi]; time may move back in tests
        hi := GREATEST(d_last, d_today);
        WITH due AS (
            SELECT s.style_code::text AS code
              FROM ci.style s
             WHERE (s.internet_active
                    OR EXISTS (SELECT 1 FROM kcloud_shopify.product_link l
                                WHERE l.style_code = s.style_code))
               AND (s.sale_price IS NOT NULL
                    OR EXISTS (SELECT 1 FROM ci.sku k
                                WHERE k.style_code = s.style_code AND k.sale_price IS NOT NULL))
               AND ((s.sale_from > lo AND s.sale_from <= hi)
                    OR (s.sale_to + 1 > lo AND s.sale_to + 1 <= hi))
        ), ins AS (
            INSERT INTO kcloud_shopify.queue (kind, key1, key2)
            SELECT 'product', due.code, '' FROM due
            ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING
        )
        SELECT count(*) INTO n FROM due;
    END IF;
    IF d_last IS DISTINCT FROM d_today THEN
        INSERT INTO kcloud_shopify.settings (name, value) VALUES ('sales_checked_on', pg_catalog.to_char(d_today, 'YYYY-MM-DD'))
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    END IF;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.enqueue_due_sales() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.enqueue_due_sales() IS
'Queue styles whose dated sale started or ended since the last check (settings row sales_checked_on); returns how many.';

/*
 * Dry run (src/preview.c): the GraphQL document and variables the worker
 * would send now for one entity, built by the worker's own code.  Reads
 * only; nothing is sent or written.
 */
CREATE FUNCTION kcloud_shopify.preview(kind text, ci_key jsonb)
RETURNS jsonb
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'kcloud_shopify_preview';
REVOKE ALL ON FUNCTION kcloud_shopify.preview(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.preview(text, jsonb) IS
'Dry run: {"query", "variables"} of the request the worker would send now for one entity (kind product, inventory or customer; ci_key as in the pending view); nothing is sent.';
