-- A refund may reach what the second charge (payment.charged) collected, not only the
-- capture: a payment is refunded in full when both are.
ALTER TABLE payments DROP CONSTRAINT refunds_within_capture;
ALTER TABLE payments ADD CONSTRAINT refunds_within_collected CHECK (refunded_cents <= captured_cents + charged_cents);
ALTER TABLE payments DROP CONSTRAINT refunded_states;
ALTER TABLE payments ADD CONSTRAINT refunded_states CHECK (status <> 'refunded' OR refunded_cents = captured_cents + charged_cents);
