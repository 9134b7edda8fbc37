/*
 * The alternative a DBA would write by hand: a row-level AFTER trigger in
 * PL/pgSQL that appends the changed stock level to an outbox table, which a
 * sync job reads and deletes from.  Written the way a competent DBA would:
 *   - AFTER trigger (sees only rows that really were written), RETURN NULL;
 *   - the no-op check is in the trigger's WHEN clause, so an UPDATE that
 *     changes nothing does not even call the function (ci.stock has no other
 *     columns than its key and on_hand); a key change queues old and new key;
 *   - append-only outbox with an identity key: no lookups, no ON CONFLICT;
 *   - it does not look up the branch's web_stock flag (cheaper than correct;
 *     every benchmark branch is a web branch anyway).
 * Only ci.stock gets the trigger: it is the only captured table the
 * benchmark workloads write.  bench.outbox_on() / bench.outbox_off() attach
 * and detach it.
 */
CREATE SCHEMA IF NOT EXISTS bench;

CREATE TABLE bench.outbox (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL,
    key1        text NOT NULL,
    key2        text NOT NULL DEFAULT '',
    changed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION bench.outbox_stock() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (OLD.sku_code, OLD.branch_code)
                                               IS DISTINCT FROM (NEW.sku_code, NEW.branch_code)) THEN
        INSERT INTO bench.outbox (kind, key1, key2)
        VALUES ('inventory', OLD.sku_code, OLD.branch_code);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO bench.outbox (kind, key1, key2)
        VALUES ('inventory', NEW.sku_code, NEW.branch_code);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION bench.outbox_on() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    CREATE TRIGGER outbox_stock_update AFTER UPDATE ON ci.stock
        FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
        EXECUTE FUNCTION bench.outbox_stock();
    CREATE TRIGGER outbox_stock_insert_delete AFTER INSERT OR DELETE ON ci.stock
        FOR EACH ROW EXECUTE FUNCTION bench.outbox_stock();
END
$$;

CREATE FUNCTION bench.outbox_off() RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    DROP TRIGGER IF EXISTS outbox_stock_update ON ci.stock;
    DROP TRIGGER IF EXISTS outbox_stock_insert_delete ON ci.stock;
END
$$;
