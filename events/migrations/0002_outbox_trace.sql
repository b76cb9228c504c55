-- The trace context of the work that recorded an event (W3C traceparent and tracestate),
-- written in the same transaction as the event: the relay publishes it as the CloudEvents
-- distributed-tracing extension, so a retry, a redelivery or a replay keeps its parent.
-- NULL for events recorded outside any trace (and for every event recorded before).
ALTER TABLE outbox ADD COLUMN traceparent text, ADD COLUMN tracestate text;
