/*
 * kcloud_shopify install script.
 *
 * Assembled by the Makefile from the files in sql/install, in name order, into
 * sql/kcloud_shopify--<version>.sql.  Every object is schema-qualified.
 */
\echo Use "CREATE EXTENSION kcloud_shopify" to load this file. \quit

-- Refuse anything that is not a Counter Intelligence 11.514+ database: the
-- triggers and ingestion below rely on that version's tables.
DO $kcs$
DECLARE
    v int;
    b int;
BEGIN
    IF pg_catalog.to_regclass('ci.system_info') IS NULL THEN
        RAISE EXCEPTION 'kcloud_shopify requires a Counter Intelligence database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Table ci.system_info does not exist in database "' || pg_catalog.current_database() || '".',
                  HINT = 'Create the extension in the Counter Intelligence database (version 11 build 514 or later).';
    END IF;
    SELECT s.version, s.build INTO v, b FROM ci.system_info s LIMIT 1;
    IF NOT FOUND OR v IS NULL OR b IS NULL THEN
        RAISE EXCEPTION 'kcloud_shopify cannot read the Counter Intelligence version'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Table ci.system_info holds no version row.',
                  HINT = 'Counter Intelligence 11 build 514 or later is required.';
    END IF;
    IF v < 11 OR (v = 11 AND b < 514) THEN
        RAISE EXCEPTION 'Counter Intelligence version % build % is too old for kcloud_shopify', v, b
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'kcloud_shopify requires version 11 build 514 or later.',
                  HINT = 'Upgrade Counter Intelligence to version 11 build 514 or later, then run CREATE EXTENSION again.';
    END IF;
END
$kcs$;
