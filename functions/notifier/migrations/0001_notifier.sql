-- The notification worker's own read model of customers (who gets mail, in which language)
-- and its log of every notification, which is also the queue of the background sender.

-- Recipients, kept from customer.registered/updated/erased. Brokers keep no order, so a row
-- only ever moves to a newer version. Erasure keeps a tombstone (no personal data, erased_at
-- set) so that an older event arriving later cannot bring the data back.
CREATE TABLE notifier.recipients (
    customer_id uuid PRIMARY KEY,
    version     bigint NOT NULL CHECK (version >= 0),
    email       text,
    first_name  text,
    last_name   text,
    language    text NOT NULL DEFAULT 'de' CHECK (language IN ('de', 'en')),
    erased_at   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (erased_at IS NOT NULL OR email IS NOT NULL),
    CHECK (erased_at IS NULL OR (email IS NULL AND first_name IS NULL AND last_name IS NULL))
);

-- One row per event that asks for mail, written in the receiver's transaction (the one that
-- also writes the inbox), so a redelivered event never makes a second row. The sender picks
-- due pending rows, sends them and marks them sent; a failure is recorded and retried with
-- backoff until it is sent or given up (failed).
CREATE TABLE notifier.notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_source    text NOT NULL,
    event_id        text NOT NULL,
    type            text NOT NULL,
    customer_id     uuid NOT NULL,
    recipient       text NOT NULL,
    recipient_name  text NOT NULL DEFAULT '',
    language        text NOT NULL CHECK (language IN ('de', 'en')),
    subject         text NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    -- CloudEvents identify an event by (source, id).
    UNIQUE (event_source, event_id),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX notifications_due_idx ON notifier.notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_customer_idx ON notifier.notifications (customer_id);
