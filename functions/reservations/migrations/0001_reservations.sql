-- Reservations. PostgreSQL itself guarantees that no vehicle is booked twice for overlapping
-- periods: the exclusion constraint below covers every blocking state (a pending hold, a
-- confirmed booking, a rental under way), whatever code path — or manual INSERT — writes.
-- Periods are half-open '[)', so a booking that ends at 10:00 and the next one that starts
-- at 10:00 do not overlap.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE reservations.reservations (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id            uuid NOT NULL,
    -- customer_email is a copy made at booking, for the public lookup by id + email.
    customer_email         text NOT NULL DEFAULT '',
    vehicle_id             uuid NOT NULL,
    category               text NOT NULL CHECK (category IN ('KLEIN', 'KOMPAKT', 'MITTEL', 'OBER', 'SUV', 'KOMBI', 'TRANS', 'LUXUS')),
    pickup_location        text NOT NULL CHECK (pickup_location ~ '^[A-Z]{3}-[A-Z0-9]{2,4}$'),
    return_location        text NOT NULL CHECK (return_location ~ '^[A-Z]{3}-[A-Z0-9]{2,4}$'),
    pickup_at              timestamptz NOT NULL,
    return_at              timestamptz NOT NULL,
    period                 tstzrange GENERATED ALWAYS AS (tstzrange(pickup_at, return_at, '[)')) STORED,
    status                 text NOT NULL DEFAULT 'pending'
                           CHECK (status IN ('pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired', 'no_show')),
    hold_expires_at        timestamptz,
    total_gross_cents      bigint NOT NULL CHECK (total_gross_cents >= 0),
    daily_rate_gross_cents bigint NOT NULL DEFAULT 0 CHECK (daily_rate_gross_cents >= 0),
    currency               text NOT NULL DEFAULT 'EUR' CHECK (currency ~ '^[A-Z]{3}$'),
    payment_token          text NOT NULL DEFAULT '',
    cancel_reason          text NOT NULL DEFAULT '',
    fee_cents              bigint NOT NULL DEFAULT 0 CHECK (fee_cents >= 0),
    late_fee_cents         bigint NOT NULL DEFAULT 0 CHECK (late_fee_cents >= 0),
    activated_at           timestamptz,
    completed_at           timestamptz,
    cancelled_at           timestamptz,
    version                integer NOT NULL DEFAULT 1,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reservations_period_order CHECK (return_at > pickup_at),
    CONSTRAINT reservations_max_90_days CHECK (return_at - pickup_at <= interval '90 days'),
    CONSTRAINT reservations_hold CHECK (status <> 'pending' OR hold_expires_at IS NOT NULL),
    CONSTRAINT reservations_no_double_booking EXCLUDE USING gist (vehicle_id WITH =, period WITH &&)
        WHERE (status IN ('pending', 'confirmed', 'active'))
);

CREATE INDEX reservations_customer_idx ON reservations.reservations (customer_id, pickup_at);
CREATE INDEX reservations_status_idx ON reservations.reservations (status, pickup_at);
CREATE INDEX reservations_hold_idx ON reservations.reservations (hold_expires_at) WHERE status = 'pending';
