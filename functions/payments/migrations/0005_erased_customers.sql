-- The customers erased (customer.erased): no payment method is bound to them from then on.
-- The broker keeps no order between Triggers, so an erasure may arrive before the
-- reservation.created of a booking made just before it; the authorization that would bind
-- the booking's card to the erased customer then finds this row and refuses.
CREATE TABLE erased_customers (
    customer_id uuid PRIMARY KEY,
    erased_at   timestamptz NOT NULL DEFAULT now()
);
