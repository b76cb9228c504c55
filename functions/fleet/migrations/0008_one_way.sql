-- A one-way booking (returned at another branch) takes its car away from the branch the
-- search looks at: a search for a period after it must not offer the car there (booking it
-- is reservations-api's 409, the car's chain of bookings; docs/reservations.md). The bookings
-- read model keeps which bookings are one-way; the search leaves out a car with a blocking
-- one-way booking ending before the period it asks for. Few bookings are one-way, so their
-- partial index is small and the search reads it once (a hashed subplan).
ALTER TABLE fleet.bookings ADD COLUMN one_way boolean NOT NULL DEFAULT false;
CREATE INDEX bookings_one_way_idx ON fleet.bookings (vehicle_id, (upper(period))) WHERE blocking AND one_way;
