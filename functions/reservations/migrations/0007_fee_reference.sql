-- What a fee is measured against once a booking has been changed (issue 13, docs/reservations.md
-- "Changing a booking"). Without these, moving a confirmed booking's pickup far ahead and
-- then cancelling (or shortening) it cost nothing however close the original pickup was,
-- and every re-change of a changed booking shrank the change fee already incurred.
--
-- * fee_pickup_at: the earliest pickup the booking had while confirmed — the cancellation
--   and change fees are timed from it; NULL: the pickup itself (never changed while
--   confirmed). A pending hold's changes reset it: nothing was authorized yet.
-- * change_fee_gross_cents: the change fee the booking carries (its CHANGE_FEE line, gross);
--   a later change never lowers it.
ALTER TABLE reservations.reservations
    ADD COLUMN fee_pickup_at timestamptz,
    ADD COLUMN change_fee_gross_cents bigint NOT NULL DEFAULT 0 CHECK (change_fee_gross_cents >= 0);
