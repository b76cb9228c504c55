-- Customers. The table itself holds the rules a row must satisfy, so no code path (nor a
-- manual INSERT) can store a malformed record, two accounts with one email address, or an
-- erased customer who still has personal data.
CREATE TABLE customers.customers (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    type               text NOT NULL DEFAULT 'individual' CHECK (type IN ('individual', 'business')),
    -- Business customers are invoiced to their company; both are kept after an erasure
    -- (they are the company's data and every invoice names them).
    company_name       text CHECK (char_length(company_name) BETWEEN 1 AND 200),
    vat_id             text CHECK (vat_id ~ '^[A-Z]{2}[A-Z0-9+*]{2,13}$'),
    first_name         text NOT NULL CHECK (char_length(first_name) BETWEEN 1 AND 100),
    last_name          text NOT NULL CHECK (char_length(last_name) BETWEEN 1 AND 100),
    email              text NOT NULL CHECK (char_length(email) <= 254 AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    phone              text CHECK (phone ~ '^\+?[0-9 ()/-]{5,30}$'),
    date_of_birth      date CHECK (date_of_birth >= DATE '1900-01-01'),
    street             text CHECK (char_length(street) BETWEEN 1 AND 200),
    postal_code        text CHECK (postal_code ~ '^[A-Z0-9][A-Z0-9 -]{1,9}$'),
    city               text CHECK (char_length(city) BETWEEN 1 AND 100),
    -- Kept after an erasure: it decided how the customer's invoices were taxed.
    country            text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
    licence_number     text CHECK (licence_number ~ '^[A-Z0-9][A-Z0-9 -]{3,18}[A-Z0-9]$'),
    licence_country    text CHECK (licence_country ~ '^[A-Z]{2}$'),
    licence_issued_on  date,
    licence_expires_on date,
    preferred_language text NOT NULL DEFAULT 'de' CHECK (preferred_language IN ('de', 'en')),
    status             text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'blocked', 'erased')),
    status_reason      text CHECK (char_length(status_reason) BETWEEN 1 AND 500),
    status_changed_at  timestamptz,
    status_changed_by  text,
    erased_at          timestamptz,
    version            integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),

    -- Business customers have a company name and a VAT id; individuals have neither.
    CONSTRAINT customers_business_check
        CHECK (CASE WHEN type = 'business' THEN company_name IS NOT NULL AND vat_id IS NOT NULL
                    ELSE company_name IS NULL AND vat_id IS NULL END),
    -- A German VAT id (USt-IdNr.) is DE and nine digits.
    CONSTRAINT customers_german_vat_check CHECK (vat_id !~ '^DE' OR vat_id ~ '^DE[0-9]{9}$'),
    CONSTRAINT customers_german_postal_code_check CHECK (country <> 'DE' OR postal_code ~ '^[0-9]{5}$'),
    -- A licence is given whole or not at all, and expires after it was issued, after its
    -- holder's 16th birthday.
    CONSTRAINT customers_licence_check
        CHECK (num_nulls(licence_number, licence_country, licence_issued_on, licence_expires_on) IN (0, 4)),
    CONSTRAINT customers_licence_dates_check
        CHECK (licence_expires_on > licence_issued_on
               AND licence_issued_on >= date_of_birth + interval '16 years'),
    -- An erased customer keeps no personal data: placeholder names, an undeliverable unique
    -- email, every other personal field empty. Every other customer has all of them (the
    -- licence may come later) and a deliverable address.
    CONSTRAINT customers_erasure_check CHECK (
        CASE WHEN status = 'erased' THEN
            first_name = 'Erased' AND last_name = 'Erased'
            AND email = 'erased+' || id::text || '@invalid'
            AND num_nulls(phone, date_of_birth, street, postal_code, city, licence_number,
                          licence_country, licence_issued_on, licence_expires_on, status_reason) = 10
            AND erased_at IS NOT NULL
        ELSE
            num_nulls(phone, date_of_birth, street, postal_code, city) = 0
            AND erased_at IS NULL
            AND lower(email) !~ '[@.]invalid$'
        END)
);

-- One account per email address, whatever its case: Alice@Example.com is alice@example.com.
CREATE UNIQUE INDEX customers_email_key ON customers.customers (lower(email));

-- Searches filter by status and order by name. Name matching (every word a prefix of the
-- first or last name) scans the rows that remain; a pg_trgm index is the step to take when the
-- customer base outgrows that.
CREATE INDEX customers_status_name_idx ON customers.customers (status, lower(last_name), lower(first_name), id);
