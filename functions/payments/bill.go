package payments

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

var (
	lineCode = regexp.MustCompile(`^[A-Z0-9_]{1,40}$`)
	linePer  = regexp.MustCompile(`^[a-z_]{1,20}$`)
)

// checkLine refuses a priced line an invoice cannot show (what of the event is wrong).
func checkLine(what string, l events.PriceLine) error {
	switch {
	case !lineCode.MatchString(l.Code):
		return fmt.Errorf("%s: code %q is not an upper-case code", what, l.Code)
	case l.Description == "" || utf8.RuneCountInString(l.Description) > 200:
		return fmt.Errorf("%s %s: the description must be 1 to 200 characters", what, l.Code)
	case l.Quantity < 1 || !linePer.MatchString(l.Per):
		return fmt.Errorf("%s %s: quantity must be positive and per a word", what, l.Code)
	case l.NetCents != int64(l.Quantity)*l.UnitNetCents:
		return fmt.Errorf("%s %s: netCents %d is not %d × %d", what, l.Code, l.NetCents, l.Quantity, l.UnitNetCents)
	}
	return nil
}

func invoiceLine(l events.PriceLine) InvoiceLine {
	return InvoiceLine{Code: l.Code, Description: l.Description, Quantity: l.Quantity, Per: l.Per,
		UnitNetCents: l.UnitNetCents, NetCents: l.NetCents}
}

// rentalBill is the final bill of a returned rental as its invoice shows it (docs/payments.md):
//
//   - the booking's priced lines as pricing-api quoted them (net) with their VAT as quoted
//     (events.Reservation.VatCents: 19 % of the booking's total net, half up);
//   - the late fee, a gross amount (a gross daily rate per started 24 h): one line of its
//     net (half up) and the VAT it contains;
//   - the return charges (net lines, e.g. REFUEL) and 19 % VAT on their sum, half up.
//
// The invoice's VAT is the sum of the three VAT amounts, its gross net + VAT: exactly the
// booking's total + the late fee + the return charges' gross, which is what is captured. A
// booking event without lines (recorded before lines existed) is one RENTAL line of its
// total's net. Lines that do not add up are an error: the event can never be invoiced.
func rentalBill(res events.Reservation) (lines []InvoiceLine, vat, gross int64, err error) {
	if len(res.Lines) == 0 {
		net, v := SplitGross(res.TotalGross)
		lines = append(lines, InvoiceLine{Code: "RENTAL", Description: fmt.Sprintf("Car rental %s – %s", res.PickupAt, res.ReturnAt),
			Quantity: 1, Per: "rental", UnitNetCents: net, NetCents: net})
		vat = v
	} else {
		var net int64
		for _, l := range res.Lines {
			if err := checkLine("line", l); err != nil {
				return nil, 0, 0, err
			}
			lines, net = append(lines, invoiceLine(l)), net+l.NetCents
		}
		if net != res.NetCents || res.NetCents+res.VatCents != res.TotalGross || res.VatCents < 0 {
			return nil, 0, 0, fmt.Errorf("the lines (net %d) and netCents %d + vatCents %d do not add up to totalGrossCents %d",
				net, res.NetCents, res.VatCents, res.TotalGross)
		}
		vat = res.VatCents
	}
	gross = res.TotalGross
	if res.LateFeeCents < 0 {
		return nil, 0, 0, fmt.Errorf("lateFeeCents %d is negative", res.LateFeeCents)
	}
	if res.LateFeeCents > 0 {
		net, v := SplitGross(res.LateFeeCents)
		lines = append(lines, InvoiceLine{Code: "LATE_RETURN", Description: "Late return", Quantity: 1, Per: "rental", UnitNetCents: net, NetCents: net})
		vat, gross = vat+v, gross+res.LateFeeCents
	}
	var charges int64
	for _, l := range res.ReturnCharges {
		if err := checkLine("return charge", l); err != nil {
			return nil, 0, 0, err
		}
		if l.NetCents < 0 {
			return nil, 0, 0, fmt.Errorf("return charge %s is negative", l.Code)
		}
		lines, charges = append(lines, invoiceLine(l)), charges+l.NetCents
	}
	vat, gross = vat+VATOf(charges), gross+charges+VATOf(charges)
	return lines, vat, gross, nil
}

// feeBill is the one line of a cancellation or no-show fee (a gross amount): its net, half
// up, and the VAT it contains.
func feeBill(kind string, feeCents int64) (InvoiceLine, int64) {
	net, vat := SplitGross(feeCents)
	code, description := "CANCELLATION_FEE", "Cancellation fee"
	if kind == KindNoShow {
		code, description = "NO_SHOW_FEE", "No-show fee"
	}
	return InvoiceLine{Code: code, Description: description, Quantity: 1, Per: "rental", UnitNetCents: net, NetCents: net}, vat
}

// collect takes bill from authorized payment p (locked): the capture takes up to the
// capture limit (authorization + 15 %), the rest is charged at once on the same payment
// method (ChargeOutstanding); a failed second charge stays outstanding on the payment.
func (s *Store) collect(ctx context.Context, tx pgx.Tx, p Payment, bill int64) (Payment, error) {
	capture := min(bill, CaptureLimit(p.AuthorizedCents))
	p, err := s.Capture(ctx, tx, p.ID, capture, bill-capture)
	if err != nil || p.OutstandingCents == 0 {
		return p, err
	}
	return s.ChargeOutstanding(ctx, tx, p)
}

// topUp brings payment p (locked by the caller), captured before the booking's end — by an
// agent's hand, on a booking the automation had not settled — to bill: what the money kept
// (capture and second charge less refunds) and what is already outstanding leave short
// becomes outstanding, and is charged at once unless the payment's one second charge was
// made (then agents collect it: ?outstanding=true). A booking ended with a smaller capture
// was invoiced in full and the rest never collected; so was one whose deposit was refunded
// by hand in full. Money kept is brought to the bill at the end, refunds before it counted;
// goodwill is a refund after the end (the invoice stands), which nothing takes back.
func (s *Store) topUp(ctx context.Context, tx pgx.Tx, p Payment, bill int64) (Payment, error) {
	short := bill - p.kept() - p.OutstandingCents
	if short <= 0 {
		return p, nil
	}
	p, err := scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET outstanding_cents = outstanding_cents + $2,
		version = version + 1, updated_at = now() WHERE id = $1 RETURNING `+paymentColumns, p.ID, short))
	if err != nil || p.ChargedCents > 0 {
		return p, err
	}
	return s.ChargeOutstanding(ctx, tx, p)
}

// refundExcess pays back what payment p (locked) keeps beyond bill — the capture and the
// second charge less every refund — so that an agent's capture by hand above what the
// booking came to (a deposit) is brought to the bill at its end. A refund by hand before the
// end counts: it returned money the booking had taken (a deposit's excess paid back by hand
// is not paid back twice). Nothing for a copy of the end's event: the excess is gone then.
func (s *Store) refundExcess(ctx context.Context, tx pgx.Tx, p Payment, bill int64, reason string) (Payment, error) {
	if back := p.kept() - bill; back > 0 {
		return s.Refund(ctx, tx, p.ID, back, reason)
	}
	return p, nil
}

// ChargeOutstanding collects payment p's outstanding amount (p locked by the caller) by a
// second charge on its payment method, provider key charge:<authorization>: payment.charged
// and the amount moved to chargedCents; a declined card (or a method erased or bound to
// someone else) is recorded as chargeFailureReason and the amount stays outstanding, for
// agents to collect. A provider that does not answer is an error (retried with the key).
func (s *Store) ChargeOutstanding(ctx context.Context, tx pgx.Tx, p Payment) (Payment, error) {
	amount := p.OutstandingCents
	token, err := s.useMethod(ctx, tx, p.PaymentMethodID, p.CustomerID)
	var ref string
	if err == nil {
		pctx, cancel := s.providerCtx(ctx)
		defer cancel()
		ref, err = s.provider.Charge(pctx, "charge:"+p.ProviderAuthorization, token, amount)
	}
	var decline *Decline
	if errors.Is(err, errUnusableMethod) {
		decline = &Decline{Code: errUnusableMethod.Error()}
	}
	switch {
	case decline != nil || errors.As(err, &decline):
		return scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET charge_failure = $2, version = version + 1, updated_at = now()
			WHERE id = $1 RETURNING `+paymentColumns, p.ID, decline.Code))
	case err != nil:
		return Payment{}, providerError(err)
	}
	// A payment refunded by hand before the charge has money collected again: no longer
	// all paid back.
	p, err = scanPayment(tx.QueryRow(ctx, `UPDATE payments.payments SET charged_cents = charged_cents + $2, outstanding_cents = 0,
		status = CASE WHEN status = 'refunded' THEN 'partially_refunded' ELSE status END,
		provider_charge = $3, charge_failure = NULL, version = version + 1, updated_at = now()
		WHERE id = $1 AND outstanding_cents = $2 RETURNING `+paymentColumns, p.ID, amount, ref))
	if err != nil {
		return Payment{}, err
	}
	return p, emitPayment(ctx, tx, events.PaymentCharged, p, amount, "")
}

// invoiceEnd issues the invoice of a cancellation or no-show fee once it is collected from
// payment p: one line, the fee. Nothing for an expiry, a free cancellation or a payment
// that collected nothing (a failed card: there is no money to bill for).
func (s *Store) invoiceEnd(ctx context.Context, tx pgx.Tx, p Payment, end reservationEnd) error {
	kind := map[string]string{"cancelled": KindCancellation, "no_show": KindNoShow}[end.status]
	if kind == "" || end.feeCents <= 0 || p.CapturedCents == 0 {
		return nil
	}
	line, vat := feeBill(kind, end.feeCents)
	_, err := s.issue(ctx, tx, draft{reservationID: p.ReservationID, customerID: p.CustomerID, paymentID: p.ID,
		currency: p.Currency, kind: kind, lines: []InvoiceLine{line}, vatCents: vat, buyer: buyerIn(ctx, p.CustomerID)})
	if errors.Is(err, ErrAlreadyInvoiced) {
		return nil
	}
	return err
}

// kept is the money payment p holds: its capture and second charge less every refund.
func (p Payment) kept() int64 { return p.CapturedCents + p.ChargedCents - p.RefundedCents }
