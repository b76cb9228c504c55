package customersapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// Customers of customers-api's seed (functions/customers/seed).
const (
	alice    = devissuer.CustomerAlice
	jonas    = "c5000000-0000-4000-8000-000000000007" // 20 years old
	nobodyID = "99999999-9999-4999-8999-999999999999"
)

// function is the real customers-api over a fresh database, mounted on an in-process
// transport as a host mounts it: its Authenticator in front of its route table.
type function struct {
	id        *authtest.Identity
	transport *platform.Transport
}

func newFunction(t *testing.T) *function {
	t.Helper()
	svc, err := customers.New(context.Background(), customers.Config{}, platform.Deps{DB: pg.NewDB(t, customers.Migrations)})
	require.NoError(t, err)
	f := &function{id: authtest.New(t), transport: platform.NewTransport(nil, nil)}
	f.transport.Mount(customersapi.Service, platform.Handler(svc, f.id.Authenticator(customersapi.Service)))
	return f
}

// clientAs is the client a function calling as service gets from its host ("" calls with no
// identity at all).
func (f *function) clientAs(service string) *customersapi.Client {
	var tokens oauth2.TokenSource
	if service != "" {
		tokens = f.id.ServiceTokens(service)
	}
	return customersapi.NewClient(platform.ForwardingClient(f.transport, tokens, 5*time.Second))
}

// period is a rental from 30 days ahead, three days long.
func period() (string, string) {
	p := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Hour)
	return p.Format(time.RFC3339), p.Add(72 * time.Hour).Format(time.RFC3339)
}

// requireError requires err to be customers-api's answer status and returns it.
func requireError(t *testing.T, err error, status int) *platform.CallError {
	t.Helper()
	var e *platform.CallError
	require.ErrorAs(t, err, &e)
	assert.Equal(t, customersapi.Service, e.Service)
	require.Equal(t, status, e.Status, e.Error())
	assert.Equal(t, status, e.Problem.Status, "the problem document was decoded")
	assert.NotEmpty(t, e.Problem.Detail)
	return e
}

func fields(p platform.Problem) []string {
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

// TestEligibility runs the eligibility operation, as reservations-api calls it, against the
// real function: the decision names the customer, refusals come with their codes, and every
// non-2xx answer is one *platform.CallError carrying customers-api's problem.
func TestEligibility(t *testing.T) {
	t.Parallel()
	f := newFunction(t)
	client := f.clientAs("reservations-api")
	ctx := context.Background()
	pickup, ret := period()

	e, err := client.Eligibility(ctx, alice, customersapi.Period{PickupAt: pickup, ReturnAt: ret})
	require.NoError(t, err)
	assert.True(t, e.Eligible)
	assert.Equal(t, alice, e.CustomerID)
	assert.Equal(t, &customersapi.Customer{ID: alice, Email: "alice@example.com", Status: "active"}, e.Customer)
	assert.Empty(t, e.Reasons)
	assert.NotEmpty(t, e.PickupDay)

	e, err = client.Eligibility(ctx, jonas, customersapi.Period{PickupAt: pickup, ReturnAt: ret})
	require.NoError(t, err)
	assert.False(t, e.Eligible)
	require.Len(t, e.Reasons, 1)
	assert.Equal(t, customers.ReasonUnderAge, e.Reasons[0].Code)
	assert.Contains(t, customersapi.Messages(e.Reasons)[0], "drivers must be 21")

	_, err = client.Eligibility(ctx, nobodyID, customersapi.Period{PickupAt: pickup, ReturnAt: ret})
	e404 := requireError(t, err, http.StatusNotFound)
	assert.Equal(t, platform.ProblemTypeBase+"not-found", e404.Problem.Type)

	_, err = client.Eligibility(ctx, alice, customersapi.Period{PickupAt: "tomorrow", ReturnAt: ret})
	e400 := requireError(t, err, http.StatusBadRequest)
	assert.Equal(t, []string{"pickupAt"}, fields(e400.Problem))
}

// TestApplicantEligibility: the same rules for someone not registered yet.
func TestApplicantEligibility(t *testing.T) {
	t.Parallel()
	client := newFunction(t).clientAs("reservations-api")
	ctx := context.Background()
	pickup, ret := period()
	licence := &customersapi.Licence{Number: "B1234567", IssuingCountry: "US", IssueDate: "2010-01-01", ExpiryDate: "2040-01-01"}
	young := time.Now().AddDate(-20, 0, 0).Format(time.DateOnly)
	tests := []struct {
		name         string
		applicant    customersapi.Applicant
		wantReasons  []string
		wantWarnings []string
		wantStatus   int      // of a *platform.CallError; 0 for a decision
		wantFields   []string // of a 400
	}{
		{name: "eligible, with a warning", applicant: customersapi.Applicant{DateOfBirth: "1990-01-01", Licence: licence},
			wantWarnings: []string{customers.WarningNonEULicence}},
		{name: "20 years old", applicant: customersapi.Applicant{DateOfBirth: young, Licence: &customersapi.Licence{Number: "B1234567", IssuingCountry: "DE", IssueDate: time.Now().AddDate(-2, 0, 0).Format(time.DateOnly), ExpiryDate: "2040-01-01"}},
			wantReasons: []string{customers.ReasonUnderAge}},
		{name: "no licence", applicant: customersapi.Applicant{DateOfBirth: "1990-01-01"}, wantReasons: []string{customers.ReasonNoLicence}},
		{name: "malformed", applicant: customersapi.Applicant{DateOfBirth: "12.04.1990", Licence: &customersapi.Licence{}},
			wantStatus: http.StatusBadRequest, wantFields: []string{"dateOfBirth", "licence.number", "licence.issuingCountry", "licence.issueDate", "licence.expiryDate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.applicant.PickupAt, tt.applicant.ReturnAt = pickup, ret
			e, err := client.ApplicantEligibility(ctx, tt.applicant)
			if tt.wantStatus != 0 {
				assert.ElementsMatch(t, tt.wantFields, fields(requireError(t, err, tt.wantStatus).Problem))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, len(tt.wantReasons) == 0, e.Eligible)
			var reasons, warnings []string
			for _, r := range e.Reasons {
				reasons = append(reasons, r.Code)
			}
			for _, w := range e.Warnings {
				warnings = append(warnings, w.Code)
			}
			assert.Equal(t, tt.wantReasons, reasons)
			assert.Equal(t, tt.wantWarnings, warnings)
			assert.Empty(t, e.CustomerID)
			assert.Nil(t, e.Customer)
		})
	}
}

// TestRegister: the answer is the new record's id, email and status; a taken email is 409
// and an invalid registration 400 naming its fields, as customers-api names them.
func TestRegister(t *testing.T) {
	t.Parallel()
	client := newFunction(t).clientAs("reservations-api")
	ctx := context.Background()
	reg := customersapi.Registration{FirstName: "Gina", LastName: "Gast", Email: "gina@example.com", Phone: "+49 30 1234567",
		DateOfBirth: "1990-01-01", Address: customersapi.Address{Street: "Teststraße 1", PostalCode: "10115", City: "Berlin"},
		Licence: &customersapi.Licence{Number: "B1234567", IssuingCountry: "DE", IssueDate: "2010-01-01", ExpiryDate: "2040-01-01"}}

	c, err := client.Register(ctx, reg)
	require.NoError(t, err)
	assert.NotEmpty(t, c.ID)
	assert.Equal(t, customersapi.Customer{ID: c.ID, Email: "gina@example.com", Status: "active"}, c)

	_, err = client.Register(ctx, reg)
	requireError(t, err, http.StatusConflict)

	bad := reg
	bad.Email, bad.Address.PostalCode = "gina", "1011"
	_, err = client.Register(ctx, bad)
	assert.ElementsMatch(t, []string{"email", "address.postalCode"}, fields(requireError(t, err, http.StatusBadRequest).Problem))
}

// TestRegisterGuest: a guest booking's registration, as reservations-api makes it: the
// rules of Register, the answers of Register; no other function may register a guest.
func TestRegisterGuest(t *testing.T) {
	t.Parallel()
	f := newFunction(t)
	client := f.clientAs("reservations-api")
	ctx := context.Background()
	reg := customersapi.Registration{FirstName: "Gina", LastName: "Gast", Email: "gina.guest@example.com", Phone: "+49 30 1234567",
		DateOfBirth: "1990-01-01", Address: customersapi.Address{Street: "Teststraße 1", PostalCode: "10115", City: "Berlin"},
		Licence: &customersapi.Licence{Number: "B1234567", IssuingCountry: "DE", IssueDate: "2010-01-01", ExpiryDate: "2040-01-01"}}

	c, err := client.RegisterGuest(ctx, reg)
	require.NoError(t, err)
	assert.Equal(t, customersapi.Customer{ID: c.ID, Email: "gina.guest@example.com", Status: "active"}, c)

	// The same guest again gets the record back (a retried guest booking); another person
	// with the address is a 409.
	again, err := client.RegisterGuest(ctx, reg)
	require.NoError(t, err)
	assert.Equal(t, c.ID, again.ID)
	other := reg
	other.LastName = "Fremd"
	_, err = client.RegisterGuest(ctx, other)
	requireError(t, err, http.StatusConflict)

	// A guest whose booking failed is withdrawn: gone (a repeat is 404), the address free.
	require.NoError(t, client.WithdrawGuest(ctx, c.ID))
	requireError(t, client.WithdrawGuest(ctx, c.ID), http.StatusNotFound)
	requireError(t, f.clientAs("payments-api").WithdrawGuest(ctx, c.ID), http.StatusForbidden)
	fresh, err := client.RegisterGuest(ctx, reg)
	require.NoError(t, err)
	assert.NotEqual(t, c.ID, fresh.ID)

	bad := reg
	bad.FirstName = "Click https://evil.example"
	_, err = client.RegisterGuest(ctx, bad)
	assert.Equal(t, []string{"firstName"}, fields(requireError(t, err, http.StatusBadRequest).Problem))

	reg.Email = "other.guest@example.com"
	_, err = f.clientAs("payments-api").RegisterGuest(ctx, reg)
	requireError(t, err, http.StatusForbidden)
	_, err = f.clientAs("").RegisterGuest(ctx, reg)
	requireError(t, err, http.StatusUnauthorized)
}

// TestRefusedCallers: customers-api admits reservations-api's identity to the eligibility
// checks only; any other function gets 403, a call without identity 401 — each one
// *platform.CallError.
func TestRefusedCallers(t *testing.T) {
	t.Parallel()
	f := newFunction(t)
	ctx := context.Background()
	pickup, ret := period()
	tests := []struct {
		name   string
		caller string
		want   int
	}{
		{"another function", "payments-api", http.StatusForbidden},
		{"the notifier", "notification-worker", http.StatusForbidden},
		{"no identity", "", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := f.clientAs(tt.caller)
			_, err := client.Eligibility(ctx, alice, customersapi.Period{PickupAt: pickup, ReturnAt: ret})
			requireError(t, err, tt.want)
			_, err = client.ApplicantEligibility(ctx, customersapi.Applicant{DateOfBirth: "1990-01-01", PickupAt: pickup, ReturnAt: ret})
			requireError(t, err, tt.want)
		})
	}
}

// TestTransportFailuresAreNotAnswers: when customers-api cannot be reached the error is the
// transport's, never a *platform.CallError; an answer that is no problem document still is
// one.
func TestTransportFailuresAreNotAnswers(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	tr := platform.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down }), nil)
	_, err := customersapi.NewClient(&http.Client{Transport: tr}).Eligibility(context.Background(), alice, customersapi.Period{})
	require.ErrorIs(t, err, down)
	var e *platform.CallError
	assert.False(t, errors.As(err, &e))

	tr = platform.NewTransport(nil, nil)
	tr.Mount(customersapi.Service, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream connect error", http.StatusBadGateway)
	}))
	_, err = customersapi.NewClient(&http.Client{Transport: tr}).Eligibility(context.Background(), alice, customersapi.Period{})
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusBadGateway, e.Status)
	assert.Contains(t, e.Error(), "customers-api answered 502")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
