-- Queue API: enqueue, claim with a lease, ack, fail (retry / permanent),
-- recover, and the pending view.  Lease tokens and times are never printed:
-- they differ between runs.
\set VERBOSITY default
SET client_min_messages = warning;  -- leftovers of earlier tests vary
DROP EXTENSION IF EXISTS kcloud_shopify;
DROP SCHEMA IF EXISTS ci CASCADE;
RESET client_min_messages;
\set ECHO none
\set QUIET on
\i test/ci_schema.sql
\set QUIET off
\set ECHO all
CREATE EXTENSION kcloud_shopify;

-- the whole queue, one row per queue row
CREATE VIEW qstate AS
SELECT kind, key1, key2, state, attempts, last_error,
       next_attempt_at > now() AS deferred,
       lease_token IS NOT NULL AS leased
  FROM kcloud_shopify.queue ORDER BY kind, key1, key2, state;

-- enqueue: one pending row per entity, repeats collapse
SELECT kcloud_shopify.enqueue('product', 'ST1');
SELECT kcloud_shopify.enqueue('product', 'ST1');
SELECT kcloud_shopify.enqueue('product', 'ST2', NULL);
SELECT kcloud_shopify.enqueue('product', 'ST3');
SELECT kcloud_shopify.enqueue('inventory', 'SKU1', 'B1');
SELECT kcloud_shopify.enqueue('location', 'B1');
SELECT kcloud_shopify.enqueue('customer', 'C1');
SELECT * FROM qstate;
-- the pending view: one row per entity, ci_key shaped per kind
SELECT kind, ci_key, state, changed_again, attempts FROM kcloud_shopify.pending ORDER BY kind, ci_key::text;
-- bad input
SELECT kcloud_shopify.enqueue('order', 'X1');
SELECT kcloud_shopify.enqueue('product', NULL);
SELECT kcloud_shopify.enqueue('inventory', 'SKU1');
SELECT kcloud_shopify.enqueue('product', 'ST1', 'B1');
SELECT count(*) FROM kcloud_shopify.queue_claim('product', 0, '1 minute');
SELECT count(*) FROM kcloud_shopify.queue_claim('product', 1, '-1 minute');

-- claim: only the asked kind, at most p_limit, in key order
SELECT kind, key1, key2, attempts FROM kcloud_shopify.queue_claim('product', 2, '5 minutes');
SELECT * FROM qstate WHERE kind = 'product';
SELECT DISTINCT lease_token AS tok FROM kcloud_shopify.queue WHERE state = 'in_flight' \gset
-- a change committed while ST1 is in flight creates a new pending row ...
SELECT kcloud_shopify.enqueue('product', 'ST1');
SELECT kind, ci_key, state, changed_again FROM kcloud_shopify.pending WHERE kind = 'product' ORDER BY ci_key::text;
-- ... which is not claimed while ST1 is still in flight (ST3 is)
SELECT kind, key1, key2, attempts FROM kcloud_shopify.queue_claim('product', 10, '5 minutes');
SELECT lease_token AS tok2 FROM kcloud_shopify.queue WHERE state = 'in_flight' AND key1 = 'ST3' \gset
-- ack with a wrong token or the wrong kind acknowledges nothing
SELECT kcloud_shopify.queue_ack(:tok + 1000, 'product', ARRAY['ST1', 'ST2']);
SELECT kcloud_shopify.queue_ack(:tok, 'customer', ARRAY['ST1', 'ST2']);
SELECT kcloud_shopify.queue_ack(:tok2, 'product', ARRAY['ST1', 'ST2']);
-- the right token acks ST1 and ST2; the newer ST1 change stays pending
SELECT kcloud_shopify.queue_ack(:tok, 'product', ARRAY['ST1', 'ST2']);
SELECT * FROM qstate WHERE kind = 'product';
-- acking twice is harmless
SELECT kcloud_shopify.queue_ack(:tok, 'product', ARRAY['ST1', 'ST2']);

-- fail with a retry time: back to pending, deferred, not claimable yet
SELECT kcloud_shopify.queue_fail(:tok2, 'product', 'ST3', '', 'HTTP 503', now() + interval '1 hour');
SELECT * FROM qstate WHERE kind = 'product';
SELECT kind, key1 FROM kcloud_shopify.queue_claim('product', 10, '5 minutes') ORDER BY key1;
SELECT lease_token AS tok3 FROM kcloud_shopify.queue WHERE state = 'in_flight' AND key1 = 'ST1' \gset
-- a failure reported with a lost lease changes nothing
SELECT kcloud_shopify.queue_fail(:tok2, 'product', 'ST3', '', 'late', NULL);
SELECT kcloud_shopify.queue_fail(:tok3 + 1000, 'product', 'ST1', '', 'late', NULL);
-- retry merged into a newer pending row: one pending row, attempts kept
SELECT kcloud_shopify.enqueue('product', 'ST1');
SELECT kcloud_shopify.queue_fail(:tok3, 'product', 'ST1', '', 'HTTP 502', now() - interval '1 second');
SELECT * FROM qstate WHERE kind = 'product';

-- permanent failure: the row waits in state failed, visible with its error
SELECT lease_token AS tok4 FROM kcloud_shopify.queue_claim('customer', 10, '5 minutes') \gset
SELECT kcloud_shopify.queue_fail(:tok4, 'customer', 'C1', NULL, 'email is invalid', NULL);
SELECT * FROM qstate WHERE kind = 'customer';
SELECT kind, ci_key, state, changed_again, attempts, last_error FROM kcloud_shopify.pending WHERE kind = 'customer';
-- nothing to claim until a newer change arrives
SELECT count(*) FROM kcloud_shopify.queue_claim('customer', 10, '5 minutes');
SELECT kcloud_shopify.enqueue('customer', 'C1');
SELECT kind, ci_key, state, changed_again FROM kcloud_shopify.pending WHERE kind = 'customer';
SELECT lease_token AS tok5 FROM kcloud_shopify.queue_claim('customer', 10, '5 minutes') \gset
-- failing permanently again keeps one failed row with the latest error
SELECT kcloud_shopify.queue_fail(:tok5, 'customer', 'C1', '', 'email is still invalid', NULL);
SELECT * FROM qstate WHERE kind = 'customer';
-- a successful send of a newer change clears the old failure
SELECT kcloud_shopify.enqueue('customer', 'C1');
SELECT lease_token AS tok6 FROM kcloud_shopify.queue_claim('customer', 10, '5 minutes') \gset
SELECT kcloud_shopify.queue_ack(:tok6, 'customer', ARRAY['C1']);
SELECT * FROM qstate WHERE kind = 'customer';

-- inventory keys: ack with key2
SELECT lease_token AS tok7 FROM kcloud_shopify.queue_claim('inventory', 10, '5 minutes') \gset
SELECT kcloud_shopify.queue_ack(:tok7, 'inventory', ARRAY['SKU1'], ARRAY['B2']);
SELECT kcloud_shopify.queue_ack(:tok7, 'inventory', ARRAY['SKU1'], ARRAY['B1']);
SELECT * FROM qstate WHERE kind = 'inventory';

-- recover: expired leases go back to pending, live ones stay
SELECT kcloud_shopify.enqueue('inventory', 'SKU2', 'B1');
SELECT kcloud_shopify.enqueue('inventory', 'SKU3', 'B1');
SELECT lease_token AS tok8 FROM kcloud_shopify.queue_claim('inventory', 1, '1 millisecond') \gset
SELECT pg_sleep(0.01);
SELECT count(*) FROM kcloud_shopify.queue_claim('inventory', 1, '1 hour');
SELECT * FROM qstate WHERE kind = 'inventory';
SELECT kcloud_shopify.queue_recover();
SELECT * FROM qstate WHERE kind = 'inventory';
-- the expired lease's holder can no longer ack
SELECT kcloud_shopify.queue_ack(:tok8, 'inventory', ARRAY['SKU2'], ARRAY['B1']);
SELECT kcloud_shopify.queue_fail(:tok8, 'inventory', 'SKU2', 'B1', 'late', NULL);
SELECT * FROM qstate WHERE kind = 'inventory' AND key1 = 'SKU2';
-- recover(true) at worker start returns every in-flight row
SELECT kcloud_shopify.queue_recover(true);
SELECT * FROM qstate WHERE kind = 'inventory';
SELECT kcloud_shopify.queue_recover(true);

-- claims walk the keys on from the caller's cursor (the last key it
-- claimed) and wrap around, so no key starves; rows come back in claim order
SELECT kcloud_shopify.enqueue('location', 'B9');
SELECT kcloud_shopify.enqueue('location', 'B0');
SELECT key1 FROM kcloud_shopify.queue_claim('location', 1, '1 minute', 'B1');
SELECT key1 FROM kcloud_shopify.queue_claim('location', 1, '1 minute', 'B9');
SELECT key1 FROM kcloud_shopify.queue_claim('location', 1, '1 minute', 'B0');
SELECT key1 FROM kcloud_shopify.queue_claim('location', 1, '1 minute', 'B1');
SELECT kcloud_shopify.enqueue('location', k) FROM unnest(ARRAY['B2', 'B3', 'B7', 'B8']) k;
SELECT key1 FROM kcloud_shopify.queue_claim('location', 3, '1 minute', 'B5');
SELECT key1 FROM kcloud_shopify.queue_claim('location', 3, '1 minute', 'B3');
-- the second key breaks ties in the first
SELECT kcloud_shopify.enqueue('inventory', 'SKU9', b) FROM unnest(ARRAY['B1', 'B2', 'B3']) b;
SELECT key1, key2 FROM kcloud_shopify.queue_claim('inventory', 2, '1 minute', 'SKU9', 'B1');

-- only the owner may use the queue
CREATE ROLE regress_kcs_nobody;
SET ROLE regress_kcs_nobody;
SELECT * FROM kcloud_shopify.queue;
RESET ROLE;
-- even with USAGE on the schema
GRANT USAGE ON SCHEMA kcloud_shopify TO regress_kcs_nobody;
SET ROLE regress_kcs_nobody;
SELECT * FROM kcloud_shopify.queue;
SELECT * FROM kcloud_shopify.pending;
SELECT * FROM kcloud_shopify.settings;
SELECT kcloud_shopify.enqueue('product', 'ST9');
SELECT kcloud_shopify.queue_claim('product', 1, '1 minute');
SELECT kcloud_shopify.queue_ack(1, 'product', ARRAY['ST1']);
SELECT kcloud_shopify.queue_fail(1, 'product', 'ST1', '', 'x', NULL);
SELECT kcloud_shopify.queue_recover();
SELECT nextval('kcloud_shopify.lease_token_seq');
RESET ROLE;
REVOKE USAGE ON SCHEMA kcloud_shopify FROM regress_kcs_nobody;
DROP ROLE regress_kcs_nobody;

DROP VIEW qstate;
DROP EXTENSION kcloud_shopify;
DROP SCHEMA ci CASCADE;
