/*
 * A small, fixed Counter Intelligence data set: a New Zealand clothing
 * retailer with four shops, six styles, 30 SKUs (29 with EAN-13 barcodes) and a handful of customers.
 * For the demo and for tests that want to read their data by name.  Load it
 * into an empty CI schema (test/ci_schema.sql):
 *
 *   \i test/gen/small.sql
 *
 * Things worth knowing when writing tests against it:
 *   - DUN (the Dunedin outlet) has web_stock = false: its stock is not sold online.
 *   - MER-CREW is on sale now, PUF-JKT's sale starts in the future and
 *     SCARF-OLD's sale is over; dates are relative to CURRENT_DATE.
 *   - SCARF-OLD is not internet_active; BEANIE has long HTML web copy.
 *   - TEE-ORG-WHT-XL has its own price; some stock is 0 or negative.
 *   - Customers: C1001 has an email, C1002 a phone only, C1003 a mixed-case
 *     email, C1006 neither (a walk-in account); names use macrons, umlauts,
 *     apostrophes and CJK characters.
 */
BEGIN;

INSERT INTO ci.branch (branch_code, name, address1, address2, city, region, postcode,
                       country_code, phone, active, web_stock) VALUES
    ('AKL', 'Auckland Queen Street', '220 Queen Street', NULL, 'Auckland', 'Auckland', '1010', 'NZ', '09 379 0001', true, true),
    ('WLG', 'Wellington Lambton Quay', '300 Lambton Quay', 'Shop 12', 'Wellington', 'Wellington', '6011', 'NZ', '04 472 0002', true, true),
    ('CHC', 'Ōtautahi Riverside', '96 Oxford Terrace', NULL, 'Christchurch', 'Canterbury', '8011', 'NZ', '03 365 0003', true, true),
    ('DUN', 'Dunedin Outlet', '12 George Street', NULL, 'Dunedin', 'Otago', '9016', 'NZ', '03 477 0004', true, false);

INSERT INTO ci.stock_group (stock_group_code, description, parent_code) VALUES
    ('WOM', 'Womens', NULL),
    ('MEN', 'Mens', NULL),
    ('ACC', 'Accessories', NULL),
    ('WOMKNIT', 'Womens Knitwear', 'WOM'),
    ('WOMDRESS', 'Womens Dresses', 'WOM'),
    ('MENOUTER', 'Mens Outerwear', 'MEN'),
    ('MENTOPS', 'Mens Tops', 'MEN'),
    ('ACCHEAD', 'Hats & Scarves', 'ACC');

INSERT INTO ci.brand (brand_code, name) VALUES
    ('KOWHAI', 'Kōwhai & Co'),
    ('ALPS', 'Southern Alps Outfitters'),
    ('CAFE', 'Café Noir');

INSERT INTO ci.style (style_code, description, long_description, stock_group_code, brand_code,
                      retail_price, sale_price, sale_from, sale_to, internet_active) VALUES
    ('MER-CREW', 'Merino Crew Jumper',
     '<p>Our classic crew in 100% New Zealand merino: warm, breathable and soft.</p><ul><li>Ribbed cuffs</li><li>Machine washable</li></ul>',
     'WOMKNIT', 'KOWHAI', 189.90, 149.90, CURRENT_DATE - 7, CURRENT_DATE + 7, true),
    ('PUF-JKT', 'Rangitoto Puffer Jacket',
     'Lightweight down puffer that packs into its own pocket.',
     'MENOUTER', 'ALPS', 299.00, 229.00, CURRENT_DATE + 14, CURRENT_DATE + 28, true),
    ('TEE-ORG', 'Organic Cotton Tee', NULL,
     'MENTOPS', 'CAFE', 39.90, NULL, NULL, NULL, true),
    ('BEANIE', 'Possum-Merino Beanie',
     '<p>Knitted in Ōtautahi from <strong>possum fur &amp; merino</strong>.</p>'
     || repeat('<p>Possum fibre is hollow, so it traps warm air: this beanie is lighter and warmer than wool alone.</p>', 30),
     'ACCHEAD', 'KOWHAI', 59.90, NULL, NULL, NULL, true),
    ('SCARF-OLD', 'Tartan Scarf (discontinued)', 'Last season''s scarf.',
     'ACCHEAD', 'ALPS', 79.90, 39.90, CURRENT_DATE - 60, CURRENT_DATE - 30, false),
    ('WRAP-DRS', 'Kōwhai Wrap Dress',
     '<p>Flowing wrap dress in a kōwhai print — “summer in a dress”.</p>',
     'WOMDRESS', 'KOWHAI', 229.00, NULL, NULL, NULL, true);

INSERT INTO ci.style_info_tab (style_code, tab_no, heading, body) VALUES
    ('MER-CREW', 1, 'Details', '<p>100% merino wool, 19.5 micron.</p>'),
    ('MER-CREW', 2, 'Size & Fit', 'True to size. Model is 175 cm and wears S.'),
    ('MER-CREW', 3, 'Care', 'Machine wash cold on a wool cycle; dry flat.'),
    ('PUF-JKT', 1, 'Details', '<p>90/10 duck down, recycled nylon shell.</p>'),
    ('BEANIE', 1, 'Care', 'Hand wash only.'),
    ('WRAP-DRS', 1, 'Size & Fit', 'Relaxed fit; the tie adjusts the waist.');

INSERT INTO ci.style_attribute (style_code, name, value) VALUES
    ('MER-CREW', 'fabric', '100% merino wool'),
    ('MER-CREW', 'origin', 'New Zealand'),
    ('PUF-JKT', 'fabric', 'Recycled nylon, duck down fill'),
    ('PUF-JKT', 'season', 'Winter 2026'),
    ('TEE-ORG', 'fabric', '100% organic cotton'),
    ('BEANIE', 'fabric', '40% possum fur, 50% merino, 10% silk'),
    ('WRAP-DRS', 'fabric', 'Viscose');

INSERT INTO ci.sku (sku_code, style_code, colour, size, barcode, retail_price, sale_price, sort_order) VALUES
    ('MER-CREW-NAV-S', 'MER-CREW', 'Navy', 'S', '9421000000011', NULL, NULL, 1),
    ('MER-CREW-NAV-M', 'MER-CREW', 'Navy', 'M', '9421000000028', NULL, NULL, 2),
    ('MER-CREW-NAV-L', 'MER-CREW', 'Navy', 'L', '9421000000035', NULL, NULL, 3),
    ('MER-CREW-CHR-S', 'MER-CREW', 'Charcoal', 'S', '9421000000042', NULL, NULL, 4),
    ('MER-CREW-CHR-M', 'MER-CREW', 'Charcoal', 'M', '9421000000059', NULL, NULL, 5),
    ('MER-CREW-CHR-L', 'MER-CREW', 'Charcoal', 'L', '9421000000066', NULL, NULL, 6),
    ('PUF-JKT-BLK-S', 'PUF-JKT', 'Black', 'S', '9421000000073', NULL, NULL, 1),
    ('PUF-JKT-BLK-M', 'PUF-JKT', 'Black', 'M', '9421000000080', NULL, NULL, 2),
    ('PUF-JKT-BLK-L', 'PUF-JKT', 'Black', 'L', '9421000000097', NULL, NULL, 3),
    ('PUF-JKT-BLK-XL', 'PUF-JKT', 'Black', 'XL', '9421000000103', NULL, NULL, 4),
    ('TEE-ORG-WHT-S', 'TEE-ORG', 'White', 'S', '9421000000110', NULL, NULL, 1),
    ('TEE-ORG-WHT-M', 'TEE-ORG', 'White', 'M', '9421000000127', NULL, NULL, 2),
    ('TEE-ORG-WHT-L', 'TEE-ORG', 'White', 'L', '9421000000134', NULL, NULL, 3),
    ('TEE-ORG-WHT-XL', 'TEE-ORG', 'White', 'XL', '9421000000141', 44.90, NULL, 4),
    ('TEE-ORG-BLK-S', 'TEE-ORG', 'Black', 'S', '9421000000158', NULL, NULL, 5),
    ('TEE-ORG-BLK-M', 'TEE-ORG', 'Black', 'M', '9421000000165', NULL, NULL, 6),
    ('TEE-ORG-BLK-L', 'TEE-ORG', 'Black', 'L', '9421000000172', NULL, NULL, 7),
    ('TEE-ORG-BLK-XL', 'TEE-ORG', 'Black', 'XL', NULL, NULL, NULL, 8),
    ('BEANIE-CHR', 'BEANIE', 'Charcoal', 'One Size', '9421000000189', NULL, NULL, 1),
    ('BEANIE-RED', 'BEANIE', 'Pōhutukawa Red', 'One Size', '9421000000196', NULL, NULL, 2),
    ('SCARF-OLD-TAR', 'SCARF-OLD', 'Tartan', 'One Size', '9421000000202', NULL, NULL, 1),
    ('WRAP-DRS-YEL-8', 'WRAP-DRS', 'Kōwhai Yellow', '8', '9421000000219', NULL, NULL, 1),
    ('WRAP-DRS-YEL-10', 'WRAP-DRS', 'Kōwhai Yellow', '10', '9421000000226', NULL, NULL, 2),
    ('WRAP-DRS-YEL-12', 'WRAP-DRS', 'Kōwhai Yellow', '12', '9421000000233', NULL, NULL, 3),
    ('WRAP-DRS-YEL-14', 'WRAP-DRS', 'Kōwhai Yellow', '14', '9421000000240', NULL, NULL, 4),
    ('WRAP-DRS-NVY-8', 'WRAP-DRS', 'Navy', '8', '9421000000257', NULL, NULL, 5),
    ('WRAP-DRS-NVY-10', 'WRAP-DRS', 'Navy', '10', '9421000000264', NULL, NULL, 6),
    ('WRAP-DRS-NVY-12', 'WRAP-DRS', 'Navy', '12', '9421000000271', NULL, NULL, 7),
    ('WRAP-DRS-NVY-14', 'WRAP-DRS', 'Navy', '14', '9421000000288', NULL, 179.00, 8),
    ('WRAP-DRS-NVY-16', 'WRAP-DRS', 'Navy', '16', '9421000000295', NULL, NULL, 9);

-- Every SKU at every branch: one line per SKU, one column per branch.
INSERT INTO ci.stock (sku_code, branch_code, on_hand)
SELECT v.sku, b.branch, b.qty
  FROM (VALUES
        ('MER-CREW-NAV-S',   4,  2,  1,  0),
        ('MER-CREW-NAV-M',   6,  3,  2,  1),
        ('MER-CREW-NAV-L',   3,  1,  0,  0),
        ('MER-CREW-CHR-S',   2,  2,  1,  0),
        ('MER-CREW-CHR-M',   5,  4, -1,  2),
        ('MER-CREW-CHR-L',   1,  0,  0,  0),
        ('PUF-JKT-BLK-S',    3,  2,  2,  1),
        ('PUF-JKT-BLK-M',    7,  5,  3,  0),
        ('PUF-JKT-BLK-L',    6,  4,  2,  0),
        ('PUF-JKT-BLK-XL',   2,  1,  0,  3),
        ('TEE-ORG-WHT-S',   12,  8,  6,  4),
        ('TEE-ORG-WHT-M',   15, 10,  9,  5),
        ('TEE-ORG-WHT-L',   11,  7,  5,  2),
        ('TEE-ORG-WHT-XL',   4,  3,  2,  0),
        ('TEE-ORG-BLK-S',   10,  6,  5,  3),
        ('TEE-ORG-BLK-M',   14,  9,  8,  4),
        ('TEE-ORG-BLK-L',    9,  6, -2,  1),
        ('TEE-ORG-BLK-XL',   3,  2,  1,  0),
        ('BEANIE-CHR',       8,  5,  6, 10),
        ('BEANIE-RED',       6,  4,  3,  0),
        ('SCARF-OLD-TAR',    0,  0,  0, 12),
        ('WRAP-DRS-YEL-8',   2,  1,  1,  0),
        ('WRAP-DRS-YEL-10',  3,  2,  1,  0),
        ('WRAP-DRS-YEL-12',  3,  2,  2,  1),
        ('WRAP-DRS-YEL-14',  2,  1,  0,  0),
        ('WRAP-DRS-NVY-8',   1,  1,  0,  0),
        ('WRAP-DRS-NVY-10',  2,  2,  1,  0),
        ('WRAP-DRS-NVY-12',  3,  1,  1,  0),
        ('WRAP-DRS-NVY-14',  2,  0,  1,  0),
        ('WRAP-DRS-NVY-16',  1, -1,  0,  0)
       ) v(sku, akl, wlg, chc, dun)
 CROSS JOIN LATERAL (VALUES ('AKL', v.akl), ('WLG', v.wlg), ('CHC', v.chc), ('DUN', v.dun)) b(branch, qty);

INSERT INTO ci.customer (customer_code, first_name, last_name, email, phone, address1, address2,
                         city, region, postcode, country_code, accepts_marketing, created_at) VALUES
    ('C1001', 'Aroha', 'Ngata', 'aroha.ngata@example.co.nz', '021 555 0101', '14 Karangahape Road', NULL,
     'Auckland', 'Auckland', '1010', 'NZ', true, '2024-03-01 10:15:00+13'),
    ('C1002', 'Hēmi', 'Pōtae', NULL, '+64 27 555 0102', '7 Tūtānekai Street', NULL,
     'Rotorua', 'Bay of Plenty', '3010', 'NZ', false, '2024-05-17 14:30:00+12'),
    ('C1003', 'Zoë', 'O''Brien', 'Zoe.OBrien@Example.com', NULL, '3/45 Cuba Street', 'Te Aro',
     'Wellington', 'Wellington', '6011', 'NZ', true, '2025-01-09 09:00:00+13'),
    ('C1004', 'José', 'Müller', 'jose.muller@example.net', '03 555 0104', '88 Riccarton Road', NULL,
     'Christchurch', 'Canterbury', '8041', 'NZ', false, '2025-06-30 16:45:00+12'),
    ('C1005', '伟', '李', 'li.wei@example.org', '021 555 0105', '1 Queen Street', 'Level 5',
     'Auckland', 'Auckland', '1010', 'NZ', false, '2025-11-02 11:20:00+13'),
    ('C1006', 'Walk-in', 'Customer', NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, false, '2023-12-01 08:00:00+13');

COMMIT;
