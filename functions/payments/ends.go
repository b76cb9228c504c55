package payments

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// lockReservation serializes, until tx ends, what payments does for one reservation: its
// authorization, its return or end, its invoice — always taken before the payment's row
// lock, so the paths never wait for each other in opposite orders. An authorization and the
// reservation's end therefore never pass each other unseen (the end finds the payment, or
// the authorization finds the end), and concurrent invoices of one reservation queue
// instead of racing to the unique constraint.
func lockReservation(ctx context.Context, tx pgx.Tx, reservationID string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('payments.reservation'), hashtext($1::text))`, reservationID)
	return err
}

// reservationEnd is a reservation that was cancelled (with its fee), expired or not picked
// up (no_show, with its fee).
type reservationEnd struct {
	status   string
	feeCents int64
}

// recordEnd remembers in tx that a reservation ended; the first end recorded stays.
func recordEnd(ctx context.Context, tx pgx.Tx, reservationID string, end reservationEnd) error {
	_, err := tx.Exec(ctx, `INSERT INTO payments.reservation_ends (reservation_id, status, fee_cents) VALUES ($1, $2, $3)
		ON CONFLICT (reservation_id) DO NOTHING`, reservationID, end.status, end.feeCents)
	return err
}

// endOf returns how a reservation ended, if payments has heard of it.
func endOf(ctx context.Context, tx pgx.Tx, reservationID string) (reservationEnd, bool, error) {
	var e reservationEnd
	err := tx.QueryRow(ctx, `SELECT status, fee_cents FROM payments.reservation_ends WHERE reservation_id = $1`, reservationID).
		Scan(&e.status, &e.feeCents)
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, err
}

// settle applies a reservation's end to its payment p in tx: an authorization is voided, or
// the fee of a cancellation or no-show is collected from it (captured, the rest released by
// the capture; beyond the capture limit charged separately); money already captured beyond
// the fee is refunded, and a capture by hand below it is topped up. A fee collected gets its
// invoice (Kind cancellation or no_show). Voided and failed payments need nothing.
func (s *Store) settle(ctx context.Context, tx pgx.Tx, p Payment, end reservationEnd) (Payment, error) {
	var err error
	switch p.Status {
	case StatusAuthorized:
		if end.feeCents == 0 {
			reason := map[string]string{"cancelled": "free cancellation", "no_show": "no-show without a fee"}[end.status]
			if reason == "" {
				reason = "reservation expired"
			}
			return s.Void(ctx, tx, p.ID, reason)
		}
		if p, err = s.collect(ctx, tx, p, end.feeCents); err != nil {
			return p, err
		}
	case StatusCaptured, StatusPartiallyRefunded, StatusRefunded:
		// The fee is the bill of an ended booking: the money kept beyond it is paid back (a
		// no-show's too, not only a cancellation's), and below it — captured short, or
		// refunded by hand — the rest is collected (topUp), not left unbilled and uninvoiced.
		reason := map[string]string{"cancelled": "cancellation", "no_show": "no-show"}[end.status]
		if reason == "" {
			reason = "reservation expired"
		}
		if p, err = s.refundExcess(ctx, tx, p, end.feeCents, reason); err != nil {
			return p, err
		}
		if p, err = s.topUp(ctx, tx, p, end.feeCents); err != nil {
			return p, err
		}
	default:
		return p, nil
	}
	return p, s.invoiceEnd(ctx, tx, p, end)
}

// underWay refuses to void payment id by hand while it is authorized for a booking whose end
// payments has not learnt (409): the booking stayed confirmed and was rented out with no
// money behind it. Its end — a cancellation, an expiry — voids it, or captures the fee.
func (s *Store) underWay(ctx context.Context, tx pgx.Tx, id string) error {
	var reservation string
	var under bool
	err := tx.QueryRow(ctx, `SELECT p.reservation_id::text, p.status = 'authorized' AND NOT EXISTS (
		SELECT 1 FROM payments.reservation_ends e WHERE e.reservation_id = p.reservation_id)
		FROM payments.payments p WHERE p.id = $1`, id).Scan(&reservation, &under)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // Void explains
	}
	if err != nil || !under {
		return err
	}
	return platform.Conflict("the booking %s of payment %s is under way: cancel the booking, and its authorization is voided (or its fee captured)", reservation, id)
}
