-- The payments schema. The state machine of a payment is enforced by conditional UPDATEs in
-- store.go and by the CHECK constraints below.
--
--   authorized → captured → partially_refunded → refunded
--   authorized → voided
--   (none)     → failed → (re-authorize replaces the failed attempt) authorized
--
-- Capture tolerance: a capture may exceed the authorization by at most 15 % (late return,
-- extras), as card networks allow car rental merchants; anything beyond is recorded as
-- outstanding_cents and must be collected by a separate charge.
CREATE TABLE payments (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reservation_id          uuid NOT NULL UNIQUE,
    customer_id             uuid NOT NULL,
    currency                text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    status                  text NOT NULL CHECK (status IN ('authorized', 'captured', 'partially_refunded', 'refunded', 'voided', 'failed')),
    authorized_cents        bigint NOT NULL CHECK (authorized_cents > 0),
    captured_cents          bigint NOT NULL DEFAULT 0 CHECK (captured_cents >= 0),
    refunded_cents          bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0),
    outstanding_cents       bigint NOT NULL DEFAULT 0 CHECK (outstanding_cents >= 0),
    provider                text NOT NULL,
    provider_authorization  text,
    failure_reason          text,
    version                 integer NOT NULL DEFAULT 1,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_within_capture CHECK (refunded_cents <= captured_cents),
    CONSTRAINT capture_within_tolerance CHECK (captured_cents * 100 <= authorized_cents * 115),
    CONSTRAINT authorized_has_reference CHECK (status = 'failed' OR provider_authorization IS NOT NULL),
    CONSTRAINT refunded_states CHECK (status <> 'refunded' OR refunded_cents = captured_cents)
);
CREATE INDEX payments_customer_idx ON payments (customer_id);

-- Invoice numbers: one counter row per year, incremented in the same transaction as the
-- invoice insert. The row lock serializes issuers; a rollback gives the number back.
CREATE TABLE invoice_counters (
    year integer PRIMARY KEY,
    last bigint NOT NULL CHECK (last > 0)
);

CREATE TABLE invoices (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    number         text NOT NULL UNIQUE,
    year           integer NOT NULL,
    seq            bigint NOT NULL,
    reservation_id uuid NOT NULL UNIQUE,
    payment_id     uuid REFERENCES payments (id),
    customer_id    uuid NOT NULL,
    currency       text NOT NULL DEFAULT 'EUR',
    lines          jsonb NOT NULL,
    net_cents      bigint NOT NULL,
    vat_cents      bigint NOT NULL,
    gross_cents    bigint NOT NULL,
    version        integer NOT NULL DEFAULT 1,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (year, seq),
    CHECK (net_cents + vat_cents = gross_cents)
);
CREATE INDEX invoices_customer_idx ON invoices (customer_id, issued_at);

-- The sandbox payment provider's own books: what a real provider would keep on its side.
-- Tests count operations here. Written through the sandbox's own connection pool, never in
-- the payments transaction (a provider does not roll back with us).
CREATE TABLE sandbox_authorizations (
    ref              text PRIMARY KEY,
    token            text NOT NULL,
    amount_cents     bigint NOT NULL,
    captured_cents   bigint NOT NULL DEFAULT 0,
    refunded_cents   bigint NOT NULL DEFAULT 0,
    status           text NOT NULL CHECK (status IN ('authorized', 'captured', 'voided')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (refunded_cents <= captured_cents)
);

CREATE TABLE sandbox_operations (
    seq              bigserial PRIMARY KEY,
    idempotency_key  text NOT NULL UNIQUE,
    operation        text NOT NULL CHECK (operation IN ('authorize', 'capture', 'void', 'refund')),
    authorization_ref text,
    amount_cents     bigint NOT NULL DEFAULT 0,
    released_cents   bigint NOT NULL DEFAULT 0,
    outcome          text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
