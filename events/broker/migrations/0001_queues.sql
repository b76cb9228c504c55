-- The in-process broker's durable queues: one row per event per matching Trigger
-- (events/broker/durable.go). A row is deleted once its Trigger finished the event (acked,
-- dead-lettered or dropped per its delivery spec); until then it is claimed by one worker at
-- a time through its lease (visible_at), renewed while the delivery runs, so a process
-- killed mid-delivery leaves rows that become visible again when their lease runs out.
CREATE TABLE deliveries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger    text        NOT NULL,           -- namespace/name
    event      bytea       NOT NULL,           -- structured-mode CloudEvent JSON
    hops       int         NOT NULL CHECK (hops >= 0),
    attempts   int         NOT NULL DEFAULT 0, -- how many times a worker claimed it
    visible_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_claim ON deliveries (trigger, visible_at, id);
