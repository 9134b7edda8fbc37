/*
 * Links between CI keys and Shopify objects: the GIDs Shopify gave back.
 *
 * A link row is written only after Shopify confirmed the object, in the same
 * short transaction that acks the queue row.  Link tables hold CI keys as
 * plain text with no foreign keys to ci.*: a style or branch deleted in CI
 * must keep its link so the worker can still hide (DRAFT) or deactivate it.
 */
CREATE TABLE kcloud_shopify.product_link (
    style_code  text PRIMARY KEY,
    product_gid text NOT NULL UNIQUE,
    custom_id   text,               -- the identifier productSet was keyed on
    status      text,               -- ACTIVE / DRAFT as last sent
    metafield_keys text[],          -- 'ns.key' of our metafields Shopify confirmed last
                                    -- (the ones CI drops are deleted: docs/entities.md)
    published_at timestamptz,       -- when we published it on the Online Store (once
                                    -- only: docs/entities.md "Publishing")
    synced_at   timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE kcloud_shopify.variant_link (
    sku_code           text PRIMARY KEY,
    style_code         text NOT NULL,
    variant_gid        text NOT NULL UNIQUE,
    inventory_item_gid text NOT NULL UNIQUE,
    synced_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX variant_link_style ON kcloud_shopify.variant_link (style_code);

CREATE TABLE kcloud_shopify.location_link (
    branch_code  text PRIMARY KEY,
    location_gid text NOT NULL UNIQUE,
    adopted      boolean NOT NULL DEFAULT false,   -- linked by link_location(), not created by us
    active       boolean NOT NULL DEFAULT true,    -- as last sent
    synced_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE kcloud_shopify.customer_link (
    customer_code text PRIMARY KEY,
    customer_gid  text NOT NULL UNIQUE,
    identifier    text,             -- 'email:…' / 'phone:…' used by customerSet
    synced_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

REVOKE ALL ON kcloud_shopify.product_link, kcloud_shopify.variant_link,
              kcloud_shopify.location_link, kcloud_shopify.customer_link FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.product_link', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.variant_link', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.location_link', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.customer_link', '');

COMMENT ON TABLE kcloud_shopify.product_link IS 'CI style ↔ Shopify product GID.';
COMMENT ON TABLE kcloud_shopify.variant_link IS 'CI SKU ↔ Shopify variant and inventory item GIDs.';
COMMENT ON TABLE kcloud_shopify.location_link IS 'CI branch ↔ Shopify location GID (created by the worker or linked by link_location()).';
COMMENT ON TABLE kcloud_shopify.customer_link IS 'CI customer ↔ Shopify customer GID.';
