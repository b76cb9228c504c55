-- Two process types over one schema (design.md §1): notification-worker sends, and
-- notifications-api records what people ask for (a resend, a message to a customer) as
-- pending rows the worker sends. A second channel, SMS, and each customer's choice of
-- channels.

-- The mobile number customer events carry; erased with the rest of the personal data.
ALTER TABLE notifier.recipients ADD COLUMN phone text;
ALTER TABLE notifier.recipients ADD CONSTRAINT recipients_erased_phone_check
    CHECK (erased_at IS NULL OR phone IS NULL);

-- channel: how the row is sent (recipient is an address for email, an E.164 number for
-- sms; an SMS has no subject). reservation_id: the booking a notification is about, for
-- the history's filter. requested_by: the subject of the person who asked through
-- notifications-api (NULL: an event asked). resend_of: the notification a resend repeats.
ALTER TABLE notifier.notifications
    ADD COLUMN channel text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms')),
    ADD COLUMN reservation_id uuid,
    ADD COLUMN requested_by text,
    ADD COLUMN resend_of uuid REFERENCES notifier.notifications (id) ON DELETE SET NULL;

-- One event may now ask for one notification per channel (a pickup reminder by mail and
-- by SMS); still never two of one channel, under any redelivery.
ALTER TABLE notifier.notifications DROP CONSTRAINT notifications_event_source_event_id_key;
ALTER TABLE notifier.notifications ADD CONSTRAINT notifications_event_channel_key
    UNIQUE (event_source, event_id, channel);

CREATE INDEX notifications_reservation_idx ON notifier.notifications (reservation_id)
    WHERE reservation_id IS NOT NULL;
CREATE INDEX notifications_created_idx ON notifier.notifications (created_at DESC, id);

-- A customer's channels for messages they may choose how to get (pickup reminders). Mail
-- that records a transaction (confirmation, cancellation, invoice, receipts) always goes
-- by email. No row: the defaults, email only. Deleted on erasure.
CREATE TABLE notifier.preferences (
    customer_id uuid PRIMARY KEY,
    email       boolean NOT NULL DEFAULT true,
    sms         boolean NOT NULL DEFAULT false,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
