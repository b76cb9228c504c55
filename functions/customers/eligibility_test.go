package customers_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/customers/customersapi"
)

// TestEligibilityRules registers one customer per case through the API and asks for the
// decision, with the boundaries of every rule; the applicant check must decide alike. The rental starts 60 days from now (P) at
// 10:00 in Berlin and ends three days later (R); every date of a case is relative to them.
func testEligibilityRules(t *testing.T, a *api) {
	zone := berlin(t)
	P := today(t).AddDays(60)
	R := P.AddDays(3)
	at := func(d customers.Date, clock string) string {
		ts, err := time.ParseInLocation("2006-01-02 15:04", d.String()+" "+clock, zone)
		require.NoError(t, err)
		return ts.Format(time.RFC3339)
	}
	type person struct {
		born, issued, expires customers.Date
		country               string
		noLicence             bool
		status                string
	}
	// fine is a customer every rule accepts; each case changes what it tests.
	fine := person{born: P.AddYears(-30), issued: P.AddYears(-3), expires: R.AddYears(5), country: "DE"}
	tests := []struct {
		name         string
		edit         func(*person)
		pickupAt     string // default P 10:00 Berlin
		wantReasons  []string
		wantWarnings []string
	}{
		{name: "every rule met", edit: func(*person) {}},
		{name: "21 exactly on the pickup day", edit: func(p *person) { p.born = P.AddYears(-21) }},
		{name: "21 the day after pickup", edit: func(p *person) { p.born = P.AddYears(-21).AddDays(1) }, wantReasons: []string{customers.ReasonUnderAge}},
		{name: "licence issued exactly a year before pickup", edit: func(p *person) { p.issued = P.AddYears(-1) }},
		{name: "licence a day short of a year", edit: func(p *person) { p.issued = P.AddYears(-1).AddDays(1) }, wantReasons: []string{customers.ReasonLicenceTooNew}},
		{name: "licence expires on the return day", edit: func(p *person) { p.expires = R }},
		{name: "licence expires the day before return", edit: func(p *person) { p.expires = R.AddDays(-1) }, wantReasons: []string{customers.ReasonLicenceExpires}},
		{name: "licence expired before pickup", edit: func(p *person) { p.issued, p.expires = P.AddYears(-10), P.AddDays(-30) }, wantReasons: []string{customers.ReasonLicenceExpires}},
		{name: "no licence given", edit: func(p *person) { p.noLicence = true }, wantReasons: []string{customers.ReasonNoLicence}},
		{name: "US licence: a warning, not a refusal", edit: func(p *person) { p.country = "US" }, wantWarnings: []string{customers.WarningNonEULicence}},
		{name: "Swiss licence: outside the EU", edit: func(p *person) { p.country = "CH" }, wantWarnings: []string{customers.WarningNonEULicence}},
		{name: "Polish licence: inside the EU", edit: func(p *person) { p.country = "PL" }},
		{name: "suspended", edit: func(p *person) { p.status = "suspended" }, wantReasons: []string{customers.ReasonSuspended}},
		{name: "blocked", edit: func(p *person) { p.status = "blocked" }, wantReasons: []string{customers.ReasonBlocked}},
		{name: "reactivated", edit: func(p *person) { p.status = "active" }},
		{
			// 23:30 UTC the evening before is already the pickup day in Berlin.
			name: "pickup day is reckoned in Berlin", edit: func(p *person) { p.born = P.AddYears(-21) },
			pickupAt: P.AddDays(-1).String() + "T23:30:00Z",
		},
		{
			name: "every rule broken: every reason listed",
			edit: func(p *person) {
				p.born, p.issued, p.expires, p.country, p.status = P.AddYears(-20), P.AddDays(-100), R.AddDays(-1), "US", "blocked"
			},
			wantReasons:  []string{customers.ReasonBlocked, customers.ReasonUnderAge, customers.ReasonLicenceTooNew, customers.ReasonLicenceExpires},
			wantWarnings: []string{customers.WarningNonEULicence},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := a.as(t)
			p := fine
			tt.edit(&p)
			body := newCustomer.with("email", fmt.Sprintf("case%d@example.de", i), "dateOfBirth", p.born.String(),
				"licence.issuingCountry", p.country, "licence.issueDate", p.issued.String(), "licence.expiryDate", p.expires.String())
			if p.noLicence {
				body = body.with("licence", nil)
			}
			c := a.registerVerified(body.String())
			if p.status != "" {
				r := a.json(agent, http.MethodPut, "/api/customers/"+c.ID+"/status", fmt.Sprintf(`{"status":%q,"reason":"test"}`, p.status))
				require.Equal(t, http.StatusOK, r.status, string(r.body))
			}
			pickupAt := tt.pickupAt
			if pickupAt == "" {
				pickupAt = at(P, "10:00")
			}
			r := a.json(reservations, http.MethodPost, "/api/customers/"+c.ID+"/eligibility",
				fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, pickupAt, at(R, "10:00")))
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			e := decode[customers.Eligibility](t, r)
			assert.Equal(t, tt.wantReasons, codes(e.Reasons), "reasons: %+v", e.Reasons)
			assert.Equal(t, tt.wantWarnings, codes(e.Warnings))
			assert.Equal(t, len(tt.wantReasons) == 0, e.Eligible)
			assert.Equal(t, P.String(), e.PickupDay)
			assert.Equal(t, R.String(), e.ReturnDay)
			assert.Equal(t, c.ID, e.CustomerID)
			status := "active"
			if p.status != "" {
				status = p.status
			}
			assert.Equal(t, &customersapi.Customer{ID: c.ID, Email: c.Email, Status: status}, e.Customer, "what a booking needs of the record")
			for _, f := range append(e.Reasons, e.Warnings...) {
				assert.NotEmpty(t, f.Message, f.Code)
			}

			// The same person not registered yet (a guest) gets the same decision from the
			// applicant check: one rule, two ways in. An applicant has no account status.
			if p.status != "" {
				return
			}
			applicant := doc{"dateOfBirth": p.born.String(), "pickupAt": pickupAt, "returnAt": at(R, "10:00")}
			if !p.noLicence {
				applicant = applicant.with("licence", map[string]any{"number": "B7HK22P0X11", "issuingCountry": p.country,
					"issueDate": p.issued.String(), "expiryDate": p.expires.String()})
			}
			r = a.json(reservations, http.MethodPost, "/api/customers/eligibility", applicant.String())
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			ae := decode[customers.Eligibility](t, r)
			assert.Equal(t, e.Eligible, ae.Eligible)
			assert.Equal(t, e.Reasons, ae.Reasons)
			assert.Equal(t, e.Warnings, ae.Warnings)
			assert.Equal(t, []string{e.PickupDay, e.ReturnDay}, []string{ae.PickupDay, ae.ReturnDay})
			assert.Empty(t, ae.CustomerID, "an applicant is nobody's record")
			assert.Nil(t, ae.Customer)

			// And given as the whole registration (a guest booking's way in): the same
			// decision, once the registration is valid — which takes 18 years.
			reg := newCustomer.with("dateOfBirth", p.born.String(), "licence", nil)
			if lic, ok := applicant["licence"]; ok {
				reg = reg.with("licence", lic)
			}
			r = a.json(reservations, http.MethodPost, "/api/customers/eligibility",
				doc{"registration": reg, "pickupAt": pickupAt, "returnAt": at(R, "10:00")}.String())
			if p.born.AddYears(18).After(today(t)) {
				require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
				assert.Equal(t, []string{"registration.dateOfBirth"}, problemFields(t, r))
				return
			}
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			re := decode[customers.Eligibility](t, r)
			assert.Equal(t, ae, re)
		})
	}
}

// TestLeapDayBirthday: someone born on 29 February turns 21 on 1 March in a common year
// (German reckoning, BGB §188(3)), so they may not rent on 28 February.
func TestLeapDayBirthday(t *testing.T) {
	t.Parallel()
	born := customers.NewDate(2008, time.February, 29)
	licence := &customers.Licence{IssuingCountry: "DE", IssueDate: customers.NewDate(2026, time.March, 1), ExpiryDate: customers.NewDate(2041, time.March, 1)}
	c := customers.Customer{Status: customers.StatusActive, DateOfBirth: born, Licence: licence}
	tests := []struct {
		pickup customers.Date
		want   bool
	}{
		{customers.NewDate(2029, time.February, 28), false},
		{customers.NewDate(2029, time.March, 1), true},
	}
	for _, tt := range tests {
		e := customers.Assess(c, customers.Rental{PickupDay: tt.pickup, ReturnDay: tt.pickup.AddDays(2)})
		assert.Equal(t, tt.want, e.Eligible, "pickup %s: %+v", tt.pickup, e.Reasons)
	}
}
