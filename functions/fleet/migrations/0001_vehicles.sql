-- Vehicles. The schema holds every rule a row must satisfy, so neither a code path nor a
-- manual INSERT can store a malformed plate, an unknown category or an impossible seat count.
CREATE TABLE fleet.vehicles (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100 AND name = btrim(name)),
    category             text NOT NULL CHECK (category IN ('KLEIN', 'KOMPAKT', 'MITTEL', 'OBER', 'SUV', 'KOMBI', 'TRANS', 'LUXUS')),
    location_code        text NOT NULL CHECK (location_code ~ '^[A-Z]{3}-[A-Z0-9]{2,4}$'),
    seats                smallint NOT NULL CHECK (seats BETWEEN 2 AND 9),
    fuel                 text NOT NULL CHECK (fuel IN ('petrol', 'diesel', 'electric', 'hybrid', 'plug_in_hybrid', 'hydrogen')),
    transmission         text NOT NULL CHECK (transmission IN ('manual', 'automatic')),
    -- German plate in its written form "B-OC 1001": area code (1-3 letters), recognition
    -- letters (1-2), number (1-4 digits, no leading zero), optional E (electric) or H
    -- (historic) suffix; at most 8 characters besides separators and suffix. Unique: one
    -- plate, one car.
    licence_plate        text NOT NULL UNIQUE
        CHECK (licence_plate ~ '^[A-ZÄÖÜ]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}[EH]?$'
           AND length(regexp_replace(licence_plate, '[- ]|[EH]$', '', 'g')) <= 8),
    status               text NOT NULL DEFAULT 'available'
        CHECK (status IN ('available', 'reserved', 'rented', 'maintenance', 'out_of_service')),
    -- Per-vehicle net daily rate in euro cents; NULL means the category policy of pricing.
    daily_rate_net_cents bigint CHECK (daily_rate_net_cents BETWEEN 100 AND 1000000),
    version              bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- The availability search starts from one branch.
CREATE INDEX vehicles_location_idx ON fleet.vehicles (location_code, category);

-- The status changes a vehicle may make. Setting the status a vehicle already has is a no-op
-- and needs no row. The API's conditional UPDATE reads this table, and so does the trigger
-- below, so one table is the rule for both.
CREATE TABLE fleet.status_transitions (
    from_status text NOT NULL CHECK (from_status IN ('available', 'reserved', 'rented', 'maintenance', 'out_of_service')),
    to_status   text NOT NULL CHECK (to_status IN ('available', 'reserved', 'rented', 'maintenance', 'out_of_service')),
    PRIMARY KEY (from_status, to_status),
    CHECK (from_status <> to_status)
);

INSERT INTO fleet.status_transitions (from_status, to_status) VALUES
    -- a free car can be set aside for a pickup, handed over, serviced or taken off the road
    ('available', 'reserved'), ('available', 'rented'), ('available', 'maintenance'), ('available', 'out_of_service'),
    -- a set-aside car is released, picked up, or found damaged before pickup
    ('reserved', 'available'), ('reserved', 'rented'), ('reserved', 'maintenance'), ('reserved', 'out_of_service'),
    -- a rented car only comes back: it is with a customer until returned
    ('rented', 'available'),
    -- out of the workshop it is free again, or written off
    ('maintenance', 'available'), ('maintenance', 'out_of_service'),
    -- a car off the road comes back, or goes to the workshop first
    ('out_of_service', 'available'), ('out_of_service', 'maintenance');

-- The same rules for any UPDATE, also one that bypasses the API: a status change must be in
-- the table above, and a rented car stays at its branch until it is returned.
CREATE FUNCTION fleet.vehicle_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM fleet.status_transitions t WHERE t.from_status = OLD.status AND t.to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'vehicle %: status % cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.location_code <> OLD.location_code AND OLD.status = 'rented' THEN
        RAISE EXCEPTION 'vehicle %: a rented vehicle cannot be moved', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER vehicles_rules BEFORE UPDATE ON fleet.vehicles
    FOR EACH ROW EXECUTE FUNCTION fleet.vehicle_rules();
