/*
 * Orders in: fulfilled Shopify orders become paid CI invoices, refunds become
 * credit notes (docs/orders.md).
 *
 * One ingestion core, three entry points:
 *   ingest_order(payload)   the REST-shaped order (orders/fulfilled webhook body)
 *   ingest_refund(payload)  the REST-shaped refund (refunds/create webhook body)
 *   receive_webhook(...)    HMAC check + dedup, then one of the two (below)
 *   the worker's poller     GraphQL order -> order_from_graphql() -> the same core
 *
 * Exactly once: every ingestion takes a transaction-level advisory lock on
 * the Shopify order id and then looks for what it would create (by
 * fulfilment id / refund id, both primary keys here), so a redelivery or a
 * second session finds the work done and returns it.  All or nothing: a
 * payload that cannot be ingested raises an error naming the order and the
 * cause; the caller's transaction then writes nothing.
 */

CREATE TABLE kcloud_shopify.order_link (
    order_id           bigint PRIMARY KEY,      -- Shopify order id (legacy numeric id)
    order_name         text NOT NULL,           -- '#1001'
    customer_id        bigint,                  -- Shopify customer id (NULL: guest)
    customer_code      text,                    -- CI customer (NULL: cash sale)
    first_invoice_no   bigint,                  -- the invoice that carries the shipping
    taxes_included     boolean NOT NULL DEFAULT false,
    shopify_updated_at timestamptz,             -- the order's updatedAt when last read by the poller
    shopify_read_at    timestamptz,             -- when that read started (our clock)
    updated_at         timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE kcloud_shopify.order_fulfillment (
    fulfillment_id bigint PRIMARY KEY,          -- one invoice per fulfilment, ever
    order_id       bigint NOT NULL,
    location_id    bigint,
    branch_code    text NOT NULL,
    invoice_no     bigint NOT NULL,
    ingested_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX order_fulfillment_order ON kcloud_shopify.order_fulfillment (order_id);

CREATE TABLE kcloud_shopify.order_refund (
    refund_id   bigint PRIMARY KEY,             -- one credit note per refund, ever
    order_id    bigint NOT NULL,
    credit_no   bigint,                         -- NULL: nothing to credit (unfulfilled units only)
    ingested_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
CREATE INDEX order_refund_order ON kcloud_shopify.order_refund (order_id);

-- Orders and refunds the poller could not ingest; retried every poll round
-- until they go through (the row is then deleted) or are discarded.
CREATE TABLE kcloud_shopify.order_exception (
    kind            text NOT NULL,              -- 'order' or 'refund'
    shopify_id      bigint NOT NULL,            -- order id or refund id
    order_id        bigint,
    order_name      text,
    sqlstate        text NOT NULL,
    message         text NOT NULL,
    detail          text,
    hint            text,
    source          text NOT NULL,              -- 'poller', 'backfill', 'webhook'
    attempts        int NOT NULL DEFAULT 1,
    first_failed_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_failed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (kind, shopify_id)
);

-- Webhook deliveries seen, by X-Shopify-Webhook-Id (same across retries).
CREATE TABLE kcloud_shopify.webhook_delivery (
    webhook_id  text PRIMARY KEY,
    topic       text NOT NULL,
    event_id    text,
    shop_domain text,
    received_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    result      jsonb
);

REVOKE ALL ON kcloud_shopify.order_link, kcloud_shopify.order_fulfillment,
              kcloud_shopify.order_refund, kcloud_shopify.order_exception,
              kcloud_shopify.webhook_delivery FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.order_link', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.order_fulfillment', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.order_refund', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.order_exception', '');
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.webhook_delivery', '');

COMMENT ON TABLE kcloud_shopify.order_link IS 'Shopify order ↔ its CI customer and first invoice (the one with the shipping).';
COMMENT ON TABLE kcloud_shopify.order_fulfillment IS 'Shopify fulfilment ↔ the CI invoice made from it (one per fulfilment).';
COMMENT ON TABLE kcloud_shopify.order_refund IS 'Shopify refund ↔ the CI credit note made from it (one per refund).';
COMMENT ON TABLE kcloud_shopify.order_exception IS 'Orders and refunds the poller could not ingest (error, attempts); retried every poll round.';
COMMENT ON TABLE kcloud_shopify.webhook_delivery IS 'Webhook deliveries received, by X-Shopify-Webhook-Id, with what they did.';

/* --------------------------------------------------------------- helpers */

-- An amount from a REST money field: the shop money of its *_set twin, else
-- the plain string, else 0.
CREATE FUNCTION kcloud_shopify.order_money(plain jsonb, money_set jsonb)
RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    -- rounded to cents here, once: CI stores money as numeric(12,2), and a
    -- sub-cent amount rounded separately in a total and in its lines would
    -- make them disagree
    SELECT pg_catalog.round(COALESCE(NULLIF(money_set #>> '{shop_money,amount}', ''),
                    CASE WHEN pg_catalog.jsonb_typeof(plain) IN ('string', 'number')
                         THEN NULLIF(plain #>> '{}', '') END,
                    '0')::numeric, 2);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_money(jsonb, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_money(jsonb, jsonb) IS
'Internal: a money amount from a REST field and its *_set twin (shop money), rounded to cents, 0 when both are absent.';

-- Share of an amount for units [from, from + n) of a line of total units:
-- cumulative rounding, so the shares of all units add up to the amount.
CREATE FUNCTION kcloud_shopify.order_share(amount numeric, total_units int, from_unit int, n int)
RETURNS numeric
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE WHEN total_units IS NULL OR total_units <= 0 OR n >= total_units THEN amount
                ELSE pg_catalog.round(amount * LEAST(from_unit + n, total_units) / total_units, 2)
                   - pg_catalog.round(amount * from_unit / total_units, 2) END;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_share(numeric, int, int, int) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_share(numeric, int, int, int) IS
'Internal: the part of a line''s discount or tax that falls on units [from_unit, from_unit + n) of total_units (cumulative rounding: the parts add up).';

-- The CI tender for a Shopify payment gateway name.
CREATE FUNCTION kcloud_shopify.order_tender(gateway text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE
               WHEN gateway IS NULL OR pg_catalog.btrim(gateway) = '' THEN 'SHOPIFY'
               WHEN pg_catalog.lower(gateway) IN ('shopify_payments', 'shopify payments') THEN 'SHOPIFY'
               WHEN pg_catalog.lower(gateway) LIKE 'paypal%' THEN 'PAYPAL'
               WHEN pg_catalog.lower(gateway) = 'gift_card' THEN 'GIFT CARD'
               ELSE pg_catalog.upper(pg_catalog.left(pg_catalog.translate(pg_catalog.btrim(gateway), '_', ' '), 20))
           END;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_tender(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_tender(text) IS
'Internal: CI tender for a Shopify gateway: shopify_payments -> SHOPIFY, paypal* -> PAYPAL, gift_card -> GIFT CARD, others upper-cased; none -> SHOPIFY.';

-- The advisory lock that serialises everything done for one Shopify order.
CREATE FUNCTION kcloud_shopify.order_lock(order_id bigint)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT pg_catalog.pg_advisory_xact_lock(1263748943,   -- 'KCSO'
                                            pg_catalog.hashint8(order_id));
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_lock(bigint) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_lock(bigint) IS
'Internal: transaction-level advisory lock serialising the ingestion of one Shopify order and its refunds.';

/* -------------------------------------------------------------- customer */

/*
 * The CI customer of an order: the one linked to the Shopify customer id;
 * else the one with the same email (case-insensitive) or phone (digits
 * compared); else a new one, code 'WEB' || Shopify customer id (a suffix
 * -2, -3 ... if that code is taken), named and addressed from the order.
 * A guest checkout (no customer object) has no CI customer.  The link is
 * stored in customer_link (unless either side is linked to something else).
 */
CREATE FUNCTION kcloud_shopify.order_customer(payload jsonb, order_label text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c jsonb := payload -> 'customer';
    cid bigint;
    gid text;
    code text;
    how text;
    v_email text;
    v_phone text;
    addr jsonb;
    n int := 1;
BEGIN
    IF c IS NULL OR jsonb_typeof(c) <> 'object' OR c -> 'id' IS NULL OR jsonb_typeof(c -> 'id') = 'null' THEN
        RETURN NULL;                                    -- guest checkout: cash sale
    END IF;
    IF jsonb_typeof(c -> 'id') <> 'number' THEN
        RAISE EXCEPTION 'order %: customer.id is not a number', order_label
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cid := (c ->> 'id')::bigint;
    gid := 'gid://shopify/Customer/' || cid;
    -- serialise work on one Shopify customer (two orders of a new customer)
    PERFORM pg_advisory_xact_lock(1263748931, hashint8(cid));   -- 'KCSC'

    SELECT l.customer_code INTO code
      FROM kcloud_shopify.customer_link l
      JOIN ci.customer cu ON cu.customer_code = l.customer_code
     WHERE l.customer_gid = gid;
    IF FOUND THEN
        RETURN code;
    END IF;

    v_email := NULLIF(btrim(COALESCE(c ->> 'email', payload ->> 'email', payload ->> 'contact_email')), '');
    v_phone := NULLIF(btrim(COALESCE(c ->> 'phone', payload ->> 'phone')), '');
    IF v_email IS NOT NULL THEN
        SELECT cu.customer_code INTO code FROM ci.customer cu
         WHERE lower(cu.email) = lower(v_email)
         ORDER BY cu.customer_code LIMIT 1;
        how := 'email';
    END IF;
    IF code IS NULL AND v_phone IS NOT NULL AND length(regexp_replace(v_phone, '[^0-9]', '', 'g')) >= 6 THEN
        SELECT cu.customer_code INTO code FROM ci.customer cu
         WHERE regexp_replace(cu.phone, '[^0-9]', '', 'g') = regexp_replace(v_phone, '[^0-9]', '', 'g')
         ORDER BY cu.customer_code LIMIT 1;
        how := 'phone';
    END IF;

    IF code IS NULL THEN
        how := 'created';
        addr := COALESCE(NULLIF(payload -> 'shipping_address', 'null'), NULLIF(c -> 'default_address', 'null'),
                         NULLIF(payload -> 'billing_address', 'null'), '{}');
        LOOP
            code := 'WEB' || cid || CASE WHEN n > 1 THEN '-' || n ELSE '' END;
            INSERT INTO ci.customer (customer_code, first_name, last_name, email, phone,
                                     address1, address2, city, region, postcode, country_code,
                                     accepts_marketing)
            VALUES (code,
                    COALESCE(NULLIF(c ->> 'first_name', ''), addr ->> 'first_name'),
                    COALESCE(NULLIF(c ->> 'last_name', ''), addr ->> 'last_name'),
                    v_email,
                    COALESCE(v_phone, NULLIF(addr ->> 'phone', '')),
                    addr ->> 'address1', NULLIF(addr ->> 'address2', ''), addr ->> 'city',
                    COALESCE(NULLIF(addr ->> 'province_code', ''), addr ->> 'province'),
                    addr ->> 'zip',
                    CASE WHEN length(addr ->> 'country_code') = 2 THEN upper(addr ->> 'country_code') END,
                    COALESCE((payload ->> 'buyer_accepts_marketing')::boolean, false))
            ON CONFLICT DO NOTHING;
            EXIT WHEN FOUND;
            -- the email arrived meanwhile (another session): use that customer
            IF v_email IS NOT NULL THEN
                SELECT cu.customer_code INTO code FROM ci.customer cu
                 WHERE lower(cu.email) = lower(v_email) ORDER BY 1 LIMIT 1;
                IF FOUND THEN
                    how := 'email';
                    EXIT;
                END IF;
            END IF;
            n := n + 1;
            IF n > 20 THEN
                RAISE EXCEPTION 'order %: cannot find a free customer code for Shopify customer %', order_label, cid
                    USING ERRCODE = 'unique_violation';
            END IF;
        END LOOP;
    END IF;

    INSERT INTO kcloud_shopify.customer_link (customer_code, customer_gid, identifier)
    VALUES (code, gid, CASE WHEN v_email IS NOT NULL THEN 'email:' || v_email
                            WHEN v_phone IS NOT NULL THEN 'phone:' || v_phone END)
    ON CONFLICT DO NOTHING;
    RETURN code;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_customer(jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_customer(jsonb, text) IS
'Internal: the CI customer of an order (linked, else matched by email or phone, else created as WEB<shopify customer id>); NULL for a guest checkout.';

/* ----------------------------------------------------------------- order */

-- The CI branch of a Shopify location (numeric id), or an error naming the order.
CREATE FUNCTION kcloud_shopify.order_branch(location_id bigint, order_label text, what text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b text;
BEGIN
    IF location_id IS NULL THEN
        RAISE EXCEPTION '%: % has no location', order_label, what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT l.branch_code INTO b FROM kcloud_shopify.location_link l
     WHERE l.location_gid = 'gid://shopify/Location/' || location_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: % is at Shopify location % which is not linked to a CI branch',
                        order_label, what, location_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Link it with kcloud_shopify.link_location(branch_code, location_id); the poller retries the order.';
    END IF;
    RETURN b;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_branch(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_branch(bigint, text, text) IS
'Internal: the CI branch linked to a Shopify location, or an error naming the order or refund (order_label).';

-- Take qty units of a SKU off (delta < 0) or back onto (delta > 0) a
-- branch's stock: an ordinary UPDATE (INSERT when the level is new), which
-- capture queues for Shopify like any POS sale.
CREATE FUNCTION kcloud_shopify.order_stock(sku text, branch text, delta int)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE ci.stock s SET on_hand = s.on_hand + delta
     WHERE s.sku_code = sku AND s.branch_code = branch;
    IF NOT FOUND THEN
        INSERT INTO ci.stock (sku_code, branch_code, on_hand) VALUES (sku, branch, delta)
        ON CONFLICT (sku_code, branch_code) DO UPDATE SET on_hand = ci.stock.on_hand + EXCLUDED.on_hand;
    END IF;
    -- Shopify moved this level itself (the fulfilment or the restock), so
    -- what the inventory sync remembers of it is stale: forget it, and the
    -- next send re-reads the level.  Otherwise an oversold level (Shopify -1,
    -- CI -1 sent as 0) would look already in step and stay at -1.
    PERFORM kcloud_shopify.forget_levels(branch, sku);
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_stock(text, text, int) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_stock(text, text, int) IS
'Internal: add delta to a SKU''s on_hand at a branch (an ordinary CI write that capture sends to Shopify).';

CREATE FUNCTION kcloud_shopify.ingest_order_core(payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    oid_ bigint;
    oname text;
    label text;
    incl boolean;
    link kcloud_shopify.order_link%ROWTYPE;
    cust text;
    f record;
    fl record;
    li jsonb;
    branch text;
    inv bigint;
    line_no int;
    q int;
    prior int;
    total_q int;
    unit numeric;
    disc numeric;
    tax numeric;
    sku text;
    descr text;
    s_sub numeric;
    s_disc numeric;
    s_ship numeric;
    s_tax numeric;
    s_total numeric;
    gateway text;
    created jsonb := '[]';
    existing jsonb := '[]';
    lines_by_id jsonb := '{}';
    done_qty jsonb := '{}';
    stock_moves jsonb;
    sl jsonb;
    with_shipping boolean;
    cust_done boolean := false;
BEGIN
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'order payload must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(payload -> 'id') IS DISTINCT FROM 'number' THEN
        RAISE EXCEPTION 'order %: "id" is missing or not a number', COALESCE(payload ->> 'name', '(no name)')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the REST order JSON (the orders/fulfilled webhook body).';
    END IF;
    oid_ := (payload ->> 'id')::bigint;
    oname := COALESCE(NULLIF(payload ->> 'name', ''), '#' || (payload ->> 'order_number'));
    label := COALESCE(oname, '') || ' (id ' || oid_ || ')';
    IF oname IS NULL THEN
        RAISE EXCEPTION 'order %: "name" is missing', label USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(payload -> 'line_items') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'order %: "line_items" is missing or not an array', label
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(payload -> 'fulfillments') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'order %: "fulfillments" is missing or not an array', label
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF COALESCE((payload ->> 'truncated')::boolean, false) THEN
        RAISE EXCEPTION 'order %: too large for the poller''s detail queries (over 50 line items or 7 fulfilments)', label
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'It is ingested whole from its orders/fulfilled webhook, or with kcloud_shopify.ingest_order(REST order JSON).';
    END IF;
    incl := COALESCE((payload ->> 'taxes_included')::boolean, false);

    PERFORM kcloud_shopify.order_lock(oid_);
    SELECT * INTO link FROM kcloud_shopify.order_link l WHERE l.order_id = oid_;

    -- the order's line items by id
    FOR li IN SELECT e FROM jsonb_array_elements(payload -> 'line_items') e LOOP
        IF jsonb_typeof(li -> 'id') IS DISTINCT FROM 'number' THEN
            RAISE EXCEPTION 'order %: a line item has no numeric "id"', label
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        lines_by_id := lines_by_id || jsonb_build_object(li ->> 'id', li);
    END LOOP;

    gateway := COALESCE(
        (SELECT t ->> 'gateway' FROM jsonb_array_elements(COALESCE(payload -> 'transactions', '[]')) t
          WHERE t ->> 'kind' IN ('sale', 'capture') AND t ->> 'status' = 'success'
          LIMIT 1),
        payload #>> '{payment_gateway_names,0}');

    -- successful fulfilments, oldest first (the first one carries the shipping)
    FOR f IN
        SELECT e AS j, (e ->> 'id')::bigint AS id, ord
          FROM jsonb_array_elements(payload -> 'fulfillments') WITH ORDINALITY AS x(e, ord)
         WHERE COALESCE(e ->> 'status', 'success') = 'success'
         ORDER BY e ->> 'created_at' NULLS FIRST, (e ->> 'id')::bigint, ord
    LOOP
        IF f.id IS NULL OR jsonb_typeof(f.j -> 'line_items') IS DISTINCT FROM 'array' THEN
            RAISE EXCEPTION 'order %: a fulfilment has no "id" or no "line_items"', label
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        -- already invoiced: report it, but count its units for the shares
        SELECT * INTO fl FROM kcloud_shopify.order_fulfillment x WHERE x.fulfillment_id = f.id;
        IF FOUND THEN
            existing := existing || jsonb_build_object('fulfillment_id', f.id, 'invoice_no', fl.invoice_no,
                                                       'branch_code', fl.branch_code, 'created', false);
            FOR li IN SELECT e FROM jsonb_array_elements(f.j -> 'line_items') e LOOP
                done_qty := done_qty || jsonb_build_object(li ->> 'id',
                    COALESCE((done_qty ->> (li ->> 'id'))::int, 0) + COALESCE((li ->> 'quantity')::int, 0));
            END LOOP;
            CONTINUE;
        END IF;

        branch := kcloud_shopify.order_branch((f.j ->> 'location_id')::bigint, 'order ' || label,
                                              'fulfilment ' || f.id);
        IF NOT cust_done THEN
            IF link.order_id IS NOT NULL THEN
                cust := link.customer_code;
            ELSE
                cust := kcloud_shopify.order_customer(payload, label);
            END IF;
            cust_done := true;
        END IF;

        with_shipping := link.first_invoice_no IS NULL;
        INSERT INTO ci.invoice (branch_code, customer_code, invoice_date, source, reference,
                                subtotal, discount_total, shipping_total, tax_total, total, paid)
        VALUES (branch, cust,
                COALESCE((f.j ->> 'created_at')::timestamptz, (payload ->> 'processed_at')::timestamptz, now()),
                'WEB', oname, 0, 0, 0, 0, 0, 0)
        RETURNING invoice_no INTO inv;

        line_no := 0;
        s_sub := 0; s_disc := 0; s_ship := 0; s_tax := 0; s_total := 0;
        stock_moves := '{}';
        FOR li IN SELECT e FROM jsonb_array_elements(f.j -> 'line_items') e LOOP
            q := (li ->> 'quantity')::int;
            IF q IS NULL OR q <= 0 THEN
                CONTINUE;
            END IF;
            -- the order's own line item carries the allocations for all its units
            li := COALESCE(lines_by_id -> (li ->> 'id'), li);
            total_q := COALESCE((li ->> 'quantity')::int, q);
            prior := COALESCE((done_qty ->> (li ->> 'id'))::int, 0);
            done_qty := done_qty || jsonb_build_object(li ->> 'id', prior + q);

            unit := kcloud_shopify.order_money(li -> 'price', li -> 'price_set');
            disc := kcloud_shopify.order_share(
                        COALESCE((SELECT sum(kcloud_shopify.order_money(d -> 'amount', d -> 'amount_set'))
                                    FROM jsonb_array_elements(COALESCE(li -> 'discount_allocations', '[]')) d), 0),
                        total_q, prior, q);
            tax := kcloud_shopify.order_share(
                        COALESCE((SELECT sum(kcloud_shopify.order_money(t -> 'price', t -> 'price_set'))
                                    FROM jsonb_array_elements(COALESCE(li -> 'tax_lines', '[]')) t), 0),
                        total_q, prior, q);
            sku := NULLIF(btrim(li ->> 'sku'), '');
            IF COALESCE((li ->> 'gift_card')::boolean, false) THEN
                sku := NULL;                            -- gift cards are never stock
            END IF;
            IF sku IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ci.sku k WHERE k.sku_code = sku) THEN
                RAISE EXCEPTION 'order %: SKU "%" (line item %) is not in ci.sku', label, sku, li ->> 'id'
                    USING ERRCODE = 'no_data_found',
                          HINT = 'Create the SKU in CI (or fix the SKU in Shopify); the order is retried.';
            END IF;
            descr := left(COALESCE(NULLIF(li ->> 'name', ''), NULLIF(li ->> 'title', ''), 'Web item'), 200);

            line_no := line_no + 1;
            INSERT INTO ci.invoice_line (invoice_no, line_no, sku_code, description, qty,
                                         unit_price, discount, tax, line_total)
            VALUES (inv, line_no, sku, descr, q, unit, disc, tax,
                    unit * q - disc + CASE WHEN incl THEN 0 ELSE tax END);
            s_sub := s_sub + unit * q;
            s_disc := s_disc + disc;
            s_tax := s_tax + tax;
            s_total := s_total + unit * q - disc + CASE WHEN incl THEN 0 ELSE tax END;
            IF sku IS NOT NULL THEN
                stock_moves := stock_moves || jsonb_build_object(sku, COALESCE((stock_moves ->> sku)::int, 0) + q);
            END IF;
        END LOOP;

        IF with_shipping THEN
            FOR sl IN SELECT e FROM jsonb_array_elements(COALESCE(payload -> 'shipping_lines', '[]')) e
                       WHERE NOT COALESCE((e ->> 'is_removed')::boolean, false) LOOP
                unit := kcloud_shopify.order_money(sl -> 'price', sl -> 'price_set');
                IF sl ? 'discounted_price' OR sl ? 'discounted_price_set' THEN
                    disc := unit - kcloud_shopify.order_money(sl -> 'discounted_price', sl -> 'discounted_price_set');
                ELSE
                    disc := COALESCE((SELECT sum(kcloud_shopify.order_money(d -> 'amount', d -> 'amount_set'))
                                        FROM jsonb_array_elements(COALESCE(sl -> 'discount_allocations', '[]')) d), 0);
                END IF;
                tax := COALESCE((SELECT sum(kcloud_shopify.order_money(t -> 'price', t -> 'price_set'))
                                   FROM jsonb_array_elements(COALESCE(sl -> 'tax_lines', '[]')) t), 0);
                line_no := line_no + 1;
                INSERT INTO ci.invoice_line (invoice_no, line_no, sku_code, description, qty,
                                             unit_price, discount, tax, line_total)
                VALUES (inv, line_no, NULL,
                        left('Shipping: ' || COALESCE(NULLIF(sl ->> 'title', ''), NULLIF(sl ->> 'code', ''), 'shipping'), 200),
                        1, unit, disc, tax, unit - disc + CASE WHEN incl THEN 0 ELSE tax END);
                s_ship := s_ship + unit;
                s_disc := s_disc + disc;
                s_tax := s_tax + tax;
                s_total := s_total + unit - disc + CASE WHEN incl THEN 0 ELSE tax END;
            END LOOP;
        END IF;

        IF line_no = 0 THEN
            RAISE EXCEPTION 'order %: fulfilment % has no units', label, f.id
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        UPDATE ci.invoice i
           SET subtotal = s_sub, discount_total = s_disc, shipping_total = s_ship,
               tax_total = s_tax, total = s_total, paid = s_total
         WHERE i.invoice_no = inv;
        INSERT INTO ci.invoice_payment (invoice_no, line_no, tender, amount, reference)
        VALUES (inv, 1, kcloud_shopify.order_tender(gateway), s_total, oname);

        -- stock off the shipping branch, one statement per SKU, in SKU order
        PERFORM kcloud_shopify.order_stock(m.key, branch, -(m.value)::int)
           FROM jsonb_each_text(stock_moves) m ORDER BY m.key;

        INSERT INTO kcloud_shopify.order_fulfillment (fulfillment_id, order_id, location_id, branch_code, invoice_no)
        VALUES (f.id, oid_, (f.j ->> 'location_id')::bigint, branch, inv);

        IF link.order_id IS NULL THEN
            INSERT INTO kcloud_shopify.order_link (order_id, order_name, customer_id, customer_code,
                                                   first_invoice_no, taxes_included, shopify_updated_at)
            VALUES (oid_, oname, (payload #>> '{customer,id}')::bigint, cust, inv, incl,
                    (payload ->> 'updated_at')::timestamptz)
            RETURNING * INTO link;
        ELSIF link.first_invoice_no IS NULL THEN
            UPDATE kcloud_shopify.order_link l SET first_invoice_no = inv WHERE l.order_id = oid_
            RETURNING * INTO link;
        END IF;

        created := created || jsonb_build_object('fulfillment_id', f.id, 'invoice_no', inv,
                                                 'branch_code', branch, 'total', s_total, 'created', true);
    END LOOP;

    IF link.order_id IS NOT NULL THEN
        UPDATE kcloud_shopify.order_link l
           SET shopify_updated_at = GREATEST(l.shopify_updated_at, (payload ->> 'updated_at')::timestamptz),
               updated_at = now()
         WHERE l.order_id = oid_ AND jsonb_array_length(created) > 0;
    END IF;

    RETURN jsonb_build_object('order_id', oid_, 'order_name', oname,
                              'customer_code', COALESCE(link.customer_code, cust),
                              'invoices', existing || created,
                              'created', jsonb_array_length(created));
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ingest_order_core(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ingest_order_core(jsonb) IS
'Internal: ingest_order without the error wrapping.';

-- Re-raise an error of the core with the order named in its message.
CREATE FUNCTION kcloud_shopify.order_error(what text, payload jsonb, state text, msg text,
                                           det text, hnt text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    lbl text;
BEGIN
    IF msg LIKE 'order %' OR msg LIKE what || ' %' THEN
        lbl := NULL;
    ELSIF what = 'refund' THEN
        lbl := 'refund ' || COALESCE(payload ->> 'id', '?') || ' of order id ' || COALESCE(payload ->> 'order_id', '?');
    ELSE
        lbl := 'order ' || COALESCE(payload ->> 'name', '?') || ' (id ' || COALESCE(payload ->> 'id', '?') || ')';
    END IF;
    msg := CASE WHEN lbl IS NULL THEN msg ELSE lbl || ': ' || msg END;
    IF det IS NULL AND hnt IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg;
    ELSIF det IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, HINT = hnt;
    ELSIF hnt IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = det;
    ELSE
        RAISE EXCEPTION USING ERRCODE = state, MESSAGE = msg, DETAIL = det, HINT = hnt;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_error(text, jsonb, text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_error(text, jsonb, text, text, text, text) IS
'Internal: re-raise an ingestion error with the order or refund named in the message (same SQLSTATE).';

CREATE FUNCTION kcloud_shopify.ingest_order(payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    RETURN kcloud_shopify.ingest_order_core(payload);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT;
    PERFORM kcloud_shopify.order_error('order', payload, st, msg, NULLIF(det, ''), NULLIF(hnt, ''));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ingest_order(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ingest_order(jsonb) IS
'Ingest a fulfilled Shopify order (REST JSON, the orders/fulfilled webhook body): one paid CI invoice per fulfilment not yet ingested, customer matched or created, stock taken off the shipping branch. Returns the invoices (created or found); all or nothing.';

/* ---------------------------------------------------------------- refund */

CREATE FUNCTION kcloud_shopify.ingest_refund_core(payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rid bigint;
    oid_ bigint;
    label text;
    link kcloud_shopify.order_link%ROWTYPE;
    done kcloud_shopify.order_refund%ROWTYPE;
    r jsonb;
    li jsonb;
    rtype text;
    restock boolean;
    branch text;
    credit_branch text;
    cn bigint;
    line_no int := 0;
    q int;
    sub numeric;
    tax numeric;
    sku text;
    s_tax numeric := 0;
    s_total numeric := 0;
    refunded numeric;
    lines jsonb := '[]';
    x jsonb;
BEGIN
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'refund payload must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_typeof(payload -> 'id') IS DISTINCT FROM 'number'
       OR jsonb_typeof(payload -> 'order_id') IS DISTINCT FROM 'number' THEN
        RAISE EXCEPTION 'refund %: "id" or "order_id" is missing or not a number', COALESCE(payload ->> 'id', '?')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the REST refund JSON (the refunds/create webhook body).';
    END IF;
    rid := (payload ->> 'id')::bigint;
    oid_ := (payload ->> 'order_id')::bigint;
    label := 'refund ' || rid || ' of order id ' || oid_;
    IF jsonb_typeof(COALESCE(payload -> 'refund_line_items', '[]')) <> 'array' THEN
        RAISE EXCEPTION '%: "refund_line_items" is not an array', label
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF COALESCE((payload ->> 'truncated')::boolean, false) THEN
        RAISE EXCEPTION '%: too large for the poller''s refund query (over 50 lines)', label
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'It is ingested whole from its refunds/create webhook, or with kcloud_shopify.ingest_refund(REST refund JSON).';
    END IF;
    PERFORM kcloud_shopify.order_lock(oid_);
    SELECT * INTO done FROM kcloud_shopify.order_refund x WHERE x.refund_id = rid;
    IF FOUND THEN
        RETURN jsonb_build_object('refund_id', rid, 'order_id', oid_, 'credit_no', done.credit_no,
                                  'created', false);
    END IF;
    SELECT * INTO link FROM kcloud_shopify.order_link l WHERE l.order_id = oid_;

    -- what gets credited: returned / restocked / written-off units that were
    -- invoiced; 'cancel' refunds unfulfilled units, which were never invoiced
    FOR li IN SELECT e FROM jsonb_array_elements(COALESCE(payload -> 'refund_line_items', '[]')) e LOOP
        rtype := lower(COALESCE(li ->> 'restock_type', CASE WHEN (payload ->> 'restock')::boolean
                                                             THEN 'legacy_restock' ELSE 'no_restock' END));
        CONTINUE WHEN rtype = 'cancel';
        lines := lines || li;
    END LOOP;
    IF jsonb_array_length(lines) = 0
       AND jsonb_array_length(COALESCE(payload -> 'refund_shipping_lines', '[]')) = 0
       AND jsonb_array_length(COALESCE(payload -> 'order_adjustments', '[]')) = 0 THEN
        INSERT INTO kcloud_shopify.order_refund (refund_id, order_id, credit_no) VALUES (rid, oid_, NULL);
        RETURN jsonb_build_object('refund_id', rid, 'order_id', oid_, 'credit_no', NULL, 'created', false,
                                  'note', 'nothing invoiced was refunded');
    END IF;
    IF link.order_id IS NULL OR link.first_invoice_no IS NULL THEN
        RAISE EXCEPTION '%: the order has not been ingested (no CI invoice yet)', label
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Ingest the fulfilled order first; the refund is retried.';
    END IF;
    label := 'refund ' || rid || ' of order ' || link.order_name || ' (id ' || oid_ || ')';
    SELECT i.branch_code INTO credit_branch FROM ci.invoice i WHERE i.invoice_no = link.first_invoice_no;

    INSERT INTO ci.credit_note (invoice_no, branch_code, customer_code, credit_date, source, reference,
                                tax_total, total)
    VALUES (link.first_invoice_no, credit_branch, link.customer_code,
            COALESCE((payload ->> 'processed_at')::timestamptz, (payload ->> 'created_at')::timestamptz, now()),
            'WEB', link.order_name, 0, 0)
    RETURNING credit_no INTO cn;

    FOR li IN SELECT e FROM jsonb_array_elements(lines) e LOOP
        q := (li ->> 'quantity')::int;
        CONTINUE WHEN q IS NULL OR q <= 0;
        rtype := lower(COALESCE(li ->> 'restock_type', CASE WHEN (payload ->> 'restock')::boolean
                                                             THEN 'legacy_restock' ELSE 'no_restock' END));
        restock := rtype IN ('return', 'legacy_restock', 'restock');
        sub := kcloud_shopify.order_money(li -> 'subtotal', li -> 'subtotal_set');
        tax := kcloud_shopify.order_money(li -> 'total_tax', li -> 'total_tax_set');
        sku := NULLIF(btrim(li #>> '{line_item,sku}'), '');
        IF COALESCE((li #>> '{line_item,gift_card}')::boolean, false) THEN
            sku := NULL;
        END IF;
        IF sku IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ci.sku k WHERE k.sku_code = sku) THEN
            RAISE EXCEPTION '%: SKU "%" is not in ci.sku', label, sku
                USING ERRCODE = 'no_data_found';
        END IF;
        line_no := line_no + 1;
        INSERT INTO ci.credit_note_line (credit_no, line_no, sku_code, description, qty, unit_price,
                                         tax, line_total, restock)
        VALUES (cn, line_no, sku,
                left(COALESCE(NULLIF(li #>> '{line_item,name}', ''), NULLIF(li #>> '{line_item,title}', ''),
                              'Web item'), 200),
                q, kcloud_shopify.order_money(li #> '{line_item,price}', li #> '{line_item,price_set}'),
                tax, sub + CASE WHEN link.taxes_included THEN 0 ELSE tax END, restock AND sku IS NOT NULL);
        s_tax := s_tax + tax;
        s_total := s_total + sub + CASE WHEN link.taxes_included THEN 0 ELSE tax END;
        IF restock AND sku IS NOT NULL THEN
            IF li ? 'location_id' AND jsonb_typeof(li -> 'location_id') = 'number' THEN
                branch := kcloud_shopify.order_branch((li ->> 'location_id')::bigint, label,
                                                      'refund line ' || COALESCE(li ->> 'id', '?'));
            ELSE
                -- no restock location: back where the line shipped from
                SELECT fx.branch_code INTO branch FROM kcloud_shopify.order_fulfillment fx
                 WHERE fx.order_id = oid_ ORDER BY fx.ingested_at, fx.fulfillment_id LIMIT 1;
            END IF;
            PERFORM kcloud_shopify.order_stock(sku, branch, q);
        END IF;
    END LOOP;

    FOR x IN SELECT e FROM jsonb_array_elements(COALESCE(payload -> 'refund_shipping_lines', '[]')) e LOOP
        sub := kcloud_shopify.order_money(x -> 'subtotal_amount', x -> 'subtotal_amount_set');
        tax := kcloud_shopify.order_money(x -> 'tax_amount', x -> 'tax_amount_set');
        CONTINUE WHEN sub = 0 AND tax = 0;
        line_no := line_no + 1;
        INSERT INTO ci.credit_note_line (credit_no, line_no, sku_code, description, qty, unit_price,
                                         tax, line_total, restock)
        VALUES (cn, line_no, NULL, 'Shipping refund', 1, sub, tax,
                sub + CASE WHEN link.taxes_included THEN 0 ELSE tax END, false);
        s_tax := s_tax + tax;
        s_total := s_total + sub + CASE WHEN link.taxes_included THEN 0 ELSE tax END;
    END LOOP;

    -- the money actually refunded decides the total: order adjustments
    -- (refund discrepancies, legacy shipping refunds) and restock-only
    -- refunds show up as one adjustment line
    IF jsonb_typeof(payload -> 'transactions') = 'array' THEN
        SELECT COALESCE(sum(kcloud_shopify.order_money(t -> 'amount', t -> 'amount_set')), 0) INTO refunded
          FROM jsonb_array_elements(payload -> 'transactions') t
         WHERE t ->> 'kind' = 'refund' AND COALESCE(t ->> 'status', 'success') = 'success';
        IF refunded <> s_total THEN
            line_no := line_no + 1;
            INSERT INTO ci.credit_note_line (credit_no, line_no, sku_code, description, qty, unit_price,
                                             tax, line_total, restock)
            VALUES (cn, line_no, NULL,
                    left('Refund adjustment' || COALESCE(': ' || NULLIF(
                        (SELECT string_agg(a ->> 'reason', ', ')
                           FROM jsonb_array_elements(COALESCE(payload -> 'order_adjustments', '[]')) a), ''), ''), 200),
                    1, refunded - s_total, 0, refunded - s_total, false);
            s_total := refunded;
        END IF;
    END IF;

    UPDATE ci.credit_note c SET tax_total = s_tax, total = s_total WHERE c.credit_no = cn;
    INSERT INTO kcloud_shopify.order_refund (refund_id, order_id, credit_no) VALUES (rid, oid_, cn);
    RETURN jsonb_build_object('refund_id', rid, 'order_id', oid_, 'order_name', link.order_name,
                              'credit_no', cn, 'invoice_no', link.first_invoice_no,
                              'total', s_total, 'created', true);
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ingest_refund_core(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ingest_refund_core(jsonb) IS
'Internal: ingest_refund without the error wrapping.';

CREATE FUNCTION kcloud_shopify.ingest_refund(payload jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    RETURN kcloud_shopify.ingest_refund_core(payload);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hnt = PG_EXCEPTION_HINT;
    PERFORM kcloud_shopify.order_error('refund', payload, st, msg, NULLIF(det, ''), NULLIF(hnt, ''));
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ingest_refund(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ingest_refund(jsonb) IS
'Ingest a Shopify refund (REST JSON, the refunds/create webhook body) as a CI credit note linked to the order''s invoice; restocked lines go back on hand at the refund location''s branch. Returns the credit note (created or found); all or nothing.';

/*
 * For the poller: ingest, and on failure record the order (or refund) in
 * order_exception instead of failing the caller; success clears it.
 */
CREATE FUNCTION kcloud_shopify.ingest_or_record(kind text, payload jsonb, source text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    res jsonb;
    st text; msg text; det text; hnt text;
    sid bigint := (payload ->> 'id')::bigint;
BEGIN
    BEGIN
        IF kind = 'order' THEN
            res := kcloud_shopify.ingest_order(payload);
        ELSE
            res := kcloud_shopify.ingest_refund(payload);
        END IF;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                                hnt = PG_EXCEPTION_HINT;
        IF sid IS NOT NULL THEN
            INSERT INTO kcloud_shopify.order_exception AS e
                   (kind, shopify_id, order_id, order_name, sqlstate, message, detail, hint, source)
            VALUES (kind, sid,
                    CASE WHEN kind = 'order' THEN sid ELSE (payload ->> 'order_id')::bigint END,
                    CASE WHEN kind = 'order' THEN payload ->> 'name'
                         ELSE (SELECT l.order_name FROM kcloud_shopify.order_link l
                                WHERE l.order_id = (payload ->> 'order_id')::bigint) END,
                    st, msg, NULLIF(det, ''), NULLIF(hnt, ''), source)
            ON CONFLICT ON CONSTRAINT order_exception_pkey DO UPDATE
               SET sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message, detail = EXCLUDED.detail,
                   hint = EXCLUDED.hint, source = EXCLUDED.source, attempts = e.attempts + 1,
                   last_failed_at = now();
        END IF;
        RETURN jsonb_build_object('kind', kind, 'id', sid, 'error', msg, 'sqlstate', st);
    END;
    DELETE FROM kcloud_shopify.order_exception e WHERE e.kind = ingest_or_record.kind AND e.shopify_id = sid;
    RETURN res;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ingest_or_record(text, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ingest_or_record(text, jsonb, text) IS
'Internal (poller): ingest an order or refund; on failure record it in order_exception and return the error instead of raising.';

CREATE VIEW kcloud_shopify.order_exceptions AS
SELECT e.kind, e.shopify_id, e.order_id, e.order_name, e.sqlstate, e.message, e.hint, e.source,
       e.attempts, e.first_failed_at, e.last_failed_at
  FROM kcloud_shopify.order_exception e
 ORDER BY e.first_failed_at, e.kind, e.shopify_id;
REVOKE ALL ON kcloud_shopify.order_exceptions FROM PUBLIC;
COMMENT ON VIEW kcloud_shopify.order_exceptions IS
'Orders and refunds from Shopify that could not be ingested yet, with the error; the poller retries them every round.';

CREATE FUNCTION kcloud_shopify.discard_order_exception(kind text, shopify_id bigint)
RETURNS boolean
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH d AS (DELETE FROM kcloud_shopify.order_exception e
                WHERE e.kind = discard_order_exception.kind
                  AND e.shopify_id = discard_order_exception.shopify_id RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM d);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.discard_order_exception(text, bigint) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.discard_order_exception(text, bigint) IS
'Stop retrying an order (kind ''order'', Shopify order id) or refund (kind ''refund'', refund id) that cannot be ingested; true if it was listed.';

/* ------------------------------------------------- poller: GraphQL -> REST */

-- The numeric id at the end of a GID ('gid://shopify/Order/123' -> 123).
CREATE FUNCTION kcloud_shopify.gid_number(gid text)
RETURNS bigint
LANGUAGE sql IMMUTABLE
AS $$
    SELECT pg_catalog.substring(gid, '/([0-9]+)(?:\?.*)?$')::bigint;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.gid_number(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.gid_number(text) IS
'Internal: the numeric (legacy) id of a Shopify GID.';

CREATE FUNCTION kcloud_shopify.address_from_graphql(a jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(a) = 'object' THEN
        jsonb_build_object('first_name', a ->> 'firstName', 'last_name', a ->> 'lastName',
                           'address1', a ->> 'address1', 'address2', a ->> 'address2',
                           'city', a ->> 'city', 'province_code', a ->> 'provinceCode',
                           'zip', a ->> 'zip', 'country_code', a ->> 'countryCodeV2',
                           'phone', a ->> 'phone') END;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.address_from_graphql(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.address_from_graphql(jsonb) IS
'Internal: a GraphQL MailingAddress in the REST address shape.';

/*
 * The poller's GraphQL order (the detail query's "order", with the
 * fulfilment query's "fulfillments" merged in) in the REST shape that
 * ingest_order reads: the same internal form as the webhook payload.
 */
CREATE FUNCTION kcloud_shopify.order_from_graphql(o jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'id', COALESCE((o ->> 'legacyResourceId')::bigint, kcloud_shopify.gid_number(o ->> 'id')),
        'admin_graphql_api_id', o ->> 'id',
        'name', o ->> 'name',
        'email', o ->> 'email',
        'phone', o ->> 'phone',
        'taxes_included', COALESCE(o -> 'taxesIncluded', 'false'),
        'updated_at', o ->> 'updatedAt',
        'processed_at', o ->> 'processedAt',
        -- more than the detail queries read: never ingest an order in part
        'truncated', COALESCE((o #>> '{lineItems,pageInfo,hasNextPage}')::boolean, false)
                     OR jsonb_array_length(COALESCE(o -> 'fulfillments', '[]')) >= 8
                     OR EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(o -> 'fulfillments', '[]')) f
                                 WHERE (f #>> '{fulfillmentLineItems,pageInfo,hasNextPage}')::boolean),
        'customer', CASE WHEN jsonb_typeof(o -> 'customer') = 'object' THEN
            jsonb_build_object(
                'id', COALESCE((o #>> '{customer,legacyResourceId}')::bigint,
                               kcloud_shopify.gid_number(o #>> '{customer,id}')),
                'email', o #>> '{customer,defaultEmailAddress,emailAddress}',
                'phone', o #>> '{customer,defaultPhoneNumber,phoneNumber}',
                'first_name', o #>> '{customer,firstName}',
                'last_name', o #>> '{customer,lastName}',
                'default_address', kcloud_shopify.address_from_graphql(o #> '{customer,defaultAddress}'))
            END,
        'billing_address', kcloud_shopify.address_from_graphql(o -> 'billingAddress'),
        'shipping_address', kcloud_shopify.address_from_graphql(o -> 'shippingAddress'),
        'payment_gateway_names', COALESCE(o -> 'paymentGatewayNames', '[]'),
        'transactions', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('kind', lower(t ->> 'kind'), 'status', lower(t ->> 'status'),
                                                'gateway', t ->> 'gateway'))
              FROM jsonb_array_elements(COALESCE(o -> 'transactions', '[]')) t), '[]'),
        'line_items', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', kcloud_shopify.gid_number(li ->> 'id'),
                       'sku', li ->> 'sku', 'name', li ->> 'name', 'title', li ->> 'title',
                       'quantity', (li ->> 'quantity')::int,
                       'gift_card', COALESCE(li -> 'isGiftCard', 'false'),
                       'price', li #>> '{originalUnitPriceSet,shopMoney,amount}',
                       'discount_allocations', COALESCE((
                           SELECT jsonb_agg(jsonb_build_object('amount', d #>> '{allocatedAmountSet,shopMoney,amount}'))
                             FROM jsonb_array_elements(COALESCE(li -> 'discountAllocations', '[]')) d), '[]'),
                       'tax_lines', COALESCE((
                           SELECT jsonb_agg(jsonb_build_object('price', t #>> '{priceSet,shopMoney,amount}'))
                             FROM jsonb_array_elements(COALESCE(li -> 'taxLines', '[]')) t), '[]'))
                   ORDER BY n)
              FROM jsonb_array_elements(COALESCE(o #> '{lineItems,nodes}', '[]')) WITH ORDINALITY AS x(li, n)), '[]'),
        'shipping_lines', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'title', s ->> 'title', 'code', s ->> 'code',
                       'price', s #>> '{originalPriceSet,shopMoney,amount}',
                       'discounted_price', COALESCE(s #>> '{discountedPriceSet,shopMoney,amount}',
                                                    s #>> '{originalPriceSet,shopMoney,amount}'),
                       'tax_lines', COALESCE((
                           SELECT jsonb_agg(jsonb_build_object('price', t #>> '{priceSet,shopMoney,amount}'))
                             FROM jsonb_array_elements(COALESCE(s -> 'taxLines', '[]')) t), '[]'))
                   ORDER BY n)
              FROM jsonb_array_elements(COALESCE(o #> '{shippingLines,nodes}', '[]')) WITH ORDINALITY AS x(s, n)), '[]'),
        'fulfillments', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', COALESCE((f ->> 'legacyResourceId')::bigint, kcloud_shopify.gid_number(f ->> 'id')),
                       'status', lower(f ->> 'status'),
                       'created_at', f ->> 'createdAt',
                       'location_id', COALESCE((f #>> '{location,legacyResourceId}')::bigint,
                                               kcloud_shopify.gid_number(f #>> '{location,id}')),
                       'line_items', COALESCE((
                           SELECT jsonb_agg(jsonb_build_object('id', kcloud_shopify.gid_number(x #>> '{lineItem,id}'),
                                                               'quantity', (x ->> 'quantity')::int))
                             FROM jsonb_array_elements(COALESCE(f #> '{fulfillmentLineItems,nodes}', '[]')) x), '[]'))
                   ORDER BY n)
              FROM jsonb_array_elements(COALESCE(o -> 'fulfillments', '[]')) WITH ORDINALITY AS y(f, n)), '[]'));
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.order_from_graphql(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.order_from_graphql(jsonb) IS
'Internal (poller): a GraphQL Order (detail query) in the REST order shape ingest_order reads.';

CREATE FUNCTION kcloud_shopify.refund_from_graphql(r jsonb, order_id bigint)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'id', COALESCE((r ->> 'legacyResourceId')::bigint, kcloud_shopify.gid_number(r ->> 'id')),
        'admin_graphql_api_id', r ->> 'id',
        'order_id', order_id,
        'created_at', r ->> 'createdAt',
        'processed_at', r ->> 'processedAt',
        'note', r ->> 'note',
        'truncated', COALESCE((r #>> '{refundLineItems,pageInfo,hasNextPage}')::boolean, false),
        'refund_line_items', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'quantity', (x ->> 'quantity')::int,
                       'restock_type', lower(x ->> 'restockType'),
                       'location_id', COALESCE((x #>> '{location,legacyResourceId}')::bigint,
                                               kcloud_shopify.gid_number(x #>> '{location,id}')),
                       'line_item_id', kcloud_shopify.gid_number(x #>> '{lineItem,id}'),
                       'subtotal', x #>> '{subtotalSet,shopMoney,amount}',
                       'total_tax', x #>> '{totalTaxSet,shopMoney,amount}',
                       'line_item', jsonb_build_object(
                           'id', kcloud_shopify.gid_number(x #>> '{lineItem,id}'),
                           'sku', x #>> '{lineItem,sku}', 'name', x #>> '{lineItem,name}',
                           'title', x #>> '{lineItem,title}',
                           'gift_card', COALESCE(x #> '{lineItem,isGiftCard}', 'false'),
                           'price', x #>> '{lineItem,originalUnitPriceSet,shopMoney,amount}'))
                   ORDER BY n)
              FROM jsonb_array_elements(COALESCE(r #> '{refundLineItems,nodes}', '[]')) WITH ORDINALITY AS y(x, n)), '[]'),
        'refund_shipping_lines', COALESCE((
            SELECT jsonb_agg(jsonb_build_object(
                       'subtotal_amount_set', jsonb_build_object('shop_money', jsonb_build_object(
                           'amount', s #>> '{subtotalAmountSet,shopMoney,amount}')),
                       'tax_amount_set', jsonb_build_object('shop_money', jsonb_build_object(
                           'amount', s #>> '{taxAmountSet,shopMoney,amount}'))))
              FROM jsonb_array_elements(COALESCE(r #> '{refundShippingLines,nodes}', '[]')) s), '[]'),
        'order_adjustments', '[]'::jsonb,
        'transactions', COALESCE((
            SELECT jsonb_agg(jsonb_build_object('kind', lower(t ->> 'kind'), 'status', lower(t ->> 'status'),
                                                'gateway', t ->> 'gateway',
                                                'amount', t #>> '{amountSet,shopMoney,amount}'))
              FROM jsonb_array_elements(COALESCE(r #> '{transactions,nodes}', '[]')) t), '[]'));
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.refund_from_graphql(jsonb, bigint) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.refund_from_graphql(jsonb, bigint) IS
'Internal (poller): a GraphQL Refund in the REST refund shape ingest_refund reads.';

/* ---------------------------------------------------------------- poller */

CREATE FUNCTION kcloud_shopify.poll_orders()
RETURNS jsonb
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'kcloud_shopify_poll_orders';
REVOKE ALL ON FUNCTION kcloud_shopify.poll_orders() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.poll_orders() IS
'Poll Shopify for fulfilled orders and refunds now, in this session (what the worker does every poll interval): orders updated since the high-water mark (less the overlap window), then the exceptions list. Returns counts.';

CREATE FUNCTION kcloud_shopify.backfill_orders(since timestamptz, until timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'kcloud_shopify_backfill_orders';
REVOKE ALL ON FUNCTION kcloud_shopify.backfill_orders(timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.backfill_orders(timestamptz, timestamptz) IS
'Re-read the fulfilled orders updated in [since, until] (until NULL = now) from Shopify and ingest what is missing; does not move the poll mark. Returns counts.';

/* --------------------------------------------------------------- webhook */

CREATE FUNCTION kcloud_shopify.webhook_hmac_ok(body text, signature text)
RETURNS boolean
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'kcloud_shopify_webhook_hmac_ok';
REVOKE ALL ON FUNCTION kcloud_shopify.webhook_hmac_ok(text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.webhook_hmac_ok(text, text) IS
'Internal: whether signature is base64(HMAC-SHA256(body)) under the settings row webhook_secret or client_secret (constant-time comparison).';

/*
 * A webhook delivery as the HTTPS receiver got it: verify the signature over
 * the raw body before anything is parsed, drop redeliveries (same
 * X-Shopify-Webhook-Id), then ingest.  A bad or missing signature is an
 * error and writes nothing; so is a payload that cannot be ingested (the
 * receiver answers non-2xx and Shopify retries; the poller catches up anyway).
 */
CREATE FUNCTION kcloud_shopify.receive_webhook(topic text, headers jsonb, body text)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    h jsonb;
    sig text;
    wid text;
    htopic text;
    prior jsonb;
    res jsonb;
    payload jsonb;
BEGIN
    IF body IS NULL THEN
        RAISE EXCEPTION 'webhook body is missing' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- header names are case-insensitive
    SELECT COALESCE(jsonb_object_agg(lower(e.key), e.value #>> '{}'), '{}') INTO h
      FROM jsonb_each(CASE WHEN jsonb_typeof(headers) = 'object' THEN headers ELSE '{}' END) e;
    sig := h ->> 'x-shopify-hmac-sha256';
    IF sig IS NULL OR sig = '' THEN
        RAISE EXCEPTION 'webhook rejected: X-Shopify-Hmac-Sha256 header is missing'
            USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF NOT kcloud_shopify.webhook_hmac_ok(body, sig) THEN
        RAISE EXCEPTION 'webhook rejected: X-Shopify-Hmac-Sha256 does not match the body'
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'The body must be passed byte for byte as received; the secret is the settings row webhook_secret or client_secret.';
    END IF;

    htopic := h ->> 'x-shopify-topic';
    topic := COALESCE(NULLIF(topic, ''), htopic);
    IF htopic IS NOT NULL AND htopic <> topic THEN
        RAISE EXCEPTION 'webhook topic "%" does not match X-Shopify-Topic "%"', topic, htopic
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    wid := NULLIF(h ->> 'x-shopify-webhook-id', '');
    IF wid IS NULL THEN
        RAISE EXCEPTION 'webhook rejected: X-Shopify-Webhook-Id header is missing'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO kcloud_shopify.webhook_delivery (webhook_id, topic, event_id, shop_domain)
    VALUES (wid, topic, h ->> 'x-shopify-event-id', h ->> 'x-shopify-shop-domain')
    ON CONFLICT (webhook_id) DO NOTHING;
    IF NOT FOUND THEN
        SELECT d.result INTO prior FROM kcloud_shopify.webhook_delivery d WHERE d.webhook_id = wid;
        RETURN jsonb_build_object('webhook_id', wid, 'topic', topic, 'duplicate', true, 'result', prior);
    END IF;

    BEGIN
        payload := body::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'webhook % (%): the body is not valid JSON', wid, topic
            USING ERRCODE = 'invalid_text_representation';
    END;
    IF topic IN ('orders/fulfilled', 'orders/partially_fulfilled') THEN
        res := kcloud_shopify.ingest_order(payload);
    ELSIF topic = 'refunds/create' THEN
        res := kcloud_shopify.ingest_refund(payload);
    ELSE
        res := jsonb_build_object('ignored', 'topic ' || topic || ' is not ingested');
    END IF;
    UPDATE kcloud_shopify.webhook_delivery d SET result = res WHERE d.webhook_id = wid;
    RETURN jsonb_build_object('webhook_id', wid, 'topic', topic, 'duplicate', false, 'result', res);
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.receive_webhook(text, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.receive_webhook(text, jsonb, text) IS
'For an HTTPS receiver in front of the database: verify X-Shopify-Hmac-Sha256 over the raw body, ignore redeliveries (X-Shopify-Webhook-Id), ingest orders/fulfilled and refunds/create. Bad or missing signature: error, nothing written.';
