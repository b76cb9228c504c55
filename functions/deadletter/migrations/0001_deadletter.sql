-- The dead letters the Broker's Triggers could not deliver (docs/dead-letters.md).

-- One row per undeliverable event per Trigger: a redelivery of the same dead letter (the
-- same source, id and Trigger) finds its row. The event is kept whole (data included) so
-- that it can be replayed with its original id; the admin API shows it redacted.
CREATE TABLE letters (
    id                uuid PRIMARY KEY,
    trigger           text NOT NULL CHECK (trigger <> ''),
    event_id          text NOT NULL CHECK (event_id <> ''),
    source            text NOT NULL CHECK (source <> ''),
    type              text NOT NULL CHECK (type <> ''),
    subject           text NOT NULL DEFAULT '',
    time              timestamptz,
    content_type      text NOT NULL DEFAULT '',
    -- The event's other extensions (partitionkey, traceparent, …), not Knative's error ones.
    extensions        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(extensions) = 'object'),
    -- JSON data in data; anything else in data_bytes (never both).
    data              jsonb,
    data_bytes        bytea,
    -- Knative's error extensions of the last failure: where it failed, the status, and the
    -- subscriber's answer (base64, cut by Knative to 1024 characters).
    error_dest        text NOT NULL DEFAULT '',
    error_code        integer,
    error_data        text,
    received_at       timestamptz NOT NULL DEFAULT now(),
    -- How often the same event failed at this Trigger again after a replay.
    failures          integer NOT NULL DEFAULT 1 CHECK (failures >= 1),
    last_failed_at    timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL DEFAULT 'stored' CHECK (status IN ('stored', 'replayed', 'discarded')),
    replay_count      integer NOT NULL DEFAULT 0 CHECK (replay_count >= 0),
    replayed_at       timestamptz,
    replayed_by       text,
    discarded_at      timestamptz,
    discarded_by      text,
    UNIQUE (source, event_id, trigger),
    CHECK (data IS NULL OR data_bytes IS NULL),
    CHECK (status <> 'replayed' OR (replayed_at IS NOT NULL AND replay_count > 0)),
    CHECK ((status = 'discarded') = (discarded_at IS NOT NULL))
);
CREATE INDEX letters_received_idx ON letters (received_at DESC, id);
CREATE INDEX letters_status_idx ON letters (status, received_at DESC);
CREATE INDEX letters_type_idx ON letters (type, received_at DESC);
CREATE INDEX letters_trigger_idx ON letters (trigger, received_at DESC);
CREATE INDEX letters_customer_idx ON letters ((data->>'customerId'));
CREATE INDEX letters_subject_idx ON letters (subject);

-- Customers erased (customer.erased): a dead letter about one of them that arrives after the
-- erasure is stored already scrubbed.
CREATE TABLE erased_customers (
    customer_id text PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
