/*
 * Bulk first load (src/bulk.c).
 *
 * When more product entities are due than the bulk threshold (a first sync,
 * or resync_products() over a large catalogue), the worker sends them as
 * one Shopify bulk mutation (stagedUploadsCreate -> JSONL upload ->
 * bulkOperationRunMutation with productSet -> poll -> result file) instead
 * of one aliased productSet request per few styles.  Each run is one row of
 * bulk_run; bulk_progress() shows the newest run (done / total, rate, ETA).
 *
 * Setting (a settings row, so it survives restarts and needs no reload):
 *   bulk_threshold   more than this many due product rows go through a bulk
 *                    operation; 0 turns the bulk path off.  Default 500.
 */

CREATE TABLE kcloud_shopify.bulk_run (
    run_id          bigserial PRIMARY KEY,
    state           text NOT NULL DEFAULT 'preparing',
                    -- preparing, running, reading, done, failed, abandoned
    lease_token     bigint,                     -- the claim of the product rows
    styles          text[] NOT NULL DEFAULT '{}',   -- style of each JSONL line, in order
    operation_gid   text,                       -- gid://shopify/BulkOperation/n
    op_status       text,                       -- Shopify's status, as last polled
    total           int NOT NULL DEFAULT 0,     -- lines sent
    done            int NOT NULL DEFAULT 0,     -- lines Shopify has run
    linked          int NOT NULL DEFAULT 0,     -- styles recorded and acked
    fell_back       int NOT NULL DEFAULT 0,     -- left to ordinary calls
    error           text,
    resumed         boolean NOT NULL DEFAULT false,  -- results read by a later worker life
    started_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    running_at      timestamptz,
    polled_at       timestamptz,
    finished_at     timestamptz
);
REVOKE ALL ON kcloud_shopify.bulk_run FROM PUBLIC;
REVOKE ALL ON SEQUENCE kcloud_shopify.bulk_run_run_id_seq FROM PUBLIC;
COMMENT ON TABLE kcloud_shopify.bulk_run IS
'One row per bulk product load (src/bulk.c): the styles of its JSONL lines, Shopify''s bulk operation, progress and outcome.';

CREATE FUNCTION kcloud_shopify.bulk_threshold()
RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT COALESCE((SELECT CASE WHEN s.value ~ '^\s*[0-9]+\s*$' THEN s.value::int END
                       FROM kcloud_shopify.settings s WHERE s.name = 'bulk_threshold'), 500);
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.bulk_threshold() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.bulk_threshold() IS
'More due product entities than this go to Shopify as one bulk mutation (settings row bulk_threshold; default 500; 0 = never).';

CREATE FUNCTION kcloud_shopify.set_bulk_threshold(styles int)
RETURNS int
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF styles IS NULL OR styles < 0 THEN
        RAISE EXCEPTION 'the bulk threshold must be 0 or more (got %)', styles
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass 0 to turn the bulk path off.';
    END IF;
    INSERT INTO kcloud_shopify.settings AS s (name, value) VALUES ('bulk_threshold', styles::text)
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = pg_catalog.now();
    RETURN styles;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.set_bulk_threshold(int) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.set_bulk_threshold(int) IS
'Set the number of due product entities above which the worker uses a bulk mutation (0 = never).';

/*
 * Should the worker start a bulk run now?  The number of product rows due,
 * when it exceeds the threshold, else 0.
 */
CREATE FUNCTION kcloud_shopify.bulk_due()
RETURNS int
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH t AS (SELECT kcloud_shopify.bulk_threshold() AS th),
         n AS (SELECT pg_catalog.count(*)::int AS due
                 FROM kcloud_shopify.queue q
                WHERE q.state = 'pending' AND q.kind = 'product'
                  AND q.next_attempt_at <= pg_catalog.now())
    SELECT CASE WHEN t.th > 0 AND n.due > t.th THEN n.due ELSE 0 END FROM t, n;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.bulk_due() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.bulk_due() IS
'Internal (worker): how many product entities are due when that is more than bulk_threshold(), else 0.';

CREATE FUNCTION kcloud_shopify.bulk_progress(
    OUT run_id bigint, OUT state text, OUT operation_gid text, OUT op_status text,
    OUT total int, OUT done int, OUT linked int, OUT fell_back int,
    OUT rate_per_s float8, OUT eta interval,
    OUT started_at timestamptz, OUT finished_at timestamptz, OUT error text)
RETURNS SETOF record
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.run_id, r.state, r.operation_gid, r.op_status, r.total, r.done, r.linked, r.fell_back,
           CASE WHEN r.done > 0 AND r.running_at IS NOT NULL
                     AND COALESCE(r.polled_at, r.finished_at) > r.running_at
                THEN r.done / EXTRACT(epoch FROM COALESCE(r.polled_at, r.finished_at) - r.running_at)::float8
           END,
           CASE WHEN r.state IN ('done', 'failed', 'abandoned') THEN interval '0'
                WHEN r.done > 0 AND r.running_at IS NOT NULL AND r.polled_at > r.running_at
                THEN (r.polled_at - r.running_at) * ((r.total - r.done)::float8 / r.done)
           END,
           r.started_at, r.finished_at, r.error
      FROM kcloud_shopify.bulk_run r
     ORDER BY r.run_id DESC
     LIMIT 1;
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.bulk_progress() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.bulk_progress() IS
'The newest bulk product load: state, Shopify''s bulk operation, lines done of total, styles linked and left to ordinary calls, lines per second and estimated time left.';
