-- The demo fleet: 34 vehicles over the five branches and all eight categories, with fixed
-- ids so demos, docs and tests can name them. Plates use the branch city's area code (B, M,
-- F, HH, K) and the E suffix for battery and fuel-cell cars, as German plates do. Two cars
-- are in the workshop, and two carry their own daily rate instead of the category's.
-- ON CONFLICT keeps an operator's later edits when the migration meets existing rows.
INSERT INTO fleet.vehicles
    (id, name, category, location_code, seats, fuel, transmission, licence_plate, status, daily_rate_net_cents)
VALUES
    -- Berlin Hauptbahnhof
    ('f1ee0000-0000-4000-8000-000000000001', 'VW up!',                'KLEIN',   'BER-HBF', 4, 'petrol',         'manual',    'B-OC 1001',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000002', 'VW Golf',               'KOMPAKT', 'BER-HBF', 5, 'diesel',         'manual',    'B-OC 1002',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000003', 'VW ID.3',               'KOMPAKT', 'BER-HBF', 5, 'electric',       'automatic', 'B-OC 103E',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000004', 'Opel Astra',            'KOMPAKT', 'BER-HBF', 5, 'petrol',         'manual',    'B-OC 1004',  'maintenance', NULL),
    ('f1ee0000-0000-4000-8000-000000000005', 'VW Passat Variant',     'KOMBI',   'BER-HBF', 5, 'diesel',         'automatic', 'B-OC 1005',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000006', 'BMW 5er',               'OBER',    'BER-HBF', 5, 'diesel',         'automatic', 'B-OC 1006',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000007', 'VW Tiguan',             'SUV',     'BER-HBF', 5, 'diesel',         'automatic', 'B-OC 1007',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000008', 'Mercedes-Benz Vito',    'TRANS',   'BER-HBF', 9, 'diesel',         'automatic', 'B-OC 1008',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000009', 'Porsche Taycan',        'LUXUS',   'BER-HBF', 4, 'electric',       'automatic', 'B-OC 109E',  'available',   22999),
    -- München Flughafen
    ('f1ee0000-0000-4000-8000-000000000010', 'Fiat 500',              'KLEIN',   'MUC-FLG', 4, 'hybrid',         'manual',    'M-OC 2001',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000011', 'VW Golf GTE',           'KOMPAKT', 'MUC-FLG', 5, 'plug_in_hybrid', 'automatic', 'M-OC 2002',  'available',   4499),
    ('f1ee0000-0000-4000-8000-000000000012', 'BMW 3er',               'MITTEL',  'MUC-FLG', 5, 'diesel',         'automatic', 'M-OC 2003',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000013', 'BMW X3',                'SUV',     'MUC-FLG', 5, 'diesel',         'automatic', 'M-OC 2004',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000014', 'BMW 5er Touring',       'KOMBI',   'MUC-FLG', 5, 'diesel',         'automatic', 'M-OC 2005',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000015', 'BMW 750e',              'LUXUS',   'MUC-FLG', 5, 'plug_in_hybrid', 'automatic', 'M-OC 2006',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000016', 'VW Multivan',           'TRANS',   'MUC-FLG', 7, 'diesel',         'automatic', 'M-OC 2007',  'available',   NULL),
    -- Frankfurt Flughafen
    ('f1ee0000-0000-4000-8000-000000000017', 'smart fortwo EQ',       'KLEIN',   'FRA-FLG', 2, 'electric',       'automatic', 'F-OC 301E',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000018', 'Audi A3 Sportback',     'KOMPAKT', 'FRA-FLG', 5, 'petrol',         'automatic', 'F-OC 3002',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000019', 'Mercedes-Benz C 300 e', 'MITTEL',  'FRA-FLG', 5, 'plug_in_hybrid', 'automatic', 'F-OC 3003',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000020', 'Audi A6',               'OBER',    'FRA-FLG', 5, 'diesel',         'automatic', 'F-OC 3004',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000021', 'Hyundai Nexo',          'SUV',     'FRA-FLG', 5, 'hydrogen',       'automatic', 'F-OC 305E',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000022', 'Škoda Octavia Combi',   'KOMBI',   'FRA-FLG', 5, 'diesel',         'manual',    'F-OC 3006',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000023', 'Mercedes-Benz S-Klasse','LUXUS',   'FRA-FLG', 5, 'diesel',         'automatic', 'F-OC 3007',  'available',   NULL),
    -- Hamburg Hauptbahnhof
    ('f1ee0000-0000-4000-8000-000000000024', 'Renault Twingo',        'KLEIN',   'HAM-HBF', 4, 'petrol',         'manual',    'HH-OC 4001', 'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000025', 'Ford Focus',            'KOMPAKT', 'HAM-HBF', 5, 'petrol',         'manual',    'HH-OC 4002', 'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000026', 'Audi A4 Avant',         'KOMBI',   'HAM-HBF', 5, 'diesel',         'automatic', 'HH-OC 4003', 'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000027', 'BMW i4',                'OBER',    'HAM-HBF', 5, 'electric',       'automatic', 'HH-OC 404E', 'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000028', 'Ford Transit Custom',   'TRANS',   'HAM-HBF', 9, 'diesel',         'manual',    'HH-OC 4005', 'available',   NULL),
    -- Köln Hauptbahnhof
    ('f1ee0000-0000-4000-8000-000000000029', 'Toyota Aygo X',         'KLEIN',   'CGN-HBF', 4, 'hybrid',         'automatic', 'K-OC 5001',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000030', 'Mercedes-Benz A-Klasse','KOMPAKT', 'CGN-HBF', 5, 'petrol',         'automatic', 'K-OC 5002',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000031', 'Tesla Model 3',         'MITTEL',  'CGN-HBF', 5, 'electric',       'automatic', 'K-OC 503E',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000032', 'Volvo XC60 Recharge',   'SUV',     'CGN-HBF', 5, 'plug_in_hybrid', 'automatic', 'K-OC 5004',  'maintenance', NULL),
    ('f1ee0000-0000-4000-8000-000000000033', 'Ford Tourneo Custom',   'TRANS',   'CGN-HBF', 8, 'diesel',         'manual',    'K-OC 5005',  'available',   NULL),
    ('f1ee0000-0000-4000-8000-000000000034', 'Mercedes-Benz E-Klasse','OBER',    'CGN-HBF', 5, 'diesel',         'automatic', 'K-OC 5006',  'available',   NULL)
ON CONFLICT DO NOTHING;
