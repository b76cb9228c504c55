-- Issue 13: another card after a decline, changed bookings, second charges, no-show fees and
-- invoices line by line (docs/payments.md).

-- attempt: which payment method of the booking this is (reservation.created is 1, each
-- reservation.payment_requested one more, each replacement through the API one more); the
-- provider key of the authorization is authorize:<reservation>:<attempt>:<method>. Before
-- attempts existed the key used the row's version, which equals the attempt of a failed row.
-- reservation_version: the newest reservation version whose total the authorization follows;
-- an older reservation.changed changes nothing.
-- uncovered_cents / adjustment_failure: a change raised the total but the card declined the
-- increase; the old authorization stays, and the difference is collected at the return.
-- outstanding_cents (0001): what the final bill exceeds the capture limit by and the second
-- charge has not collected (yet); charged_cents / provider_charge what it collected;
-- charge_failure why it failed.
ALTER TABLE payments
    ADD COLUMN attempt             integer NOT NULL DEFAULT 1 CHECK (attempt > 0),
    ADD COLUMN reservation_version bigint  NOT NULL DEFAULT 0 CHECK (reservation_version >= 0),
    ADD COLUMN uncovered_cents     bigint  NOT NULL DEFAULT 0 CHECK (uncovered_cents >= 0),
    ADD COLUMN adjustment_failure  text,
    ADD COLUMN charged_cents       bigint  NOT NULL DEFAULT 0 CHECK (charged_cents >= 0),
    ADD COLUMN provider_charge     text,
    ADD COLUMN charge_failure      text;
UPDATE payments SET attempt = version WHERE status = 'failed';
-- Agents look for money still to collect.
CREATE INDEX payments_outstanding_idx ON payments (updated_at) WHERE outstanding_cents > 0 OR uncovered_cents > 0;

-- A no-show ends a reservation like a cancellation: its fee is captured, the rest released.
ALTER TABLE reservation_ends DROP CONSTRAINT reservation_ends_status_check;
ALTER TABLE reservation_ends ADD CONSTRAINT reservation_ends_status_check CHECK (status IN ('cancelled', 'expired', 'no_show'));

-- The sandbox's test card 4000000000000341 authorizes, then declines what a merchant asks
-- later: a raised authorization, a second charge.
ALTER TABLE sandbox_cards DROP CONSTRAINT sandbox_cards_behaviour_check;
ALTER TABLE sandbox_cards ADD CONSTRAINT sandbox_cards_behaviour_check
    CHECK (behaviour IN ('success', 'decline', 'insufficient_funds', 'timeout', 'later_declined'));
ALTER TABLE sandbox_operations DROP CONSTRAINT sandbox_operations_operation_check;
ALTER TABLE sandbox_operations ADD CONSTRAINT sandbox_operations_operation_check
    CHECK (operation IN ('authorize', 'capture', 'void', 'refund', 'adjust', 'charge'));

-- Invoices: what they bill (the rental at its return, a cancellation fee, a no-show fee) and,
-- for a business customer, the company and its VAT id as customers-api had them at issue
-- time. An invoice is a legal record: erasing the customer leaves both (customers-api keeps
-- them too: they name a business, not a person).
ALTER TABLE invoices
    ADD COLUMN kind         text NOT NULL DEFAULT 'rental' CHECK (kind IN ('rental', 'cancellation', 'no_show')),
    ADD COLUMN company_name text CHECK (char_length(company_name) BETWEEN 1 AND 200),
    ADD COLUMN vat_id       text CHECK (char_length(vat_id) BETWEEN 1 AND 20);

-- The lines of an invoice, net, in order: the booking's priced lines as pricing quoted them,
-- the late fee, the return charges (or the one fee line of a cancellation or no-show).
-- Each line is quantity × unit price exactly; VAT is on the invoice (docs/payments.md).
CREATE TABLE invoice_lines (
    invoice_id     uuid    NOT NULL REFERENCES invoices (id),
    position       integer NOT NULL CHECK (position >= 1),
    code           text    NOT NULL CHECK (code ~ '^[A-Z0-9_]{1,40}$'),
    description    text    NOT NULL CHECK (char_length(description) BETWEEN 1 AND 200),
    quantity       integer NOT NULL CHECK (quantity >= 1),
    per            text    NOT NULL CHECK (per ~ '^[a-z_]{1,20}$'),
    unit_net_cents bigint  NOT NULL,
    net_cents      bigint  NOT NULL,
    PRIMARY KEY (invoice_id, position),
    CHECK (net_cents = quantity * unit_net_cents)
);

-- Invoices issued before kept their lines as JSON, by gross; each becomes one line of its net.
INSERT INTO invoice_lines (invoice_id, position, code, description, quantity, per, unit_net_cents, net_cents)
SELECT i.id, l.ord, 'RENTAL', left(coalesce(nullif(l.value->>'description', ''), 'Car rental'), 200), 1, 'rental',
       (l.value->>'netCents')::bigint, (l.value->>'netCents')::bigint
FROM invoices i, jsonb_array_elements(i.lines) WITH ORDINALITY AS l(value, ord);
ALTER TABLE invoices DROP COLUMN lines;
