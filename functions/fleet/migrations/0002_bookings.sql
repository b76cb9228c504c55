-- Fleet's own read model of bookings, fed by reservation events (functions never read each
-- other's tables). One row per reservation, holding the newest version seen: brokers keep
-- no order, so a change is applied only when its version is newer (see Store.ApplyBooking).
--
-- There is deliberately no exclusion constraint here: the reservations function enforces
-- "no two overlapping bookings of one vehicle"; a read model must accept whatever order the
-- events arrive in, and may briefly hold an overlap that the source never had.
CREATE TABLE fleet.bookings (
    reservation_id uuid PRIMARY KEY,
    vehicle_id     uuid NOT NULL REFERENCES fleet.vehicles (id),
    -- [pickup, return): a booking returning at 10:00 does not block a pickup at 10:00.
    period         tstzrange NOT NULL
        CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)
               AND lower_inc(period) AND NOT upper_inc(period)),
    status         text NOT NULL
        CHECK (status IN ('pending', 'confirmed', 'active', 'completed', 'cancelled', 'expired', 'no_show')),
    -- Whether the booking keeps the car from being offered: held, paid or picked up.
    blocking       boolean GENERATED ALWAYS AS (status IN ('pending', 'confirmed', 'active')) STORED,
    version        bigint NOT NULL CHECK (version >= 1),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX bookings_blocking_idx ON fleet.bookings (vehicle_id) WHERE blocking;
