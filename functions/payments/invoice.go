package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// VATPercent is the German standard VAT rate; prices are gross, VAT is contained in them.
const VATPercent = 19

// Invoice is an issued invoice. Numbers are OCR-<year>-<six digits>, consecutive per year.
type Invoice struct {
	ID            string        `json:"id"`
	Number        string        `json:"number"`
	ReservationID string        `json:"reservationId"`
	PaymentID     string        `json:"paymentId,omitempty"`
	CustomerID    string        `json:"customerId"`
	Currency      string        `json:"currency"`
	Lines         []InvoiceLine `json:"lines"`
	NetCents      int64         `json:"netCents"`
	VATCents      int64         `json:"vatCents"`
	GrossCents    int64         `json:"grossCents"`
	Version       int           `json:"version"`
	IssuedAt      time.Time     `json:"issuedAt"`
}

// InvoiceLine is one position: its gross amount split into net and VAT.
type InvoiceLine struct {
	Description    string `json:"description"`
	NetCents       int64  `json:"netCents"`
	VATRatePercent int    `json:"vatRatePercent"`
	VATCents       int64  `json:"vatCents"`
	GrossCents     int64  `json:"grossCents"`
}

// LineInput is a position to invoice, by its gross amount.
type LineInput struct {
	Description string `json:"description"`
	GrossCents  int64  `json:"grossCents"`
}

// IssueInput is what an invoice is issued from.
type IssueInput struct {
	ReservationID string      `json:"reservationId"`
	CustomerID    string      `json:"customerId"`
	PaymentID     string      `json:"paymentId,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	Lines         []LineInput `json:"lines"`
}

func (in IssueInput) validate() []platform.FieldError {
	var errs []platform.FieldError
	if !validUUID(in.ReservationID) {
		errs = append(errs, platform.FieldError{Field: "reservationId", Reason: "must be a UUID"})
	}
	if !validUUID(in.CustomerID) {
		errs = append(errs, platform.FieldError{Field: "customerId", Reason: "must be a UUID"})
	}
	if in.PaymentID != "" && !validUUID(in.PaymentID) {
		errs = append(errs, platform.FieldError{Field: "paymentId", Reason: "must be a UUID"})
	}
	if in.Currency != "" && in.Currency != "EUR" {
		errs = append(errs, platform.FieldError{Field: "currency", Reason: "must be EUR"})
	}
	if len(in.Lines) == 0 || len(in.Lines) > 50 {
		errs = append(errs, platform.FieldError{Field: "lines", Reason: "must hold 1 to 50 lines"})
	}
	for i, l := range in.Lines {
		if l.Description == "" || len(l.Description) > 200 {
			errs = append(errs, platform.FieldError{Field: fmt.Sprintf("lines[%d].description", i), Reason: "must be 1 to 200 characters"})
		}
		if l.GrossCents <= 0 || l.GrossCents > 100_000_000 {
			errs = append(errs, platform.FieldError{Field: fmt.Sprintf("lines[%d].grossCents", i), Reason: "must be between 1 and 100000000"})
		}
	}
	return errs
}

// SplitGross splits a gross amount into net and VAT, net rounded half up.
func SplitGross(gross int64) (net, vat int64) {
	net = (gross*100*2 + (100 + VATPercent)) / (2 * (100 + VATPercent))
	return net, gross - net
}

const invoiceColumns = `id, number, reservation_id, coalesce(payment_id::text, ''), customer_id, currency, lines,
	net_cents, vat_cents, gross_cents, version, issued_at`

func scanInvoice(row pgx.Row) (Invoice, error) {
	var inv Invoice
	var lines []byte
	err := row.Scan(&inv.ID, &inv.Number, &inv.ReservationID, &inv.PaymentID, &inv.CustomerID, &inv.Currency, &lines,
		&inv.NetCents, &inv.VATCents, &inv.GrossCents, &inv.Version, &inv.IssuedAt)
	if err != nil {
		return inv, err
	}
	return inv, json.Unmarshal(lines, &inv.Lines)
}

// ErrAlreadyInvoiced is a second invoice for one reservation.
var ErrAlreadyInvoiced = errors.New("the reservation is already invoiced")

// IssueInvoice numbers and stores an invoice in tx and records invoice.issued. The number
// comes from the year's counter row, incremented in the same transaction: issuers of one
// year queue on its row lock, and a rollback gives the number back, so committed numbers
// are consecutive with no gap and no duplicate. A reservation already invoiced is
// ErrAlreadyInvoiced with the existing invoice (and no number is used), also when another
// transaction invoiced it concurrently.
func (s *Store) IssueInvoice(ctx context.Context, tx pgx.Tx, in IssueInput) (Invoice, error) {
	if in.Currency == "" {
		in.Currency = "EUR"
	}
	inv := Invoice{Lines: make([]InvoiceLine, 0, len(in.Lines))}
	for _, l := range in.Lines {
		net, vat := SplitGross(l.GrossCents)
		inv.Lines = append(inv.Lines, InvoiceLine{Description: l.Description, NetCents: net, VATRatePercent: VATPercent, VATCents: vat, GrossCents: l.GrossCents})
		inv.NetCents += net
		inv.VATCents += vat
		inv.GrossCents += l.GrossCents
	}
	// Issuers of one reservation queue here, so the check below sees a concurrent issuer's
	// invoice instead of both racing to the unique constraint (once a 500). Checked before
	// taking a number, so a duplicate never holds the counter.
	if err := lockReservation(ctx, tx, in.ReservationID); err != nil {
		return Invoice{}, err
	}
	existing, err := scanInvoice(tx.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM payments.invoices WHERE reservation_id = $1`, in.ReservationID))
	if err == nil {
		return existing, ErrAlreadyInvoiced
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Invoice{}, err
	}
	var year int
	var seq int64
	if err := tx.QueryRow(ctx, `INSERT INTO payments.invoice_counters (year, last)
		VALUES (extract(year FROM now() AT TIME ZONE 'Europe/Berlin')::int, 1)
		ON CONFLICT (year) DO UPDATE SET last = payments.invoice_counters.last + 1
		RETURNING year, last`).Scan(&year, &seq); err != nil {
		return Invoice{}, err
	}
	lines, err := json.Marshal(inv.Lines)
	if err != nil {
		return Invoice{}, err
	}
	var paymentID any
	if in.PaymentID != "" {
		paymentID = in.PaymentID
	}
	inv, err = scanInvoice(tx.QueryRow(ctx, `INSERT INTO payments.invoices
		(number, year, seq, reservation_id, payment_id, customer_id, currency, lines, net_cents, vat_cents, gross_cents)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING `+invoiceColumns,
		fmt.Sprintf("OCR-%d-%06d", year, seq), year, seq, in.ReservationID, paymentID, in.CustomerID, in.Currency,
		lines, inv.NetCents, inv.VATCents, inv.GrossCents))
	if err != nil {
		return Invoice{}, err
	}
	return inv, events.Emit(ctx, tx, Migrations.Schema, ServiceName, events.InvoiceIssued, inv.ID, events.Invoice{
		InvoiceID: inv.ID, Version: int64(inv.Version), Number: inv.Number, ReservationID: inv.ReservationID,
		CustomerID: inv.CustomerID, NetCents: inv.NetCents, VatCents: inv.VATCents, GrossCents: inv.GrossCents, Currency: inv.Currency,
	})
}

// GetInvoice returns an invoice by id.
func (s *Store) GetInvoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := scanInvoice(s.db.Pool.QueryRow(ctx, `SELECT `+invoiceColumns+` FROM payments.invoices WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Invoice{}, platform.NotFound("no invoice %s", id)
	}
	return inv, err
}

// ListInvoices returns a page of a customer's invoices (every customer's when customerID is
// empty), newest first, and the total.
func (s *Store) ListInvoices(ctx context.Context, customerID string, page, size int) ([]Invoice, int, error) {
	var total int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM payments.invoices WHERE ($1 = '' OR customer_id::text = $1)`, customerID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+invoiceColumns+` FROM payments.invoices WHERE ($1 = '' OR customer_id::text = $1)
		ORDER BY year DESC, seq DESC LIMIT $2 OFFSET $3`, customerID, size, (page-1)*size)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invoice, error) { return scanInvoice(r) })
	if out == nil {
		out = []Invoice{}
	}
	return out, total, err
}
