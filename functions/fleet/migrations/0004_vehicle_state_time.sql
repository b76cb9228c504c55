-- When a car's status, and when its branch, last changed, as the time of the fact that
-- changed it: the transaction's now() for a change through the API (a fleet manager's), the
-- event's time for a change a reservation event made (a pickup, a return). A reservation event
-- changes the status (the branch) only if it is at least as new as the status (the branch), so
-- a late return never overwrites what happened to the car after it — a workshop visit, a move,
-- the next rental: docs/fleet.md, "Reservation events". Existing cars start from updated_at.
ALTER TABLE fleet.vehicles ADD COLUMN status_changed_at timestamptz, ADD COLUMN location_changed_at timestamptz;
UPDATE fleet.vehicles SET status_changed_at = updated_at, location_changed_at = updated_at;
ALTER TABLE fleet.vehicles
    ALTER COLUMN status_changed_at SET NOT NULL, ALTER COLUMN status_changed_at SET DEFAULT now(),
    ALTER COLUMN location_changed_at SET NOT NULL, ALTER COLUMN location_changed_at SET DEFAULT now();

-- A rented car stays at its branch while it is rented. Two facts recorded from reservation
-- events may still put it elsewhere: the return itself (rented → available, in the same
-- UPDATE: a one-way rental ends at its return branch), and the next renter's pickup at
-- another branch when the previous rental's return has not arrived yet (events keep no
-- order). The event receiver says so for its own transaction (fleet.recording_handover).
CREATE OR REPLACE FUNCTION fleet.vehicle_rules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> OLD.status AND NOT EXISTS (
        SELECT 1 FROM fleet.status_transitions t WHERE t.from_status = OLD.status AND t.to_status = NEW.status
    ) THEN
        RAISE EXCEPTION 'vehicle %: status % cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.location_code <> OLD.location_code AND OLD.status = 'rented' AND NEW.status = 'rented'
       AND current_setting('fleet.recording_handover', true) IS DISTINCT FROM 'on' THEN
        RAISE EXCEPTION 'vehicle %: a rented vehicle cannot be moved', OLD.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;
