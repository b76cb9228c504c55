-- report-worker's read model (issue 15, docs/reports.md). Nothing personal: no customer
-- ids, names or addresses are kept — not even in the raw log, which keeps only the fields
-- the model reads.

-- events is the raw log: every applied event, its payload reduced to what the model reads.
-- A rebuild truncates the model tables and re-applies these rows in any order.
CREATE TABLE reports.events (
    source   text NOT NULL,
    id       text NOT NULL,
    type     text NOT NULL,
    -- at is the event's time attribute (its receipt time when it had none): lead times,
    -- fleet entry and cancellation dates read it, so a replay must see the same value.
    at       timestamptz NOT NULL,
    payload  jsonb NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    PRIMARY KEY (source, id)
);

-- reservations: one row per booking, from the newest version seen.
CREATE TABLE reports.reservations (
    reservation_id text PRIMARY KEY,
    version        bigint NOT NULL,
    branch         text NOT NULL,
    return_branch  text NOT NULL,
    category       text NOT NULL,
    pickup_at      timestamptz NOT NULL,
    return_at      timestamptz NOT NULL,
    status         text NOT NULL,
    -- booked_at: the earliest event time of the booking (its created event's, whatever order
    -- the events came in).
    booked_at      timestamptz NOT NULL,
    -- ended_at: the time of the event that cancelled it, marked it a no-show or expired it.
    ended_at       timestamptz,
    fee_cents      bigint NOT NULL DEFAULT 0
);
CREATE INDEX reservations_pickup_idx ON reports.reservations (pickup_at);

-- invoices: the billed amounts (revenue), newest version per invoice.
CREATE TABLE reports.invoices (
    invoice_id     text PRIMARY KEY,
    version        bigint NOT NULL,
    reservation_id text NOT NULL,
    kind           text NOT NULL,
    net_cents      bigint NOT NULL,
    vat_cents      bigint NOT NULL,
    gross_cents    bigint NOT NULL,
    issued_at      timestamptz NOT NULL
);
CREATE INDEX invoices_reservation_idx ON reports.invoices (reservation_id);

-- payments: captured, charged and refunded money per payment, newest version (cash view;
-- the revenue figures follow the invoices).
CREATE TABLE reports.payments (
    payment_id     text PRIMARY KEY,
    version        bigint NOT NULL,
    reservation_id text NOT NULL,
    status         text NOT NULL,
    amount_cents   bigint NOT NULL,
    at             timestamptz NOT NULL
);

-- vehicles: every car any vehicle event named; in the fleet from its earliest event to the
-- event that took it out of service for good (in_fleet_to), at its newest branch/category.
CREATE TABLE reports.vehicles (
    vehicle_id    text PRIMARY KEY,
    version       bigint NOT NULL,
    branch        text NOT NULL,
    category      text NOT NULL,
    status        text NOT NULL,
    in_fleet_from timestamptz NOT NULL,
    in_fleet_to   timestamptz
);

-- frozen: the monthly reports frozen by the PingSource, never recomputed afterwards.
CREATE TABLE reports.frozen (
    month     date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    frozen_at timestamptz NOT NULL DEFAULT now(),
    event_id  text NOT NULL,
    report    jsonb NOT NULL
);
