/*
 * The connection to the shop and the SQL side of the sync worker
 * (src/worker.c, docs/worker.md).
 *
 * Settings rows written here (kcloud_shopify.settings is readable by the
 * owner only):
 *   shop_domain, endpoint           where to send
 *   access_token                    a static Admin API token, or
 *   client_id, client_secret        a Dev Dashboard app (client credentials);
 *   oauth_token, token_expires_at, token_renew_at
 *                                   the token the worker obtained with them
 *   first_sync_shop, first_sync_at  the shop whose first sync was queued
 * No secret is ever echoed: errors name the offending argument, never its
 * value.
 */

/*
 * Queue the whole catalogue once per shop: every active branch, every
 * internet-active style, their web stock and every customer Shopify can
 * identify.  Called by connect() and by the worker when it finds a
 * connection without a first sync (a database restored with one).  Returns
 * a summary, or NULL when nothing was to do.
 */
CREATE FUNCTION kcloud_shopify.first_sync()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shop text;
    nl int;
    np int;
    ni int;
    nc int;
BEGIN
    SELECT s.value INTO shop FROM kcloud_shopify.settings s WHERE s.name = 'shop_domain';
    IF shop IS NULL OR EXISTS (SELECT 1 FROM kcloud_shopify.settings s
                                WHERE s.name = 'first_sync_shop' AND s.value = shop) THEN
        RETURN NULL;
    END IF;
    nl := kcloud_shopify.resync_locations();
    np := kcloud_shopify.resync_products();
    ni := kcloud_shopify.resync_inventory();
    nc := kcloud_shopify.resync_customers();
    INSERT INTO kcloud_shopify.settings AS s (name, value)
    VALUES ('first_sync_shop', shop), ('first_sync_at', pg_catalog.now()::text)
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = pg_catalog.now();
    PERFORM kcloud_shopify.wake();
    RETURN pg_catalog.format('first sync queued: %s locations, %s products, %s stock levels, %s customers',
                             nl, np, ni, nc);
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.first_sync() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.first_sync() IS
'Internal: queue the whole catalogue (locations, products, stock, customers) once per connected shop.';

CREATE FUNCTION kcloud_shopify.connect(shop_domain text,
                                       access_token text DEFAULT NULL,
                                       client_id text DEFAULT NULL,
                                       client_secret text DEFAULT NULL,
                                       endpoint text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    shop text := pg_catalog.lower(pg_catalog.btrim(shop_domain));
    tok text := NULLIF(access_token, '');
    cid text := NULLIF(client_id, '');
    sec text := NULLIF(client_secret, '');
    ep text := NULLIF(pg_catalog.btrim(endpoint), '');
    first text;
BEGIN
    IF shop IS NULL OR shop = '' THEN
        RAISE EXCEPTION 'shop_domain must not be empty'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the shop''s myshopify.com domain, e.g. ''my-store.myshopify.com''.';
    END IF;
    IF pg_catalog.length(shop) > 255
       OR shop !~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' THEN
        RAISE EXCEPTION 'shop_domain is not a domain name: "%"', pg_catalog.left(shop_domain, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the bare domain, e.g. ''my-store.myshopify.com'' (no https://, no path).';
    END IF;
    IF tok IS NOT NULL AND (cid IS NOT NULL OR sec IS NOT NULL) THEN
        RAISE EXCEPTION 'pass either access_token or client_id and client_secret, not both'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A custom app''s Admin API token goes in access_token; a Dev Dashboard app''s credentials in client_id and client_secret.';
    END IF;
    IF tok IS NULL AND cid IS NULL AND sec IS NULL THEN
        RAISE EXCEPTION 'no credentials given'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass access_token => ''shpat_...'', or client_id => ... and client_secret => ....';
    END IF;
    IF tok IS NULL AND (cid IS NULL OR sec IS NULL) THEN
        RAISE EXCEPTION '% is missing', CASE WHEN cid IS NULL THEN 'client_id' ELSE 'client_secret' END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Client credentials need both client_id and client_secret.';
    END IF;
    IF (tok IS NOT NULL AND tok ~ '[[:space:][:cntrl:]]')
       OR (cid IS NOT NULL AND cid ~ '[[:space:][:cntrl:]]')
       OR (sec IS NOT NULL AND sec ~ '[[:space:][:cntrl:]]') THEN
        RAISE EXCEPTION 'credentials must not contain white space or control characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Check for a stray space or line break when pasting.';
    END IF;
    IF ep IS NOT NULL THEN
        -- first: the messages below quote the endpoint, which must not show a password
        IF ep ~ '@' THEN
            RAISE EXCEPTION 'endpoint must not contain user information'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Credentials go in access_token or client_id/client_secret.';
        END IF;
        IF ep ~* '^http://' THEN
            IF ep !~* '^http://(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[::1\])(:[0-9]{1,5})?(/[^[:space:]]*)?$' THEN
                RAISE EXCEPTION 'endpoint "%" uses plain http to a host that is not loopback', ep
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'Use https; plain http is allowed only to 127.0.0.0/8, ::1 or localhost (a local simulator).';
            END IF;
        ELSIF ep !~* '^https://[a-z0-9.-]+(:[0-9]{1,5})?(/[^[:space:]]*)?$'
              AND ep !~* '^https://\[[0-9a-f:]+\](:[0-9]{1,5})?(/[^[:space:]]*)?$' THEN
            RAISE EXCEPTION 'endpoint "%" is not an https URL', pg_catalog.left(ep, 200)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass e.g. ''https://my-store.myshopify.com/'', or NULL for https://<shop_domain>/.';
        END IF;
    END IF;

    DELETE FROM kcloud_shopify.settings s
     WHERE s.name IN ('shop_domain', 'endpoint', 'access_token', 'client_id', 'client_secret',
                      'oauth_token', 'token_expires_at', 'token_renew_at');
    INSERT INTO kcloud_shopify.settings (name, value)
    SELECT v.name, v.value
      FROM (VALUES ('shop_domain', shop), ('endpoint', ep), ('access_token', tok),
                   ('client_id', cid), ('client_secret', sec)) AS v(name, value)
     WHERE v.value IS NOT NULL;

    first := kcloud_shopify.first_sync();
    PERFORM kcloud_shopify.wake();
    RETURN 'connected to ' || shop || COALESCE('; ' || first, '');
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.connect(text, text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.connect(text, text, text, text, text) IS
'Connect to a shop with a static access_token or with client_id + client_secret (client-credentials grant); endpoint overrides https://<shop_domain>/.  The first connection to a shop queues the whole catalogue.  Secrets are stored owner-only and never echoed.';

CREATE FUNCTION kcloud_shopify.disconnect()
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM kcloud_shopify.settings s
     WHERE s.name IN ('shop_domain', 'endpoint', 'access_token', 'client_id', 'client_secret',
                      'oauth_token', 'token_expires_at', 'token_renew_at');
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM kcloud_shopify.wake();
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.disconnect() FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.disconnect() IS
'Forget the shop connection and its secrets; the worker stops sending, changes keep being queued.  Returns false if nothing was connected.';

/*
 * Return an in-flight row to pending without counting a failure: a
 * dependency is not synced yet, the bucket is empty, or a dry run.  The
 * attempt taken by the claim is given back; the error columns stay as they
 * were.
 */
CREATE FUNCTION kcloud_shopify.queue_defer(p_token bigint, p_kind text, p_key1 text, p_key2 text,
                                           p_retry_at timestamptz)
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
        RETURN false;
    END IF;
    INSERT INTO kcloud_shopify.queue AS q
           (kind, key1, key2, state, enqueued_at, attempts, next_attempt_at,
            last_error, first_failed_at, last_failed_at)
    VALUES (r.kind, r.key1, r.key2, 'pending', r.enqueued_at, GREATEST(r.attempts - 1, 0),
            COALESCE(p_retry_at, pg_catalog.now()), r.last_error, r.first_failed_at, r.last_failed_at)
    ON CONFLICT (kind, key1, key2) WHERE state = 'pending' DO UPDATE
       SET enqueued_at = LEAST(q.enqueued_at, EXCLUDED.enqueued_at),
           attempts = GREATEST(q.attempts, EXCLUDED.attempts),
           next_attempt_at = LEAST(q.next_attempt_at, EXCLUDED.next_attempt_at),
           last_error = COALESCE(q.last_error, EXCLUDED.last_error),
           first_failed_at = COALESCE(q.first_failed_at, EXCLUDED.first_failed_at),
           last_failed_at = COALESCE(q.last_failed_at, EXCLUDED.last_failed_at);
    RETURN true;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.queue_defer(bigint, text, text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.queue_defer(bigint, text, text, text, timestamptz) IS
'Internal (worker): put a claimed entity back to pending at p_retry_at without counting a failure.';

/*
 * Wait until nothing is pending or in flight (permanent failures do not
 * count), polling the queue; true when in sync, false after the timeout.
 * Call it outside a transaction that queued changes itself (the worker
 * cannot see those before they commit), in READ COMMITTED.
 */
CREATE FUNCTION kcloud_shopify.wait_for_sync(timeout interval DEFAULT '60s')
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    deadline timestamptz := pg_catalog.clock_timestamp() + COALESCE(timeout, interval '0');
BEGIN
    LOOP
        IF NOT EXISTS (SELECT 1 FROM kcloud_shopify.queue q
                        WHERE q.state IN ('pending', 'in_flight')) THEN
            RETURN true;
        END IF;
        EXIT WHEN pg_catalog.clock_timestamp() >= deadline;
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.wait_for_sync(interval) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.wait_for_sync(interval) IS
'Wait until nothing is pending or in flight (permanent failures aside); true when in sync, false after the timeout.';

/*
 * Link a branch to an existing Shopify location (GID or numeric id) instead
 * of letting the worker create one.  The branch is queued, so the location
 * is brought in line with it, and so is its web stock.
 */
CREATE FUNCTION kcloud_shopify.link_location(branch_code text, location_id text)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    gid text := pg_catalog.btrim(location_id);
    b record;
    other text;
BEGIN
    IF branch_code IS NULL OR gid IS NULL OR gid = '' THEN
        RAISE EXCEPTION 'branch_code and location_id must not be null or empty'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF gid ~ '^[0-9]+$' THEN
        gid := 'gid://shopify/Location/' || gid;
    ELSIF gid !~ '^gid://shopify/Location/[0-9]+$' THEN
        RAISE EXCEPTION 'location_id "%" is not a Shopify location id', pg_catalog.left(location_id, 100)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the numeric id or a GID such as ''gid://shopify/Location/12345678''.';
    END IF;
    SELECT * INTO b FROM ci.branch br WHERE br.branch_code = link_location.branch_code;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'branch "%" does not exist', branch_code
            USING ERRCODE = 'no_data_found',
                  HINT = 'Pass a branch_code from ci.branch.';
    END IF;
    SELECT l.branch_code INTO other FROM kcloud_shopify.location_link l
     WHERE l.location_gid = gid AND l.branch_code <> link_location.branch_code;
    IF FOUND THEN
        RAISE EXCEPTION 'location % is already linked to branch "%"', gid, other
            USING ERRCODE = 'unique_violation',
                  HINT = 'A location can be linked to one branch only.';
    END IF;
    INSERT INTO kcloud_shopify.location_link AS l (branch_code, location_gid, adopted, active)
    VALUES (link_location.branch_code, gid, true, true)
    ON CONFLICT ON CONSTRAINT location_link_pkey DO UPDATE
       SET location_gid = EXCLUDED.location_gid, adopted = true, active = true,
           synced_at = pg_catalog.now();
    PERFORM kcloud_shopify.enqueue('location', link_location.branch_code);
    IF b.active AND b.web_stock THEN
        PERFORM kcloud_shopify.resync_inventory(link_location.branch_code);
    END IF;
    PERFORM kcloud_shopify.wake();
    RETURN gid;
END
$$;
REVOKE ALL ON FUNCTION kcloud_shopify.link_location(text, text) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify.link_location(text, text) IS
'Link a CI branch to an existing Shopify location (numeric id or GID) instead of creating one; queues the branch and its web stock.  Returns the GID.';

-- One read-only GraphQL query to the connected shop, for an operator (src/adhoc.c).
CREATE FUNCTION kcloud_shopify._graphql(query text, variables jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'kcloud_shopify__graphql';
REVOKE ALL ON FUNCTION kcloud_shopify._graphql(text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION kcloud_shopify._graphql(text, jsonb) IS
'Send one read-only GraphQL query (no mutation) to the connected shop and return Shopify''s reply (data, errors, extensions), e.g. to find a location id for link_location().';
