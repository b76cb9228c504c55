-- sync-worker's schema: outbound webhooks (subscriptions, their delivery queue and log) and
-- the inbound CloudEvents of partners (docs/webhooks.md, docs/inbound-events.md).

-- A partner's webhook endpoint and the event types it wants. The secret is the Standard
-- Webhooks signing key ("whsec_" + base64); the API shows it once, at creation.
CREATE TABLE subscriptions (
    id                   uuid PRIMARY KEY,
    url                  text NOT NULL CHECK (url <> ''),
    types                text[] NOT NULL CHECK (cardinality(types) > 0),
    description          text NOT NULL DEFAULT '',
    secret               text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    -- Why it is disabled: 'failures' (automatic) or 'admin'.
    disabled_reason      text CHECK ((status = 'disabled') = (disabled_reason IS NOT NULL)),
    -- Failed attempts since the last success; reaching the threshold disables it.
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    -- When the failures in a row began (the first failed attempt after a success); NULL
    -- while none failed. Disabling needs both enough failures and enough time failing.
    failing_since        timestamptz CHECK ((consecutive_failures = 0) = (failing_since IS NULL)),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX subscriptions_types_idx ON subscriptions USING gin (types) WHERE status = 'active';

-- The queue and the log in one: one row per event per subscription. Its id is the webhook's
-- message id (webhook-id), the same on every attempt, so a receiver can dedupe. The payload
-- is the webhook body as sent: the event's data without personal fields.
CREATE TABLE deliveries (
    id              uuid PRIMARY KEY,
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    event_source    text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- Attempts left before the delivery fails for good (a replay grants one more).
    tries_left      integer NOT NULL CHECK (tries_left >= 0),
    -- When the sender may take it next; a sender that claims it moves this past its lease,
    -- so a crash mid-attempt only delays the attempt.
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (subscription_id, event_source, event_id)
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, created_at DESC);

-- Every attempt: when, the answer's status (none when no answer came), how long, what went
-- wrong. Never the bodies.
CREATE TABLE attempts (
    delivery_id uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     integer NOT NULL CHECK (attempt >= 1),
    at          timestamptz NOT NULL DEFAULT now(),
    status_code integer,
    duration_ms integer NOT NULL CHECK (duration_ms >= 0),
    error       text NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

-- Partners (OAuth client ids with the partner role) and the inbound types each may send.
CREATE TABLE partners (
    client_id  text PRIMARY KEY CHECK (client_id <> ''),
    types      text[] NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The inbound events taken, per partner: a second event with the same (source, id) from the
-- same partner is a duplicate and is published no second time. event_id is the id it has
-- on the Broker.
CREATE TABLE inbound (
    partner     text NOT NULL,
    source      text NOT NULL,
    id          text NOT NULL,
    type        text NOT NULL,
    event_id    uuid NOT NULL UNIQUE,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (partner, source, id)
);
