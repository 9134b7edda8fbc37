/*
 * Settings and the change queue.
 *
 * The queue records *which* entity is dirty, never what changed (state, not
 * events): the worker reads current CI rows when it sends.  One row per
 * entity and state:
 *   pending   - changed and not yet sent (at most one per entity)
 *   in_flight - claimed by the worker under a lease (at most one per entity)
 *   failed    - a permanent error; waits for a person or a newer change
 * A change committed while its entity is in flight simply creates a new
 * pending row, so it is sent again after the current send: nothing is lost
 * and no version counter is needed.  Capture is an INSERT ... ON CONFLICT DO
 * NOTHING, i.e. no write at all when the entity is already pending.
 */

-- Shop connection and secrets.  Owner only: never granted to anybody.
CREATE TABLE kcloud_shopify.settings (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON kcloud_shopify.settings FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.settings', '');

CREATE TABLE kcloud_shopify.queue (
    kind            text NOT NULL
                    CHECK (kind IN ('product', 'inventory', 'location', 'customer')),
    key1            text NOT NULL,      -- style_code / sku_code / branch_code / customer_code
    key2            text NOT NULL DEFAULT '',   -- branch_code for inventory
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'in_flight', 'failed')),
    enqueued_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT '-infinity',
    lease_until     timestamptz,
    lease_token     bigint,
    last_error      text,
    first_failed_at timestamptz,
    last_failed_at  timestamptz
);
-- Capture only ever touches this index: one probe when the entity is pending.
CREATE UNIQUE INDEX queue_pending_key ON kcloud_shopify.queue (kind, key1, key2)
    WHERE state = 'pending';
CREATE UNIQUE INDEX queue_in_flight_key ON kcloud_shopify.queue (kind, key1, key2)
    WHERE state = 'in_flight';
CREATE UNIQUE INDEX queue_failed_key ON kcloud_shopify.queue (kind, key1, key2)
    WHERE state = 'failed';
REVOKE ALL ON kcloud_shopify.queue FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('kcloud_shopify.queue', '');

CREATE SEQUENCE kcloud_shopify.lease_token_seq;

-- Mark an entity dirty (used by resync functions and ingestion).
CREATE FUNCTION kcloud_shopify.enqueue(p_kind text, p_key1 text, p_key2 text DEFAULT '')
RETURNS void
LANGUAGE sql
AS $$
    INSERT INTO kcloud_shopify.queue (kind, key1, key2)
    VALUES (p_kind, p_key1, COALESCE(p_key2, ''))
    ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING;
$$;

/*
 * Claim up to p_limit pending entities of one kind whose retry time has
 * come, skipping entities still in flight and rows locked by anybody else.
 * The claim moves rows out of the pending set, so a concurrent capture of
 * the same entity waits at most for this short transaction and then queues
 * a fresh pending row.
 */
CREATE FUNCTION kcloud_shopify.queue_claim(p_kind text, p_limit int, p_lease interval)
RETURNS TABLE (kind text, key1 text, key2 text, attempts int, lease_token bigint,
               enqueued_at timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    tok bigint := pg_catalog.nextval('kcloud_shopify.lease_token_seq');
BEGIN
    RETURN QUERY
    WITH c AS (
        SELECT q.ctid AS tid
          FROM kcloud_shopify.queue q
         WHERE q.state = 'pending'
           AND q.kind = p_kind
           AND q.next_attempt_at <= pg_catalog.now()
           AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.queue f
                            WHERE f.state = 'in_flight' AND f.kind = q.kind
                              AND f.key1 = q.key1 AND f.key2 = q.key2)
         ORDER BY q.kind, q.key1, q.key2
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    )
    UPDATE kcloud_shopify.queue q
       SET state = 'in_flight',
           lease_until = pg_catalog.now() + p_lease,
           lease_token = tok,
           attempts = q.attempts + 1
      FROM c
     WHERE q.ctid = c.tid
    RETURNING q.kind, q.key1, q.key2, q.attempts, q.lease_token, q.enqueued_at;
END
$$;

/*
 * Acknowledge a successful send: drop the in-flight rows of this lease.  A
 * change that arrived meanwhile lives in its own pending row and stays.
 * Returns how many rows were acknowledged (fewer when a lease was lost).
 */
CREATE FUNCTION kcloud_shopify.queue_ack(p_token bigint, p_kind text, p_key1 text[], p_key2 text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
AS $$
    WITH k AS (
        SELECT k1, COALESCE(k2, '') AS k2
          FROM pg_catalog.unnest(p_key1, COALESCE(p_key2, pg_catalog.array_fill(''::text, ARRAY[pg_catalog.cardinality(p_key1)]))) AS u(k1, k2)
    ), d AS (
        DELETE FROM kcloud_shopify.queue q
         USING k
         WHERE q.state = 'in_flight' AND q.lease_token = p_token
           AND q.kind = p_kind AND q.key1 = k.k1 AND q.key2 = k.k2
        RETURNING 1
    )
    SELECT pg_catalog.count(*)::int FROM d;
$$;

/*
 * Record a failed send.  p_retry_at NULL means permanent: the row becomes
 * 'failed' and is not retried until a resync or a newer change.  Otherwise
 * the entity goes back to pending at p_retry_at (merged into a newer pending
 * row if one exists, keeping the attempt count for backoff).
 */
CREATE FUNCTION kcloud_shopify.queue_fail(p_token bigint, p_kind text, p_key1 text, p_key2 text,
                                          p_error text, p_retry_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    r kcloud_shopify.queue%ROWTYPE;
BEGIN
    SELECT * INTO r FROM kcloud_shopify.queue q
     WHERE q.state = 'in_flight' AND q.lease_token = p_token
       AND q.kind = p_kind AND q.key1 = p_key1 AND q.key2 = COALESCE(p_key2, '')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;           -- lease lost; whoever holds it now decides
    END IF;

    IF p_retry_at IS NULL THEN
        DELETE FROM kcloud_shopify.queue q
         WHERE q.state = 'failed' AND q.kind = r.kind AND q.key1 = r.key1 AND q.key2 = r.key2;
        UPDATE kcloud_shopify.queue q
           SET state = 'failed', lease_until = NULL, lease_token = NULL,
               last_error = p_error,
               first_failed_at = COALESCE(q.first_failed_at, pg_catalog.now()),
               last_failed_at = pg_catalog.now()
         WHERE q.state = 'in_flight' AND q.lease_token = p_token
           AND q.kind = r.kind AND q.key1 = r.key1 AND q.key2 = r.key2;
        RETURN true;
    END IF;

    UPDATE kcloud_shopify.queue q
       SET attempts = GREATEST(q.attempts, r.attempts),
           next_attempt_at = GREATEST(q.next_attempt_at, p_retry_at),
           last_error = p_error,
           first_failed_at = COALESCE(r.first_failed_at, pg_catalog.now()),
           last_failed_at = pg_catalog.now()
     WHERE q.state = 'pending' AND q.kind = r.kind AND q.key1 = r.key1 AND q.key2 = r.key2;
    IF FOUND THEN
        DELETE FROM kcloud_shopify.queue q
         WHERE q.state = 'in_flight' AND q.lease_token = p_token
           AND q.kind = r.kind AND q.key1 = r.key1 AND q.key2 = r.key2;
    ELSE
        UPDATE kcloud_shopify.queue q
           SET state = 'pending', lease_until = NULL, lease_token = NULL,
               next_attempt_at = p_retry_at, last_error = p_error,
               first_failed_at = COALESCE(q.first_failed_at, pg_catalog.now()),
               last_failed_at = pg_catalog.now()
         WHERE q.state = 'in_flight' AND q.lease_token = p_token
           AND q.kind = r.kind AND q.key1 = r.key1 AND q.key2 = r.key2;
    END IF;
    RETURN true;
END
$$;

/*
 * Return in-flight rows to pending: those whose lease expired, or all of them
 * (p_all, at worker start, when nobody else can hold a lease).
 */
CREATE FUNCTION kcloud_shopify.queue_recover(p_all boolean DEFAULT false)
RETURNS int
LANGUAGE plpgsql
AS $$
DECLARE
    n int := 0;
    r record;
BEGIN
    FOR r IN SELECT q.kind, q.key1, q.key2, q.attempts, q.lease_token
               FROM kcloud_shopify.queue q
              WHERE q.state = 'in_flight'
                AND (p_all OR q.lease_until < pg_catalog.now())
                FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM kcloud_shopify.queue_fail(r.lease_token, r.kind, r.key1, r.key2,
                                          'lease expired; resending', '-infinity');
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;

-- One row per dirty entity.
CREATE VIEW kcloud_shopify.pending AS
SELECT q.kind,
       CASE q.kind
           WHEN 'product'   THEN pg_catalog.jsonb_build_object('style_code', q.key1)
           WHEN 'inventory' THEN pg_catalog.jsonb_build_object('sku_code', q.key1, 'branch_code', q.key2)
           WHEN 'location'  THEN pg_catalog.jsonb_build_object('branch_code', q.key1)
           ELSE                  pg_catalog.jsonb_build_object('customer_code', q.key1)
       END AS ci_key,
       CASE WHEN pg_catalog.bool_or(q.state = 'in_flight') THEN 'in_flight'
            WHEN pg_catalog.bool_or(q.state = 'pending') THEN 'pending'
            ELSE 'failed' END AS state,
       pg_catalog.bool_or(q.state = 'pending') AND pg_catalog.bool_or(q.state <> 'pending')
           AS changed_again,        -- a newer change waits behind an in-flight/failed send
       pg_catalog.min(q.enqueued_at) AS first_change_at,
       pg_catalog.max(q.enqueued_at) AS last_change_at,
       pg_catalog.max(q.attempts) AS attempts,
       pg_catalog.min(q.next_attempt_at) FILTER (WHERE q.state = 'pending') AS next_attempt_at,
       pg_catalog.max(q.last_error) AS last_error
  FROM kcloud_shopify.queue q
 GROUP BY q.kind, q.key1, q.key2;
REVOKE ALL ON kcloud_shopify.pending FROM PUBLIC;
