package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// VATPercent is the German standard VAT rate.
const VATPercent = rental.VATPercent

// The kinds of invoice: what it bills.
const (
	KindRental       = "rental"
	KindCancellation = "cancellation"
	KindNoShow       = "no_show"
)

// Invoice is an issued invoice. Numbers are OCR-<year>-<six digits>, consecutive per year.
// Lines are net; VATCents is the invoice's VAT (docs/payments.md: how it is computed so
// that the lines, the VAT and the gross add up to the cent) and NetCents + VATCents =
// GrossCents, what the customer pays.
type Invoice struct {
	ID            string `json:"id"`
	Number        string `json:"number"`
	Kind          string `json:"kind"`
	ReservationID string `json:"reservationId"`
	PaymentID     string `json:"paymentId,omitempty"`
	CustomerID    string `json:"customerId"`
	// CompanyName and VATID are a business customer's, as customers-api had them at issue
	// time; an erasure of the customer leaves them (an invoice is a legal record).
	CompanyName    string        `json:"companyName,omitempty"`
	VATID          string        `json:"vatId,omitempty"`
	Currency       string        `json:"currency"`
	Lines          []InvoiceLine `json:"lines"`
	NetCents       int64         `json:"netCents"`
	VATRatePercent int           `json:"vatRatePercent"`
	VATCents       int64         `json:"vatCents"`
	GrossCents     int64         `json:"grossCents"`
	Version        int           `json:"version"`
	IssuedAt       time.Time     `json:"issuedAt"`
}

// InvoiceLine is one position, net: NetCents = Quantity × UnitNetCents.
type InvoiceLine struct {
	Code         string `json:"code"`
	Description  string `json:"description"`
	Quantity     int    `json:"quantity"`
	Per          string `json:"per"`
	UnitNetCents int64  `json:"unitNetCents"`
	NetCents     int64  `json:"netCents"`
}

// LineInput is a position of an invoice issued by hand, by its gross amount.
type LineInput struct {
	Description string `json:"description"`
	GrossCents  int64  `json:"grossCents"`
}

// IssueInput is the body of an invoice issued by hand (admins): its positions by gross.
type IssueInput struct {
	ReservationID string      `json:"reservationId"`
	CustomerID    string      `json:"customerId"`
	PaymentID     string      `json:"paymentId,omitempty"`
	Currency      string      `json:"currency,omitempty"`
	Lines         []LineInput `json:"lines"`
}

// validate checks in, every field at once, and puts its ids in lower case (as stored).
func (in *IssueInput) validate() []platform.FieldError {
	var errs []platform.FieldError
	in.ReservationID, in.CustomerID, in.PaymentID = strings.ToLower(in.ReservationID), strings.ToLower(in.CustomerID), strings.ToLower(in.PaymentID)
	if !platform.ValidUUID(in.ReservationID) {
		errs = append(errs, platform.FieldError{Field: "reservationId", Reason: "must be a UUID"})
	}
	if !platform.ValidUUID(in.CustomerID) {
		errs = append(errs, platform.FieldError{Field: "customerId", Reason: "must be a UUID"})
	}
	if in.PaymentID != "" && !platform.ValidUUID(in.PaymentID) {
		errs = append(errs, platform.FieldError{Field: "paymentId", Reason: "must be a UUID"})
	}
	if in.Currency != "" && in.Currency != "EUR" {
		errs = append(errs, platform.FieldError{Field: "currency", Reason: "must be EUR"})
	}
	if len(in.Lines) == 0 || len(in.Lines) > 50 {
		errs = append(errs, platform.FieldError{Field: "lines", Reason: "must hold 1 to 50 lines"})
	}
	for i, l := range in.Lines {
		if l.Description == "" || len([]rune(l.Description)) > 200 {
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

// VATOf is the VAT on a net amount (not negative), rounded half up once (docs/pricing.md).
func VATOf(net int64) int64 { return rental.VATOf(net) }

// draft is an invoice before its number: net lines and the VAT.
type draft struct {
	reservationID, customerID, paymentID, currency, kind string
	lines                                                []InvoiceLine
	vatCents                                             int64
	// buyer is the business customer the invoice names (company name, VAT id), read before
	// the transaction (buyer.go); empty for an individual.
	buyer customersapi.Record
}

func (d draft) net() int64 {
	var n int64
	for _, l := range d.lines {
		n += l.NetCents
	}
	return n
}

// ErrAlreadyInvoiced is a second invoice for one reservation.
var ErrAlreadyInvoiced = errors.New("the reservation is already invoiced")

// IssueInvoice issues an invoice by hand from gross positions: each is split into net and
// VAT (net half up), the invoice's VAT is the sum of the lines' VAT. A business customer
// is named when ctx carries their record (readBuyer, before the transaction). See issue.
// byHandFits holds an invoice issued by hand to the booking payments knows of its
// reservation (in's reservation locked by the caller): the booking's customer and payment
// (else 400 — Bob was invoiced for Alice's booking, and read it), and not a booking under
// way, whose invoice payments issues at its end (409 — the hand-made one took its place, and
// the rental's invoice was dropped without a word). Under way is every booking payments has
// a payment of and no end (cancelled, expired, no-show) for, whatever its payment's status:
// a declined card waiting for another, an agent's capture by hand. A returned rental has its
// invoice already (409 too). A reservation payments has no payment of (a booking paid
// outside, an old one) is invoiced as asked.
func (s *Store) byHandFits(ctx context.Context, tx pgx.Tx, in IssueInput) error {
	p, found, err := s.ByReservation(ctx, tx, in.ReservationID)
	if err != nil || !found {
		return err
	}
	var errs platform.FieldErrors
	if in.CustomerID != p.CustomerID {
		errs.Add("customerId", "is not the customer of the reservation's booking")
	}
	if in.PaymentID != "" && in.PaymentID != p.ID {
		errs.Add("paymentId", "is not the reservation's payment")
	}
	if len(errs) > 0 {
		return platform.Invalid("the invoice does not fit the reservation", errs...)
	}
	if _, ended, err := endOf(ctx, tx, in.ReservationID); err != nil || ended {
		return err
	}
	if inv, err := s.invoiceWhere(ctx, tx, `reservation_id = $1`, in.ReservationID); err == nil {
		return platform.Conflict("reservation %s is invoiced already (%s)", in.ReservationID, inv.Number).WithCode("invoiced")
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return platform.Conflict("reservation %s is under way: payments-api issues its invoice at its end", in.ReservationID).WithCode("under_way")
}

func (s *Store) IssueInvoice(ctx context.Context, tx pgx.Tx, in IssueInput) (Invoice, error) {
	d := draft{reservationID: in.ReservationID, customerID: in.CustomerID, paymentID: in.PaymentID,
		currency: in.Currency, kind: KindRental, buyer: buyerIn(ctx, in.CustomerID)}
	for _, l := range in.Lines {
		net, vat := SplitGross(l.GrossCents)
		d.lines = append(d.lines, InvoiceLine{Code: "ITEM", Description: l.Description, Quantity: 1, Per: "rental", UnitNetCents: net, NetCents: net})
		d.vatCents += vat
	}
	return s.issue(ctx, tx, d)
}

// issue numbers and stores an invoice in tx with its lines and records invoice.issued. The
// number comes from the year's counter row, incremented in the same transaction: issuers
// of one year queue on its row lock, and a rollback gives the number back, so committed
// numbers are consecutive with no gap and no duplicate. A reservation already invoiced is
// ErrAlreadyInvoiced with the existing invoice (and no number is used), also when another
// transaction invoiced it concurrently. A business customer's company name and VAT id
// (d.buyer, read from customers-api before the transaction) are kept on the invoice.
func (s *Store) issue(ctx context.Context, tx pgx.Tx, d draft) (Invoice, error) {
	if d.currency == "" {
		d.currency = "EUR"
	}
	// Issuers of one reservation queue here, so the check below sees a concurrent issuer's
	// invoice instead of both racing to the unique constraint (once a 500). Checked before
	// taking a number, so a duplicate never holds the counter.
	if err := lockReservation(ctx, tx, d.reservationID); err != nil {
		return Invoice{}, err
	}
	existing, err := s.invoiceWhere(ctx, tx, `reservation_id = $1`, d.reservationID)
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
	var paymentID any
	if d.paymentID != "" {
		paymentID = d.paymentID
	}
	net := d.net()
	var id string
	if err := tx.QueryRow(ctx, `INSERT INTO payments.invoices
		(number, year, seq, kind, reservation_id, payment_id, customer_id, company_name, vat_id, currency, net_cents, vat_cents, gross_cents)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		fmt.Sprintf("OCR-%d-%06d", year, seq), year, seq, d.kind, d.reservationID, paymentID, d.customerID,
		nullable(d.buyer.CompanyName), nullable(d.buyer.VATID), d.currency, net, d.vatCents, net+d.vatCents).Scan(&id); err != nil {
		return Invoice{}, err
	}
	for i, l := range d.lines {
		if _, err := tx.Exec(ctx, `INSERT INTO payments.invoice_lines
			(invoice_id, position, code, description, quantity, per, unit_net_cents, net_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			id, i+1, l.Code, l.Description, l.Quantity, l.Per, l.UnitNetCents, l.NetCents); err != nil {
			return Invoice{}, err
		}
	}
	inv, err := s.invoiceWhere(ctx, tx, `id = $1`, id)
	if err != nil {
		return Invoice{}, err
	}
	return inv, events.Emit(ctx, tx, Migrations.Schema, ServiceName, events.InvoiceIssued, inv.ID, events.Invoice{
		InvoiceID: inv.ID, Version: int64(inv.Version), Number: inv.Number, ReservationID: inv.ReservationID,
		CustomerID: inv.CustomerID, NetCents: inv.NetCents, VatCents: inv.VATCents, GrossCents: inv.GrossCents,
		Currency: inv.Currency, Kind: inv.Kind,
	})
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

const invoiceColumns = `id, number, kind, reservation_id, coalesce(payment_id::text, ''), customer_id,
	coalesce(company_name, ''), coalesce(vat_id, ''), currency, net_cents, vat_cents, gross_cents, version, issued_at`

func scanInvoice(row pgx.Row) (Invoice, error) {
	var inv Invoice
	err := row.Scan(&inv.ID, &inv.Number, &inv.Kind, &inv.ReservationID, &inv.PaymentID, &inv.CustomerID,
		&inv.CompanyName, &inv.VATID, &inv.Currency, &inv.NetCents, &inv.VATCents, &inv.GrossCents, &inv.Version, &inv.IssuedAt)
	inv.VATRatePercent = VATPercent
	return inv, err
}

// querier is a transaction or the pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) q(tx pgx.Tx) querier {
	if tx != nil {
		return tx
	}
	return s.db.Pool
}

// invoiceWhere reads the one invoice matching cond (on $1) with its lines.
func (s *Store) invoiceWhere(ctx context.Context, tx pgx.Tx, cond string, arg any) (Invoice, error) {
	inv, err := scanInvoice(s.q(tx).QueryRow(ctx, `SELECT `+invoiceColumns+` FROM payments.invoices WHERE `+cond, arg))
	if err != nil {
		return Invoice{}, err
	}
	list := []Invoice{inv}
	if err := s.withLines(ctx, tx, list); err != nil {
		return Invoice{}, err
	}
	return list[0], nil
}

// withLines fills in the lines of invoices.
func (s *Store) withLines(ctx context.Context, tx pgx.Tx, invoices []Invoice) error {
	ids := make([]string, len(invoices))
	at := map[string]int{}
	for i, inv := range invoices {
		ids[i], at[inv.ID] = inv.ID, i
		invoices[i].Lines = []InvoiceLine{}
	}
	rows, err := s.q(tx).Query(ctx, `SELECT invoice_id, code, description, quantity, per, unit_net_cents, net_cents
		FROM payments.invoice_lines WHERE invoice_id = ANY($1::uuid[]) ORDER BY invoice_id, position`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var l InvoiceLine
		if err := rows.Scan(&id, &l.Code, &l.Description, &l.Quantity, &l.Per, &l.UnitNetCents, &l.NetCents); err != nil {
			return err
		}
		invoices[at[id]].Lines = append(invoices[at[id]].Lines, l)
	}
	return rows.Err()
}

// GetInvoice returns an invoice by id.
func (s *Store) GetInvoice(ctx context.Context, id string) (Invoice, error) {
	inv, err := s.invoiceWhere(ctx, nil, `id = $1`, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Invoice{}, platform.NotFound("no invoice %s", id)
	}
	return inv, err
}

// invoiceFilter is ListInvoices' WHERE: customer $1 and reservation $2, each "" for any.
const invoiceFilter = ` WHERE ($1 = '' OR customer_id = NULLIF($1, '')::uuid) AND ($2 = '' OR reservation_id = NULLIF($2, '')::uuid)`

// ListInvoices returns a page of a customer's invoices (every customer's when customerID is
// empty), of one reservation's when reservationID is set, newest first, and the total.
func (s *Store) ListInvoices(ctx context.Context, customerID, reservationID string, page, size int) ([]Invoice, int, error) {
	var total int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM payments.invoices`+invoiceFilter, customerID, reservationID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+invoiceColumns+` FROM payments.invoices`+invoiceFilter+`
		ORDER BY year DESC, seq DESC LIMIT $3 OFFSET $4`, customerID, reservationID, size, (page-1)*size)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Invoice, error) { return scanInvoice(r) })
	if err != nil {
		return nil, 0, err
	}
	if out == nil {
		out = []Invoice{}
	}
	return out, total, s.withLines(ctx, nil, out)
}
