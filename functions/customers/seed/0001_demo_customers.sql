-- Demo customers, so every eligibility outcome can be shown. Alice and Bob carry the ids of
-- the development issuer's demo users (platform/auth/devissuer): signed in as alice, you are
-- customer 11111111-…. The edge cases (a 20-year-old, a licence under a year old, an expired
-- licence) are dated relative to the day this migration runs, so they stay edge cases on a
-- fresh database; on an old one they age like real people.
--
-- This set runs after the outbox exists (customers.Migrations lists it after the events
-- set), so each seeded customer is announced with customer.registered in the same
-- transaction, as a registration through the API would be: the notifier learns their
-- address and language from it. ON CONFLICT keeps later edits (and erasures) of these rows
-- when the migration meets a database that already has them, and only rows inserted here
-- are announced.
WITH seeded AS (
INSERT INTO customers.customers
    (id, type, company_name, vat_id, first_name, last_name, email, phone, date_of_birth,
     street, postal_code, city, country,
     licence_number, licence_country, licence_issued_on, licence_expires_on,
     preferred_language, status, status_reason, status_changed_at, status_changed_by)
VALUES
    -- customer A of the demo and of the authorization tests: eligible, writes in English
    ('11111111-1111-4111-8111-111111111111', 'individual', NULL, NULL, 'Alice', 'Hartmann',
     'alice@example.com', '+49 30 5550101', '1990-04-12',
     'Invalidenstraße 44', '10115', 'Berlin', 'DE',
     'B072RRE2I55', 'DE', '2009-06-15', '2034-06-15',
     'en', 'active', NULL, NULL, NULL),
    -- customer B: eligible, writes in German
    ('22222222-2222-4222-8222-222222222222', 'individual', NULL, NULL, 'Bob', 'Schulz',
     'bob@example.com', '+49 40 5550202', '1985-09-03',
     'Spitalerstraße 12', '20095', 'Hamburg', 'DE',
     'H0489KL3Z21', 'DE', '2004-11-20', '2033-01-19',
     'de', 'active', NULL, NULL, NULL),
    ('c5000000-0000-4000-8000-000000000003', 'individual', NULL, NULL, 'Maximilian', 'Schmidt',
     'max.schmidt@example.de', '+49 30 12345678', '1995-03-15',
     'Hauptstraße 42', '10827', 'Berlin', 'DE',
     'B123456789', 'DE', '2015-06-01', '2030-06-01',
     'de', 'active', NULL, NULL, NULL),
    ('c5000000-0000-4000-8000-000000000004', 'individual', NULL, NULL, 'Anna', 'Müller',
     'anna.mueller@example.de', '+49 89 98765432', '1988-07-22',
     'Marienplatz 5', '80331', 'München', 'DE',
     'M987654321', 'DE', '2008-09-15', '2033-01-19',
     'de', 'active', NULL, NULL, NULL),
    ('c5000000-0000-4000-8000-000000000005', 'individual', NULL, NULL, 'Lukas', 'Weber',
     'l.weber@example.de', '+49 40 55512345', '1999-11-08',
     'Reeperbahn 150', '20359', 'Hamburg', 'DE',
     'H555123456', 'DE', '2019-03-10', '2034-03-10',
     'de', 'active', NULL, NULL, NULL),
    -- lives in Austria, Austrian licence (EU: no warning)
    ('c5000000-0000-4000-8000-000000000006', 'individual', NULL, NULL, 'Sophie', 'Wagner',
     'sophie.wagner@example.at', '+43 1 5123456', '1980-04-30',
     'Kärntner Straße 10', '1010', 'Wien', 'AT',
     '12345678', 'AT', '2010-08-20', '2035-08-20',
     'de', 'active', NULL, NULL, NULL),
    -- 20 years old: refused, under 21
    ('c5000000-0000-4000-8000-000000000007', 'individual', NULL, NULL, 'Jonas', 'Fischer',
     'jonas.fischer@example.de', '+49 221 33344455', (current_date - interval '20 years 3 months')::date,
     'Hohe Straße 25', '50667', 'Köln', 'DE',
     'K333444555', 'DE', (current_date - interval '2 years')::date, (current_date + interval '13 years')::date,
     'de', 'active', NULL, NULL, NULL),
    -- licence issued four months ago: refused, held less than a year
    ('c5000000-0000-4000-8000-000000000008', 'individual', NULL, NULL, 'Emma', 'Becker',
     'emma.becker@example.de', '+49 711 22211100', '1994-01-18',
     'Königstraße 15', '70173', 'Stuttgart', 'DE',
     'S222111000', 'DE', (current_date - interval '4 months')::date, (current_date + interval '15 years')::date,
     'de', 'active', NULL, NULL, NULL),
    -- licence expired two months ago: refused
    ('c5000000-0000-4000-8000-000000000009', 'individual', NULL, NULL, 'Felix', 'Hoffmann',
     'f.hoffmann@example.de', '+49 211 66677788', '1990-12-05',
     'Königsallee 60', '40212', 'Düsseldorf', 'DE',
     'D666777888', 'DE', (current_date - interval '15 years 2 months')::date, (current_date - interval '2 months')::date,
     'de', 'active', NULL, NULL, NULL),
    -- suspended: refused
    ('c5000000-0000-4000-8000-000000000010', 'individual', NULL, NULL, 'David', 'Klein',
     'david.klein@example.de', '+49 228 99988877', '1983-03-08',
     'Münsterplatz 12', '53111', 'Bonn', 'DE',
     'B999888777', 'DE', '2003-12-01', '2033-01-19',
     'de', 'suspended', 'Pending payment verification', now(), 'seed'),
    -- blocked: refused
    ('c5000000-0000-4000-8000-000000000011', 'individual', NULL, NULL, 'Sarah', 'Lang',
     'sarah.lang@example.de', '+49 911 12312312', '1970-11-20',
     'Kaiserstraße 50', '90403', 'Nürnberg', 'DE',
     'N123123123', 'DE', '1990-03-15', '2033-01-19',
     'de', 'blocked', 'Damage claim unpaid after two reminders', now(), 'seed'),
    -- a business customer: invoiced to the company, with its VAT id
    ('c5000000-0000-4000-8000-000000000012', 'business', 'Richter Logistik GmbH', 'DE287654321', 'Paul', 'Richter',
     'paul.richter@richter-logistik.example', '+49 351 55566677', '1992-08-19',
     'Prager Straße 20', '01069', 'Dresden', 'DE',
     'D555666777', 'DE', '2013-04-18', '2028-04-18',
     'de', 'active', NULL, NULL, NULL),
    -- US licence: eligible, with the non-EU warning
    ('c5000000-0000-4000-8000-000000000013', 'individual', NULL, NULL, 'Emily', 'Carter',
     'emily.carter@example.com', '+49 30 5550303', '1991-06-02',
     'Torstraße 110', '10119', 'Berlin', 'DE',
     'D1234567', 'US', '2016-06-02', '2028-06-02',
     'en', 'active', NULL, NULL, NULL),
    -- registered without a licence yet: refused until she adds one
    ('c5000000-0000-4000-8000-000000000014', 'individual', NULL, NULL, 'Mia', 'Schäfer',
     'mia.schaefer@example.de', '+49 341 44455566', '1996-06-27',
     'Petersstraße 30', '04109', 'Leipzig', 'DE',
     NULL, NULL, NULL, NULL,
     'de', 'active', NULL, NULL, NULL),
    ('c5000000-0000-4000-8000-000000000015', 'individual', NULL, NULL, 'Leon', 'Meyer',
     'leon.meyer@example.de', '+49 421 11122233', '1955-02-14',
     'Böttcherstraße 8', '28195', 'Bremen', 'DE',
     'HB11122233', 'DE', '1975-06-10', '2033-01-19',
     'de', 'active', NULL, NULL, NULL)
ON CONFLICT DO NOTHING
RETURNING id, version, email, first_name, last_name, preferred_language, phone
)
INSERT INTO customers.outbox (id, type, source, subject, time, data)
SELECT gen_random_uuid(), 'com.orangecarrental.customer.registered.v1', 'customers-api', id::text, now(),
       jsonb_build_object('customerId', id::text, 'version', version, 'email', email,
                          'firstName', first_name, 'lastName', last_name, 'preferredLanguage', preferred_language,
                          -- the phone too, as a registration's event carries it: without it the
                          -- notifier knew no number, and no demo customer could get an SMS.
                          'phone', phone)
FROM seeded
ORDER BY id;
