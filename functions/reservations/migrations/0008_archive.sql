-- The archive (issue 14, docs/cleanup.md). Bookings finished — completed, cancelled, expired,
-- no_show — longer than cleanup-worker's retention move here in small batches (archive.go),
-- so the live table, its exclusion constraint and its indexes only carry what can still
-- change. An archived booking is never changed again; it stays readable by id for whoever
-- could read it before (GET /api/reservations/{id}), an erasure scrubs it like a live one,
-- and its invoices in payments are not touched (the 10-year bookkeeping retention).
--
-- The columns are the live table's (LIKE, defaults and checks included) minus the
-- generated period, plus when the row was archived. A migration that adds a column to
-- reservations.reservations adds it here too: the move copies every column of the live
-- table and refuses to run while the archive lacks one (TestArchiveKeepsEveryColumn fails
-- first).
CREATE TABLE reservations.archived_reservations (
    LIKE reservations.reservations INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
    archived_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id),
    CONSTRAINT archived_reservations_finished CHECK (status IN ('completed', 'cancelled', 'expired', 'no_show'))
);
ALTER TABLE reservations.archived_reservations DROP COLUMN period;
CREATE INDEX archived_reservations_customer_idx ON reservations.archived_reservations (customer_id);

-- The sweeps' look-ups: due no-shows (confirmed, by pickup) use reservations_status_idx; the
-- archive's finished bookings by when they finished.
CREATE INDEX reservations_finished_idx ON reservations.reservations ((coalesce(completed_at, cancelled_at, updated_at)))
    WHERE status IN ('completed', 'cancelled', 'expired', 'no_show');
