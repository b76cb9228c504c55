-- What producers outside the system say about a car (issue 15): telematics readings and a
-- partner garage's damage reports and repairs, applied by the vehicle.* inbound events
-- (functions/fleet/telematics.go; docs/fleet.md, "Telematics, damage and repairs"). Each
-- reading keeps the time it was taken: a reading is applied only if it was taken after the
-- one stored, so late and redelivered readings change nothing. Readings are not edits of
-- the car's record: they leave version and updated_at alone (a fleet manager's If-Match
-- stays valid while the car drives).
ALTER TABLE fleet.vehicles
    ADD COLUMN odometer_km         bigint CHECK (odometer_km BETWEEN 0 AND 2000000),
    ADD COLUMN odometer_read_at    timestamptz,
    ADD COLUMN fuel_eighths        smallint CHECK (fuel_eighths BETWEEN 0 AND 8),
    ADD COLUMN fuel_read_at        timestamptz,
    ADD COLUMN latitude            double precision CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude           double precision CHECK (longitude BETWEEN -180 AND 180),
    ADD COLUMN position_read_at    timestamptz,
    -- The newest damage report not yet followed by a repair, and the worst severity of the
    -- reports since the last repair.
    ADD COLUMN damage_reported_at  timestamptz,
    ADD COLUMN damage_severity     text CHECK (damage_severity IN ('minor', 'major', 'total_loss')),
    -- When the garage last completed a repair: a damage report from before it is history.
    ADD COLUMN repair_completed_at timestamptz,
    -- Damage was reported while the car was with a customer or set aside for one: the next
    -- time it would become available (its return, a release) it goes to the workshop.
    ADD COLUMN maintenance_due     boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT vehicles_reading_times CHECK (
        (odometer_km IS NULL) = (odometer_read_at IS NULL) AND (fuel_eighths IS NULL) = (fuel_read_at IS NULL)
        AND (latitude IS NULL) = (position_read_at IS NULL) AND (longitude IS NULL) = (position_read_at IS NULL)
        AND (damage_severity IS NULL) = (damage_reported_at IS NULL));

-- A car that reaches the workshop or leaves the road, however it got there (a return, a
-- fleet manager, a damage report), no longer owes the workshop a visit.
CREATE FUNCTION fleet.clear_maintenance_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IN ('maintenance', 'out_of_service') THEN
        NEW.maintenance_due := false;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER vehicles_clear_maintenance_due BEFORE UPDATE ON fleet.vehicles
    FOR EACH ROW EXECUTE FUNCTION fleet.clear_maintenance_due();
