package payments

import (
	"context"
	"errors"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// handleEvent applies a reservation event inside the Receiver's transaction, the one that
// records the event in the inbox: a redelivery finds it there and changes nothing. Each step
// is also a conditional update, so a second event of the same kind (another id) is a no-op.
// Provider calls carry keys derived from the reservation and the attempt (authorizations) or
// the provider's authorization and the operation (the rest): even a transaction that fails
// after the provider answered is retried without a second charge.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	switch e.Type() {
	case events.ReservationCreated, events.ReservationCompleted, events.ReservationCancelled, events.ReservationExpired,
		events.ReservationPaymentRequested, events.ReservationChanged, events.ReservationNoShow:
	case events.Ping:
		// The scheduled sweep: idempotency keys past their 24 h and payment methods nobody
		// used within MethodTTL are purged.
		n, err := s.keys.Purge(ctx)
		if err != nil {
			return nil, err
		}
		m, err := s.store.PurgeUnusedMethods(ctx)
		if err == nil && n+m > 0 {
			platform.LoggerFrom(ctx).InfoContext(ctx, "purged", "idempotencyKeys", n, "paymentMethods", m)
		}
		return nil, err
	case events.CustomerErased:
		return nil, s.onErased(ctx, tx, e)
	default:
		return nil, nil // not ours: acknowledged
	}
	res, err := events.DecodeData[events.Reservation](e)
	if err != nil {
		return nil, err
	}
	if !platform.ValidUUID(res.ReservationID) || !platform.ValidUUID(res.CustomerID) {
		return nil, events.Permanentf("%s: reservationId and customerId must be UUIDs", e.Type())
	}
	if res.Currency == "" {
		res.Currency = "EUR"
	}
	switch e.Type() {
	case events.ReservationCreated:
		err = s.onCreated(ctx, tx, res)
	case events.ReservationPaymentRequested:
		err = s.onPaymentRequested(ctx, tx, res)
	case events.ReservationChanged:
		err = s.onChanged(ctx, tx, res)
	case events.ReservationCompleted:
		err = s.onCompleted(ctx, tx, res)
	case events.ReservationCancelled:
		err = s.onCancelled(ctx, tx, res)
	case events.ReservationExpired:
		err = s.onExpired(ctx, tx, res)
	case events.ReservationNoShow:
		err = s.onNoShow(ctx, tx, res)
	}
	return nil, eventError(err)
}

// eventError sorts failures: a provider that did not answer is retried (5xx), a refusal or
// a rule broken by the event's data can never succeed (dead letter).
func eventError(err error) error {
	var pe *platform.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrProviderUnavailable), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &pe) && pe.Kind == platform.KindGatewayTimeout:
		return err
	case errors.As(err, &pe) && (pe.Kind == platform.KindConflict || pe.Kind == platform.KindInvalid || pe.Kind == platform.KindUnprocessable):
		return events.Permanent(err)
	}
	return err
}

// onCreated authorizes the booking's total on its payment method: payment.authorized, or
// payment.failed for a declined card or a payment method that cannot pay (recorded, the
// event is done). A reservation that ended before is settled at once (Store.Authorize).
func (s *Service) onCreated(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	if res.TotalGross <= 0 {
		return events.Permanentf("reservation %s has no positive total", res.ReservationID)
	}
	_, err := s.store.Authorize(ctx, tx, AuthorizeInput{ReservationID: res.ReservationID, CustomerID: res.CustomerID,
		AmountCents: res.TotalGross, Currency: res.Currency, PaymentMethodID: res.PaymentMethodID,
		Attempt: max(res.PaymentAttempt, 1), ReservationVersion: res.Version}, false)
	if errors.Is(err, ErrAlreadyPaid) {
		return nil // authorized by an earlier event or call
	}
	return err
}

// onPaymentRequested authorizes the booking's total on the payment method the renter named
// after a decline (attempt res.PaymentAttempt, 2 or more): the failed attempt is replaced,
// payment.authorized or payment.failed recorded as for the first. A payment that is not a
// failed one, or whose failed attempt is as new as this one (a redelivery, a late copy),
// changes nothing.
func (s *Service) onPaymentRequested(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	if res.TotalGross <= 0 {
		return events.Permanentf("reservation %s has no positive total", res.ReservationID)
	}
	if res.PaymentAttempt < 2 {
		return events.Permanentf("reservation %s: a payment request is attempt 2 or later, got %d", res.ReservationID, res.PaymentAttempt)
	}
	_, err := s.store.Authorize(ctx, tx, AuthorizeInput{ReservationID: res.ReservationID, CustomerID: res.CustomerID,
		AmountCents: res.TotalGross, Currency: res.Currency, PaymentMethodID: res.PaymentMethodID,
		Attempt: res.PaymentAttempt, ReservationVersion: res.Version}, true)
	if errors.Is(err, ErrAlreadyPaid) {
		return nil
	}
	return err
}

// paymentOf returns the reservation's payment, locked; none yet (its created event is still
// on the way: brokers keep no order) is retried.
func (s *Service) paymentOf(ctx context.Context, tx pgx.Tx, res events.Reservation) (Payment, error) {
	p, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments.payments WHERE reservation_id = $1 FOR UPDATE`, res.ReservationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, fmt.Errorf("reservation %s has no payment yet", res.ReservationID)
	}
	return p, err
}

// onCompleted collects the final bill and issues the rental invoice (rentalBill: the
// booking's lines, the late fee, the return charges, VAT). The capture takes up to the
// capture limit (authorization + 15 %); the rest is charged separately on the same payment
// method (payment.charged), and a failed charge stays outstanding on the payment for
// agents. The invoice is for the whole bill.
func (s *Service) onCompleted(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	lines, vat, bill, err := rentalBill(res)
	if err != nil {
		return events.Permanentf("reservation %s: %v", res.ReservationID, err)
	}
	if bill <= 0 {
		return events.Permanentf("reservation %s completed with no positive bill", res.ReservationID)
	}
	// The reservation's lock before the payment's row, in the order every path takes them.
	if err := lockReservation(ctx, tx, res.ReservationID); err != nil {
		return err
	}
	p, err := s.paymentOf(ctx, tx, res)
	if err != nil {
		return err
	}
	switch p.Status {
	case StatusAuthorized:
		if p, err = s.store.collect(ctx, tx, p, bill); err != nil {
			return err
		}
	case StatusCaptured, StatusPartiallyRefunded, StatusRefunded:
		// Captured before the end (by hand, or this event's earlier delivery): the money kept
		// (refunds by hand counted) is brought to the bill — what it lacks collected (topUp),
		// what it holds beyond paid back (refundExcess); nothing on a redelivery. A deposit
		// captured and refunded in full left the whole rental unpaid.
		if p, err = s.store.topUp(ctx, tx, p, bill); err != nil {
			return err
		}
		if p, err = s.store.refundExcess(ctx, tx, p, bill, "brought to the bill at the return"); err != nil {
			return err
		}
	default:
		return events.Permanentf("reservation %s completed but its payment is %s", res.ReservationID, p.Status)
	}
	_, err = s.store.issue(ctx, tx, draft{reservationID: res.ReservationID, customerID: res.CustomerID, paymentID: p.ID,
		currency: res.Currency, kind: KindRental, lines: lines, vatCents: vat, buyer: buyerIn(ctx, res.CustomerID)})
	if errors.Is(err, ErrAlreadyInvoiced) {
		return nil
	}
	return err
}

// onCancelled applies the cancellation fee: captured from the authorization (the rest is
// released by the capture), a free cancellation voids it all, and money already captured
// beyond the fee is refunded. The end is recorded first: a payment authorized later (its
// created event still on the way) is settled the moment it is authorized.
func (s *Service) onCancelled(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	if res.FeeCents < 0 {
		return events.Permanentf("reservation %s has a negative fee", res.ReservationID)
	}
	return s.onEnded(ctx, tx, res.ReservationID, reservationEnd{status: "cancelled", feeCents: res.FeeCents})
}

// onNoShow collects the no-show fee (FeeCents: what the cancellation policy gives at the
// pickup time itself, so never less than a late cancellation) from the authorization,
// releases the rest and invoices the fee (Kind no_show); the end is recorded first, like a
// cancellation's.
func (s *Service) onNoShow(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	if res.FeeCents < 0 {
		return events.Permanentf("reservation %s has a negative fee", res.ReservationID)
	}
	return s.onEnded(ctx, tx, res.ReservationID, reservationEnd{status: "no_show", feeCents: res.FeeCents})
}

// onExpired releases an authorization whose hold expired (normally there is none: a hold
// expires unpaid), now or when one comes later.
func (s *Service) onExpired(ctx context.Context, tx pgx.Tx, res events.Reservation) error {
	return s.onEnded(ctx, tx, res.ReservationID, reservationEnd{status: "expired"})
}

// onEnded records a reservation's end and settles its payment, if there is one yet.
func (s *Service) onEnded(ctx context.Context, tx pgx.Tx, reservationID string, end reservationEnd) error {
	if err := lockReservation(ctx, tx, reservationID); err != nil {
		return err
	}
	if err := recordEnd(ctx, tx, reservationID, end); err != nil {
		return err
	}
	p, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments.payments WHERE reservation_id = $1 FOR UPDATE`, reservationID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.store.settle(ctx, tx, p, end)
	return err
}

// onErased forgets an erased customer's payment methods: the provider's token and what named
// the card (brand, last four digits, expiry). Payments and invoices stay, by id and amount,
// as the books must; an authorization that names a forgotten method fails as
// invalid_payment_method, so an erased customer's card can never be charged again. The
// customer is remembered as erased, so a card not yet bound to them — a booking made just
// before the erasure, whose reservation.created arrives after it — is never bound to them
// either (useMethod); the customer's lock orders the two.
func (s *Service) onErased(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	erasure, err := events.DecodeData[events.CustomerErasure](e)
	if err != nil {
		return err
	}
	if !platform.ValidUUID(erasure.CustomerID) {
		return events.Permanentf("%s: customerId must be a UUID", e.Type())
	}
	if _, err := tx.Exec(ctx, lockCustomerSQL, erasure.CustomerID); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO payments.erased_customers (customer_id) VALUES ($1) ON CONFLICT DO NOTHING`, erasure.CustomerID); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `DELETE FROM payments.payment_methods WHERE customer_id = $1`, erasure.CustomerID)
	return err
}
