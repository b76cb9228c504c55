-- Rate policies: a net daily rate per vehicle category, at one branch (location_code) or at
-- every branch (NULL), valid over [valid_from, valid_to) (valid_to NULL: no end). The schema
-- holds every rule a row must satisfy, so neither a code path nor a manual INSERT can store
-- a malformed code, a non-positive rate or an empty window.
--
-- btree_gist lets one GiST index combine equality on text with overlap on ranges: the
-- exclusion constraint below makes two overlapping active policies for the same category
-- and branch impossible, whatever the application does. It is a trusted extension (a
-- database owner may create it) and is shared by every schema that needs it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE pricing.rate_policies (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    category             text NOT NULL
        CHECK (category IN ('KLEIN', 'KOMPAKT', 'MITTEL', 'OBER', 'SUV', 'KOMBI', 'TRANS', 'LUXUS')),
    location_code        text CHECK (location_code ~ '^[A-Z]{3}-[A-Z0-9]{2,4}$'),
    daily_rate_net_cents bigint NOT NULL CHECK (daily_rate_net_cents BETWEEN 1 AND 1000000),
    valid_from           timestamptz NOT NULL,
    valid_to             timestamptz,
    validity             tstzrange NOT NULL GENERATED ALWAYS AS (tstzrange(valid_from, valid_to, '[)')) STORED,
    active               boolean NOT NULL DEFAULT true,
    version              integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    deactivated_at       timestamptz,
    CONSTRAINT rate_policies_window CHECK (valid_to IS NULL OR valid_to > valid_from),
    CONSTRAINT rate_policies_deactivation CHECK (active = (deactivated_at IS NULL)),
    -- At most one active policy per (category, branch) at any instant. coalesce folds the
    -- general policies (NULL branch) into one key, since NULL = NULL is never true.
    CONSTRAINT rate_policies_no_overlap EXCLUDE USING gist (
        category WITH =,
        (coalesce(location_code, '')) WITH =,
        validity WITH &&
    ) WHERE (active)
);

-- The exclusion constraint's index also serves the price lookup (category, branch, instant).
CREATE INDEX rate_policies_list_idx ON pricing.rate_policies (category, location_code, valid_from);
