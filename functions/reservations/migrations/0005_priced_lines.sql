-- Priced lines, changes and payment retries (issue 13, docs/reservations.md).
--
-- * A booking keeps what pricing-api quoted: its lines (days × rate, duration discount,
--   insurance, extras, one-way fee; a change adds CHANGE_FEE), their net sum and the VAT,
--   so the invoice can show every line and every reservation event carries them. Rows
--   stored before this migration have no lines ('[]') and net = VAT = 0: their price is the
--   gross total only.
-- * What the booking asked pricing for — insurance package and extras — so that a change
--   re-prices the booking with what it keeps.
-- * payment_attempt counts the payment methods tried (1 at booking; each named after a
--   decline adds one): payments keys its authorization by it. payment_declined_reason is
--   the last decline's reason (a code such as card_declined), shown to the renter, cleared
--   when another card is named.
-- * guest: booked by a guest (no account), who manages the booking through the signed link.
ALTER TABLE reservations.reservations
    ADD COLUMN lines jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
    ADD COLUMN net_cents bigint NOT NULL DEFAULT 0 CHECK (net_cents >= 0),
    ADD COLUMN vat_cents bigint NOT NULL DEFAULT 0 CHECK (vat_cents >= 0),
    ADD COLUMN insurance text NOT NULL DEFAULT '' CHECK (insurance ~ '^[A-Z_]{0,20}$'),
    ADD COLUMN extras jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(extras) = 'array'),
    ADD COLUMN payment_attempt integer NOT NULL DEFAULT 1 CHECK (payment_attempt >= 1),
    ADD COLUMN payment_declined_reason text NOT NULL DEFAULT '' CHECK (char_length(payment_declined_reason) <= 200),
    ADD COLUMN guest boolean NOT NULL DEFAULT false,
    -- The lines' split adds up to the gross total (rows from before the lines excepted).
    ADD CONSTRAINT reservations_net_vat CHECK (lines = '[]' OR net_cents + vat_cents = total_gross_cents);
