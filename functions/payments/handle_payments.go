package payments

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// MaxAmountCents bounds any amount the API accepts (one million euros).
const MaxAmountCents = 100_000_000

func writePayment(w http.ResponseWriter, status int, p Payment) error {
	if status == http.StatusCreated {
		w.Header().Set("Location", Prefix+"/"+p.ID)
	}
	return platform.WriteVersioned(w, status, int64(p.Version), p)
}

// validate checks in, every field at once, and puts its ids in lower case (as stored).
func (in *AuthorizeInput) validate() []platform.FieldError {
	var errs []platform.FieldError
	in.ReservationID, in.CustomerID = strings.ToLower(in.ReservationID), strings.ToLower(in.CustomerID)
	if !platform.ValidUUID(in.ReservationID) {
		errs = append(errs, platform.FieldError{Field: "reservationId", Reason: "must be a UUID"})
	}
	if !platform.ValidUUID(in.CustomerID) {
		errs = append(errs, platform.FieldError{Field: "customerId", Reason: "must be a UUID"})
	}
	if in.AmountCents <= 0 || in.AmountCents > MaxAmountCents {
		errs = append(errs, platform.FieldError{Field: "amountCents", Reason: "must be between 1 and 100000000"})
	}
	if in.Currency != "" && in.Currency != "EUR" {
		errs = append(errs, platform.FieldError{Field: "currency", Reason: "must be EUR"})
	}
	if !validMethodID(in.PaymentMethodID) {
		errs = append(errs, platform.FieldError{Field: "paymentMethodId", Reason: "must be a payment method id (pm_…) from POST " + MethodPrefix})
	}
	return errs
}

// handleAuthorize authorizes a reservation's amount on a payment method. A declined card is
// answered 201 with the payment in status failed (the attempt is recorded; another payment
// method may be tried).
func (s *Service) handleAuthorize(w http.ResponseWriter, r *http.Request) error {
	var in AuthorizeInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the authorization is invalid", errs...)
	}
	// An authorization may settle a fee (the booking's end came first) and invoice it; it is
	// never held up by customers-api (without it that invoice names no company).
	ctx, _ := s.readBuyer(r.Context(), in.CustomerID)
	var p Payment
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockReservation(ctx, tx, in.ReservationID); err != nil {
			return err
		}
		if err := retriesFailed(ctx, tx, s.store, in); err != nil {
			return err
		}
		var err error
		p, err = s.store.Authorize(ctx, tx, in, true)
		return err
	})
	switch {
	case errors.Is(err, ErrAlreadyPaid):
		return platform.Conflict("reservation %s already has a payment", in.ReservationID)
	case err != nil:
		return providerError(err)
	}
	return writePayment(w, http.StatusCreated, p)
}

// retriesFailed checks that an agent's authorization (POST /api/payments) is another
// attempt at a booking's declined payment: the payment payments-api made from the booking's
// reservation.created, for the same customer and the booking's amount (its total, kept up to
// date on the failed payment by onChanged). Anything else — a reservation payments-api
// never heard of, another customer's card, an amount the booking does not cost — would hold
// money nobody owes and, through payment.authorized, confirm a booking that is not paid.
func retriesFailed(ctx context.Context, tx pgx.Tx, store *Store, in AuthorizeInput) error {
	prev, found, err := store.ByReservation(ctx, tx, in.ReservationID)
	switch {
	case err != nil:
		return err
	case !found:
		return platform.NotFound("reservation %s has no payment to retry (payments-api takes a booking's first payment from its reservation.created)", in.ReservationID)
	case prev.Status != StatusFailed:
		return ErrAlreadyPaid
	}
	var errs platform.FieldErrors
	if in.CustomerID != prev.CustomerID {
		errs.Add("customerId", "is not the booking's customer")
	}
	if in.AmountCents != prev.AuthorizedCents {
		errs.Add("amountCents", fmt.Sprintf("the booking costs %d cents", prev.AuthorizedCents))
	}
	if len(errs) > 0 {
		return platform.Invalid("the authorization does not fit the booking's payment", errs...)
	}
	return nil
}

// handleFind lists payments: customers their own (another customer's id answers 404),
// agents and admins anyone's, by reservation, customer, status, and outstanding=true for
// the money still to collect (docs/payments.md).
func (s *Service) handleFind(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, "reservation", "customer", "status", "outstanding", "page", "pageSize")
	f := Filter{ReservationID: q.UUID("reservation"), CustomerID: q.UUID("customer"), Status: Status(q.Get("status")),
		Outstanding: q.Bool("outstanding", false)}
	f.Page, f.PageSize = q.Paging()
	switch f.Status {
	case "", StatusAuthorized, StatusCaptured, StatusPartiallyRefunded, StatusRefunded, StatusVoided, StatusFailed:
	default:
		q.Fail("status", "must be one of authorized, captured, partially_refunded, refunded, voided, failed")
	}
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	caller := platform.CallerFrom(r.Context())
	if !caller.Staff() {
		if f.CustomerID == "" {
			f.CustomerID = caller.CustomerID
		}
		if !caller.Owns(f.CustomerID) {
			return platform.NotFound("no customer %s", f.CustomerID)
		}
	}
	items, total, err := s.store.Find(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items), "page": f.Page, "pageSize": f.PageSize, "total": total})
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "payment")
	if err != nil {
		return err
	}
	p, err := s.store.Get(r.Context(), nil, id)
	if err != nil {
		return err
	}
	if !platform.CallerFrom(r.Context()).MaySee(p.CustomerID) {
		return platform.NotFound("no payment %s", id)
	}
	return writePayment(w, http.StatusOK, p)
}

// mutate runs op on payment id in a transaction, first holding the payment to the version
// an If-Match header requires (412 when it has changed).
func (s *Service) mutate(r *http.Request, id string, op func(tx pgx.Tx) (Payment, error)) (Payment, error) {
	want, err := platform.IfMatch(r)
	if err != nil {
		return Payment{}, err
	}
	var p Payment
	err = s.inTx(r.Context(), func(tx pgx.Tx) error {
		if want > 0 {
			var version int64
			err := tx.QueryRow(r.Context(), `SELECT version FROM payments.payments WHERE id = $1 FOR UPDATE`, id).Scan(&version)
			if errors.Is(err, pgx.ErrNoRows) {
				return platform.NotFound("no payment %s", id)
			}
			if err != nil {
				return err
			}
			if version != want {
				return platform.Stale("payment", id)
			}
		}
		var err error
		p, err = op(tx)
		return err
	})
	return p, err
}

type amountInput struct {
	AmountCents int64  `json:"amountCents"`
	Reason      string `json:"reason,omitempty"`
}

func decodeAmount(w http.ResponseWriter, r *http.Request) (amountInput, error) {
	var in amountInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return in, err
	}
	var errs []platform.FieldError
	if in.AmountCents <= 0 || in.AmountCents > MaxAmountCents {
		errs = append(errs, platform.FieldError{Field: "amountCents", Reason: "must be between 1 and 100000000"})
	}
	if len(in.Reason) > 500 {
		errs = append(errs, platform.FieldError{Field: "reason", Reason: "must be at most 500 characters"})
	}
	if len(errs) > 0 {
		return in, platform.Invalid("the request is invalid", errs...)
	}
	return in, nil
}

func (s *Service) handleCapture(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "payment")
	if err != nil {
		return err
	}
	in, err := decodeAmount(w, r)
	if err != nil {
		return err
	}
	p, err := s.mutate(r, id, func(tx pgx.Tx) (Payment, error) {
		return s.store.Capture(r.Context(), tx, id, in.AmountCents, 0)
	})
	if err != nil {
		return err
	}
	return writePayment(w, http.StatusOK, p)
}

// handleVoid releases an authorization; the body, if any, is ignored.
func (s *Service) handleVoid(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "payment")
	if err != nil {
		return err
	}
	p, err := s.mutate(r, id, func(tx pgx.Tx) (Payment, error) {
		if err := s.store.underWay(r.Context(), tx, id); err != nil {
			return Payment{}, err
		}
		return s.store.Void(r.Context(), tx, id, "voided by "+platform.CallerFrom(r.Context()).Username)
	})
	if err != nil {
		return err
	}
	return writePayment(w, http.StatusOK, p)
}

func (s *Service) handleRefund(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "payment")
	if err != nil {
		return err
	}
	in, err := decodeAmount(w, r)
	if err != nil {
		return err
	}
	p, err := s.mutate(r, id, func(tx pgx.Tx) (Payment, error) {
		return s.store.Refund(r.Context(), tx, id, in.AmountCents, in.Reason)
	})
	if err != nil {
		return err
	}
	return writePayment(w, http.StatusOK, p)
}

func (s *Service) handleIssueInvoice(w http.ResponseWriter, r *http.Request) error {
	var in IssueInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the invoice is invalid", errs...)
	}
	ctx, err := s.readBuyer(r.Context(), in.CustomerID)
	if err != nil {
		return err
	}
	var inv Invoice
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockReservation(ctx, tx, in.ReservationID); err != nil {
			return err
		}
		if err := s.store.byHandFits(ctx, tx, in); err != nil {
			return err
		}
		var err error
		inv, err = s.store.IssueInvoice(ctx, tx, in)
		return err
	})
	switch {
	case errors.Is(err, ErrAlreadyInvoiced):
		return platform.Conflict("reservation %s is already invoiced", in.ReservationID)
	case err != nil:
		return err
	}
	w.Header().Set("Location", InvoicePrefix+"/"+inv.ID)
	return platform.WriteJSON(w, http.StatusCreated, inv)
}

// invoiceFor reads the invoice of the path for the caller: another customer's is as absent
// as a missing one.
func (s *Service) invoiceFor(r *http.Request) (Invoice, error) {
	id, err := platform.PathUUID(r, "invoice")
	if err != nil {
		return Invoice{}, err
	}
	inv, err := s.store.GetInvoice(r.Context(), id)
	if err != nil {
		return Invoice{}, err
	}
	if !platform.CallerFrom(r.Context()).MaySee(inv.CustomerID) {
		return Invoice{}, platform.NotFound("no invoice %s", id)
	}
	return inv, nil
}

func (s *Service) handleGetInvoice(w http.ResponseWriter, r *http.Request) error {
	inv, err := s.invoiceFor(r)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, inv)
}

// handleListInvoices lists a customer's invoices; a customer sees their own only (asking for
// another's answers 404), staff may omit the customer to list all. reservation narrows the
// list to one booking's invoice (a portal's booking page: a business customer has more than
// a page of invoices).
func (s *Service) handleListInvoices(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, "customer", "reservation", "page", "pageSize")
	page, size := q.Paging()
	customer := q.UUID("customer")
	reservation := q.UUID("reservation")
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	caller := platform.CallerFrom(r.Context())
	if !caller.Staff() {
		if customer == "" {
			customer = caller.CustomerID
		}
		if !caller.Owns(customer) {
			return platform.NotFound("no customer %s", customer)
		}
	}
	items, total, err := s.store.ListInvoices(r.Context(), customer, reservation, page, size)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "page": page, "pageSize": size, "total": total})
}
