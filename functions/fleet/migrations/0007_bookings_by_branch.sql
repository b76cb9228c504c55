-- A branch's blocked cars in one index range (issue 19; docs/fleet.md, "At scale"): the search
-- asked bookings_blocking_idx once per candidate car (200 probes for a busy branch: most of a
-- search's PostgreSQL time). Each booking now carries its car's branch, so the bookings that
-- block a period at a branch are one scan of a GiST index on (branch, period).
--
-- The branch is the car's, kept in step by triggers whatever writes it — a booking's arrival
-- (ApplyBooking), a move through the API, a return at another branch (handover) — so a
-- search can never miss a booking because of where it was recorded:
--   * a booking written takes its car's branch, reading the car FOR SHARE: a concurrent move
--     of that car waits for the booking to commit (and then moves it too) or commits first
--     (and the booking reads the new branch);
--   * a car that changes branch takes its bookings along, in the same transaction.
ALTER TABLE fleet.bookings ADD COLUMN location_code text;
UPDATE fleet.bookings b SET location_code = v.location_code FROM fleet.vehicles v WHERE v.id = b.vehicle_id;
ALTER TABLE fleet.bookings ALTER COLUMN location_code SET NOT NULL;

CREATE FUNCTION fleet.booking_branch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.vehicle_id IS DISTINCT FROM OLD.vehicle_id OR NEW.location_code IS NULL THEN
        SELECT v.location_code INTO NEW.location_code FROM fleet.vehicles v WHERE v.id = NEW.vehicle_id FOR SHARE;
        IF NOT FOUND THEN
            NEW.location_code := ''; -- no such car: the foreign key refuses the row, as before
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER booking_branch BEFORE INSERT OR UPDATE ON fleet.bookings
    FOR EACH ROW EXECUTE FUNCTION fleet.booking_branch();

CREATE FUNCTION fleet.vehicle_branch_to_bookings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fleet.bookings SET location_code = NEW.location_code
    WHERE vehicle_id = NEW.id AND location_code IS DISTINCT FROM NEW.location_code;
    RETURN NULL;
END $$;
CREATE TRIGGER vehicle_branch_to_bookings AFTER UPDATE OF location_code ON fleet.vehicles
    FOR EACH ROW WHEN (OLD.location_code IS DISTINCT FROM NEW.location_code)
    EXECUTE FUNCTION fleet.vehicle_branch_to_bookings();

-- btree_gist gives GiST the equality on text; the period's overlap is GiST's own. Only the
-- blocking bookings, with the car, so the search reads the index alone.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE INDEX bookings_branch_blocking_idx ON fleet.bookings USING gist (location_code, period)
    INCLUDE (vehicle_id) WHERE blocking;
