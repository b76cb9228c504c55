package payments

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the payments schema, with the outbox/inbox and the idempotency keys.
var Migrations = database.Migrations{Schema: "payments", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations(), idempotency.Migrations()}}

// TolerancePercent is how far a capture may exceed its authorization (late return, extras).
const TolerancePercent = 15

// CaptureLimit is the most that may be captured from an authorization of authorized cents.
func CaptureLimit(authorized int64) int64 { return authorized * (100 + TolerancePercent) / 100 }

// Status is where a payment is in its life.
type Status string

// The payment states.
const (
	StatusAuthorized        Status = "authorized"
	StatusCaptured          Status = "captured"
	StatusPartiallyRefunded Status = "partially_refunded"
	StatusRefunded          Status = "refunded"
	StatusVoided            Status = "voided"
	StatusFailed            Status = "failed"
)

// Payment is one reservation's card payment.
type Payment struct {
	ID              string `json:"id"`
	ReservationID   string `json:"reservationId"`
	CustomerID      string `json:"customerId"`
	Currency        string `json:"currency"`
	Status          Status `json:"status"`
	AuthorizedCents int64  `json:"authorizedCents"`
	CapturedCents   int64  `json:"capturedCents"`
	RefundedCents   int64  `json:"refundedCents"`
	// OutstandingCents is what the final bill exceeded the capture limit by and the second
	// charge has not collected: 0 once collected, else money agents must still collect
	// (ChargeFailureReason says why the charge failed).
	OutstandingCents int64 `json:"outstandingCents"`
	// ChargedCents is what the second charge on the same payment method collected.
	ChargedCents        int64  `json:"chargedCents"`
	ChargeFailureReason string `json:"chargeFailureReason,omitempty"`
	// UncoveredCents is what a change raised the booking's total by beyond the
	// authorization, when the card declined the increase (AdjustmentFailureReason): the old
	// authorization stays and the difference is collected at the return.
	UncoveredCents          int64  `json:"uncoveredCents"`
	AdjustmentFailureReason string `json:"adjustmentFailureReason,omitempty"`
	// Attempt counts the payment methods tried for the booking (1, 2 after another card …).
	Attempt int `json:"attempt"`
	// ReservationVersion is the newest version of the booking whose total the
	// authorization follows (0: none known, an authorization through the API).
	ReservationVersion    int64  `json:"reservationVersion"`
	Provider              string `json:"provider"`
	PaymentMethodID       string `json:"paymentMethodId,omitempty"`
	ProviderAuthorization string `json:"providerAuthorization,omitempty"`
	// ProviderCharge is the provider's reference of the second charge.
	ProviderCharge string    `json:"providerCharge,omitempty"`
	FailureReason  string    `json:"failureReason,omitempty"`
	Version        int       `json:"version"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Store keeps payments and invoices and calls the provider.
type Store struct {
	db       *database.DB
	provider Provider
	timeout  time.Duration
}

const paymentColumns = `id, reservation_id, customer_id, currency, status, authorized_cents, captured_cents,
	refunded_cents, outstanding_cents, charged_cents, coalesce(charge_failure, ''), uncovered_cents,
	coalesce(adjustment_failure, ''), attempt, reservation_version, provider, coalesce(payment_method_id, ''),
	coalesce(provider_authorization, ''), coalesce(provider_charge, ''), coalesce(failure_reason, ''), version, created_at, updated_at`

func scanPayment(row pgx.Row) (Payment, error) {
	var p Payment
	err := row.Scan(&p.ID, &p.ReservationID, &p.CustomerID, &p.Currency, &p.Status, &p.AuthorizedCents,
		&p.CapturedCents, &p.RefundedCents, &p.OutstandingCents, &p.ChargedCents, &p.ChargeFailureReason, &p.UncoveredCents,
		&p.AdjustmentFailureReason, &p.Attempt, &p.ReservationVersion, &p.Provider, &p.PaymentMethodID,
		&p.ProviderAuthorization, &p.ProviderCharge, &p.FailureReason, &p.Version, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

// Get returns a payment by id.
func (s *Store) Get(ctx context.Context, q pgx.Tx, id string) (Payment, error) {
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments.payments WHERE id = $1`, id)
	} else {
		row = s.db.Pool.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments.payments WHERE id = $1`, id)
	}
	p, err := scanPayment(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, platform.NotFound("no payment %s", id)
	}
	return p, err
}

// ByReservation returns the payment of a reservation, if any.
func (s *Store) ByReservation(ctx context.Context, q pgx.Tx, reservationID string) (Payment, bool, error) {
	const sql = `SELECT ` + paymentColumns + ` FROM payments.payments WHERE reservation_id = $1`
	var row pgx.Row
	if q != nil {
		row = q.QueryRow(ctx, sql, reservationID)
	} else {
		row = s.db.Pool.QueryRow(ctx, sql, reservationID)
	}
	p, err := scanPayment(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, false, nil
	}
	return p, err == nil, err
}

// Filter selects payments for a list: every field optional.
type Filter struct {
	ReservationID string
	CustomerID    string
	Status        Status
	// Outstanding selects payments with money the card has not covered: a failed second
	// charge (outstandingCents) or a declined increase not yet settled (uncoveredCents).
	Outstanding    bool
	Page, PageSize int
}

// Find returns a page of the payments f selects, most recently changed first, and the total.
func (s *Store) Find(ctx context.Context, f Filter) ([]Payment, int, error) {
	const where = ` FROM payments.payments WHERE ($1 = '' OR reservation_id::text = $1) AND ($2 = '' OR customer_id::text = $2)
		AND ($3 = '' OR status = $3) AND (NOT $4 OR outstanding_cents > 0 OR uncovered_cents > 0)`
	args := []any{f.ReservationID, f.CustomerID, string(f.Status), f.Outstanding}
	var total int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*)`+where, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+paymentColumns+where+` ORDER BY updated_at DESC, id LIMIT $5 OFFSET $6`,
		append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payment, error) { return scanPayment(r) })
	if out == nil {
		out = []Payment{}
	}
	return out, total, err
}

// providerCtx bounds one provider call.
func (s *Store) providerCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// providerError maps a provider failure to the caller's error.
func providerError(err error) error {
	var d *Decline
	switch {
	case errors.As(err, &d):
		return &platform.Error{Kind: platform.KindUnprocessable, Message: d.Error(), Err: err}
	case errors.Is(err, ErrProviderRefused):
		return &platform.Error{Kind: platform.KindConflict, Message: "the payment provider refused the operation", Err: err}
	case errors.Is(err, ErrProviderUnavailable), errors.Is(err, context.DeadlineExceeded):
		return &platform.Error{Kind: platform.KindGatewayTimeout, Message: "the payment provider did not answer in time; retry with the same Idempotency-Key", Err: err}
	}
	return err
}

func emitPayment(ctx context.Context, tx pgx.Tx, typ string, p Payment, amount int64, reason string) error {
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, p.ID, events.Payment{
		PaymentID: p.ID, Version: int64(p.Version), ReservationID: p.ReservationID, CustomerID: p.CustomerID,
		AmountCents: amount, Currency: p.Currency, Status: string(p.Status), Reason: reason, Attempt: p.Attempt,
	})
}

// AuthorizeInput is what an authorization needs: the card is named by its payment method.
type AuthorizeInput struct {
	ReservationID   string `json:"reservationId"`
	CustomerID      string `json:"customerId"`
	AmountCents     int64  `json:"amountCents"`
	Currency        string `json:"currency"`
	PaymentMethodID string `json:"paymentMethodId"`
	// Attempt is the booking's attempt (events.Reservation.PaymentAttempt); 0 (the API)
	// makes it one more than the failed attempt it replaces.
	Attempt int `json:"-"`
	// ReservationVersion is the version of the booking whose total AmountCents is (events).
	ReservationVersion int64 `json:"-"`
}

// ErrAlreadyPaid is an authorization for a reservation whose payment is not a failed one.
var ErrAlreadyPaid = errors.New("the reservation already has a payment")

// Authorize authorizes in.AmountCents on the card of in.PaymentMethodID, in tx. A
// reservation has one payment: a second authorization is ErrAlreadyPaid (with the existing
// payment), unless the first attempt failed, which the new one replaces. A declined card —
// or a payment method that does not exist or belongs to another customer
// (invalid_payment_method) — is stored as a failed payment (payment.failed) and returned
// without error; a provider timeout rolls everything back.
//
// The provider's idempotency key is authorize:<reservation>:<attempt>:<payment method>,
// the attempt being in.Attempt (the booking's, from its events) or, through the API, one
// more than the failed attempt replaced: all of it is the same when a transaction lost
// after the provider answered is retried, so the provider replays its answer instead of
// authorizing twice. An event's attempt replaces only an older failed attempt: a
// redelivered or late reservation.payment_requested changes nothing.
//
// A reservation that payments already knows to have ended (its cancelled or expired event
// came first: brokers keep no order) is settled at once in the same transaction: the new
// authorization is voided, or the cancellation fee captured from it.
//
// replaceFailed false (the event consumer) makes any existing payment, a failed one too,
// ErrAlreadyPaid: only a caller with a new card retries a declined reservation — and not
// for a reservation that ended with nothing to pay (409).
func (s *Store) Authorize(ctx context.Context, tx pgx.Tx, in AuthorizeInput, replaceFailed bool) (Payment, error) {
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	if err := lockReservation(ctx, tx, in.ReservationID); err != nil {
		return Payment{}, err
	}
	if replaceFailed {
		// A new card for a booking that ended with nothing to pay (expired, cancelled or not
		// picked up free of charge): a hold on the card released at once — refused before
		// the provider is asked. An end with a fee still takes the card: the fee is collected.
		end, ended, err := endOf(ctx, tx, in.ReservationID)
		if err != nil {
			return Payment{}, err
		}
		if ended && end.feeCents == 0 {
			return Payment{}, platform.Conflict("reservation %s has ended (%s) with nothing to pay", in.ReservationID, end.status).WithCode("reservation_ended")
		}
	}
	var method any
	if validMethodID(in.PaymentMethodID) {
		method = in.PaymentMethodID
	}
	p, err := scanPayment(tx.QueryRow(ctx, `INSERT INTO payments.payments
		(reservation_id, customer_id, currency, status, authorized_cents, provider, payment_method_id, attempt, reservation_version)
		VALUES ($1, $2, $3, 'failed', $4, $5, $7, greatest($8::int, 1), $9)
		ON CONFLICT (reservation_id) DO UPDATE SET customer_id = EXCLUDED.customer_id, currency = EXCLUDED.currency,
			authorized_cents = EXCLUDED.authorized_cents, provider = EXCLUDED.provider, failure_reason = NULL,
			payment_method_id = EXCLUDED.payment_method_id, version = payments.version + 1, updated_at = now(),
			attempt = CASE WHEN $8::int > 0 THEN $8::int ELSE payments.attempt + 1 END,
			reservation_version = greatest(payments.reservation_version, EXCLUDED.reservation_version)
		WHERE payments.status = 'failed' AND $6 AND ($8::int = 0 OR $8::int > payments.attempt)
		RETURNING `+paymentColumns, in.ReservationID, in.CustomerID, in.Currency, in.AmountCents, s.provider.Name(), replaceFailed, method,
		in.Attempt, in.ReservationVersion))
	if errors.Is(err, pgx.ErrNoRows) {
		existing, _, gerr := s.ByReservation(ctx, tx, in.ReservationID)
		if gerr != nil {
			return Payment{}, gerr
		}
		return existing, ErrAlreadyPaid
	}
	if err != nil {
		return Payment{}, err
	}
	var ref string
	token, perr := s.useMethod(ctx, tx, in.PaymentMethodID, in.CustomerID)
	if perr == nil {
		pctx, cancel := s.providerCtx(ctx)
		defer cancel()
		key := fmt.Sprintf("authorize:%s:%d:%s", in.ReservationID, p.Attempt, in.PaymentMethodID)
		ref, perr = s.provider.Authorize(pctx, key, token, in.AmountCents)
	}
	var decline *Decline
	if errors.Is(perr, errUnusableMethod) {
		decline = &Decline{Code: errUnusableMethod.Error()}
	}
	switch {
	case decline != nil || errors.As(perr, &decline):
		if p, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET failure_reason = $2, updated_at = now()
			WHERE id = $1 RETURNING `+paymentColumns, p.ID, decline.Code)); err != nil {
			return Payment{}, err
		}
		return p, emitPayment(ctx, tx, events.PaymentFailed, p, in.AmountCents, decline.Code)
	case perr != nil:
		return Payment{}, perr
	}
	if p, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET status = 'authorized', provider_authorization = $2,
		updated_at = now() WHERE id = $1 AND status = 'failed' RETURNING `+paymentColumns, p.ID, ref)); err != nil {
		return Payment{}, err
	}
	if err := emitPayment(ctx, tx, events.PaymentAuthorized, p, p.AuthorizedCents, ""); err != nil {
		return Payment{}, err
	}
	end, ended, err := endOf(ctx, tx, in.ReservationID)
	if err != nil || !ended {
		return p, err
	}
	return s.settle(ctx, tx, p, end)
}

// explain turns a conditional update that matched no row into 404 or 409 (state unchanged).
func (s *Store) explain(ctx context.Context, tx pgx.Tx, id, action string, amount int64) error {
	p, err := s.Get(ctx, tx, id)
	if err != nil {
		return err
	}
	switch {
	case action == "capture" && p.Status == StatusAuthorized:
		return platform.Conflict("payment %s can capture at most %d cents (the authorization of %d + %d %%)", id, CaptureLimit(p.AuthorizedCents), p.AuthorizedCents, TolerancePercent)
	case action == "refund" && (p.Status == StatusCaptured || p.Status == StatusPartiallyRefunded):
		return platform.Conflict("payment %s can refund at most %d cents more (captured %d, charged %d, refunded %d)", id,
			p.CapturedCents+p.ChargedCents-p.RefundedCents, p.CapturedCents, p.ChargedCents, p.RefundedCents)
	}
	_ = amount
	return platform.Conflict("payment %s is %s: it cannot be %s", id, p.Status, map[string]string{"capture": "captured", "void": "voided", "refund": "refunded"}[action])
}

// Capture takes amount from payment id's authorization, once; the rest is released.
// outstanding is what the final bill exceeds the capture limit by, to be charged separately.
func (s *Store) Capture(ctx context.Context, tx pgx.Tx, id string, amount, outstanding int64) (Payment, error) {
	p, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET status = 'captured', captured_cents = $2,
		outstanding_cents = $3, uncovered_cents = 0, version = version + 1, updated_at = now()
		WHERE id = $1 AND status = 'authorized' AND $2 > 0 AND $2 * 100 <= authorized_cents * (100 + $4)
		RETURNING `+paymentColumns, id, amount, outstanding, TolerancePercent))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, s.explain(ctx, tx, id, "capture", amount)
	}
	if err != nil {
		return Payment{}, err
	}
	// The row is locked until commit: a concurrent capture waits, then finds it captured.
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	if err := s.provider.Capture(pctx, "capture:"+p.ProviderAuthorization, p.ProviderAuthorization, amount); err != nil {
		return Payment{}, providerError(err)
	}
	return p, emitPayment(ctx, tx, events.PaymentCaptured, p, amount, "")
}

// Void releases payment id's authorization.
func (s *Store) Void(ctx context.Context, tx pgx.Tx, id, reason string) (Payment, error) {
	p, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET status = 'voided', uncovered_cents = 0, version = version + 1, updated_at = now()
		WHERE id = $1 AND status = 'authorized' RETURNING `+paymentColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, s.explain(ctx, tx, id, "void", 0)
	}
	if err != nil {
		return Payment{}, err
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	if err := s.provider.Void(pctx, "void:"+p.ProviderAuthorization, p.ProviderAuthorization); err != nil {
		return Payment{}, providerError(err)
	}
	return p, emitPayment(ctx, tx, events.PaymentVoided, p, p.AuthorizedCents, reason)
}

// Refund pays back amount of payment id's capture; refunds in total never exceed it.
func (s *Store) Refund(ctx context.Context, tx pgx.Tx, id string, amount int64, reason string) (Payment, error) {
	// What was collected is the capture and the second charge (payment.charged): a refund
	// takes from the capture first, then from the charge, each at the provider by its own
	// reference.
	p, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET refunded_cents = refunded_cents + $2,
		status = CASE WHEN refunded_cents + $2 = captured_cents + charged_cents THEN 'refunded' ELSE 'partially_refunded' END,
		version = version + 1, updated_at = now()
		WHERE id = $1 AND status IN ('captured', 'partially_refunded') AND $2 > 0 AND refunded_cents + $2 <= captured_cents + charged_cents
		RETURNING `+paymentColumns, id, amount))
	if errors.Is(err, pgx.ErrNoRows) {
		return Payment{}, s.explain(ctx, tx, id, "refund", amount)
	}
	if err != nil {
		return Payment{}, err
	}
	before := p.RefundedCents - amount
	fromCapture := max(min(amount, p.CapturedCents-before), 0)
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	// The key is the refund's place in the payment's refunds: a retry of a lost answer
	// replays, a new refund gets a new key.
	for _, part := range []struct {
		ref    string
		amount int64
	}{{p.ProviderAuthorization, fromCapture}, {p.ProviderCharge, amount - fromCapture}} {
		if part.amount == 0 {
			continue
		}
		if part.ref == "" {
			return Payment{}, fmt.Errorf("payment %s: %d cents to refund from a charge it has no reference of", p.ID, part.amount)
		}
		key := fmt.Sprintf("refund:%s:%d", part.ref, before)
		if err := s.provider.Refund(pctx, key, part.ref, part.amount); err != nil {
			return Payment{}, providerError(err)
		}
	}
	return p, emitPayment(ctx, tx, events.PaymentRefunded, p, amount, reason)
}
