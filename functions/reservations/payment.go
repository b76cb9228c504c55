package reservations

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// A declined card no longer cancels a booking (issue 13): payment.failed keeps the hold
// pending and records why (paymentDeclinedReason, shown to the renter); until the hold
// expires the renter, an agent or the guest through the link names another payment method
// (NamePaymentMethod), which records reservation.payment_requested with the next payment
// attempt, and payments authorizes on it. Only payment.authorized confirms a booking.

// recordDeclineSQL records a decline on a pending booking — of its current attempt or a
// later one ($3; 0 from a producer that predates attempts): a late decline of an earlier
// card must not mark the card named since as declined, and a decline of an attempt made
// outside the booking (an agent's authorization through payments-api) is adopted, so the
// card the renter names next gets an attempt number payments has not used. The row's
// version moves on (its ETag changes); no event: nobody else needs it.
const recordDeclineSQL = `UPDATE reservations.reservations SET payment_declined_reason = $2,
	payment_attempt = GREATEST(payment_attempt, $3), version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'pending' AND ($3 = 0 OR payment_attempt <= $3)`

// namePaymentMethodSQL names the next payment method of a pending booking whose last one was
// declined and whose hold has not expired; $3 > 0 requires that version (If-Match).
const namePaymentMethodSQL = `UPDATE reservations.reservations SET payment_method_id = $2,
	payment_attempt = payment_attempt + 1, payment_declined_reason = '', version = version + 1, updated_at = now()
WHERE id = $1 AND status = 'pending' AND payment_declined_reason <> '' AND hold_expires_at > now()
	AND ($3 = 0 OR version = $3)
RETURNING ` + selectColumns

// declineReason is a decline's reason as payments gave it, bounded and printable; a code
// such as card_declined, never card data (payments sends none).
func declineReason(reason string) string {
	reason = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.TrimSpace(reason))
	if reason == "" {
		return "declined"
	}
	if len(reason) > 200 {
		reason = strings.ToValidUTF8(reason[:200], "")
	}
	return reason
}

// recordDecline applies payment.failed of attempt inside tx: a pending booking stays pending
// with the decline's reason; any other state, or another attempt, is left as it is (a late
// or repeated event).
func recordDecline(ctx context.Context, tx pgx.Tx, id, reason string, attempt int) (bool, error) {
	tag, err := tx.Exec(ctx, recordDeclineSQL, id, declineReason(reason), attempt)
	return tag.RowsAffected() == 1, err
}

// PaymentMethodRequest is the body of POST /api/reservations/{id}/payment-method.
type PaymentMethodRequest struct {
	PaymentMethodID string `json:"paymentMethodId"`
}

// NamePaymentMethod names another payment method for pending booking id whose card was
// declined, as a (its owner, staff, or the guest's link); ifVersion > 0 makes it
// conditional (412). It records reservation.payment_requested (PaymentAttempt + 1) for
// payments to authorize on.
func (s *Service) NamePaymentMethod(ctx context.Context, a Actor, id string, in PaymentMethodRequest, ifVersion int64) (Reservation, error) {
	pm := strings.TrimSpace(in.PaymentMethodID)
	if !paymentMethodPattern.MatchString(pm) {
		return Reservation{}, platform.Invalid("the payment method is invalid",
			platform.FieldError{Field: "paymentMethodId", Reason: "required: the id of a payment method (pm_…) from POST /api/payments/methods"})
	}
	res, err := s.load(ctx, a, id)
	if err != nil {
		return Reservation{}, err
	}
	if err := paymentMethodAllowed(res, ifVersion, s.now()); err != nil {
		return Reservation{}, err
	}
	var out Reservation
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		// An erased customer names no card (their sign-in may outlive the erasure): checked
		// under the customer's lock, shared, as a booking checks it (Create).
		var erased bool
		if _, err := tx.Exec(ctx, lockCustomerSharedSQL, res.CustomerID); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, erasedSQL, res.CustomerID).Scan(&erased); err != nil {
			return err
		}
		if erased {
			return erasedRefusal(res.CustomerID)
		}
		var err error
		if out, err = scanReservation(tx.QueryRow(ctx, namePaymentMethodSQL, id, pm, ifVersion)); err != nil {
			return err
		}
		p := payload(out)
		p.PaymentMethodID = pm
		return emit(ctx, tx, events.ReservationPaymentRequested, p)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.store.Get(ctx, id)
		if gerr != nil {
			return Reservation{}, gerr
		}
		if err := paymentMethodAllowed(cur, ifVersion, s.now()); err != nil {
			return Reservation{}, err
		}
		return Reservation{}, platform.ConflictForNow("the reservation changed meanwhile; please retry").WithCode("changed_meanwhile")
	}
	return out, err
}

// paymentMethodAllowed says why res cannot take another payment method at now, if it
// cannot: only a pending hold, not expired, whose last payment method was declined (while
// one is being authorized, a second would be authorized too).
func paymentMethodAllowed(res Reservation, ifVersion int64, now time.Time) error {
	switch {
	case ifVersion > 0 && int64(res.Version) != ifVersion:
		return platform.Stale("reservation", res.ID)
	case res.Status != StatusPending:
		return platform.Conflict("%s reservation takes no other payment method: only a pending one whose card was declined", aStatus(res.Status)).WithCode("status")
	case res.HoldExpiresAt == nil || !res.HoldExpiresAt.After(now):
		return platform.Conflict("the hold has expired; please book again").WithCode("hold_expired")
	case res.PaymentDeclinedReason == "":
		return platform.ConflictForNow("the payment is still being authorized; another payment method can be named once it is declined").WithCode("payment_pending")
	}
	return nil
}
