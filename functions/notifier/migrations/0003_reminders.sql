-- Pickup reminders (notification-worker). One row per booking the worker has heard of from
-- reservation.confirmed / changed / cancelled / expired / no_show / activated / completed,
-- applied only when the event's version is newer than the row's (brokers keep no order: a
-- confirmed arriving after a newer change, or after the cancellation, must not bring an old
-- pickup time or a dropped reminder back). The row also remembers the booking's dates, so a
-- "booking changed" mail can show the old ones next to the new.
--
-- state:
--   waiting    the booking is not confirmed (a change while the hold runs): no reminder yet
--   scheduled  due at remind_at (24 h before pickup_at; later when a sweep had to retry)
--   queued     a sweep turned it into pending notifications (keyed by reservation and pickup
--              time, so a new pickup time is a new reminder and the same one never twice)
--   missed     it came due less than 2 h before the pickup (booked or changed late, or the
--              worker was down): no reminder then, it would only arrive with the customer
--   declined   the customer chose neither email nor SMS (notifier.preferences)
--   dropped    the booking was cancelled, expired, not picked up, or has started
-- Deleted with the customer's other data on customer.erased.
CREATE TABLE notifier.reminders (
    reservation_id  uuid PRIMARY KEY,
    version         bigint NOT NULL CHECK (version >= 0),
    customer_id     uuid NOT NULL,
    state           text NOT NULL CHECK (state IN ('waiting', 'scheduled', 'queued', 'missed', 'declined', 'dropped')),
    category        text NOT NULL DEFAULT '',
    pickup_location text NOT NULL DEFAULT '',
    pickup_at       timestamptz,
    return_at       timestamptz,
    remind_at       timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'scheduled' OR (pickup_at IS NOT NULL AND remind_at IS NOT NULL))
);
CREATE INDEX reminders_due_idx ON notifier.reminders (remind_at) WHERE state = 'scheduled';
CREATE INDEX reminders_customer_idx ON notifier.reminders (customer_id);
