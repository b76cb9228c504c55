-- Payment methods (issue 11): card details reach payments-api only, in POST
-- /api/payments/methods. The provider tokenizes the card; payments keeps the provider's token
-- and what a person needs to recognise the card (brand, last four digits, expiry) under an
-- opaque id (pm_ + 32 hex digits). Bookings, events, logs and dead letters carry only that id.
-- Never stored anywhere: the full number, the CVC, the holder's name.
--
-- customer_id binds a method to one customer: set at creation for a signed-in customer, else
-- at its first authorization (a guest's card, or one an agent keyed in); a method bound to
-- another customer cannot pay. Unbound methods nobody used are purged after 24 hours.
CREATE TABLE payment_methods (
    id              text PRIMARY KEY CHECK (id ~ '^pm_[0-9a-f]{32}$'),
    customer_id     uuid,
    provider        text NOT NULL,
    provider_token  text NOT NULL,
    brand           text NOT NULL,
    last4           text NOT NULL CHECK (last4 ~ '^[0-9]{4}$'),
    exp_month       integer NOT NULL CHECK (exp_month BETWEEN 1 AND 12),
    exp_year        integer NOT NULL CHECK (exp_year BETWEEN 2000 AND 2100),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_methods_customer_idx ON payment_methods (customer_id);
CREATE INDEX payment_methods_unbound_idx ON payment_methods (created_at) WHERE customer_id IS NULL;

-- The method a payment was authorized with. No foreign key: an authorization naming a
-- method that does not exist (or belongs to someone else) is recorded as a failed payment
-- (invalid_payment_method) with the id it named.
ALTER TABLE payments ADD COLUMN payment_method_id text CHECK (payment_method_id ~ '^pm_[0-9a-f]{32}$');

-- Reservations that ended (cancelled, expired) as payments learnt from their events, whether
-- or not a payment existed then: brokers keep no order, and an authorization that comes
-- after the end is settled at once (voided, or the cancellation fee captured) in the
-- authorization's own transaction.
CREATE TABLE reservation_ends (
    reservation_id  uuid PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('cancelled', 'expired')),
    fee_cents       bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
    ended_at        timestamptz NOT NULL DEFAULT now()
);

-- The sandbox provider's card vault, its side of tokenization: the behaviour of the test card
-- behind each token (authorized, declined, …) and the card's public data. Like a real
-- provider's answer to us, it holds no number and no CVC.
CREATE TABLE sandbox_cards (
    token       text PRIMARY KEY,
    behaviour   text NOT NULL CHECK (behaviour IN ('success', 'decline', 'insufficient_funds', 'timeout')),
    brand       text NOT NULL,
    last4       text NOT NULL,
    exp_month   integer NOT NULL,
    exp_year    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Before payment methods the sandbox recorded the token it was given, which could be a raw
-- test card number: keep only its last four digits.
UPDATE sandbox_authorizations SET token = 'card_' || right(token, 4) WHERE token ~ '^[0-9 -]{12,23}$';
