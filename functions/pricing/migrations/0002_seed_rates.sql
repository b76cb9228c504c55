-- The general daily rates of the original system (net cents), valid at every branch from
-- 1 January 2025, midnight in Germany, with no end. Fixed ids keep the rows addressable in
-- documentation and tests; ON CONFLICT keeps an operator's later edits when the migration
-- meets a database that already has them.
INSERT INTO pricing.rate_policies (id, category, daily_rate_net_cents, valid_from) VALUES
    ('00000000-0000-4000-8000-000000000001', 'KLEIN',    2999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000002', 'KOMPAKT',  3999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000003', 'MITTEL',   5499, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000004', 'OBER',     8999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000005', 'SUV',      6999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000006', 'KOMBI',    4999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000007', 'TRANS',    7999, '2025-01-01 00:00:00 Europe/Berlin'),
    ('00000000-0000-4000-8000-000000000008', 'LUXUS',   14999, '2025-01-01 00:00:00 Europe/Berlin')
ON CONFLICT DO NOTHING;
