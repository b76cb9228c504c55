package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// onChanged follows a change of the booking (dates, car, extras, insurance): the
// authorization is adjusted to the new total (docs/payments.md). Only an authorized
// payment is adjusted, and only by a reservation version newer than the one it follows, so
// a redelivered, copied or late change does nothing. A failed payment takes the new total
// as the amount its next attempt is to authorize, unless the change names a newer attempt
// than the payment's (that attempt's authorization is on its way: retried); a payment that
// does not exist yet (its created event is still on the way) is retried.
func (s *Service) onChanged(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	if res.TotalGross <= 0 {
		return events.Permanentf("reservation %s changed to no positive total", res.ReservationID)
	}
	if err := lockReservation(ctx, tx, res.ReservationID); err != nil {
		return err
	}
	p, err := s.paymentOf(ctx, tx, res)
	if err != nil {
		return err
	}
	if p.Status == StatusFailed && res.PaymentAttempt > p.Attempt {
		// The change was made after another card was named, and that card's authorization
		// (reservation.payment_requested, its own Trigger) has not arrived yet: acknowledging
		// now would lose the change. Retried, it adjusts the authorization once there.
		return fmt.Errorf("reservation %s changed while payment attempt %d is on its way", res.ReservationID, res.PaymentAttempt)
	}
	if p.Status == StatusFailed && res.Version > p.ReservationVersion {
		// What the next attempt is to authorize: an agent's retry is held to it
		// (retriesFailed).
		_, err := tx.Exec(ctx, `UPDATE payments.payments SET authorized_cents = $2, reservation_version = $3, updated_at = now()
			WHERE id = $1 AND status = 'failed' AND reservation_version < $3`, p.ID, res.TotalGross, res.Version)
		return err
	}
	if p.Status != StatusAuthorized || res.Version <= p.ReservationVersion {
		return nil
	}
	_, err = s.store.Adjust(ctx, tx, p, res.TotalGross, res.Version)
	return err
}

// Adjust brings payment p's authorization (locked by the caller) to target cents for
// version resVersion of its booking, with the provider key adjust:<authorization>:<version>.
// A decrease releases the excess. An increase the card declines keeps the authorization as
// it was and records the decline and the uncovered difference, which the capture at the
// return (within its tolerance) or the second charge collects; no event is recorded: the
// booking stands either way. The row's version goes up in every case.
func (s *Store) Adjust(ctx context.Context, tx pgx.Tx, p Payment, target, resVersion int64) (Payment, error) {
	const update = `UPDATE payments.payments SET authorized_cents = $2, uncovered_cents = $3, adjustment_failure = $4,
		reservation_version = $5, version = version + 1, updated_at = now()
		WHERE id = $1 AND status = 'authorized' AND reservation_version < $5 RETURNING ` + paymentColumns
	if target == p.AuthorizedCents {
		return scanPayment(tx.QueryRow(ctx, update, p.ID, target, 0, nil, resVersion))
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	key := fmt.Sprintf("adjust:%s:%d", p.ProviderAuthorization, resVersion)
	err := s.provider.Adjust(pctx, key, p.ProviderAuthorization, target)
	var decline *Decline
	switch {
	case errors.As(err, &decline):
		return scanPayment(tx.QueryRow(ctx, update, p.ID, p.AuthorizedCents, max(target-p.AuthorizedCents, 0), decline.Code, resVersion))
	case err != nil:
		return Payment{}, providerError(err)
	}
	return scanPayment(tx.QueryRow(ctx, update, p.ID, target, 0, nil, resVersion))
}
