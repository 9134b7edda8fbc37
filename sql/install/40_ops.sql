/*
 * Operations: run the sync from SQL (docs/operations.md).
 *
 *   resync_product / resync_products / resync_inventory / resync_locations /
 *   resync_customers   mark entities dirty again, set-wise, like capture does
 *   retry_failed / discard_failed   act on permanent failures
 *   pause / resume / is_paused      stop and restart sending (a settings row)
 *   failures / links / status / activity   views
 *   log_activity / set_activity_retention   the bounded request log
 *
 * The functions a person calls are SECURITY DEFINER with a fixed search_path:
 * the extension owner can GRANT EXECUTE on one of them to a support role
 * without granting anything on the tables behind it.  Nothing is granted to
 * PUBLIC.  Every resync enqueues with INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING (the semantics of kcloud_shopify.enqueue, one statement per call)
 * and wakes the worker when the transaction commits.
 *
 * A CI key is shown as JSON, as in the pending view: product
 * {"style_code"}, inventory {"sku_code","branch_code"}, location
 * {"branch_code"}, customer {"customer_code"}.
 */

-- Wake the sync worker once the calling transaction commits (src/ops.c).
CREATE FUNCTION kcloud_shopify.wake()
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'kcloud_shopify_wake';
REVOKE ALL ON FUNCTION kcloud_shopify.wake() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.wake() IS
'Wake the sync worker when the current transaction commits (nothing happens on rollback).';

-- What the worker publishes in shared memory (src/ops.c).
CREATE FUNCTION kcloud_shopify.worker_state(OUT worker_pid int, OUT worker_started_at timestamptz,
                                            OUT wake_pending boolean, OUT wakes_sent bigint,
                                            OUT bucket_available float8, OUT bucket_max float8,
                                            OUT bucket_restore_rate float8, OUT bucket_observed_at timestamptz,
                                            OUT last_success_at timestamptz, OUT last_failure_at timestamptz,
                                            OUT last_error text, OUT requests_sent bigint,
                                            OUT requests_failed bigint, OUT throttled_replies bigint,
                                            OUT cost_points bigint)
RETURNS record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'kcloud_shopify_worker_state';
REVOKE ALL ON FUNCTION kcloud_shopify.worker_state() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.worker_state() IS
'The sync worker''s shared-memory state: pid and start time, wake-ups, Shopify''s throttle bucket as last reported, last success and failure, and request, throttle and cost counters since server start.';

CREATE FUNCTION kcloud_shopify.api_version()
RETURNS text
LANGUAGE C IMMUTABLE
AS 'MODULE_PATHNAME', 'kcloud_shopify_api_version';
REVOKE ALL ON FUNCTION kcloud_shopify.api_version() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.api_version() IS
'The Shopify Admin API version this build of kcloud_shopify sends requests to.';

/*
 * Validate a (kind, ci_key) filter of retry_failed/discard_failed.  NULL
 * kind = every kind; ci_key narrows to rows whose CI key contains it, so a
 * key copied from the failures view matches exactly one entity and
 * {"branch_code": "B1"} matches every inventory level of branch B1.
 */
CREATE FUNCTION kcloud_shopify.check_queue_filter(p_kind text, p_ci_key jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    fields text[];
    f record;
BEGIN
    IF p_kind IS NOT NULL AND p_kind NOT IN ('product', 'inventory', 'location', 'customer') THEN
        RAISE EXCEPTION 'unknown kind "%"', p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use product, inventory, location or customer, or NULL for every kind.';
    END IF;
    IF p_ci_key IS NULL THEN
        RETURN;
    END IF;
    IF p_kind IS NULL THEN
        RAISE EXCEPTION 'ci_key needs a kind'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the kind as well, e.g. (''product'', ''{"style_code": "S1"}'').';
    END IF;
    IF pg_catalog.jsonb_typeof(p_ci_key) <> 'object' THEN
        RAISE EXCEPTION 'ci_key must be a JSON object, not %', pg_catalog.jsonb_typeof(p_ci_key)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Copy ci_key from kcloud_shopify.failures, e.g. {"style_code": "S1"}.';
    END IF;
    fields := CASE p_kind
                  WHEN 'product'   THEN ARRAY['style_code']
                  WHEN 'inventory' THEN ARRAY['sku_code', 'branch_code']
                  WHEN 'location'  THEN ARRAY['branch_code']
                  ELSE                  ARRAY['customer_code'] END;
    FOR f IN SELECT e.key, e.value FROM pg_catalog.jsonb_each(p_ci_key) AS e LOOP
        IF NOT f.key = ANY (fields) THEN
            RAISE EXCEPTION 'ci_key field "%" does not belong to kind %', f.key, p_kind
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = pg_catalog.format('The key of a %s has the field(s) %s.', p_kind,
                                               pg_catalog.array_to_string(fields, ', '));
        END IF;
        IF pg_catalog.jsonb_typeof(f.value) <> 'string' THEN
            RAISE EXCEPTION 'ci_key field "%" must be a string, not %', f.key,
                            pg_catalog.jsonb_typeof(f.value)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'CI codes are text: write {"' || f.key || '": "..."}.';
        END IF;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.check_queue_filter(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.check_queue_filter(text, jsonb) IS
'Internal: raise an error unless (kind, ci_key) is a valid filter for retry_failed/discard_failed.';

-- The CI key of a queue row as JSON (same shape as the pending view).
CREATE FUNCTION kcloud_shopify.ci_key(p_kind text, p_key1 text, p_key2 text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
AS $$
    SELECT CASE p_kind
               WHEN 'product'   THEN pg_catalog.jsonb_build_object('style_code', p_key1)
               WHEN 'inventory' THEN pg_catalog.jsonb_build_object('sku_code', p_key1, 'branch_code', p_key2)
               WHEN 'location'  THEN pg_catalog.jsonb_build_object('branch_code', p_key1)
               WHEN 'customer'  THEN pg_catalog.jsonb_build_object('customer_code', p_key1)
           END;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.ci_key(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.ci_key(text, text, text) IS
'The CI key of a queue row (kind, key1, key2) as JSON, e.g. {"sku_code": "S1-RED-M", "branch_code": "B1"}.';

/* ---------------------------------------------------------------- resync */

CREATE FUNCTION kcloud_shopify.resync_product(style_code text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF resync_product.style_code IS NULL THEN
        RAISE EXCEPTION 'style_code must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- a deleted style is accepted while it is linked: the worker hides it
    IF NOT EXISTS (SELECT 1 FROM ci.style s WHERE s.style_code = resync_product.style_code)
       AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.product_link l
                        WHERE l.style_code = resync_product.style_code) THEN
        RAISE EXCEPTION 'style "%" does not exist', resync_product.style_code
            USING ERRCODE = 'no_data_found',
                  DETAIL = 'It is not in ci.style and no Shopify product is linked to it.',
                  HINT = 'Pass a style_code from ci.style.';
    END IF;
    INSERT INTO kcloud_shopify.queue (kind, key1, key2)
    VALUES ('product', resync_product.style_code, '')
    ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING;
    PERFORM kcloud_shopify.wake();
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resync_product(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resync_product(text) IS
'Send one style to Shopify again (also a deleted style that is still linked, so it is hidden).';

/*
 * Styles to resend: every internet-active style and every linked one (a
 * linked style that left the web, or left CI, must be hidden in Shopify), or
 * those of them whose style_code matches the LIKE pattern filter.
 */
CREATE FUNCTION kcloud_shopify.resync_products(filter text DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    n int;
BEGIN
    WITH styles AS (
        SELECT s.style_code::text AS code
          FROM ci.style s
         WHERE s.internet_active
        UNION
        SELECT l.style_code
          FROM kcloud_shopify.product_link l
    ), matched AS (
        SELECT st.code FROM styles st
         WHERE resync_products.filter IS NULL OR st.code LIKE resync_products.filter
    ), ins AS (
        INSERT INTO kcloud_shopify.queue (kind, key1, key2)
        SELECT 'product', m.code, '' FROM matched m
        ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING
    )
    SELECT pg_catalog.count(*) INTO n FROM matched;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resync_products(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resync_products(text) IS
'Send every internet-active or linked style again, or those whose style_code matches the LIKE pattern filter; returns how many styles were queued.';

/*
 * Stock levels to resend: ci.stock rows at active branches that hold web
 * stock, for SKUs whose style is internet active or that are linked to a
 * variant.  NULL = every such branch.
 */
CREATE FUNCTION kcloud_shopify.resync_inventory(branch_code text DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    b ci.branch%ROWTYPE;
    n int;
BEGIN
    IF resync_inventory.branch_code IS NOT NULL THEN
        SELECT * INTO b FROM ci.branch br WHERE br.branch_code = resync_inventory.branch_code;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'branch "%" does not exist', resync_inventory.branch_code
                USING ERRCODE = 'no_data_found',
                      HINT = 'Pass a branch_code from ci.branch, or NULL for every web-stock branch.';
        END IF;
        IF NOT b.web_stock OR NOT b.active THEN
            RAISE EXCEPTION 'branch "%" does not hold web stock', resync_inventory.branch_code
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = pg_catalog.format('ci.branch has active = %s, web_stock = %s.',
                                                 b.active, b.web_stock),
                      HINT = 'Only stock at active branches with web_stock = true is sent to Shopify.';
        END IF;
    END IF;

    WITH levels AS (
        SELECT st.sku_code::text AS sku, st.branch_code::text AS branch
          FROM ci.stock st
          JOIN ci.branch br ON br.branch_code = st.branch_code
          JOIN ci.sku k ON k.sku_code = st.sku_code
          JOIN ci.style s ON s.style_code = k.style_code
         WHERE br.active AND br.web_stock
           AND (resync_inventory.branch_code IS NULL OR br.branch_code = resync_inventory.branch_code)
           AND (s.internet_active
                OR EXISTS (SELECT 1 FROM kcloud_shopify.variant_link vl
                            WHERE vl.sku_code = st.sku_code))
    ), ins AS (
        INSERT INTO kcloud_shopify.queue (kind, key1, key2)
        SELECT 'inventory', l.sku, l.branch FROM levels l
        ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING
    )
    SELECT pg_catalog.count(*) INTO n FROM levels;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resync_inventory(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resync_inventory(text) IS
'Send stock on hand again for every web-stock branch, or for one; only SKUs of internet-active or linked styles; returns how many stock levels were queued.';

-- Branches to resend: active ones (created or edited) and linked ones (deactivated).
CREATE FUNCTION kcloud_shopify.resync_locations()
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    WITH branches AS (
        SELECT b.branch_code::text AS code FROM ci.branch b WHERE b.active
        UNION
        SELECT l.branch_code FROM kcloud_shopify.location_link l
    ), ins AS (
        INSERT INTO kcloud_shopify.queue (kind, key1, key2)
        SELECT 'location', br.code, '' FROM branches br
        ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING
    )
    SELECT pg_catalog.count(*) INTO n FROM branches;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resync_locations() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resync_locations() IS
'Send every active branch, and every linked one, to Shopify again as a location; returns how many branches were queued.';

-- Customers to resend: those Shopify can identify (email or phone) and linked ones.
CREATE FUNCTION kcloud_shopify.resync_customers()
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    WITH customers AS (
        SELECT c.customer_code::text AS code
          FROM ci.customer c
         WHERE pg_catalog.btrim(c.email) <> '' OR pg_catalog.btrim(c.phone) <> ''
        UNION
        SELECT l.customer_code FROM kcloud_shopify.customer_link l
    ), ins AS (
        INSERT INTO kcloud_shopify.queue (kind, key1, key2)
        SELECT 'customer', cu.code, '' FROM customers cu
        ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING
    )
    SELECT pg_catalog.count(*) INTO n FROM customers;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resync_customers() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resync_customers() IS
'Send every customer with an email or phone, and every linked one, to Shopify again; returns how many customers were queued.';

/* -------------------------------------------------------------- failures */

/*
 * Move permanent failures back to pending, due now, with a fresh attempt
 * count (a person fixed the cause; backoff starts again).  When the entity
 * is already pending the failure merges into that row.  The error text and
 * failure times stay, so the failures view shows the row as 'retrying' until
 * the worker has sent it.
 */
CREATE FUNCTION kcloud_shopify.retry_failed(kind text DEFAULT NULL, ci_key jsonb DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    n int;
BEGIN
    PERFORM kcloud_shopify.check_queue_filter(retry_failed.kind, retry_failed.ci_key);
    WITH f AS (
        DELETE FROM kcloud_shopify.queue q
         WHERE q.state = 'failed'
           AND (retry_failed.kind IS NULL OR q.kind = retry_failed.kind)
           AND (retry_failed.ci_key IS NULL
                OR kcloud_shopify.ci_key(q.kind, q.key1, q.key2) @> retry_failed.ci_key)
        RETURNING q.*
    ), ins AS (
        INSERT INTO kcloud_shopify.queue AS q
               (kind, key1, key2, state, enqueued_at, attempts, next_attempt_at,
                last_error, first_failed_at, last_failed_at)
        SELECT f.kind, f.key1, f.key2, 'pending', f.enqueued_at, 0, pg_catalog.now(),
               f.last_error, f.first_failed_at, f.last_failed_at
          FROM f
        ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO UPDATE
           SET enqueued_at = LEAST(q.enqueued_at, EXCLUDED.enqueued_at),
               attempts = 0,
               next_attempt_at = EXCLUDED.next_attempt_at,
               last_error = COALESCE(q.last_error, EXCLUDED.last_error),
               first_failed_at = LEAST(q.first_failed_at, EXCLUDED.first_failed_at),
               last_failed_at = GREATEST(q.last_failed_at, EXCLUDED.last_failed_at)
    )
    SELECT pg_catalog.count(*) INTO n FROM f;
    IF n > 0 THEN
        PERFORM kcloud_shopify.wake();
    END IF;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.retry_failed(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.retry_failed(text, jsonb) IS
'Queue permanently failed entities again (all, one kind, or those whose CI key contains ci_key), due now; returns how many.';

CREATE FUNCTION kcloud_shopify.discard_failed(kind text DEFAULT NULL, ci_key jsonb DEFAULT NULL)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    n int;
BEGIN
    PERFORM kcloud_shopify.check_queue_filter(discard_failed.kind, discard_failed.ci_key);
    WITH f AS (
        DELETE FROM kcloud_shopify.queue q
         WHERE q.state = 'failed'
           AND (discard_failed.kind IS NULL OR q.kind = discard_failed.kind)
           AND (discard_failed.ci_key IS NULL
                OR kcloud_shopify.ci_key(q.kind, q.key1, q.key2) @> discard_failed.ci_key)
        RETURNING 1
    )
    SELECT pg_catalog.count(*) INTO n FROM f;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.discard_failed(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.discard_failed(text, jsonb) IS
'Forget permanently failed entities (all, one kind, or those whose CI key contains ci_key) without sending them; returns how many.';

/*
 * Failed entities: permanent failures (state 'failed', next_retry NULL),
 * pending rows that failed before and wait for their retry ('retrying'), and
 * rows being sent again right now ('sending').
 */
CREATE VIEW kcloud_shopify.failures AS
SELECT q.kind,
       CASE q.kind
           WHEN 'product'   THEN pg_catalog.jsonb_build_object('style_code', q.key1)
           WHEN 'inventory' THEN pg_catalog.jsonb_build_object('sku_code', q.key1, 'branch_code', q.key2)
           WHEN 'location'  THEN pg_catalog.jsonb_build_object('branch_code', q.key1)
           ELSE                  pg_catalog.jsonb_build_object('customer_code', q.key1)
       END AS ci_key,
       CASE q.state WHEN 'failed' THEN 'failed'
                    WHEN 'pending' THEN 'retrying'
                    ELSE 'sending' END AS state,
       q.last_error AS error,
       q.attempts,
       q.first_failed_at,
       q.last_failed_at,
       CASE WHEN q.state = 'pending'
            THEN GREATEST(q.next_attempt_at, q.last_failed_at) END AS next_retry
  FROM kcloud_shopify.queue q
 WHERE q.state = 'failed' OR q.last_failed_at IS NOT NULL;
REVOKE ALL ON kcloud_shopify.failures FROM PUBLIC;
COMMENT ON VIEW kcloud_shopify.failures IS
'Entities whose sending failed: permanent failures (state failed, waiting for a person) and entities retrying after a transient error, with Shopify''s error text, attempts, first and last failure and next retry.';

/* ------------------------------------------------------------ pause/resume */

-- Paused: a 'paused' row in settings (value = the reason), or the server-wide GUC.
CREATE FUNCTION kcloud_shopify.is_paused()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (SELECT 1 FROM kcloud_shopify.settings s WHERE s.name = 'paused')
        OR COALESCE(pg_catalog.current_setting('kcloud_shopify.paused', true)::boolean, false);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.is_paused() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.is_paused() IS
'True while sending is paused by pause() or by the kcloud_shopify.paused setting; the worker checks it every round.';

CREATE FUNCTION kcloud_shopify.pause(reason text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO kcloud_shopify.settings (name, value)
    VALUES ('paused', COALESCE(pause.reason, ''))
    ON CONFLICT (name) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;           -- already paused; keep the original time and reason
    END IF;
    PERFORM kcloud_shopify.wake();
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.pause(text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.pause(text) IS
'Stop sending to Shopify (changes keep being queued) until resume(); survives restarts; returns false if already paused.';

CREATE FUNCTION kcloud_shopify.resume()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM kcloud_shopify.settings s WHERE s.name = 'paused';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM kcloud_shopify.wake();
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.resume() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.resume() IS
'Undo pause(): the worker drains the queue again at once; returns false if it was not paused.';

/* ------------------------------------------------------------ activity log */

CREATE TABLE kcloud_shopify.activity_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    operation   text NOT NULL,          -- e.g. productSet, inventorySetQuantities
    entities    int NOT NULL CHECK (entities >= 0),
    cost        numeric CHECK (cost >= 0),      -- actual query cost; NULL = unknown
    outcome     text NOT NULL
                CHECK (outcome IN ('ok', 'partial', 'throttled', 'transient', 'permanent', 'dry_run')),
    duration_ms numeric CHECK (duration_ms >= 0),
    detail      text
);
CREATE INDEX activity_log_at ON kcloud_shopify.activity_log (at);
CREATE INDEX activity_log_trouble_at ON kcloud_shopify.activity_log (at)
    WHERE outcome NOT IN ('ok', 'dry_run');
REVOKE ALL ON kcloud_shopify.activity_log FROM PUBLIC;
COMMENT ON TABLE kcloud_shopify.activity_log IS
'Requests the sync worker made, newest kept for the activity retention (see the activity view).';

-- Settings row 'activity_retention' (an interval), 7 days when absent.
CREATE FUNCTION kcloud_shopify.activity_retention()
RETURNS interval
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT s.value::interval FROM kcloud_shopify.settings s
                      WHERE s.name = 'activity_retention'),
                    interval '7 days');
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.activity_retention() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.activity_retention() IS
'How long the activity log keeps requests (settings row activity_retention, default 7 days).';

CREATE FUNCTION kcloud_shopify.set_activity_retention(retention interval)
RETURNS interval
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF retention IS NULL THEN
        DELETE FROM kcloud_shopify.settings s WHERE s.name = 'activity_retention';
    ELSIF retention < interval '0' THEN
        RAISE EXCEPTION 'activity retention must not be negative: %', retention
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass an interval such as ''3 days'', 0 to stop logging, or NULL for the default (7 days).';
    ELSE
        INSERT INTO kcloud_shopify.settings AS s (name, value)
        VALUES ('activity_retention', retention::text)
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = pg_catalog.now();
    END IF;
    DELETE FROM kcloud_shopify.activity_log a
     WHERE a.at < pg_catalog.now() - kcloud_shopify.activity_retention();
    RETURN kcloud_shopify.activity_retention();
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.set_activity_retention(interval) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.set_activity_retention(interval) IS
'Set how long the activity log keeps requests (0 = log nothing, NULL = default 7 days), trim it now, and return the retention in force.';

/*
 * Record one request (called by the sync worker after each request).
 * detail is cut to 2000 characters: the log is bounded in rows and size.
 * Trimming is cheap: one probe of the oldest entry, and a DELETE only when
 * that entry is more than a minute past the retention, i.e. at most about
 * once a minute however busy the worker is.
 */
CREATE FUNCTION kcloud_shopify.log_activity(operation text, entities int, cost numeric,
                                            outcome text, duration_ms numeric,
                                            detail text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    keep interval := kcloud_shopify.activity_retention();
    oldest timestamptz;
BEGIN
    IF keep > interval '0' THEN
        INSERT INTO kcloud_shopify.activity_log (operation, entities, cost, outcome, duration_ms, detail)
        VALUES (log_activity.operation, COALESCE(log_activity.entities, 0), log_activity.cost,
                log_activity.outcome, log_activity.duration_ms,
                pg_catalog.left(log_activity.detail, 2000));
    END IF;
    SELECT a.at INTO oldest FROM kcloud_shopify.activity_log a ORDER BY a.at LIMIT 1;
    IF oldest < pg_catalog.now() - keep - interval '1 minute' THEN
        DELETE FROM kcloud_shopify.activity_log a WHERE a.at < pg_catalog.now() - keep;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.log_activity(text, int, numeric, text, numeric, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.log_activity(text, int, numeric, text, numeric, text) IS
'Record one request in the activity log (the worker calls it; detail is cut to 2000 characters) and trim entries older than the retention.';

-- Entries older than the retention are hidden even before they are trimmed.
CREATE VIEW kcloud_shopify.activity AS
SELECT a.at, a.operation, a.entities, a.cost, a.outcome, a.duration_ms, a.detail
  FROM kcloud_shopify.activity_log a
 WHERE a.at >= pg_catalog.now()
               - (SELECT COALESCE((SELECT s.value::interval FROM kcloud_shopify.settings s
                                    WHERE s.name = 'activity_retention'),
                                  interval '7 days'));
REVOKE ALL ON kcloud_shopify.activity FROM PUBLIC;
COMMENT ON VIEW kcloud_shopify.activity IS
'Recent requests to Shopify: when, operation, entities, cost points, outcome, duration in ms, detail; kept for the activity retention.';

/* ----------------------------------------------------------------- links */

/*
 * CI key <-> Shopify GID for every kind of link, one UNION ALL branch per
 * link table.  The branches are generated here from the list below, for the
 * link tables the earlier install parts created (members of this extension):
 * adding a link table means adding one line to the list (the ops_links test
 * fails until then).  detail is the rest of the link row.
 */
DO $kcs$
DECLARE
    e record;
    parts text[] := '{}';
BEGIN
    FOR e IN
        SELECT * FROM (VALUES
            ('product', 'product_link',
             $$pg_catalog.jsonb_build_object('style_code', t.style_code)$$, 't.product_gid',
             't.synced_at', ARRAY['style_code', 'product_gid', 'synced_at']),
            ('variant', 'variant_link',
             $$pg_catalog.jsonb_build_object('sku_code', t.sku_code)$$, 't.variant_gid',
             't.synced_at', ARRAY['sku_code', 'variant_gid', 'synced_at']),
            ('inventory_item', 'variant_link',
             $$pg_catalog.jsonb_build_object('sku_code', t.sku_code)$$, 't.inventory_item_gid',
             't.synced_at', ARRAY['sku_code', 'inventory_item_gid', 'synced_at']),
            ('location', 'location_link',
             $$pg_catalog.jsonb_build_object('branch_code', t.branch_code)$$, 't.location_gid',
             't.synced_at', ARRAY['branch_code', 'location_gid', 'synced_at']),
            ('customer', 'customer_link',
             $$pg_catalog.jsonb_build_object('customer_code', t.customer_code)$$, 't.customer_gid',
             't.synced_at', ARRAY['customer_code', 'customer_gid', 'synced_at']),
            ('order', 'order_link',
             $$pg_catalog.jsonb_build_object('invoice_no', t.first_invoice_no)$$,
             $$'gid://shopify/Order/' || t.order_id$$,
             't.updated_at', ARRAY['first_invoice_no', 'order_id', 'updated_at']),
            ('fulfillment', 'order_fulfillment',
             $$pg_catalog.jsonb_build_object('invoice_no', t.invoice_no)$$,
             $$'gid://shopify/Fulfillment/' || t.fulfillment_id$$,
             't.ingested_at', ARRAY['invoice_no', 'fulfillment_id', 'ingested_at']),
            ('refund', 'order_refund',
             $$pg_catalog.jsonb_build_object('credit_no', t.credit_no)$$,
             $$'gid://shopify/Refund/' || t.refund_id$$,
             't.ingested_at', ARRAY['credit_no', 'refund_id', 'ingested_at']),
            ('order_customer', 'order_customer_link',
             $$pg_catalog.jsonb_build_object('customer_code', t.customer_code)$$,
             $$'gid://shopify/Customer/' || t.shopify_customer_id$$,
             't.linked_at', ARRAY['customer_code', 'shopify_customer_id', 'linked_at']),
            ('order_location', 'order_location_link',
             $$pg_catalog.jsonb_build_object('branch_code', t.branch_code)$$,
             $$'gid://shopify/Location/' || t.location_id$$,
             'NULL::timestamptz', ARRAY['branch_code', 'location_id'])
        ) AS v(kind, tab, ci_key, gid, at, shown)
    LOOP
        -- only tables of this extension (not leftovers in a pre-existing schema)
        CONTINUE WHEN NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_depend d
              JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
             WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
               AND d.objid = pg_catalog.to_regclass('kcloud_shopify.' || e.tab)
               AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
               AND d.deptype = 'e' AND x.extname = 'kcloud_shopify');
        parts := parts || pg_catalog.format(
            'SELECT %L::text AS kind, %s AS ci_key, (%s)::text AS shopify_gid, '
            '%s::timestamptz AS synced_at, pg_catalog.to_jsonb(t) - %L::text[] AS detail '
            'FROM kcloud_shopify.%I t', e.kind, e.ci_key, e.gid, e.at, e.shown, e.tab);
    END LOOP;
    IF pg_catalog.cardinality(parts) = 0 THEN
        parts := ARRAY['SELECT NULL::text AS kind, NULL::jsonb AS ci_key, NULL::text AS shopify_gid, '
                       'NULL::timestamptz AS synced_at, NULL::jsonb AS detail WHERE false'];
    END IF;
    EXECUTE 'CREATE VIEW kcloud_shopify.links AS '
            || pg_catalog.array_to_string(parts, ' UNION ALL ');
END
$kcs$;
REVOKE ALL ON kcloud_shopify.links FROM PUBLIC;
COMMENT ON VIEW kcloud_shopify.links IS
'Every link between a CI key and a Shopify object (product, variant, inventory item, location, customer, order, fulfilment, refund), with the time it was last recorded and the rest of the link row as detail.';

/* ----------------------------------------------------------------- status */

/*
 * One row.  Queue figures come from the queue; worker figures from shared
 * memory (worker_state(), with pg_stat_activity for the pid and start time
 * when shared memory has none); last success/failure from shared memory, the
 * queue and the activity log, whichever is latest.
 */
CREATE VIEW kcloud_shopify.status AS
WITH by_kind AS (           -- the one scan of the queue
    SELECT q.kind,
           pg_catalog.count(*) FILTER (WHERE q.state = 'pending') AS pending,
           pg_catalog.count(*) FILTER (WHERE q.state = 'pending'
                                          AND q.next_attempt_at <= pg_catalog.now()) AS due,
           pg_catalog.count(*) FILTER (WHERE q.state = 'pending'
                                          AND q.last_failed_at IS NOT NULL) AS retrying,
           pg_catalog.count(*) FILTER (WHERE q.state = 'in_flight') AS in_flight,
           pg_catalog.count(*) FILTER (WHERE q.state = 'failed') AS failed,
           pg_catalog.min(q.enqueued_at) FILTER (WHERE q.state = 'pending') AS oldest_pending_at,
           pg_catalog.max(q.last_failed_at) AS last_failed_at
      FROM kcloud_shopify.queue q
     GROUP BY q.kind
), q AS (
    SELECT COALESCE(pg_catalog.sum(b.pending), 0)::bigint AS pending,
           COALESCE(pg_catalog.sum(b.due), 0)::bigint AS due,
           COALESCE(pg_catalog.sum(b.retrying), 0)::bigint AS retrying,
           COALESCE(pg_catalog.sum(b.in_flight), 0)::bigint AS in_flight,
           COALESCE(pg_catalog.sum(b.failed), 0)::bigint AS failed,
           pg_catalog.min(b.oldest_pending_at) AS oldest_pending_at,
           pg_catalog.max(b.last_failed_at) AS last_failed_at
      FROM by_kind b
), k AS (
    SELECT pg_catalog.jsonb_object_agg(kinds.kind, pg_catalog.jsonb_build_object(
               'pending', COALESCE(b.pending, 0),
               'in_flight', COALESCE(b.in_flight, 0),
               'failed', COALESCE(b.failed, 0)) ORDER BY kinds.kind) AS by_kind
      FROM (VALUES ('product'), ('inventory'), ('location'), ('customer')) AS kinds(kind)
      LEFT JOIN by_kind b ON b.kind = kinds.kind
), s AS (
    SELECT pg_catalog.max(x.value) FILTER (WHERE x.name = 'shop_domain') AS shop_domain,
           pg_catalog.max(x.value) FILTER (WHERE x.name = 'token_expires_at') AS token_expires_at,
           pg_catalog.max(x.value) FILTER (WHERE x.name = 'orders_poll_mark') AS order_poll_mark,
           pg_catalog.bool_or(x.name = 'paused') AS paused_row,
           pg_catalog.max(x.value) FILTER (WHERE x.name = 'paused') AS pause_reason,
           pg_catalog.max(x.updated_at) FILTER (WHERE x.name = 'paused') AS paused_since
      FROM kcloud_shopify.settings x
), w AS (
    SELECT ws.*,
           COALESCE(ws.worker_pid,
                    (SELECT a.pid FROM pg_catalog.pg_stat_activity a
                      WHERE a.backend_type = 'kcloud_shopify sync worker'
                      ORDER BY a.backend_start DESC LIMIT 1)) AS pid
      FROM kcloud_shopify.worker_state() ws
), a AS (
    SELECT (SELECT pg_catalog.max(l.at) FROM kcloud_shopify.activity_log l
             WHERE l.outcome IN ('ok', 'partial')) AS last_ok,
           (SELECT pg_catalog.max(l.at) FROM kcloud_shopify.activity_log l
             WHERE l.outcome NOT IN ('ok', 'dry_run')) AS last_bad
)
SELECT s.shop_domain IS NOT NULL AS connected,
       s.shop_domain,
       kcloud_shopify.api_version() AS api_version,
       (COALESCE(s.paused_row, false)
        OR COALESCE(pg_catalog.current_setting('kcloud_shopify.paused', true)::boolean, false))
           AS paused,
       s.paused_since,
       NULLIF(s.pause_reason, '') AS pause_reason,
       w.pid AS worker_pid,
       COALESCE(w.worker_started_at,
                (SELECT sa.backend_start FROM pg_catalog.pg_stat_activity sa WHERE sa.pid = w.pid))
           AS worker_started_at,
       q.pending,
       q.due,
       q.retrying,
       q.in_flight,
       q.failed,
       k.by_kind AS queue_by_kind,
       q.oldest_pending_at,
       pg_catalog.now() - q.oldest_pending_at AS oldest_pending_age,
       GREATEST(w.last_success_at, a.last_ok) AS last_success_at,
       GREATEST(w.last_failure_at, q.last_failed_at, a.last_bad) AS last_failure_at,
       w.last_error,
       -- the bucket refills at restore_rate since Shopify last reported it
       pg_catalog.round(LEAST(w.bucket_max,
                              w.bucket_available + w.bucket_restore_rate
                                * pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()
                                                                 - w.bucket_observed_at))::numeric, 1)
           AS bucket_available,
       w.bucket_max::numeric AS bucket_max,
       w.bucket_restore_rate::numeric AS bucket_restore_rate,
       w.bucket_observed_at,
       w.requests_sent,
       w.requests_failed,
       w.throttled_replies,
       w.cost_points,
       s.token_expires_at::timestamptz AS token_expires_at,
       s.order_poll_mark::timestamptz AS order_poll_mark
  FROM q, k, s, w, a;
REVOKE ALL ON kcloud_shopify.status FROM PUBLIC;
COMMENT ON VIEW kcloud_shopify.status IS
'One row: connection, pause state, worker pid, queue depth (total and by kind), oldest pending age, in flight, failed, last success and failure, throttle bucket, token expiry and the order poller''s high-water mark.';
