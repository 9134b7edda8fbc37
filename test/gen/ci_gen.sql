/*
 * ci_gen: a deterministic generator of Counter Intelligence test data.
 *
 * Used by the tests, the demo and the benchmarks to fill a CI schema built
 * by test/ci_schema.sql.  It is NOT part of the extension and lives in its own
 * schema, ci_gen, so that nothing here can leak into a customer's database.
 *
 *   \i test/ci_schema.sql
 *   \i test/gen/ci_gen.sql
 *   SELECT ci_gen.populate(styles => 5000, colours => 4, sizes => 5,
 *                          branches => 3, customers => 10000);
 *
 * Every value is derived from a hash of (seed, column tag, row index), never
 * from random(): the same arguments give byte-identical data on any machine
 * (hashint8extended is the portable hash behind hash partitioning).  Dates are
 * relative to p_today (default: the current date) so sale windows stay past,
 * current and future; pass a fixed date for data that is identical across
 * days too.
 *
 * The code formats are exposed as small immutable functions (style_code(),
 * sku_code(), branch_code(), customer_code()) so that benchmark scripts can
 * address a random row by its indexes without a lookup table.
 *
 * Everything is set-based (INSERT ... SELECT FROM generate_series): 5,000
 * styles x 4 colours x 5 sizes x 3 branches (100k SKUs, 300k stock rows) take
 * a few seconds.
 */
BEGIN;
SET LOCAL client_min_messages = warning;
DROP SCHEMA IF EXISTS ci_gen CASCADE;     -- reloading replaces it
CREATE SCHEMA ci_gen;
REVOKE ALL ON SCHEMA ci_gen FROM PUBLIC;

-- A pseudo-random int in [0, 2^31) for (seed, column tag, row index).
CREATE FUNCTION ci_gen.h(p_seed int, p_tag int, p_i bigint)
RETURNS int
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (pg_catalog.hashint8extended(p_i, p_seed::bigint * 1009 + p_tag) & 2147483647)::int;

-- Row codes: the single definition of the key formats.
CREATE FUNCTION ci_gen.style_code(p_style int)
RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'ST' || pg_catalog.lpad(p_style::text, 6, '0');

CREATE FUNCTION ci_gen.sku_code(p_style int, p_colour int, p_size int)
RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'ST' || pg_catalog.lpad(p_style::text, 6, '0') || '-'
       || pg_catalog.lpad(p_colour::text, 2, '0') || pg_catalog.lpad(p_size::text, 2, '0');

CREATE FUNCTION ci_gen.branch_code(p_branch int)
RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'B' || pg_catalog.lpad(p_branch::text, 3, '0');

CREATE FUNCTION ci_gen.customer_code(p_customer int)
RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'C' || pg_catalog.lpad(p_customer::text, 7, '0');

-- EAN-13 with its check digit, from a 12-digit number.
CREATE FUNCTION ci_gen.ean13(p_digits bigint)
RETURNS varchar
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (SELECT d || ((10 - (SELECT pg_catalog.sum(substr(d, k, 1)::int * CASE WHEN k % 2 = 0 THEN 3 ELSE 1 END)
                             FROM pg_catalog.generate_series(1, 12) k) % 10) % 10)::text
          FROM (SELECT pg_catalog.lpad(p_digits::text, 12, '0') AS d) x);

-- The CI data tables, children first (the order to empty them in).
-- (text, not regclass: the CI schema may be dropped and rebuilt under us)
CREATE FUNCTION ci_gen.data_tables()
RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$
SELECT ARRAY['ci.credit_note_line', 'ci.credit_note', 'ci.invoice_payment', 'ci.invoice_line',
             'ci.invoice', 'ci.stock', 'ci.sku', 'ci.style_attribute', 'ci.style_info_tab',
             'ci.style', 'ci.brand', 'ci.stock_group', 'ci.customer', 'ci.branch']
$$;

/*
 * Empty every CI data table (not ci.system_info) and reset the invoice and
 * credit note sequences.  TRUNCATE, so it is fast; note that kcloud_shopify,
 * when installed, may refuse TRUNCATE of the tables it captures.
 */
CREATE FUNCTION ci_gen.clear()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE 'TRUNCATE ' || pg_catalog.array_to_string(ci_gen.data_tables(), ', ');
    PERFORM pg_catalog.setval('ci.invoice_no_seq', 1, false);
    PERFORM pg_catalog.setval('ci.credit_no_seq', 1, false);
END
$$;

/*
 * md5 of every CI data table (rows as text, sorted bytewise): equal
 * fingerprints mean equal data.  The output settings are pinned so the
 * result does not depend on the session's TimeZone or DateStyle.
 */
CREATE FUNCTION ci_gen.fingerprint()
RETURNS text
LANGUAGE plpgsql
SET TimeZone = 'UTC'
SET DateStyle = 'ISO, YMD'
SET IntervalStyle = 'postgres'
SET extra_float_digits = 1
AS $$
DECLARE
    t text;
    acc text := '';
    part text;
BEGIN
    FOREACH t IN ARRAY ci_gen.data_tables() LOOP
        EXECUTE pg_catalog.format(
            'SELECT pg_catalog.md5(COALESCE(pg_catalog.string_agg(x::text, E''\n'' ORDER BY x::text COLLATE "C"), ''''))
               FROM %s x', t)
           INTO part;
        acc := acc || t || ':' || part || E'\n';
    END LOOP;
    RETURN pg_catalog.md5(acc);
END
$$;

/*
 * Fill the (empty) CI tables.
 *   p_styles      styles (products)
 *   p_colours     colours per style (1..99)
 *   p_sizes       sizes per colour (1..99); each style has colours x sizes SKUs
 *   p_branches    branches (1..9999); every SKU has a stock row at every branch
 *   p_customers   customers (0 or more)
 *   p_web_branches  how many branches (the first ones) have web_stock; NULL = all
 *   p_seed        any int; same seed, same data
 *   p_today       the date sale windows and customer ages are relative to
 * Returns a one-line summary of the row counts.
 */
CREATE FUNCTION ci_gen.populate(p_styles int, p_colours int, p_sizes int, p_branches int,
                                p_customers int, p_web_branches int DEFAULT NULL,
                                p_seed int DEFAULT 1, p_today date DEFAULT CURRENT_DATE)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    dirty boolean;
    n_groups int;
    n_brands int;
    web int := COALESCE(p_web_branches, p_branches);
    -- reference data ------------------------------------------------------
    towns text[] := ARRAY['Auckland CBD', 'Newmarket', 'Sylvia Park', 'Wellington', 'Christchurch',
                          'Hamilton', 'Tauranga', 'Dunedin', 'Queenstown', 'Napier', 'Nelson',
                          'Palmerston North', 'New Plymouth', 'Whangārei', 'Rotorua', 'Invercargill'];
    cities text[] := ARRAY['Auckland', 'Auckland', 'Auckland', 'Wellington', 'Christchurch',
                           'Hamilton', 'Tauranga', 'Dunedin', 'Queenstown', 'Napier', 'Nelson',
                           'Palmerston North', 'New Plymouth', 'Whangārei', 'Rotorua', 'Invercargill'];
    regions text[] := ARRAY['Auckland', 'Auckland', 'Auckland', 'Wellington', 'Canterbury',
                            'Waikato', 'Bay of Plenty', 'Otago', 'Otago', 'Hawke''s Bay', 'Nelson',
                            'Manawatū-Whanganui', 'Taranaki', 'Northland', 'Bay of Plenty', 'Southland'];
    postcodes text[] := ARRAY['1010', '1023', '1060', '6011', '8011', '3204', '3110', '9016', '9300',
                              '4110', '7010', '4410', '4310', '0110', '3010', '9810'];
    areas text[] := ARRAY['09', '09', '09', '04', '03', '07', '07', '03', '03', '06', '03', '06', '06',
                          '09', '07', '03'];
    streets text[] := ARRAY['Queen Street', 'Broadway', 'Lambton Quay', 'Colombo Street', 'Victoria Street',
                            'George Street', 'Devonport Road', 'Emerson Street', 'Trafalgar Street',
                            'Te Awe Awe Street', 'Devon Street', 'Tūtānekai Street', 'Dee Street',
                            'Cameron Road', 'Karangahape Road', 'Ponsonby Road'];
    depts text[] := ARRAY['WOM', 'MEN', 'KID', 'FTW', 'ACC', 'HOM'];
    dept_names text[] := ARRAY['Womens', 'Mens', 'Kids', 'Footwear', 'Accessories', 'Home'];
    -- four categories per department, in department order
    cats text[] := ARRAY['Tops', 'Knitwear', 'Dresses', 'Jackets & Coats',
                         'Shirts', 'Trousers', 'Knitwear', 'Outerwear',
                         'Baby', 'School', 'Tops', 'Outerwear',
                         'Boots', 'Sneakers', 'Sandals', 'Slippers',
                         'Bags', 'Hats', 'Scarves', 'Socks',
                         'Throws', 'Cushions', 'Towels', 'Bedding'];
    brands text[] := ARRAY['Kōwhai & Co', 'Southern Alps Outfitters', 'Harbour Lane', 'Tūī Threads',
                           'Pōhutukawa Studio', 'Kiwi Basics', 'Fiordland Wool Co', 'Raglan Surf',
                           'Ōtautahi Denim', 'Mānuka Made', 'Rangitoto Rainwear', 'Café Noir'];
    adjs text[] := ARRAY['Classic', 'Relaxed', 'Essential', 'Heritage', 'Lightweight', 'Cosy',
                         'Tailored', 'Everyday', 'Coastal', 'Alpine', 'Vintage', 'Organic'];
    materials text[] := ARRAY['Merino', 'Cotton', 'Linen', 'Possum-Merino', 'Denim', 'Wool',
                              'Hemp', 'Fleece', 'Canvas', 'Silk', 'Bamboo', 'Corduroy'];
    garments text[] := ARRAY['Crew Jumper', 'V-Neck Tee', 'Puffer Jacket', 'Chino', 'Oxford Shirt',
                             'Wrap Dress', 'Hoodie', 'Beanie', 'Tote Bag', 'Scarf', 'Rain Jacket',
                             'Cardigan', 'Polo', 'Shorts', 'Throw', 'Socks (3 pack)'];
    colour_names text[] := ARRAY['Black', 'Navy', 'White', 'Charcoal', 'Oatmeal', 'Forest',
                                 'Pounamu Green', 'Kōwhai Yellow', 'Rust', 'Sky Blue', 'Stone', 'Plum',
                                 'Olive', 'Burgundy', 'Ecru', 'Slate', 'Sand', 'Teal', 'Coral',
                                 'Mustard', 'Denim Blue', 'Blush', 'Khaki', 'Crème'];
    letter_sizes text[] := ARRAY['XS', 'S', 'M', 'L', 'XL', '2XL', '3XL'];
    tab_heads text[] := ARRAY['Details', 'Size & Fit', 'Care', 'Delivery & Returns'];
    fabrics text[] := ARRAY['100% merino wool', '95% cotton, 5% elastane', '100% linen',
                            '40% possum fur, 50% merino, 10% silk', '100% organic cotton'];
    cares text[] := ARRAY['Machine wash cold', 'Hand wash only', 'Dry clean only', 'Wash at 30°C'];
    fits text[] := ARRAY['Regular', 'Relaxed', 'Slim', 'Oversized'];
    origins text[] := ARRAY['New Zealand', 'Australia', 'Portugal', 'India', 'China'];
    seasons text[] := ARRAY['Summer 2026', 'Winter 2026', 'Core range'];
    firsts text[] := ARRAY['Aroha', 'Tāne', 'Mere', 'Hēmi', 'Wiremu', 'Ngaio', 'Sophie', 'Olivia',
                           'Liam', 'Jack', 'Zoë', 'José', 'Chloé', 'Siosaia', 'Mele', 'Priya', 'Wei',
                           'Ana', 'Mikaere', 'Charlotte', 'Oliver', 'Amelia', 'Noah', 'Isla'];
    lasts text[] := ARRAY['Smith', 'Williams', 'Wilson', 'Ngata', 'Te Whāiti', 'Pōtae', 'Brown',
                          'Taylor', 'Nguyen', 'Singh', 'Patel', 'O''Brien', 'Müller', 'van der Berg',
                          'Tuilagi', 'Fa''asavalu', 'Li', 'Jones', 'Kāretu', 'MacDonald'];
    domains text[] := ARRAY['example.co.nz', 'example.com', 'example.net', 'example.org'];
BEGIN
    -- arguments ---------------------------------------------------------------
    IF p_styles IS NULL OR p_styles < 1 OR p_styles > 9999999
       OR p_colours IS NULL OR p_colours NOT BETWEEN 1 AND 99
       OR p_sizes IS NULL OR p_sizes NOT BETWEEN 1 AND 99
       OR p_branches IS NULL OR p_branches NOT BETWEEN 1 AND 9999
       OR p_customers IS NULL OR p_customers NOT BETWEEN 0 AND 9999999
       OR web NOT BETWEEN 0 AND p_branches
       OR p_seed IS NULL OR p_today IS NULL THEN
        RAISE EXCEPTION 'invalid ci_gen.populate arguments: styles %, colours %, sizes %, branches %, customers %, web_branches %, seed %',
                        p_styles, p_colours, p_sizes, p_branches, p_customers, p_web_branches, p_seed
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'styles 1..9999999, colours 1..99, sizes 1..99, branches 1..9999, customers 0..9999999, '
                         'web_branches NULL (all) or 0..branches, seed and today not NULL.';
    END IF;
    IF to_regclass('ci.stock') IS NULL THEN
        RAISE EXCEPTION 'the CI schema does not exist in database "%"', current_database()
            USING ERRCODE = 'undefined_table',
                  HINT = 'Create it first with \i test/ci_schema.sql.';
    END IF;
    FOREACH t IN ARRAY ci_gen.data_tables() LOOP
        EXECUTE format('SELECT EXISTS (SELECT FROM %s)', t) INTO dirty;
        IF dirty THEN
            RAISE EXCEPTION 'the CI tables already hold data'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = format('Table %s is not empty; ci_gen.populate only fills empty tables, so that its keys cannot collide.', t),
                      HINT = 'Run SELECT ci_gen.clear(); first.';
        END IF;
    END LOOP;

    n_groups := greatest(6, least(300, p_styles / 20));
    n_brands := greatest(3, least(200, p_styles / 40));

    -- branches ------------------------------------------------------------------
    INSERT INTO ci.branch (branch_code, name, address1, address2, city, region, postcode,
                           country_code, phone, active, web_stock)
    SELECT ci_gen.branch_code(b),
           towns[1 + (b - 1) % 16] || CASE WHEN b > 16 THEN ' ' || ((b - 1) / 16 + 1) ELSE '' END,
           (1 + ci_gen.h(p_seed, 1, b) % 300) || ' ' || streets[1 + (b - 1) % 16],
           CASE WHEN ci_gen.h(p_seed, 2, b) % 3 = 0 THEN 'Shop ' || (1 + ci_gen.h(p_seed, 3, b) % 40) END,
           cities[1 + (b - 1) % 16], regions[1 + (b - 1) % 16], postcodes[1 + (b - 1) % 16],
           'NZ',
           areas[1 + (b - 1) % 16] || ' ' || (300 + ci_gen.h(p_seed, 4, b) % 700) || ' '
               || lpad((ci_gen.h(p_seed, 5, b) % 10000)::text, 4, '0'),
           true,
           b <= web
      FROM generate_series(1, p_branches) b;

    -- stock groups: departments, and categories under them ----------------------
    INSERT INTO ci.stock_group (stock_group_code, description, parent_code)
    SELECT depts[d], dept_names[d], NULL FROM generate_series(1, 6) d;
    INSERT INTO ci.stock_group (stock_group_code, description, parent_code)
    SELECT depts[1 + (g - 1) % 6] || lpad(g::text, 4, '0'),
           dept_names[1 + (g - 1) % 6] || ' ' || cats[1 + ((g - 1) % 6) * 4 + ((g - 1) / 6) % 4]
               || CASE WHEN g > 24 THEN ' ' || ((g - 1) / 24 + 1) ELSE '' END,
           depts[1 + (g - 1) % 6]
      FROM generate_series(1, n_groups) g;

    -- brands ----------------------------------------------------------------------
    INSERT INTO ci.brand (brand_code, name)
    SELECT 'BR' || lpad(k::text, 4, '0'),
           brands[1 + (k - 1) % 12] || CASE WHEN k > 12 THEN ' ' || ((k - 1) / 12 + 1) ELSE '' END
      FROM generate_series(1, n_brands) k;

    -- styles ----------------------------------------------------------------------
    INSERT INTO ci.style (style_code, description, long_description, stock_group_code, brand_code,
                          retail_price, sale_price, sale_from, sale_to, internet_active)
    SELECT ci_gen.style_code(s.s),
           s.title,
           CASE WHEN s.ld < 2 THEN NULL
                WHEN s.ld < 5 THEN 'Our ' || lower(s.title) || ' is made to last. ' || s.blurb
                ELSE '<p>Our <strong>' || s.title || '</strong> is made to last.</p>'
                     || '<p>' || s.blurb || '</p>'
                     || '<ul><li>Fabric: ' || fabrics[1 + s.ld % 5] || '</li><li>Care: '
                     || cares[1 + s.ld % 4] || '</li></ul>'
                     -- one in ten: long web copy (several kB, TOASTed)
                     || CASE WHEN s.ld = 9 THEN repeat('<p>' || s.blurb || ' Designed in Aotearoa &amp; '
                                                        || 'tested on the Routeburn Track.</p>', 40)
                             ELSE '' END
           END,
           CASE WHEN ci_gen.h(p_seed, 12, s.s) % 50 = 0 THEN NULL
                ELSE depts[1 + s.g % 6] || lpad((1 + s.g)::text, 4, '0') END,
           CASE WHEN ci_gen.h(p_seed, 13, s.s) % 50 = 0 THEN NULL
                ELSE 'BR' || lpad((1 + ci_gen.h(p_seed, 14, s.s) % n_brands)::text, 4, '0') END,
           s.price,
           CASE WHEN s.sale < 25 THEN round(s.price * 0.7, 0) - 0.10 END,
           CASE WHEN s.sale < 25 THEN
               CASE s.sale % 5 WHEN 0 THEN p_today - 60      -- ended
                               WHEN 1 THEN p_today - 10      -- running
                               WHEN 2 THEN p_today + 20      -- not started
                               WHEN 3 THEN p_today - 5       -- open-ended
                               ELSE NULL END                 -- no dates: always on sale
           END,
           CASE WHEN s.sale < 25 THEN
               CASE s.sale % 5 WHEN 0 THEN p_today - 30
                               WHEN 1 THEN p_today + 10
                               WHEN 2 THEN p_today + 40
                               ELSE NULL END
           END,
           ci_gen.h(p_seed, 15, s.s) % 10 < 7
      FROM (SELECT i AS s,
                   adjs[1 + ci_gen.h(p_seed, 6, i) % 12] || ' ' || materials[1 + ci_gen.h(p_seed, 7, i) % 12]
                       || ' ' || garments[1 + ci_gen.h(p_seed, 8, i) % 16] AS title,
                   ci_gen.h(p_seed, 9, i) % 10 AS ld,
                   'Style ' || i || ': soft, durable and easy to care for.' AS blurb,
                   (ci_gen.h(p_seed, 10, i) % n_groups) AS g,
                   (19 + ci_gen.h(p_seed, 11, i) % 280)::numeric(12,2) + 0.90 AS price,
                   ci_gen.h(p_seed, 16, i) % 100 AS sale
              FROM generate_series(1, p_styles) i) s;

    -- info tabs: 0 to 3 per style -------------------------------------------------
    INSERT INTO ci.style_info_tab (style_code, tab_no, heading, body)
    SELECT ci_gen.style_code(s), n, tab_heads[n],
           CASE n WHEN 1 THEN '<p>' || fabrics[1 + ci_gen.h(p_seed, 20, s) % 5] || '.</p>'
                  WHEN 2 THEN 'True to size. Model is 178 cm and wears size M.'
                  ELSE 'Free delivery over $100 within New Zealand. Returns within 30 days.' END
      FROM generate_series(1, p_styles) s,
           generate_series(1, ci_gen.h(p_seed, 21, s) % 4) n;

    -- attributes: each of five present with a fixed probability --------------------
    INSERT INTO ci.style_attribute (style_code, name, value)
    SELECT ci_gen.style_code(s), a.name,
           CASE a.name WHEN 'fabric' THEN fabrics[1 + ci_gen.h(p_seed, 30, s) % 5]
                       WHEN 'care'   THEN cares[1 + ci_gen.h(p_seed, 31, s) % 4]
                       WHEN 'fit'    THEN fits[1 + ci_gen.h(p_seed, 32, s) % 4]
                       WHEN 'origin' THEN origins[1 + ci_gen.h(p_seed, 33, s) % 5]
                       ELSE seasons[1 + ci_gen.h(p_seed, 34, s) % 3] END
      FROM generate_series(1, p_styles) s,
           (VALUES ('fabric', 35, 80), ('care', 36, 60), ('fit', 37, 50),
                   ('origin', 38, 40), ('season', 39, 30)) a(name, tag, pct)
     WHERE ci_gen.h(p_seed, a.tag, s) % 100 < a.pct;

    -- SKUs: colour x size per style --------------------------------------------------
    INSERT INTO ci.sku (sku_code, style_code, colour, size, barcode, retail_price, sale_price, sort_order)
    SELECT ci_gen.sku_code(x.s, x.c, x.z),
           ci_gen.style_code(x.s),
           colour_names[1 + (x.c - 1 + x.coff) % 24] || CASE WHEN x.c > 24 THEN ' ' || ((x.c - 1) / 24 + 1) ELSE '' END,
           CASE WHEN p_sizes <= 7 THEN letter_sizes[x.z] ELSE (4 + 2 * x.z)::text END,
           CASE WHEN ci_gen.h(p_seed, 41, x.n) % 10 <> 0
                THEN ci_gen.ean13(940000000000 + x.n) END,
           CASE WHEN ci_gen.h(p_seed, 42, x.n) % 100 < 8 THEN st.retail_price + 10 END,
           CASE WHEN ci_gen.h(p_seed, 43, x.n) % 100 < 3 THEN round(st.retail_price * 0.5, 0) - 0.10 END,
           (x.c - 1) * p_sizes + x.z
      FROM (SELECT s, c, z,
                   ((s - 1)::bigint * p_colours + (c - 1)) * p_sizes + z AS n,
                   ci_gen.h(p_seed, 40, s) % 24 AS coff
              FROM generate_series(1, p_styles) s, generate_series(1, p_colours) c,
                   generate_series(1, p_sizes) z) x
      JOIN ci.style st ON st.style_code = ci_gen.style_code(x.s);

    -- stock: every SKU at every branch, about 8% negative ---------------------------
    INSERT INTO ci.stock (sku_code, branch_code, on_hand)
    SELECT ci_gen.sku_code(s, c, z), ci_gen.branch_code(b),
           ci_gen.h(p_seed, 50, (((s - 1)::bigint * p_colours + (c - 1)) * p_sizes + (z - 1)) * p_branches + b) % 25 - 2
      FROM generate_series(1, p_styles) s, generate_series(1, p_colours) c,
           generate_series(1, p_sizes) z, generate_series(1, p_branches) b;

    -- customers ------------------------------------------------------------------------
    -- contact: 5% neither email nor phone, 10% phone only, the rest an email
    -- (half of them with a phone too).  Emails embed the customer number, so
    -- they are unique case-insensitively even though some are mixed case.
    INSERT INTO ci.customer (customer_code, first_name, last_name, email, phone, address1, address2,
                             city, region, postcode, country_code, accepts_marketing, created_at)
    SELECT ci_gen.customer_code(k.k), k.fn, k.ln,
           CASE WHEN k.contact >= 3 THEN
               CASE WHEN k.k % 7 = 0 THEN initcap(k.local) ELSE k.local END
               || k.k || '@' || domains[1 + ci_gen.h(p_seed, 63, k.k) % 4] END,
           CASE WHEN k.contact BETWEEN 1 AND 2 OR (k.contact >= 3 AND k.k % 2 = 0) THEN
               CASE WHEN k.k % 3 = 0 THEN '+64 21 ' ELSE '021 ' END
               || (100 + ci_gen.h(p_seed, 64, k.k) % 900) || ' ' || lpad((ci_gen.h(p_seed, 65, k.k) % 10000)::text, 4, '0') END,
           CASE WHEN k.addr < 8 THEN (1 + ci_gen.h(p_seed, 67, k.k) % 200) || ' ' || streets[1 + k.town] END,
           CASE WHEN k.addr = 0 THEN 'Flat ' || (1 + ci_gen.h(p_seed, 68, k.k) % 12) END,
           CASE WHEN k.addr < 8 THEN cities[1 + k.town] END,
           CASE WHEN k.addr < 8 THEN regions[1 + k.town] END,
           CASE WHEN k.addr < 8 THEN postcodes[1 + k.town] END,
           CASE WHEN k.addr < 8 THEN 'NZ' END,
           ci_gen.h(p_seed, 69, k.k) % 3 = 0,
           (p_today::timestamp - make_interval(days => 1 + ci_gen.h(p_seed, 70, k.k) % 2000,
                                               secs => ci_gen.h(p_seed, 71, k.k) % 86400))
               AT TIME ZONE 'Pacific/Auckland'
      FROM (SELECT i AS k, f.fn, l.ln,
                   ci_gen.h(p_seed, 62, i) % 20 AS contact,
                   ci_gen.h(p_seed, 66, i) % 10 AS addr,
                   ci_gen.h(p_seed, 72, i) % 16 AS town,
                   coalesce(nullif(regexp_replace(lower(translate(f.fn, 'āēīōūëéü', 'aeioueeu')), '[^a-z]', '', 'g'), ''), 'customer')
                   || '.' ||
                   coalesce(nullif(regexp_replace(lower(translate(l.ln, 'āēīōūëéü', 'aeioueeu')), '[^a-z]', '', 'g'), ''), 'x')
                   AS local
              FROM generate_series(1, p_customers) i
              CROSS JOIN LATERAL (SELECT firsts[1 + ci_gen.h(p_seed, 60, i) % 24] AS fn) f
              CROSS JOIN LATERAL (SELECT lasts[1 + ci_gen.h(p_seed, 61, i) % 20] AS ln) l) k;

    RETURN format('%s branches (%s web), %s stock groups, %s brands, %s styles, %s SKUs, %s stock rows, %s customers',
                  p_branches, web, 6 + n_groups, n_brands, p_styles,
                  p_styles::bigint * p_colours * p_sizes,
                  p_styles::bigint * p_colours * p_sizes * p_branches, p_customers);
END
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ci_gen FROM PUBLIC;
COMMIT;
