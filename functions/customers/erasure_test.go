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

// storedRow is what the database holds about a customer: the row, every column as text,
// and the data of every event about them still in the outbox.
func (a *api) storedRow(id string) string {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT row_to_json(c)::text || coalesce((SELECT string_agg(o.data::text, E'\n' ORDER BY seq)
		   FROM customers.outbox o WHERE o.subject = c.id::text), '')
		 FROM customers.customers c WHERE id = $1`, id).Scan(&s))
	return s
}

// TestErasure: a customer erases their own record; every personal value is gone from the
// database, what bookkeeping needs stays, a repeat changes nothing, and the record can no
// longer be changed or rent.
func TestErasure(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.json(agent, http.MethodPut, "/api/customers/"+aliceID+"/status", `{"status":"suspended","reason":"Alice Hartmann disputes invoice 17"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	before := a.get(agent, aliceID)
	personal := []string{"Alice", "Hartmann", "alice@example.com", "5550101", "1990-04-12", "Invalidenstraße",
		"10115", "Berlin", "B072RRE2I55", "2009-06-15", "2034-06-15", "disputes invoice"}
	for _, v := range personal {
		require.Contains(t, a.storedRow(aliceID), v, "precondition: the row holds %q", v)
	}

	r = a.do(alice, http.MethodPost, "/api/customers/"+aliceID+"/erasure", "", "", "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	erased := decode[customers.Customer](t, r)
	assert.Equal(t, customers.StatusErased, erased.Status)
	assert.Equal(t, "Erased", erased.FirstName)
	assert.Equal(t, "Erased", erased.LastName)
	assert.Equal(t, "erased+"+aliceID+"@invalid", erased.Email)
	assert.Empty(t, erased.Phone)
	assert.True(t, erased.DateOfBirth.IsZero())
	assert.Nil(t, erased.Licence)
	assert.Equal(t, customers.Address{Country: "DE"}, erased.Address, "only the country stays")
	assert.Equal(t, before.Type, erased.Type)
	assert.Equal(t, before.CreatedAt, erased.CreatedAt)
	assert.Equal(t, before.PreferredLanguage, erased.PreferredLanguage)
	require.NotNil(t, erased.ErasedAt)
	assert.Equal(t, 3, erased.Version)

	// Nothing personal is left in the row, in any column.
	row := a.storedRow(aliceID)
	for _, v := range personal {
		assert.NotContains(t, row, v)
	}
	var nulls int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT num_nulls(phone, date_of_birth, street, postal_code,
		city, licence_number, licence_country, licence_issued_on, licence_expires_on, status_reason)
		FROM customers.customers WHERE id = $1`, aliceID).Scan(&nulls))
	assert.Equal(t, 10, nulls)
	var by string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT status_changed_by FROM customers.customers WHERE id = $1`, aliceID).Scan(&by))
	assert.Equal(t, "customer", by, "the record names who erased it, but not by a personal name")
	assert.Equal(t, []string{
		events.CustomerRegistered + " v1", events.CustomerStatusChanged + " v2", events.CustomerErased + " v3",
	}, a.recorded(aliceID), "the events stay (consumers need them in order), their personal data does not")

	// Erasure is idempotent: repeating it (a retry, an agent acting on an old ticket) changes
	// nothing and answers the same record, whatever If-Match says.
	snapshot := a.snapshot()
	for _, user := range []string{alice, agent, admin} {
		again := a.do(user, http.MethodPost, "/api/customers/"+aliceID+"/erasure", "", "", "If-Match", `"2"`)
		require.Equal(t, http.StatusOK, again.status, string(again.body))
		assert.Equal(t, erased, decode[customers.Customer](t, again))
	}
	assert.Equal(t, snapshot, a.snapshot())

	// Erasure is final.
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"profile", http.MethodPut, "", aliceProfile.String(), http.StatusConflict},
		{"licence", http.MethodPut, "/licence", `{"number":"B072RRE2I55","issuingCountry":"DE","issueDate":"2009-06-15","expiryDate":"2034-06-15"}`, http.StatusConflict},
		{"status", http.MethodPut, "/status", `{"status":"active","reason":"come back"}`, http.StatusConflict},
	}
	for _, tt := range tests {
		r := a.json(agent, tt.method, "/api/customers/"+aliceID+tt.path, tt.body)
		assert.Equal(t, tt.want, r.status, "%s: %s", tt.name, r.body)
	}
	assert.Equal(t, snapshot, a.snapshot())

	r = a.json(reservations, http.MethodPost, "/api/customers/"+aliceID+"/eligibility", `{"pickupAt":"2030-05-01T10:00:00Z","returnAt":"2030-05-03T10:00:00Z"}`)
	require.Equal(t, http.StatusOK, r.status)
	e := decode[customers.Eligibility](t, r)
	assert.False(t, e.Eligible)
	assert.Equal(t, []string{customers.ReasonErased}, codes(e.Reasons))
	require.NotNil(t, e.Customer)
	assert.Equal(t, "erased", e.Customer.Status)
	assert.NotContains(t, e.Customer.Email, "alice", "no personal data left to name")

	// Out of searches by default; found when asked for; the address is free again.
	assert.Equal(t, 0, decode[customerPage](t, a.do(agent, http.MethodGet, "/api/customers?name=alice", "", "")).Total)
	assert.Equal(t, 1, decode[customerPage](t, a.do(agent, http.MethodGet, "/api/customers?status=erased", "", "")).Total)
	again := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("email", "alice@example.com").String())
	assert.Equal(t, http.StatusCreated, again.status, string(again.body))
}

// TestErasureKeepsWhatBookkeepingNeeds: an agent erases a business customer on request; the
// company and its VAT id stay (every invoice to the company names them), the person goes.
func testErasureKeepsWhatBookkeepingNeeds(t *testing.T, a *api) {
	const paul = "c5000000-0000-4000-8000-000000000012"
	r := a.do(agent, http.MethodPost, "/api/customers/"+paul+"/erasure", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	c := decode[customers.Customer](t, r)
	assert.Equal(t, customers.TypeBusiness, c.Type)
	assert.Equal(t, "Richter Logistik GmbH", c.CompanyName)
	assert.Equal(t, "DE287654321", c.VATID)
	assert.Equal(t, "Erased", c.FirstName)
	row := a.storedRow(paul)
	for _, v := range []string{"Paul", "paul.richter", "Prager", "D555666777", "1992-08-19"} {
		assert.NotContains(t, row, v)
	}
	var by string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT status_changed_by FROM customers.customers WHERE id = $1`, paul).Scan(&by))
	assert.Equal(t, "carla", by)
}
