// Package payments is the payments-api function: card payments of reservations (authorize
// at booking, capture at return, fee capture or void on cancellation, refunds) through a
// Provider — a built-in Sandbox with deterministic test cards — and invoices numbered
// consecutively per year (OCR-2026-000001).
//
// Card details reach payments-api only (design.md §9): POST /api/payments/methods has the
// provider tokenize a card and answers an opaque payment-method id (pm_…), which bookings,
// reservation.created and every log and dead letter carry instead; payments keeps the
// provider's token, brand, last four digits and expiry, never the number or the CVC.
//
// Every state change is a conditional UPDATE (… WHERE status IN … AND amounts within
// limits) that locks the payment row for the rest of its transaction; the provider is called
// while the lock is held, with an idempotency key that a retry of the same operation derives
// again, so concurrent or repeated requests (or redelivered events) reach the provider once.
// Every mutating POST but the tokenization takes an Idempotency-Key. The function consumes
// reservation.created / payment_requested / changed / completed / cancelled / expired /
// no_show and customer.erased at /cloudevents, and a PingSource's ping there purges expired
// idempotency keys and unused payment methods.
//
// The rules — another card after a decline, adjusting the authorization to a change, the
// capture tolerance and the second charge, cancellation and no-show fees, invoices line by
// line with VAT that adds up, business customers' company and VAT id, erasure — are in
// docs/payments.md. Decisions of the code:
//   - What one reservation's authorization, end and invoice do is serialized by a
//     transaction lock on the reservation; any unique violation left is a 409.
//   - A provider that does not answer within PAYMENT_PROVIDER_TIMEOUT is 504 (events: 5xx,
//     retried) and leaves nothing behind; provider keys are derived from what a call does,
//     never from an id made in a transaction that may be lost.
//   - The tokenization takes no Idempotency-Key: the key store would keep a hash of the card
//     details, and a repeated tokenization only makes another unused method (purged after
//     MethodTTL).
package payments

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "payments-api"

// Prefixes: payments (payment methods below them) and invoices.
const (
	Prefix        = "/api/payments"
	MethodPrefix  = Prefix + "/methods"
	InvoicePrefix = "/api/invoices"
)

//go:embed openapi.json
var openAPIDocument []byte

// Config is the function's configuration.
type Config struct {
	// Provider names the payment provider; only the built-in "sandbox" exists so far.
	Provider string `env:"PAYMENT_PROVIDER, default=sandbox"`
	// ProviderTimeout bounds one provider call; past it the outcome is unknown and the call
	// is retried with the same idempotency key.
	ProviderTimeout time.Duration `env:"PAYMENT_PROVIDER_TIMEOUT, default=5s"`
	// Using is the provider to pay through when the caller built it (tests tune and close
	// their own sandbox); nil builds the one Provider names. Never read from the environment.
	Using Provider
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Provider != "sandbox" {
		return fmt.Errorf("PAYMENT_PROVIDER must be sandbox, got %q", c.Provider)
	}
	if c.ProviderTimeout <= 0 {
		return fmt.Errorf("PAYMENT_PROVIDER_TIMEOUT must be positive")
	}
	return nil
}

// Service serves the payments API.
type Service struct {
	db        *database.DB
	store     *Store
	keys      *idempotency.Keys
	customers *customersapi.Client // nil: invoices name no company
	now       func() time.Time
}

// New returns the service over deps.DB paying through cfg.Using, else a new built-in
// sandbox over the same database; deps.Client (the host's, which calls other functions as
// payments-api) reaches customers-api for the company name and VAT id of a business
// customer's invoices (nil: invoices name customers by id only).
func New(ctx context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	db, client, provider := deps.DB, deps.Client, cfg.Using
	if provider == nil {
		sandbox, err := NewSandbox(ctx, db.Pool.Config())
		if err != nil {
			return nil, err
		}
		provider = sandbox
	}
	if cfg.ProviderTimeout <= 0 {
		cfg.ProviderTimeout = 5 * time.Second
	}
	provider = measured{provider} // provider_metrics.go
	s := &Service{db: db, store: &Store{db: db, provider: provider, timeout: cfg.ProviderTimeout},
		keys: idempotency.New(db, Migrations.Schema), now: time.Now}
	if client != nil {
		s.customers = customersapi.NewClient(client)
	}
	return s, nil
}

// Store returns the service's store (tests and the event consumer use it).
func (s *Service) Store() *Store { return s.store }

// Function describes payments-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix, InvoicePrefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table. Anyone may tokenize a card (a guest before booking): the
// payment method is bound to the customer who signed in, else to the first customer it
// pays for. Customers read their own payments and invoices (another customer's answer 404);
// agents and admins change payments; invoices are issued from reservation events, and by
// hand only by admins. /cloudevents admits only the event
// platform's deliveries from payments' own Triggers and PingSource.
func (s *Service) Routes() []platform.Route {
	readers := platform.Allow(platform.RoleCustomer, platform.RoleAgent)
	staff := platform.Allow(platform.RoleAgent)
	admins := platform.Allow()
	senders := platform.Deliveries(
		platform.Trigger("payments-api-reservation-created"),
		platform.Trigger("payments-api-reservation-payment-requested"),
		platform.Trigger("payments-api-reservation-changed"),
		platform.Trigger("payments-api-reservation-completed"),
		platform.Trigger("payments-api-reservation-cancelled"),
		platform.Trigger("payments-api-reservation-expired"),
		platform.Trigger("payments-api-reservation-no-show"),
		platform.Trigger("payments-api-customer-erased"),
		platform.PingSource("payments-key-purge"),
	)
	w := s.keys.Wrap
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getPaymentsOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "createPaymentMethod", Method: http.MethodPost, Path: MethodPrefix, Access: platform.Public, Handler: s.handleCreateMethod},
		{Name: "authorizePayment", Method: http.MethodPost, Path: Prefix, Access: staff, Handler: w(s.handleAuthorize)},
		{Name: "findPayments", Method: http.MethodGet, Path: Prefix, Access: readers, Handler: s.handleFind},
		{Name: "getPayment", Method: http.MethodGet, Path: Prefix + "/{id}", Access: readers, Handler: s.handleGet},
		{Name: "capturePayment", Method: http.MethodPost, Path: Prefix + "/{id}/capture", Access: staff, Handler: w(s.handleCapture)},
		{Name: "voidPayment", Method: http.MethodPost, Path: Prefix + "/{id}/void", Access: staff, Handler: w(s.handleVoid)},
		{Name: "refundPayment", Method: http.MethodPost, Path: Prefix + "/{id}/refund", Access: staff, Handler: w(s.handleRefund)},
		{Name: "issueInvoice", Method: http.MethodPost, Path: InvoicePrefix, Access: admins, Handler: w(s.handleIssueInvoice)},
		{Name: "listInvoices", Method: http.MethodGet, Path: InvoicePrefix, Access: readers, Handler: s.handleListInvoices},
		{Name: "getInvoice", Method: http.MethodGet, Path: InvoicePrefix + "/{id}", Access: readers, Handler: s.handleGetInvoice},
		{Name: "getInvoicePDF", Method: http.MethodGet, Path: InvoicePrefix + "/{id}/pdf", Access: readers, Handler: s.handleGetInvoicePDF},
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: senders,
			Handler: s.prefetchBuyer(events.Receiver(s.db, Migrations.Schema, s.handleEvent))},
	}
}

// inTx runs fn in a transaction of the service's database. A unique violation — two
// requests creating the same thing at once where no lock queued them — is a conflict the
// caller may retry (409), never a 500.
func (s *Service) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := s.db.InTx(ctx, fn)
	if database.IsCode(err, database.UniqueViolation) {
		return &platform.Error{Kind: platform.KindConflict, Message: "a concurrent request created the same object; retry to see it", Err: err}
	}
	return err
}
