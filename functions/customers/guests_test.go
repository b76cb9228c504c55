package customers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers"
)

// TestGuestReregistration: the same guest registering again with the same registration (a
// guest booking retried after a refused hold or a crash) gets their record back unchanged;
// anything that differs — a new phone, another person with the guest's address, an
// account's address — stays a 409 and changes nothing: knowing a guest's email, name and
// birthday must not let anyone rewrite their details or book in their name.
func TestGuestReregistration(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := newCustomer.with("email", "gina.gast@example.de")
	r := a.json(reservations, http.MethodPost, "/api/customers/guests", body.String())
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	g := decode[customers.Customer](t, r)

	// The same registration, another case of the address and names: the record back, as it
	// was — no new version, no event.
	r = a.json(reservations, http.MethodPost, "/api/customers/guests",
		body.with("email", "Gina.Gast@Example.de", "firstName", "CLARA").String())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	again := decode[customers.Customer](t, r)
	assert.Equal(t, g.ID, again.ID)
	assert.Equal(t, g.Phone, again.Phone)
	assert.Equal(t, 1, again.Version)
	assert.Equal(t, []string{events.CustomerRegistered + " v1"}, a.recorded(g.ID))

	before := a.snapshot()
	for name, b := range map[string]string{
		"another person with the guest's address": body.with("dateOfBirth", "1980-01-01").String(),
		"another last name":                       body.with("lastName", "Fremd").String(),
		"a new phone":                             body.with("phone", "+49 30 1111111").String(),
		"an account's address":                    body.with("email", "alice@example.com", "firstName", "Alice", "lastName", "Hartmann", "dateOfBirth", "1990-04-12").String(),
	} {
		r := a.json(reservations, http.MethodPost, "/api/customers/guests", b)
		assert.Equal(t, http.StatusConflict, r.status, "%s: %s", name, r.body)
	}
	assert.Equal(t, before, a.snapshot(), "a refused registration changes nothing")
}

// TestWithdrawGuest: reservations-api withdraws a guest whose booking failed: the record is
// gone, its registration's personal data is scrubbed from the outbox, customer.erased is
// recorded for the consumers, and the address is free again. Accounts cannot be withdrawn;
// nobody but reservations-api (and admins) may withdraw.
func TestWithdrawGuest(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.json(reservations, http.MethodPost, "/api/customers/guests", newCustomer.with("email", "gina.gast@example.de").String())
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	g := decode[customers.Customer](t, r)
	path := "/api/customers/guests/" + g.ID

	before := a.snapshot()
	for user, want := range map[string]int{anonymous: 401, alice: 403, agent: 403, fleet: 403, payments: 403} {
		assert.Equal(t, want, a.do(user, http.MethodDelete, path, "", "").status, user)
	}
	tests := []struct {
		name, path string
		want       int
	}{
		{"an account", "/api/customers/guests/" + aliceID, http.StatusConflict},
		{"no such customer", "/api/customers/guests/" + nobodyID, http.StatusNotFound},
		{"not an id", "/api/customers/guests/nope", http.StatusNotFound},
	}
	for _, tt := range tests {
		r := a.do(reservations, http.MethodDelete, tt.path, "", "")
		assert.Equal(t, tt.want, r.status, "%s: %s", tt.name, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tt.name)
	}
	assert.Equal(t, before, a.snapshot(), "refused withdrawals change nothing")

	require.Equal(t, http.StatusNoContent, a.do(reservations, http.MethodDelete, path, "", "").status)
	var n int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM customers.customers WHERE id = $1`, g.ID).Scan(&n))
	assert.Zero(t, n, "no guest left")
	assert.Equal(t, []string{events.CustomerRegistered + " v1", events.CustomerErased + " v2"}, a.recorded(g.ID))
	assert.NotContains(t, a.snapshot(), "gina.gast@example.de", "the registration's event is scrubbed")
	assert.NotContains(t, a.snapshot(), "Neumann")
	assert.Equal(t, http.StatusNotFound, a.do(reservations, http.MethodDelete, path, "", "").status, "a repeat: already gone")

	r = a.json(reservations, http.MethodPost, "/api/customers/guests", newCustomer.with("email", "gina.gast@example.de").String())
	assert.Equal(t, http.StatusCreated, r.status, "the address is free again: %s", r.body)
}
