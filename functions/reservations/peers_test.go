package reservations_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// The tests of what a booking asks other functions, and as whom (design.md §9): reservations
// checks the booker itself and calls customers-api, vehicles-api and pricing-api as
// reservations-api.

// guestBody is a guest booking of vehicle1 for [p, ret) by a guest born on dob whose licence
// runs from issued to expiry.
func guestBody(p, ret time.Time, email, dob, issued, expiry string) string {
	return strings.Replace(bookingBody(vehicle1, p, ret, ""), "{", fmt.Sprintf(`{"customer":{"firstName":"Gina","lastName":"Gast","email":%q,
		"phone":"+49 30 1234567","dateOfBirth":%q,"address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"},
		"licence":{"number":"B1234567","issuingCountry":"DE","issueDate":%q,"expiryDate":%q}},`, email, dob, issued, expiry), 1)
}

// TestGuestBooking: a guest is checked by customers-api's eligibility rules — the only copy of
// them — before anything else happens; a guest they refuse is refused with customers-api's
// reason and never registered, and nothing is booked. An eligible guest is registered and
// booked in one call.
func TestGuestBooking(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	day := func(years, months int) string { return time.Now().AddDate(years, months, 0).Format(time.DateOnly) }
	tests := []struct {
		name       string
		body       string
		want       int
		wantDetail string   // part of the problem's detail: customers-api's own message
		wantFields []string // for 400s
	}{
		{"20 years old", guestBody(p, ret, "g1@example.com", day(-20, 0), day(-2, 0), "2040-01-01"), 422, "drivers must be 21 on the pickup day", []string{"eligibility.under_minimum_age"}},
		{"licence held half a year", guestBody(p, ret, "g2@example.com", "1990-01-01", day(0, -6), "2040-01-01"), 422, "the licence must have been held for a year", []string{"eligibility.licence_held_less_than_one_year"}},
		{"licence expired", guestBody(p, ret, "g3@example.com", "1990-01-01", "2010-01-01", "2020-01-01"), 422, "the licence expires on 2020-01-01", []string{"eligibility.licence_expires_before_return"}},
		{"no licence", strings.Replace(guestBody(p, ret, "g4@example.com", "1990-01-01", "2010-01-01", "2040-01-01"),
			`,
		"licence":{"number":"B1234567","issuingCountry":"DE","issueDate":"2010-01-01","expiryDate":"2040-01-01"}`, "", 1), 422, "no driver's licence", []string{"eligibility.licence_missing"}},
		{"malformed date of birth", guestBody(p, ret, "g5@example.com", "12.04.1990", "2010-01-01", "2040-01-01"), 400, "", []string{"customer.dateOfBirth"}},
		{"no customer", bookingBody(vehicle1, p, ret, ""), 400, "", []string{"customer"}},
		{"invalid registration", guestBody(p, ret, "not-an-email", "1990-01-01", "2010-01-01", "2040-01-01"), 400, "", []string{"customer.email"}},
		// Everything wrong with the guest in one answer, not the eligibility's fields first
		// and the registration's once those are mended.
		{"every invalid field at once", strings.Replace(guestBody(p, ret, "not-an-email", "12.04.1990", "2010-01-01", "2040-01-01"),
			`"phone":"+49 30 1234567"`, `"phone":"call me"`, 1), 400, "", []string{"customer.email", "customer.phone", "customer.dateOfBirth"}},
		{"email already registered", guestBody(p, ret, aliceEmail, "1990-01-01", "2010-01-01", "2040-01-01"), 409, "sign in to book", nil},
		{"vehicle in maintenance", strings.Replace(guestBody(p, ret, "g6@example.com", "1990-01-01", "2010-01-01", "2040-01-01"), vehicle1, vehicleMaintenance, 1), 409, "maintenance", nil},
	}
	before, customersBefore := a.snapshot(), a.customerRows()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			quotes := a.quotes.Load()
			r := a.do("", http.MethodPost, "/api/reservations/guest", tt.body)
			require.Equal(t, tt.want, r.status, r.String())
			if tt.want == http.StatusUnprocessableEntity {
				assert.Equal(t, quotes, a.quotes.Load(), "an ineligible guest is refused before the car is priced")
			}
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			prob := decode[platform.Problem](t, r)
			assert.Contains(t, prob.Detail, tt.wantDetail)
			var fields []string
			for _, f := range prob.Errors {
				fields = append(fields, f.Field)
			}
			assert.Equal(t, tt.wantFields, fields)
		})
	}
	assert.Equal(t, before, a.snapshot(), "a refused guest booking books nothing")
	assert.Equal(t, customersBefore, a.customerRows(), "a refused guest is not registered")

	r := a.do("", http.MethodPost, "/api/reservations/guest", guestBody(p, ret, "Gina@Example.com", "1990-01-01", "2010-01-01", "2040-01-01"))
	require.Equal(t, 201, r.status, r.String())
	res := decode[reservations.Reservation](t, r)
	assert.Equal(t, reservations.StatusPending, res.Status)
	assert.Equal(t, customersBefore+1, a.customerRows(), "the guest is registered")
	var email string
	require.NoError(t, a.customers.Pool.QueryRow(context.Background(), `SELECT email FROM customers.customers WHERE id = $1`, res.CustomerID).Scan(&email))
	assert.Equal(t, "Gina@Example.com", email, "the reservation belongs to the registered guest")
	assert.Equal(t, 200, a.do("", http.MethodGet, "/api/reservations/lookup?id="+res.ID+"&email=gina@example.com", "").status)
}

// TestBookerIsCheckedBeforeAnyCall: customers-api no longer sees who books (reservations calls
// it as itself), so reservations checks the booker first: a customer books only for
// themselves, and a refused booking makes no call at all — not even for a service token.
func TestBookerIsCheckedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	for _, body := range []string{
		bookingBody(vehicle1, p, ret, `,"customerId":"`+bob+`"`),
		bookingBody(vehicle1, p, ret, `,"customerId":"`+nobody+`"`),
	} {
		r := a.do("alice", http.MethodPost, "/api/reservations", body)
		require.Equal(t, http.StatusBadRequest, r.status, r.String())
		assert.Equal(t, []platform.FieldError{{Field: "customerId", Reason: "no such customer"}}, decode[platform.Problem](t, r).Errors,
			"the same answer whether the other customer exists or not")
	}
	assert.Zero(t, a.id.Issuer.TokenRequests(reservations.ServiceName), "no call was made")
	assert.Zero(t, a.calls.Load())

	// Agents and admins book for anyone; a customer for themselves.
	for user, customer := range map[string]string{"carla": bob, "ada": alice, "alice": alice} {
		r := a.do(user, http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, `,"customerId":"`+customer+`"`))
		require.Equal(t, http.StatusCreated, r.status, "%s: %s", user, r)
		res := decode[reservations.Reservation](t, r)
		assert.Equal(t, customer, res.CustomerID)
		a.setStatus(res.ID, reservations.StatusCancelled)
	}
}

// TestServiceTokenIsFetchedOnceAndReused: 100 bookings — 300 calls to customers-api,
// vehicles-api and pricing-api, concurrently — ask the issuer for reservations-api's token
// once; every call carries it.
func TestServiceTokenIsFetchedOnceAndReused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	base, _ := period(3, 0)
	const n = 100
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := base.Add(time.Duration(i) * 24 * time.Hour)
			statuses[i] = a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, p.Add(24*time.Hour), "")).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		require.Equal(t, http.StatusCreated, s, "booking %d", i)
	}
	assert.Equal(t, int64(2*n), a.calls.Load(), "vehicles-api and pricing-api saw reservations-api every time")
	assert.Equal(t, 1, a.id.Issuer.TokenRequests(reservations.ServiceName), "one token for all 300 calls")
}

// TestPeerFailuresAreUnavailable: whatever goes wrong between reservations and the functions
// it calls — one refuses reservations' identity, fails, cannot be reached or answers what it
// should not — the booker gets one 503 that tells nothing of it, and nothing is booked.
func TestPeerFailuresAreUnavailable(t *testing.T) {
	t.Parallel()
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { problem(w, code, "internal detail") })
	}
	tests := []struct {
		name    string
		service string
		handler http.Handler
	}{
		{"pricing refuses reservations' identity", "pricing-api", status(http.StatusForbidden)},
		{"pricing wants a token", "pricing-api", status(http.StatusUnauthorized)},
		{"the fleet fails", "vehicles-api", status(http.StatusInternalServerError)},
		{"the fleet cannot be reached", "vehicles-api", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })},
		{"customers-api names nobody", "customers-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reply(w, customersapi.Eligibility{Eligible: true, Reasons: []customersapi.Finding{}, Warnings: []customersapi.Finding{}})
		})},
		{"customers-api answers nonsense", "customers-api", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"eligible":`))
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			a.transport.Mount(tt.service, tt.handler)
			p, ret := period(3, 48)
			before := a.snapshot()
			r := a.do("alice", http.MethodPost, "/api/reservations", bookingBody(vehicle1, p, ret, ""))
			require.Equal(t, http.StatusServiceUnavailable, r.status, r.String())
			prob := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+"unavailable", prob.Type)
			assert.NotContains(t, prob.Detail, "internal detail")
			assert.NotContains(t, prob.Detail, tt.service)
			assert.Equal(t, before, a.snapshot())
		})
	}
}
