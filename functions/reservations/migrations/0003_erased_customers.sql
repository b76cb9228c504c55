-- GDPR erasure (issue 11, design.md §9). On customer.erased, reservations removes what it
-- copied of the person — the email kept for the public lookup, the free-text reasons a
-- customer or an agent gave when cancelling — and records the customer here: a booking for
-- an erased customer that was in flight during the erasure is refused when it commits (both
-- take the customer's transaction lock), so nothing personal comes back after the erasure.
-- The bookings themselves, their ids and the customer id stay: payments and invoices refer
-- to them.
CREATE TABLE reservations.erased_customers (
    customer_id uuid PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
