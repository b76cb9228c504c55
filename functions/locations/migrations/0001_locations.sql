-- Branches. The schema itself holds the rules a row must satisfy, so no code path (nor a
-- manual INSERT) can store a malformed code or postal code.
CREATE TABLE locations.locations (
    code          text PRIMARY KEY CHECK (code ~ '^[A-Z]{3}-[A-Z0-9]{2,4}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    street        text NOT NULL CHECK (length(street) BETWEEN 1 AND 200),
    postal_code   text NOT NULL,
    city          text NOT NULL CHECK (length(city) BETWEEN 1 AND 100),
    country       text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
    latitude      double precision CHECK (latitude BETWEEN -90 AND 90),
    longitude     double precision CHECK (longitude BETWEEN -180 AND 180),
    phone         text NOT NULL DEFAULT '',
    email         text NOT NULL DEFAULT '',
    time_zone     text NOT NULL DEFAULT 'Europe/Berlin',
    opening_hours jsonb NOT NULL DEFAULT '[]',
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed', 'maintenance')),
    version       integer NOT NULL DEFAULT 1,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (country <> 'DE' OR postal_code ~ '^[0-9]{5}$'),
    CHECK ((latitude IS NULL) = (longitude IS NULL))
);

CREATE INDEX locations_city_idx ON locations.locations (lower(city));
