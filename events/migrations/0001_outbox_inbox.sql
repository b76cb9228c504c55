-- The outbox and inbox of one function, created in that function's schema (the migration
-- runs with it first on the search_path).

-- Events recorded in the same transaction as the state change they describe. The relay
-- publishes them in seq order per aggregate and sets published_at only after the broker
-- accepted them.
CREATE TABLE outbox (
    seq             bigserial PRIMARY KEY,
    id              uuid NOT NULL UNIQUE,
    type            text NOT NULL,
    source          text NOT NULL,
    subject         text NOT NULL,
    time            timestamptz NOT NULL,
    data            jsonb NOT NULL,
    published_at    timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE published_at IS NULL;
CREATE INDEX outbox_pending_subject_idx ON outbox (subject, seq) WHERE published_at IS NULL;

-- Events this function has processed, recorded in the same transaction as their effect:
-- a redelivery finds its (source, id) here and changes nothing.
CREATE TABLE inbox (
    source      text NOT NULL,
    id          text NOT NULL,
    type        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, id)
);
