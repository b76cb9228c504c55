-- At the counter (issue 13, docs/counter.md). The handover records the car's odometer (km)
-- and fuel level (eighths of a tank, 0 empty … 8 full); the return records them again, the
-- staff's damage notes and the return charges pricing-api computed from the two fuel
-- levels (net lines as pricing quoted them, reservation.completed carries them). NULL:
-- not recorded (a booking picked up or returned before this migration).
--
-- The damage notes are a staff note about the car, bounded, shown to staff only and never
-- put in an event.
ALTER TABLE reservations.reservations
    ADD COLUMN pickup_odometer_km  integer CHECK (pickup_odometer_km >= 0),
    ADD COLUMN pickup_fuel_eighths smallint CHECK (pickup_fuel_eighths BETWEEN 0 AND 8),
    ADD COLUMN return_odometer_km  integer CHECK (return_odometer_km >= 0),
    ADD COLUMN return_fuel_eighths smallint CHECK (return_fuel_eighths BETWEEN 0 AND 8),
    ADD COLUMN damage_notes        text NOT NULL DEFAULT '' CHECK (char_length(damage_notes) <= 2000),
    ADD COLUMN return_charges      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(return_charges) = 'array'),
    -- A car does not lose kilometres during a rental.
    ADD CONSTRAINT reservations_odometer_order CHECK (return_odometer_km >= pickup_odometer_km);
