package customers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

type customerPage struct {
	Items    []customers.Customer `json:"items"`
	Page     int                  `json:"page"`
	PageSize int                  `json:"pageSize"`
	Total    int                  `json:"total"`
}

// TestSeedCustomers checks the demo data: Alice and Bob under the demo users' ids, and one
// customer for every eligibility outcome.
func testSeedCustomers(t *testing.T, a *api) {
	r := a.do(agent, http.MethodGet, "/api/customers?pageSize=100", "", "")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decode[customerPage](t, r)
	assert.Equal(t, 15, list.Total)
	assert.Len(t, list.Items, 15)

	alice := a.get(agent, aliceID)
	assert.Equal(t, "alice@example.com", alice.Email)
	assert.Equal(t, customers.LanguageEnglish, alice.PreferredLanguage)
	bob := a.get(agent, bobID)
	assert.Equal(t, "bob@example.com", bob.Email)
	assert.Equal(t, customers.LanguageGerman, bob.PreferredLanguage)

	// Two weeks ahead, each demo customer shows their outcome.
	pickup := time.Now().In(berlin(t)).AddDate(0, 0, 14)
	period := fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, pickup.Format(time.RFC3339), pickup.AddDate(0, 0, 3).Format(time.RFC3339))
	tests := []struct {
		id           string
		name         string
		wantReasons  []string
		wantWarnings []string
	}{
		{aliceID, "Alice", nil, nil},
		{bobID, "Bob", nil, nil},
		{"c5000000-0000-4000-8000-000000000006", "Sophie (Austrian licence)", nil, nil},
		{"c5000000-0000-4000-8000-000000000007", "Jonas (20)", []string{customers.ReasonUnderAge}, nil},
		{"c5000000-0000-4000-8000-000000000008", "Emma (new licence)", []string{customers.ReasonLicenceTooNew}, nil},
		{"c5000000-0000-4000-8000-000000000009", "Felix (expired)", []string{customers.ReasonLicenceExpires}, nil},
		{"c5000000-0000-4000-8000-000000000010", "David (suspended)", []string{customers.ReasonSuspended}, nil},
		{"c5000000-0000-4000-8000-000000000011", "Sarah (blocked)", []string{customers.ReasonBlocked}, nil},
		{"c5000000-0000-4000-8000-000000000012", "Paul (business)", nil, nil},
		{"c5000000-0000-4000-8000-000000000013", "Emily (US licence)", nil, []string{customers.WarningNonEULicence}},
		{"c5000000-0000-4000-8000-000000000014", "Mia (no licence)", []string{customers.ReasonNoLicence}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.as(t)
			r := a.json(agent, http.MethodPost, "/api/customers/"+tt.id+"/eligibility", period)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			e := decode[customers.Eligibility](t, r)
			assert.Equal(t, tt.wantReasons, codes(e.Reasons))
			assert.Equal(t, tt.wantWarnings, codes(e.Warnings))
			assert.Equal(t, len(tt.wantReasons) == 0, e.Eligible)
		})
	}
	business := a.get(agent, "c5000000-0000-4000-8000-000000000012")
	assert.Equal(t, customers.TypeBusiness, business.Type)
	assert.Equal(t, "DE287654321", business.VATID)
}

func codes(fs []customers.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func testRegisterThenGet(t *testing.T, a *api) {
	// Self-registration needs no token.
	r := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("preferredLanguage", nil).String())
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	created := decode[customers.Customer](t, r)
	assert.Equal(t, "/api/customers/"+created.ID, r.header.Get("Location"))
	assert.Equal(t, `"1"`, r.header.Get("ETag"))
	assert.Equal(t, customers.TypeIndividual, created.Type, "individual is the default")
	assert.Equal(t, customers.LanguageGerman, created.PreferredLanguage, "German is the default")
	assert.Equal(t, "DE", created.Address.Country, "Germany is the default")
	assert.Equal(t, customers.StatusActive, created.Status)
	assert.Equal(t, customers.NewDate(1992, time.May, 17), created.DateOfBirth)
	require.NotNil(t, created.Licence)
	assert.Equal(t, "B7HK22P0X11", created.Licence.Number)
	assert.Equal(t, 1, created.Version)

	assert.Equal(t, created, a.get(agent, created.ID))
	// Functions do not read customer records: reservations-api's identity is admitted to the
	// eligibility checks only.
	assert.Equal(t, http.StatusForbidden, a.do(reservations, http.MethodGet, "/api/customers/"+created.ID, "", "").status)
	// A registration does not make the registrant its owner: ownership comes from the token.
	assert.Equal(t, http.StatusNotFound, a.do(alice, http.MethodGet, "/api/customers/"+created.ID, "", "").status)
	assert.Equal(t, http.StatusUnauthorized, a.do(anonymous, http.MethodGet, "/api/customers/"+created.ID, "", "").status)

	// A business customer; the VAT id is normalised; the licence may come later.
	biz := a.register(newCustomer.with("email", "einkauf@baumann-bau.example", "type", "business",
		"companyName", "Baumann Bau GmbH", "vatId", "de 123.456.789", "licence", nil).String())
	assert.Equal(t, "DE123456789", biz.VATID)
	assert.Nil(t, biz.Licence)
}

// TestCustomersSeeOnlyTheirOwnRecord: another customer's record answers exactly what a
// missing one does, so a customer cannot even learn that it exists.
func testCustomersSeeOnlyTheirOwnRecord(t *testing.T, a *api) {
	assert.Equal(t, aliceID, a.get(alice, aliceID).ID)
	assert.Equal(t, aliceID, a.get(alice, "11111111-1111-4111-8111-111111111111").ID)

	other := a.do(alice, http.MethodGet, "/api/customers/"+bobID, "", "")
	missing := a.do(alice, http.MethodGet, "/api/customers/"+nobodyID, "", "")
	require.Equal(t, http.StatusNotFound, other.status)
	require.Equal(t, http.StatusNotFound, missing.status)
	po, pm := decode[platform.Problem](t, other), decode[platform.Problem](t, missing)
	assert.Equal(t, fmt.Sprintf("no customer with id %s", bobID), po.Detail)
	assert.Equal(t, fmt.Sprintf("no customer with id %s", nobodyID), pm.Detail)
	assert.Equal(t, po.Type, pm.Type)

	// Fleet managers have no business with customers; customers cannot search.
	assert.Equal(t, http.StatusForbidden, a.do(fleet, http.MethodGet, "/api/customers/"+aliceID, "", "").status)
	assert.Equal(t, http.StatusForbidden, a.do(alice, http.MethodGet, "/api/customers", "", "").status)
}

func TestEmailIsUniqueCaseInsensitively(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		email      string
		wantStatus int
	}{
		{"alice@example.com", 409},
		{"Alice@Example.com", 409},
		{"ALICE@EXAMPLE.COM", 409},
		{"  alice@example.com  ", 409},
		{"alice.h@example.com", 201},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			a := a.as(t)
			before := a.snapshot()
			r := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("email", tt.email).String())
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			if tt.wantStatus == 409 {
				assert.Equal(t, platform.ProblemTypeBase+"conflict", decode[platform.Problem](t, r).Type)
				assert.Equal(t, before, a.snapshot())
			}
		})
	}
	// Changing an address to one taken in another case is refused too.
	before := a.snapshot()
	r := a.json(agent, http.MethodPut, "/api/customers/"+aliceID, aliceProfile.with("email", "BOB@example.com").String())
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Equal(t, before, a.snapshot())
	// Only the case of one's own address may change.
	r = a.json(alice, http.MethodPut, "/api/customers/"+aliceID, aliceProfile.with("email", "Alice@Example.com").String())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "Alice@Example.com", decode[customers.Customer](t, r).Email)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	erased := a.register(newCustomer.with("email", "gone@example.de", "lastName", "Schmidtke").String())
	require.Equal(t, http.StatusOK, a.do(agent, http.MethodPost, "/api/customers/"+erased.ID+"/erasure", "", "").status)

	lastNames := func(p customerPage) []string {
		var out []string
		for _, c := range p.Items {
			out = append(out, c.LastName)
		}
		return out
	}
	tests := []struct {
		query      string
		wantStatus int
		wantNames  []string
		wantTotal  int
	}{
		{query: "?name=schmidt", wantStatus: 200, wantNames: []string{"Schmidt"}, wantTotal: 1},
		{query: "?name=SCHM", wantStatus: 200, wantNames: []string{"Schmidt"}, wantTotal: 1},
		{query: "?name=m%C3%BC", wantStatus: 200, wantNames: []string{"Müller"}, wantTotal: 1},
		{query: "?name=anna+m%C3%BC", wantStatus: 200, wantNames: []string{"Müller"}, wantTotal: 1},
		{query: "?name=anna+weber", wantStatus: 200, wantNames: nil, wantTotal: 0},
		{query: "?name=alice", wantStatus: 200, wantNames: []string{"Hartmann"}, wantTotal: 1},
		{query: "?name=mann", wantStatus: 200, wantNames: nil, wantTotal: 0}, // prefixes, not substrings
		{query: "?name=l", wantStatus: 200, wantNames: []string{"Lang", "Meyer", "Weber"}, wantTotal: 3},
		{query: "?email=BOB@EXAMPLE.COM", wantStatus: 200, wantNames: []string{"Schulz"}, wantTotal: 1},
		{query: "?email=bob@example", wantStatus: 200, wantNames: nil, wantTotal: 0},
		{query: "?status=suspended", wantStatus: 200, wantNames: []string{"Klein"}, wantTotal: 1},
		{query: "?status=blocked&name=sarah", wantStatus: 200, wantNames: []string{"Lang"}, wantTotal: 1},
		{query: "?status=erased", wantStatus: 200, wantNames: []string{"Erased"}, wantTotal: 1},
		{query: "?pageSize=2", wantStatus: 200, wantNames: []string{"Becker", "Carter"}, wantTotal: 15},
		{query: "?pageSize=2&page=2", wantStatus: 200, wantNames: []string{"Fischer", "Hartmann"}, wantTotal: 15},
		{query: "?pageSize=10&page=3", wantStatus: 200, wantNames: nil, wantTotal: 15},
		{query: "?status=deleted", wantStatus: 400},
		{query: "?page=0", wantStatus: 400},
		{query: "?pageSize=101", wantStatus: 400},
		{query: "?pageSize=ten", wantStatus: 400},
		{query: "?city=Berlin", wantStatus: 400},
		{query: "?name=a&name=b", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := a.as(t)
			r := a.do(agent, http.MethodGet, "/api/customers"+tt.query, "", "")
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			if tt.wantStatus != 200 {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				return
			}
			p := decode[customerPage](t, r)
			assert.Equal(t, tt.wantNames, lastNames(p))
			assert.Equal(t, tt.wantTotal, p.Total)
			assert.NotNil(t, p.Items)
		})
	}
	// Several bad parameters are all reported.
	r := a.do(agent, http.MethodGet, "/api/customers?status=x&page=-1&colour=orange", "", "")
	require.Equal(t, http.StatusBadRequest, r.status)
	assert.ElementsMatch(t, []string{"status", "page", "colour"}, problemFields(t, r))
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	moved := aliceProfile.with("address.street", "Chausseestraße 8", "phone", "+49 30 5550199", "preferredLanguage", "de")

	r := a.json(alice, http.MethodPut, "/api/customers/"+aliceID, moved.String(), "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	updated := decode[customers.Customer](t, r)
	assert.Equal(t, 2, updated.Version)
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
	assert.Equal(t, "Chausseestraße 8", updated.Address.Street)
	assert.Equal(t, customers.LanguageGerman, updated.PreferredLanguage)
	require.NotNil(t, updated.Licence, "a profile update leaves the licence alone")
	assert.True(t, updated.UpdatedAt.After(updated.CreatedAt))

	// The same profile again changes nothing, not even the version.
	again := a.json(alice, http.MethodPut, "/api/customers/"+aliceID, moved.String())
	require.Equal(t, http.StatusOK, again.status)
	assert.Equal(t, updated, decode[customers.Customer](t, again))

	before := a.snapshot()
	stale := a.json(alice, http.MethodPut, "/api/customers/"+aliceID, moved.with("firstName", "Alicia").String(), "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, stale.status, string(stale.body))
	assert.Equal(t, before, a.snapshot())

	// The date of birth decides the age rule: customers cannot change their own, agents can.
	older := moved.with("dateOfBirth", "1980-04-12")
	own := a.json(alice, http.MethodPut, "/api/customers/"+aliceID, older.String())
	require.Equal(t, http.StatusForbidden, own.status, string(own.body))
	assert.Equal(t, before, a.snapshot())
	byAgent := a.json(agent, http.MethodPut, "/api/customers/"+aliceID, older.String())
	require.Equal(t, http.StatusOK, byAgent.status, string(byAgent.body))
	assert.Equal(t, customers.NewDate(1980, time.April, 12), decode[customers.Customer](t, byAgent).DateOfBirth)

	// Turning into a business customer takes a company and a VAT id.
	biz := a.json(alice, http.MethodPut, "/api/customers/"+aliceID, older.with("type", "business", "companyName", "Hartmann Consulting", "vatId", "ATU12345678").String())
	require.Equal(t, http.StatusOK, biz.status, string(biz.body))
	assert.Equal(t, "ATU12345678", decode[customers.Customer](t, biz).VATID)
}

func testUpdateLicence(t *testing.T, a *api) {
	const renewed = `{"number":"b072 rre2j66","issuingCountry":"de","issueDate":"2024-06-15","expiryDate":"2039-06-14"}`
	r := a.json(alice, http.MethodPut, "/api/customers/"+aliceID+"/licence", renewed, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	c := decode[customers.Customer](t, r)
	assert.Equal(t, &customers.Licence{Number: "B072 RRE2J66", IssuingCountry: "DE",
		IssueDate: customers.NewDate(2024, time.June, 15), ExpiryDate: customers.NewDate(2039, time.June, 14)}, c.Licence)
	assert.Equal(t, 2, c.Version)
	assert.Equal(t, "Alice", c.FirstName, "a licence update leaves the profile alone")

	// Mia registered without a licence; an agent adds it for her.
	const mia = "c5000000-0000-4000-8000-000000000014"
	r = a.json(agent, http.MethodPut, "/api/customers/"+mia+"/licence", `{"number":"L444555666","issuingCountry":"DE","issueDate":"2015-01-10","expiryDate":"2030-01-10"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.NotNil(t, decode[customers.Customer](t, r).Licence)
}

func TestChangeStatus(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const suspend = `{"status":"Suspended","reason":"Card declined twice; waiting for a new card"}`
	r := a.json(agent, http.MethodPut, "/api/customers/"+aliceID+"/status", suspend, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	c := decode[customers.Customer](t, r)
	assert.Equal(t, customers.StatusSuspended, c.Status)
	assert.Equal(t, "Card declined twice; waiting for a new card", c.StatusReason)
	assert.Equal(t, 2, c.Version)

	again := a.json(agent, http.MethodPut, "/api/customers/"+aliceID+"/status", suspend)
	assert.Equal(t, c, decode[customers.Customer](t, again), "the same status and reason change nothing")

	// The reason is an internal note: the customer sees the status, not the note.
	own := a.get(alice, aliceID)
	assert.Equal(t, customers.StatusSuspended, own.Status)
	assert.Empty(t, own.StatusReason)

	var by string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		`SELECT status_changed_by FROM customers.customers WHERE id = $1`, aliceID).Scan(&by))
	assert.Equal(t, "carla", by, "who changed the status is recorded")

	stale := a.json(agent, http.MethodPut, "/api/customers/"+aliceID+"/status", `{"status":"active","reason":"Card replaced"}`, "If-Match", `"1"`)
	assert.Equal(t, http.StatusPreconditionFailed, stale.status)
	back := a.json(admin, http.MethodPut, "/api/customers/"+aliceID+"/status", `{"status":"active","reason":"Card replaced"}`, "If-Match", `"2"`)
	require.Equal(t, http.StatusOK, back.status, string(back.body))
	assert.Equal(t, customers.StatusActive, decode[customers.Customer](t, back).Status)
}

// TestSchemaRefusesWhatValidationRefuses: the table's own constraints hold when Go is
// bypassed.
func testSchemaRefusesWhatValidationRefuses(t *testing.T, a *api) {
	const insert = `INSERT INTO customers.customers (first_name, last_name, email, phone, date_of_birth, street, postal_code, city`
	tests := []struct {
		name string
		sql  string
		code string
	}{
		{"email taken in another case", insert + `) VALUES ('A', 'B', 'ALICE@example.com', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin')`, database.UniqueViolation},
		{"German postal code of four digits", insert + `) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '1011', 'Berlin')`, database.CheckViolation},
		{"no phone", insert + `) VALUES ('A', 'B', 'a@b.de', NULL, '1990-01-01', 'S 1', '10115', 'Berlin')`, database.CheckViolation},
		{"business without VAT id", insert + `, type, company_name) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'business', 'X GmbH')`, database.CheckViolation},
		{"German VAT id of eight digits", insert + `, type, company_name, vat_id) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'business', 'X GmbH', 'DE12345678')`, database.CheckViolation},
		{"individual with a VAT id", insert + `, vat_id) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'DE123456789')`, database.CheckViolation},
		{"half a licence", insert + `, licence_number) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'B12345')`, database.CheckViolation},
		{"licence expiring before issue", insert + `, licence_number, licence_country, licence_issued_on, licence_expires_on) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'B12345', 'DE', '2020-01-01', '2019-01-01')`, database.CheckViolation},
		{"licence before the 16th birthday", insert + `, licence_number, licence_country, licence_issued_on, licence_expires_on) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'B12345', 'DE', '2005-01-01', '2030-01-01')`, database.CheckViolation},
		{"unknown language", insert + `, preferred_language) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'fr')`, database.CheckViolation},
		{"placeholder email on a live customer", insert + `) VALUES ('A', 'B', 'erased+x@invalid', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin')`, database.CheckViolation},
		{"erased but still named", `UPDATE customers.customers SET status = 'erased', erased_at = now() WHERE id = '` + bobID + `'`, database.CheckViolation},
		{"a URL as a name", insert + `) VALUES ('Click https://evil.example', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin')`, database.CheckViolation},
		{"a line break in a name", insert + `) VALUES ('A', E'B\nBcc: x', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin')`, database.CheckViolation},
		{"a name of 51 characters", insert + `) VALUES (repeat('a', 51), 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin')`, database.CheckViolation},
		{"an unknown kind", insert + `, kind) VALUES ('A', 'B', 'a@b.de', '+49 30 1', '1990-01-01', 'S 1', '10115', 'Berlin', 'visitor')`, database.CheckViolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.db.Pool.Exec(context.Background(), tt.sql)
			require.Error(t, err)
			assert.True(t, database.IsCode(err, tt.code), err.Error())
		})
	}
}

// TestChangesEmitEvents: every change records its event in its own transaction, seeded
// customers are announced like registered ones, and a change that changes nothing records
// nothing.
func TestChangesEmitEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var announced int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		`SELECT count(DISTINCT subject) FROM customers.outbox WHERE type = $1`, events.CustomerRegistered).Scan(&announced))
	assert.Equal(t, 15, announced, "every seeded customer is announced")

	c := a.register(newCustomer.String())
	profile := newCustomer.with("licence", nil, "phone", "+49 30 1111111")
	for range 2 { // the second time changes nothing
		require.Equal(t, http.StatusOK, a.json(agent, http.MethodPut, "/api/customers/"+c.ID, profile.String()).status)
	}
	require.Equal(t, http.StatusOK, a.json(agent, http.MethodPut, "/api/customers/"+c.ID+"/licence",
		`{"number":"B7HK22P0X12","issuingCountry":"DE","issueDate":"2022-06-01","expiryDate":"2037-06-01"}`).status)
	for range 2 {
		require.Equal(t, http.StatusOK, a.json(agent, http.MethodPut, "/api/customers/"+c.ID+"/status", `{"status":"blocked","reason":"fraud"}`).status)
	}
	require.Equal(t, http.StatusOK, a.do(agent, http.MethodPost, "/api/customers/"+c.ID+"/erasure", "", "").status)
	require.Equal(t, http.StatusOK, a.do(agent, http.MethodPost, "/api/customers/"+c.ID+"/erasure", "", "").status)
	assert.Equal(t, []string{
		events.CustomerRegistered + " v1",
		events.CustomerUpdated + " v2",
		events.CustomerUpdated + " v3",
		events.CustomerStatusChanged + " v4",
		events.CustomerErased + " v5",
	}, a.recorded(c.ID))

	var reason bool
	require.NoError(t, a.db.Pool.QueryRow(context.Background(),
		`SELECT bool_or(data ? 'reason') FROM customers.outbox WHERE subject = $1`, c.ID).Scan(&reason))
	assert.False(t, reason, "the reason of a status change is an internal note: no event carries it")
}

// TestSeedAnnouncesTheWholeRegistration: the demo customers' customer.registered carried no
// phone, so the notifier knew no number and none of them could get an SMS.
func TestSeedAnnouncesTheWholeRegistration(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var seeded, withPhone int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE o.data->>'phone' = c.phone)
		FROM customers.outbox o JOIN customers.customers c ON c.id::text = o.subject
		WHERE o.type = 'com.orangecarrental.customer.registered.v1'`).Scan(&seeded, &withPhone))
	require.NotZero(t, seeded)
	assert.Equal(t, seeded, withPhone)
}
