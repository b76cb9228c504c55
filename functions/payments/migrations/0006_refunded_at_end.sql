-- What the booking's end refunded of a payment (docs/payments.md, "By hand and the booking's
-- end"): the part of a capture by hand beyond the bill. It is told apart from a refund an
-- agent made by hand (goodwill, which stays), so that the excess is what the capture and the
-- second charge took beyond the bill, whatever was refunded by hand, and a copy of the end's
-- event refunds nothing more.
ALTER TABLE payments.payments ADD COLUMN refunded_at_end_cents bigint NOT NULL DEFAULT 0 CHECK (refunded_at_end_cents >= 0);
