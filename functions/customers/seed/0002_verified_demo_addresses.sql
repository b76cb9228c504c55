-- The demo customers' addresses count as verified (customers migration 0002), so each still
-- shows the eligibility outcome it is there for. On a database seeded before that migration
-- it already marked them; on a fresh one the seed runs after it and this does.
UPDATE customers.customers SET email_verified_at = created_at
WHERE email_verified_at IS NULL AND status <> 'erased'
  AND (id IN ('11111111-1111-4111-8111-111111111111', '22222222-2222-4222-8222-222222222222')
       OR id::text LIKE 'c5000000-0000-4000-8000-0000000000__');
