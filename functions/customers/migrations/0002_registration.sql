-- Registration and guest holds (issue 11). Public registration was a phishing relay: any text
-- went into a welcome mail to any address, and the address was claimed without its owner
-- knowing. Now:
--
-- * A customer is an account (registered to sign in and book) or a guest (registered by a
--   guest booking, through reservations-api only). Accounts were the only kind so far.
-- * An account's email address is verified when someone follows the link the welcome mail
--   carries; until then eligibility refuses its bookings. Addresses registered before this
--   migration are taken as verified: their accounts booked before and keep doing so.
ALTER TABLE customers.customers
    ADD COLUMN kind text NOT NULL DEFAULT 'account' CHECK (kind IN ('account', 'guest')),
    ADD COLUMN email_verified_at timestamptz;

UPDATE customers.customers SET email_verified_at = created_at WHERE status <> 'erased';

-- Names are what names contain (validate.go has the whole rule: letters of any script,
-- spaces, hyphens, apostrophes, dots). The schema repeats what does not depend on the
-- database's locale: at most 50 characters, no control characters, no digits, none of the
-- characters a URL or a mail address needs. NOT VALID: rows stored before keep their names
-- until they are next changed.
ALTER TABLE customers.customers ADD CONSTRAINT customers_name_shape CHECK (
    char_length(first_name) <= 50 AND char_length(last_name) <= 50
    AND first_name !~ '[[:cntrl:]0-9/:@<>]' AND last_name !~ '[[:cntrl:]0-9/:@<>]') NOT VALID;

-- A link's token, stored as its SHA-256 only: the token itself is in the mail. Single-use
-- (verifying deletes every token of the customer), valid for VerificationTTL, and only for the
-- address the customer had when it was issued (a new address deletes the old tokens).
CREATE TABLE customers.email_verifications (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    customer_id uuid NOT NULL REFERENCES customers.customers (id),
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX email_verifications_customer_idx ON customers.email_verifications (customer_id);
CREATE INDEX email_verifications_expiry_idx ON customers.email_verifications (expires_at);
