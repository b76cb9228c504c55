package reservations

import (
	"context"
	"errors"
	"log/slog"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// SweepBatch bounds how many holds one ping expires; the next ping takes the rest.
const SweepBatch = 1000

// ReasonPaymentDeclined was the cancel reason of a booking whose payment failed, before a
// decline kept the hold pending (issue 13); older bookings still carry it.
const ReasonPaymentDeclined = "payment_declined"

// handleEvent applies one delivered event inside the inbox transaction:
//   - payment.authorized confirms a pending booking; a booking in any other state (already
//     confirmed by a redelivery or by an agent, expired, cancelled) is left as it is;
//   - payment.failed keeps a pending booking pending and records the decline's reason, so
//     the renter can name another payment method until the hold expires (payment.go); in
//     any other state it changes nothing (a declined increase of a confirmed booking's
//     authorization is payments' to record);
//   - customer.erased removes the customer's personal data from their bookings and from the
//     events kept in the outbox, and refuses their bookings from then on (eraseCustomer);
//   - a PingSource's ping expires past-due holds (reservation.expired each) and purges
//     expired idempotency keys.
//
// Other types are acknowledged and ignored: the Triggers do not send them.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	switch e.Type() {
	case events.PaymentAuthorized, events.PaymentFailed:
		p, err := events.DecodeData[events.Payment](e)
		if err != nil {
			return nil, err
		}
		if !platform.ValidUUID(p.ReservationID) {
			return nil, events.Permanentf("%s %s names no reservation id", e.Type(), e.ID())
		}
		if e.Type() == events.PaymentFailed {
			recorded, err := recordDecline(ctx, tx, p.ReservationID, p.Reason, p.Attempt)
			if err == nil && !recorded {
				platform.LoggerFrom(ctx).InfoContext(ctx, "payment event changes nothing",
					slog.String("reservation", p.ReservationID), slog.String("type", e.Type()))
			}
			return nil, err
		}
		// A payment for another customer confirms nothing: payments-api holds an agent's
		// authorization to the booking's customer and amount, and this checks it again.
		var customer string
		err = tx.QueryRow(ctx, `SELECT customer_id::text FROM reservations.reservations WHERE id = $1`, p.ReservationID).Scan(&customer)
		if err == nil && customer != p.CustomerID {
			platform.LoggerFrom(ctx).WarnContext(ctx, "payment of another customer ignored",
				slog.String("reservation", p.ReservationID), slog.String("payment", p.PaymentID))
			return nil, nil
		}
		_, err = transitionTx(ctx, tx, p.ReservationID, ActionConfirm, []Status{StatusPending}, change{paymentAttempt: p.Attempt})
		if errors.Is(err, pgx.ErrNoRows) {
			platform.LoggerFrom(ctx).InfoContext(ctx, "payment event changes nothing",
				slog.String("reservation", p.ReservationID), slog.String("type", e.Type()))
			return nil, nil
		}
		return nil, err
	case events.CustomerErased:
		c, err := events.DecodeData[events.CustomerErasure](e)
		if err != nil {
			return nil, err
		}
		if !platform.ValidUUID(c.CustomerID) {
			return nil, events.Permanentf("%s %s names no customer id", e.Type(), e.ID())
		}
		return nil, eraseCustomer(ctx, tx, c.CustomerID)
	case events.Ping:
		n, err := ExpireDue(ctx, tx, SweepBatch)
		if err != nil {
			return nil, err
		}
		purged, err := s.keys.Purge(ctx)
		if err != nil {
			return nil, err
		}
		if n > 0 || purged > 0 {
			platform.LoggerFrom(ctx).InfoContext(ctx, "sweep", slog.Int("expired", n), slog.Int64("keysPurged", purged))
		}
		return nil, nil
	}
	return nil, nil
}
