/*
 * Change capture: C trigger functions (src/capture.c) and the triggers on the
 * Counter Intelligence tables.  docs/capture.md describes what is captured.
 *
 * Statement-level AFTER triggers with transition tables, one per event
 * (PostgreSQL allows transition tables only on single-event triggers).  The
 * argument names the capture rule in src/capture.c.  The function is
 * SECURITY DEFINER so that POS roles need no privilege on kcloud_shopify;
 * its SQL is fully schema-qualified.
 *
 * The triggers are ordinary (ENABLE ORIGIN) triggers: with
 * session_replication_role = replica they do not fire, so capture is off,
 * as it should be for a replication apply or a deliberate bulk reload.
 *
 * TRUNCATE is refused by a BEFORE TRUNCATE trigger (see capture.c): it names
 * no rows, so what disappeared could never reach Shopify.
 */
CREATE FUNCTION kcloud_shopify.capture()
RETURNS trigger
LANGUAGE c
SECURITY DEFINER
AS 'MODULE_PATHNAME', 'kcloud_shopify_capture';
REVOKE ALL ON FUNCTION kcloud_shopify.capture() FROM PUBLIC;

CREATE FUNCTION kcloud_shopify.capture_truncate()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'kcloud_shopify_capture_truncate';
REVOKE ALL ON FUNCTION kcloud_shopify.capture_truncate() FROM PUBLIC;

/*
 * The worker's side of the capture fence (capture.c): after committing a
 * claim and before reading the CI rows of the claimed entities, wait until
 * every transaction that was capturing at that moment has ended.  New POS
 * transactions are not held up.  Without this, a change whose capture found
 * the entity already pending could commit after the worker's read and be
 * lost.  Call it in READ COMMITTED, outside the claiming transaction.
 */
CREATE FUNCTION kcloud_shopify.capture_wait()
RETURNS void
LANGUAGE c
AS 'MODULE_PATHNAME', 'kcloud_shopify_capture_wait';
REVOKE ALL ON FUNCTION kcloud_shopify.capture_wait() FROM PUBLIC;

-- ci.style: product: the style row itself (a deleted style is enqueued so it can be hidden)
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.style
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.style
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.style
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.style
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.style_info_tab: product: information tabs of a style
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.style_info_tab
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_info_tab');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.style_info_tab
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_info_tab');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.style_info_tab
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_info_tab');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.style_info_tab
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.style_attribute: product: attributes (metafields) of a style
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.style_attribute
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_attribute');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.style_attribute
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_attribute');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.style_attribute
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('style_attribute');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.style_attribute
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.sku: product: variants; a SKU moved to another style dirties both styles
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.sku
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('sku');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.sku
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('sku');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.sku
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('sku');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.sku
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.stock: inventory: on_hand of a SKU at a branch, for web_stock branches only
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.stock
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.stock
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.stock
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.stock
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.branch: location; turning web_stock on or off also dirties every stock level of the branch
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.branch
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('branch');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.branch
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('branch');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.branch
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('branch');
CREATE TRIGGER kcloud_shopify_capture_update_web_stock AFTER UPDATE ON ci.branch
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('branch_web_stock');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.branch
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.customer: customer
CREATE TRIGGER kcloud_shopify_capture_insert AFTER INSERT ON ci.customer
    REFERENCING NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('customer');
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.customer
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('customer');
CREATE TRIGGER kcloud_shopify_capture_delete AFTER DELETE ON ci.customer
    REFERENCING OLD TABLE AS kcs_old
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('customer');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.customer
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.brand: product: a renamed brand dirties every style of that brand.  A brand or stock group can only be inserted
-- unused and deleted unused (the foreign keys of ci.style), so only UPDATE matters.
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.brand
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('brand');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.brand
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- ci.stock_group: product: a renamed stock group dirties every style in it.  A brand or stock group can only be inserted
-- unused and deleted unused (the foreign keys of ci.style), so only UPDATE matters.
CREATE TRIGGER kcloud_shopify_capture_update AFTER UPDATE ON ci.stock_group
    REFERENCING OLD TABLE AS kcs_old NEW TABLE AS kcs_new
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture('stock_group');
CREATE TRIGGER kcloud_shopify_capture_truncate BEFORE TRUNCATE ON ci.stock_group
    FOR EACH STATEMENT EXECUTE FUNCTION kcloud_shopify.capture_truncate();

-- Make the triggers (and the schema, if CREATE EXTENSION created it) members
-- of the extension, so that DROP EXTENSION drops them and pg_dump leaves them
-- to CREATE EXTENSION.  See capture.c.
CREATE FUNCTION kcloud_shopify.bind_members()
RETURNS bigint
LANGUAGE c
AS 'MODULE_PATHNAME', 'kcloud_shopify_bind_members';
SELECT kcloud_shopify.bind_members();
DROP FUNCTION kcloud_shopify.bind_members();
