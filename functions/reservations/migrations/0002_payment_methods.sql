-- No card data outside payments (issue 11, design.md §9). A booking names its card by the
-- payment method payments-api made of it (pm_ + 32 hex digits), never by a card number or a
-- provider token; the column that held whatever a booker sent as paymentToken — raw test
-- card numbers included — goes, and so does its copy in the reservation.created events kept
-- in the outbox.
ALTER TABLE reservations.reservations
    ADD COLUMN payment_method_id text NOT NULL DEFAULT ''
        CONSTRAINT reservations_payment_method CHECK (payment_method_id = '' OR payment_method_id ~ '^pm_[0-9a-f]{32}$');
ALTER TABLE reservations.reservations DROP COLUMN payment_token;

-- The outbox is created after this schema's own migrations (a database that has it is one
-- that took bookings before).
DO $$
BEGIN
    IF to_regclass('reservations.outbox') IS NOT NULL THEN
        UPDATE reservations.outbox SET data = data - 'paymentToken' WHERE data ? 'paymentToken';
    END IF;
END
$$;
