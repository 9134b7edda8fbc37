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

/*
 * kind is one of product, inventory, location, customer; state one of
 * pending, in_flight, failed.  Only this extension's functions write the
 * queue (enqueue() validates its input, capture uses constants), so there is
 * deliberately no CHECK constraint: the executor re-reads check constraints
 * from the catalog text at every start, and every capture is one executor
 * start -- that alone cost a sixth of a POS sale's capture.
 */
CREATE TABLE kcloud_shopify.queue (
    kind            text NOT NULL,
    key1            text NOT NULL,      -- style_code / sku_code / branch_code / customer_code
    key2            text NOT NULL DEFAULT '',   -- branch_code for inventory
    state           text NOT NULL DEFAULT 'pending',
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

-- Mark an entity dirty (used by resync functions and ingestion; the capture
-- triggers insert directly).  Refuses keys that cannot name an entity.
CREATE FUNCTION kcloud_shopify.enqueue(p_kind text, p_key1 text, p_key2 text DEFAULT '')
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_kind IS NULL OR p_kind NOT IN ('product', 'inventory', 'location', 'customer') THEN
        RAISE EXCEPTION 'unknown kcloud_shopify queue kind "%"', p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The kinds are product, inventory, location and customer.';
    END IF;
    IF p_key1 IS NULL OR p_key1 = '' THEN
        RAISE EXCEPTION 'a % key must not be empty', p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the style_code, sku_code, branch_code or customer_code.';
    END IF;
    IF (p_kind = 'inventory') <> (COALESCE(p_key2, '') <> '') THEN
        RAISE EXCEPTION 'wrong second key "%" for kind %', COALESCE(p_key2, ''), p_kind
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An inventory key is (sku_code, branch_code); the other kinds have one key.';
    END IF;
    INSERT INTO kcloud_shopify.queue (kind, key1, key2)
    VALUES (p_kind, p_key1, COALESCE(p_key2, ''))
    ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO NOTHING;
END
$$;

/*
 * Claim up to p_limit pending entities of one kind whose retry time has
 * come, in key order from just after (p_after_key1, p_after_key2) -- the
 * last key the caller claimed -- and around, skipping entities still in
 * flight and rows locked by anybody else.  Rows come back in claim order:
 * the last one is the caller's next cursor.  After committing the claim and
 * before reading CI rows the worker must call kcloud_shopify.capture_wait()
 * (see 15_capture.sql).
 * The claim moves rows out of the pending set, so a concurrent capture of
 * the same entity waits at most for this short transaction and then queues
 * a fresh pending row.
 */
CREATE FUNCTION kcloud_shopify.queue_claim(p_kind text, p_limit int, p_lease interval,
                                           p_after_key1 text DEFAULT NULL,
                                           p_after_key2 text DEFAULT '')
RETURNS TABLE (kind text, key1 text, key2 text, attempts int, lease_token bigint,
               enqueued_at timestamptz)
LANGUAGE plpgsql
AS $$
DECLARE
    tok bigint;
    got int := 0;
BEGIN
    IF p_limit IS NULL OR p_limit < 1 OR p_lease IS NULL OR p_lease <= interval '0' THEN
        RAISE EXCEPTION 'queue_claim needs a positive limit and lease (got %, %)', p_limit, p_lease
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    tok := pg_catalog.nextval('kcloud_shopify.lease_token_seq');
    /*
     * Walk the pending rows in key order, from just after the caller's
     * cursor (the last key it claimed) and around: the scan follows
     * queue_pending_key and stops at the limit, so a claim costs the batch,
     * not the backlog (ordering by enqueued_at sorted every pending row of
     * the kind at each claim: seconds per claim with 300,000 stock levels
     * queued).  The cursor goes round the whole key space, so no key starves.
     * OFFSET 0 keeps the in-flight check a probe of queue_in_flight_key on
     * the full key for each row scanned: planned as an anti-join with a
     * freshly filled queue's statistics, it read every in-flight row of the
     * kind for every pending row (100 ms per claim of 250).
     */
    IF p_after_key1 IS NOT NULL THEN
        RETURN QUERY
        WITH c AS (
            SELECT q.ctid AS tid
              FROM kcloud_shopify.queue q
             WHERE q.state = 'pending'
               AND q.kind = p_kind
               AND (q.key1, q.key2) > (p_after_key1, COALESCE(p_after_key2, ''))
               AND q.next_attempt_at <= pg_catalog.now()
               AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.queue f
                                WHERE f.state = 'in_flight' AND f.kind = q.kind
                                  AND f.key1 = q.key1 AND f.key2 = q.key2
                               OFFSET 0)   -- a probe per row, never a join
             ORDER BY q.key1, q.key2
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED
        ), u AS (
            UPDATE kcloud_shopify.queue q
               SET state = 'in_flight',
                   lease_until = pg_catalog.now() + p_lease,
                   lease_token = tok,
                   attempts = q.attempts + 1
              FROM c
             WHERE q.ctid = c.tid
            RETURNING q.kind, q.key1, q.key2, q.attempts, q.lease_token, q.enqueued_at
        )
        SELECT * FROM u ORDER BY u.key1, u.key2;
        GET DIAGNOSTICS got = ROW_COUNT;
    END IF;
    IF got < p_limit THEN
        -- from the start of the key space (the rows just claimed are in flight now)
        RETURN QUERY
        WITH c AS (
            SELECT q.ctid AS tid
              FROM kcloud_shopify.queue q
             WHERE q.state = 'pending'
               AND q.kind = p_kind
               AND q.next_attempt_at <= pg_catalog.now()
               AND NOT EXISTS (SELECT 1 FROM kcloud_shopify.queue f
                                WHERE f.state = 'in_flight' AND f.kind = q.kind
                                  AND f.key1 = q.key1 AND f.key2 = q.key2
                               OFFSET 0)   -- a probe per row, never a join
             ORDER BY q.key1, q.key2
             LIMIT p_limit - got
               FOR UPDATE SKIP LOCKED
        ), u AS (
            UPDATE kcloud_shopify.queue q
               SET state = 'in_flight',
                   lease_until = pg_catalog.now() + p_lease,
                   lease_token = tok,
                   attempts = q.attempts + 1
              FROM c
             WHERE q.ctid = c.tid
            RETURNING q.kind, q.key1, q.key2, q.attempts, q.lease_token, q.enqueued_at
        )
        SELECT * FROM u ORDER BY u.key1, u.key2;
    END IF;
END
$$;

/*
 * Acknowledge a successful send: drop the in-flight rows of this lease.  A
 * change that arrived meanwhile lives in its own pending row and stays.  A
 * permanent failure recorded earlier for an acked entity is obsolete (the
 * entity has just been sent successfully) and goes too.
 * Returns how many rows were acknowledged (fewer when a lease was lost).
 */
CREATE FUNCTION kcloud_shopify.queue_ack(p_token bigint, p_kind text, p_key1 text[], p_key2 text[] DEFAULT NULL)
RETURNS int
LANGUAGE sql
AS $$
    WITH k AS (
        SELECT k1, COALESCE(k2, '') AS k2
          FROM ROWS FROM (pg_catalog.unnest(p_key1), pg_catalog.unnest(p_key2)) AS u(k1, k2)
         WHERE k1 IS NOT NULL
    ), d AS (
        DELETE FROM kcloud_shopify.queue q
         USING k
         WHERE q.state = 'in_flight' AND q.lease_token = p_token
           AND q.kind = p_kind AND q.key1 = k.k1 AND q.key2 = k.k2
        RETURNING q.kind, q.key1, q.key2
    ), f AS (
        DELETE FROM kcloud_shopify.queue q
         USING d
         WHERE q.state = 'failed'
           AND q.kind = d.kind AND q.key1 = d.key1 AND q.key2 = d.key2
    )
    SELECT pg_catalog.count(*)::int FROM d;
$$;

/*
 * Record a failed send.  p_retry_at NULL means permanent: the row becomes
 * 'failed' and is not retried until a resync or a newer change.  Otherwise
 * the entity goes back to pending at p_retry_at (merged into a newer pending
 * row if one exists, keeping the attempt count for backoff and the earliest
 * change time).  Both moves are upserts on the state's unique index, so a
 * capture committing a new pending row at the same moment cannot make this
 * fail.  Returns false when the lease was lost (nothing changed).
 */
CREATE FUNCTION kcloud_shopify.queue_fail(p_token bigint, p_kind text, p_key1 text, p_key2 text,
                                          p_error text, p_retry_at timestamptz)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    r kcloud_shopify.queue%ROWTYPE;
BEGIN
    DELETE FROM kcloud_shopify.queue q
     WHERE q.state = 'in_flight' AND q.lease_token = p_token
       AND q.kind = p_kind AND q.key1 = p_key1 AND q.key2 = COALESCE(p_key2, '')
    RETURNING q.* INTO r;
    IF NOT FOUND THEN
        RETURN false;           -- lease lost; whoever holds it now decides
    END IF;

    IF p_retry_at IS NULL THEN
        INSERT INTO kcloud_shopify.queue AS q
               (kind, key1, key2, state, enqueued_at, attempts, next_attempt_at,
                last_error, first_failed_at, last_failed_at)
        VALUES (r.kind, r.key1, r.key2, 'failed', r.enqueued_at, r.attempts, 'infinity',
                p_error, COALESCE(r.first_failed_at, pg_catalog.now()), pg_catalog.now())
        ON CONFLICT (kind, key1, key2) WHERE state = 'failed' DO UPDATE
           SET enqueued_at = EXCLUDED.enqueued_at,
               attempts = EXCLUDED.attempts,
               last_error = EXCLUDED.last_error,
               first_failed_at = LEAST(q.first_failed_at, EXCLUDED.first_failed_at),
               last_failed_at = EXCLUDED.last_failed_at;
        RETURN true;
    END IF;

    INSERT INTO kcloud_shopify.queue AS q
           (kind, key1, key2, state, enqueued_at, attempts, next_attempt_at,
            last_error, first_failed_at, last_failed_at)
    VALUES (r.kind, r.key1, r.key2, 'pending', r.enqueued_at, r.attempts, p_retry_at,
            p_error, COALESCE(r.first_failed_at, pg_catalog.now()), pg_catalog.now())
    ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO UPDATE
       SET enqueued_at = LEAST(q.enqueued_at, EXCLUDED.enqueued_at),
           attempts = GREATEST(q.attempts, EXCLUDED.attempts),
           next_attempt_at = GREATEST(q.next_attempt_at, EXCLUDED.next_attempt_at),
           last_error = EXCLUDED.last_error,
           first_failed_at = COALESCE(q.first_failed_at, EXCLUDED.first_failed_at),
           last_failed_at = EXCLUDED.last_failed_at;
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

REVOKE ALL ON SEQUENCE kcloud_shopify.lease_token_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION kcloud_shopify.enqueue(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION kcloud_shopify.queue_claim(text, int, interval, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION kcloud_shopify.queue_ack(bigint, text, text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION kcloud_shopify.queue_fail(bigint, text, text, text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION kcloud_shopify.queue_recover(boolean) FROM PUBLIC;
