package reservations

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// ReasonErased replaces the cancel reason a person wrote once the customer is erased.
const ReasonErased = events.ErasedReason

// systemReasons are the cancel reasons reservations itself writes (codes, not what a person
// typed): an erasure keeps them.
var systemReasons = []string{"", ReasonPaymentDeclined, ReasonErased}

// lockCustomerSQL serializes an erasure with the bookings of the same customer in flight:
// each holds it until its transaction ends, so a booking either commits before the erasure
// (which then scrubs it) or finds the customer erased (and is refused).
const lockCustomerSQL = `SELECT pg_advisory_xact_lock(hashtext('reservations.customer'), hashtext($1::text))`

// lockCustomerSharedSQL is lockCustomerSQL shared: what may go on beside another but not
// beside the customer's erasure.
const lockCustomerSharedSQL = `SELECT pg_advisory_xact_lock_shared(hashtext('reservations.customer'), hashtext($1::text))`

const (
	erasedSQL    = `SELECT EXISTS (SELECT 1 FROM reservations.erased_customers WHERE customer_id = $1)`
	tombstoneSQL = `INSERT INTO reservations.erased_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING`
)

// scrubReservationsSQL removes the person from their bookings: the email the public lookup
// compared with (so the old address finds nothing), the reasons a person wrote, and the
// staff's damage notes of the return — free text about a car, but written at the counter
// with the renter in front of them, so it may name people; that the car came back damaged
// stays visible (the notes become ReasonErased, the return charges stay). The bookings stay
// — ids, vehicle, period, amounts — and keep their version: nothing about the booking
// changed, so no event is recorded. Rows already scrubbed are not touched.
// scrubArchiveSQL does the same to the customer's archived bookings (archive.go).
const (
	scrubReservationsSQL = `UPDATE reservations.reservations` + scrubSetSQL
	scrubArchiveSQL      = `UPDATE reservations.archived_reservations` + scrubSetSQL
	scrubSetSQL          = ` SET customer_email = '',
	cancel_reason = CASE WHEN cancel_reason = ANY($2) THEN cancel_reason ELSE $3 END,
	damage_notes = CASE WHEN damage_notes IN ('', $3) THEN damage_notes ELSE $3 END
WHERE customer_id = $1 AND (customer_email <> '' OR NOT cancel_reason = ANY($2) OR damage_notes NOT IN ('', $3))`
)

// scrubReasonsSQL does the same for the reasons in the reservation events this function
// keeps in its outbox (events.ScrubOutbox takes care of the personal fields).
const scrubReasonsSQL = `UPDATE reservations.outbox SET data = jsonb_set(data, '{reason}', to_jsonb($3::text))
WHERE data->>'customerId' = $1 AND data ? 'reason' AND NOT (data->>'reason') = ANY($2)`

// forgetGuestHoldsSQL deletes the guest-hold records of the customer's bookings: the
// mailbox's hash (computable from the address) and the client address. The limits lose
// nothing that matters: an erased customer cannot book any more.
const forgetGuestHoldsSQL = `DELETE FROM reservations.guest_holds
WHERE reservation_id IN (SELECT id FROM reservations.reservations WHERE customer_id = $1)`

// eraseCustomer applies customer.erased inside tx: it scrubs what reservations holds of the
// customer (bookings, guest-hold records, stored events) and records the erasure, so a booking in flight cannot
// bring the email back. A repeat changes nothing.
func eraseCustomer(ctx context.Context, tx pgx.Tx, customerID string) error {
	if _, err := tx.Exec(ctx, lockCustomerSQL, customerID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, tombstoneSQL, customerID); err != nil {
		return err
	}
	rows, err := tx.Exec(ctx, scrubReservationsSQL, customerID, systemReasons, ReasonErased)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, forgetGuestHoldsSQL, customerID); err != nil {
		return err
	}
	if _, err := scrubArchive(ctx, tx, customerID); err != nil {
		return err
	}
	reasons, err := tx.Exec(ctx, scrubReasonsSQL, customerID, systemReasons, ReasonErased)
	if err != nil {
		return err
	}
	stored, err := events.ScrubOutbox(ctx, tx, Migrations.Schema, customerID)
	if err != nil {
		return err
	}
	platform.LoggerFrom(ctx).InfoContext(ctx, "customer erased", slog.String("customer", customerID),
		slog.Int64("reservations", rows.RowsAffected()), slog.Int64("eventReasons", reasons.RowsAffected()),
		slog.Int64("events", stored))
	return nil
}

// erasedRefusal is a booking's refusal when its check, inside its transaction under the
// customer's lock (Store.Create), finds the customer erased meanwhile: customers-api refuses
// an erased customer's eligibility; the check closes the window between that answer and the
// commit.
func erasedRefusal(customerID string) error {
	return platform.Conflict("customer %s has been erased; an erased customer cannot book", customerID).WithCode("customer_erased")
}
