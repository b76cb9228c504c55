package customers_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// TestRejectedRequestsWriteNothing sends bad requests to every operation that writes (and to
// the eligibility checks): each answers 4xx problem+json naming every bad field, and the
// stored data is byte for byte what it was.
func testRejectedRequestsWriteNothing(t *testing.T, a *api) {
	const (
		register     = "/api/customers"
		aliceURL     = "/api/customers/" + aliceID
		licenceURL   = aliceURL + "/licence"
		statusURL    = aliceURL + "/status"
		eligibleURL  = aliceURL + "/eligibility"
		applicantURL = "/api/customers/eligibility"
		erasureURL   = aliceURL + "/erasure"
		json         = "application/json"
	)
	valid := newCustomer.String()
	licence := `{"number":"B072RRE2J66","issuingCountry":"DE","issueDate":"2024-06-15","expiryDate":"2039-06-14"}`
	period := `{"pickupAt":"2030-05-01T10:00:00+02:00","returnAt":"2030-05-04T10:00:00+02:00"}`
	underage := today(t).AddYears(-18).AddDays(1).String()
	future := today(t).AddDays(1).String()
	huge := newCustomer.with("firstName", strings.Repeat("x", platform.DefaultMaxBodyBytes)).String()
	applicant := doc{"dateOfBirth": "1990-01-01", "pickupAt": "2030-05-01T10:00:00+02:00", "returnAt": "2030-05-04T10:00:00+02:00",
		"licence": map[string]any{"number": "B7HK22P0X11", "issuingCountry": "DE", "issueDate": "2010-01-01", "expiryDate": "2035-01-01"}}

	tests := []struct {
		name        string
		as          string
		method      string
		path        string
		contentType string
		body        string
		header      []string
		wantStatus  int
		wantType    string
		wantFields  []string
	}{
		// registration: the body's form
		{name: "register: malformed JSON", method: "POST", path: register, contentType: json, body: `{"firstName":`, wantStatus: 400, wantType: "invalid"},
		{name: "register: not JSON", method: "POST", path: register, contentType: json, body: `firstName=Clara`, wantStatus: 400, wantType: "invalid"},
		{name: "register: two JSON values", method: "POST", path: register, contentType: json, body: valid + valid, wantStatus: 400, wantType: "invalid"},
		{name: "register: empty body", method: "POST", path: register, contentType: json, body: "", wantStatus: 400, wantType: "invalid"},
		{name: "register: unknown field", method: "POST", path: register, contentType: json, body: newCustomer.with("status", "active").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"status"}},
		{name: "register: wrong JSON type", method: "POST", path: register, contentType: json, body: newCustomer.with("firstName", 42).String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"firstName"}},
		{name: "register: wrong content type", method: "POST", path: register, contentType: "text/plain", body: valid, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "register: no content type", method: "POST", path: register, body: valid, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "register: oversize body", method: "POST", path: register, contentType: json, body: huge, wantStatus: 413, wantType: "payload-too-large"},
		// registration: the fields, all reported at once
		{name: "register: everything missing", method: "POST", path: register, contentType: json, body: `{}`, wantStatus: 400, wantType: "invalid",
			wantFields: []string{"firstName", "lastName", "email", "phone", "dateOfBirth", "address.street", "address.city", "address.postalCode"}},
		{name: "register: several bad fields", method: "POST", path: register, contentType: json,
			body:       newCustomer.with("email", "clara", "address.postalCode", "1099", "preferredLanguage", "fr", "licence.number", "B!").String(),
			wantStatus: 400, wantType: "invalid", wantFields: []string{"email", "address.postalCode", "preferredLanguage", "licence.number"}},
		{name: "register: duplicate email", method: "POST", path: register, contentType: json, body: newCustomer.with("email", "Bob@Example.COM").String(), wantStatus: 409, wantType: "conflict"},
		{name: "register: email with a display name", method: "POST", path: register, contentType: json, body: newCustomer.with("email", "Clara <clara@example.de>").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"email"}},
		{name: "register: undeliverable email", method: "POST", path: register, contentType: json, body: newCustomer.with("email", "erased+1@invalid").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"email"}},
		{name: "register: letters in a German postal code", method: "POST", path: register, contentType: json, body: newCustomer.with("address.postalCode", "1O999").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"address.postalCode"}},
		{name: "register: country not ISO", method: "POST", path: register, contentType: json, body: newCustomer.with("address.country", "Germany").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"address.country"}},
		{name: "register: a bad country and a bad postal code", method: "POST", path: register, contentType: json, body: newCustomer.with("address.country", "XX", "address.postalCode", "x").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"address.country", "address.postalCode"}},
		{name: "register: country of the shape, but none", method: "POST", path: register, contentType: json, body: newCustomer.with("address.country", "XX").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"address.country"}},
		{name: "register: phone with letters", method: "POST", path: register, contentType: json, body: newCustomer.with("phone", "call me").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"phone"}},
		{name: "register: German date format", method: "POST", path: register, contentType: json, body: newCustomer.with("dateOfBirth", "17.05.1992").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"dateOfBirth"}},
		{name: "register: a day short of 18", method: "POST", path: register, contentType: json, body: newCustomer.with("dateOfBirth", underage, "licence", nil).String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"dateOfBirth"}},
		{name: "register: born before 1900", method: "POST", path: register, contentType: json, body: newCustomer.with("dateOfBirth", "1899-12-31").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"dateOfBirth"}},
		{name: "register: unknown type", method: "POST", path: register, contentType: json, body: newCustomer.with("type", "company").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"type"}},
		{name: "register: business without company and VAT id", method: "POST", path: register, contentType: json, body: newCustomer.with("type", "business").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"companyName", "vatId"}},
		{name: "register: German VAT id of eight digits", method: "POST", path: register, contentType: json, body: newCustomer.with("type", "business", "companyName", "X GmbH", "vatId", "DE12345678").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"vatId"}},
		{name: "register: Dutch VAT id without its B", method: "POST", path: register, contentType: json, body: newCustomer.with("type", "business", "companyName", "X BV", "vatId", "NL123456789012").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"vatId"}},
		{name: "register: individual with a VAT id", method: "POST", path: register, contentType: json, body: newCustomer.with("vatId", "DE123456789").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"vatId"}},
		{name: "register: licence fields all bad", method: "POST", path: register, contentType: json, body: newCustomer.with("licence", map[string]any{"issuingCountry": "DEU", "issueDate": future, "expiryDate": "soon"}).String(), wantStatus: 400, wantType: "invalid",
			wantFields: []string{"licence.number", "licence.issuingCountry", "licence.issueDate", "licence.expiryDate"}},
		{name: "register: licence expiring before issue", method: "POST", path: register, contentType: json, body: newCustomer.with("licence.expiryDate", "2012-05-31").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"licence.expiryDate"}},
		{name: "register: licence before the 16th birthday", method: "POST", path: register, contentType: json, body: newCustomer.with("licence.issueDate", "2008-05-16").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"licence.issueDate"}},

		// profile update
		{name: "profile: malformed", as: alice, method: "PUT", path: aliceURL, contentType: json, body: `{"firstName":`, wantStatus: 400, wantType: "invalid"},
		{name: "profile: a licence is not part of it", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("licence", map[string]any{}).String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"licence"}},
		{name: "profile: nor is the status", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("status", "active").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"status"}},
		{name: "profile: bad fields", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("lastName", "", "address.city", "").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"lastName", "address.city"}},
		{name: "profile: wrong content type", as: alice, method: "PUT", path: aliceURL, contentType: "application/xml", body: `<profile/>`, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "profile: weak If-Match", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.String(), header: []string{"If-Match", `W/"1"`}, wantStatus: 412, wantType: "precondition-failed"},
		{name: "profile: If-Match not an ETag", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.String(), header: []string{"If-Match", `1`}, wantStatus: 400, wantType: "invalid"},
		{name: "profile: stale If-Match", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("firstName", "Alicia").String(), header: []string{"If-Match", `"7"`}, wantStatus: 412, wantType: "precondition-failed"},
		{name: "profile: email of another customer", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("email", "bob@example.com").String(), wantStatus: 409, wantType: "conflict"},
		{name: "profile: own date of birth", as: alice, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("dateOfBirth", "1999-04-12").String(), wantStatus: 403, wantType: "forbidden"},
		{name: "profile: date of birth after the licence", as: agent, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("dateOfBirth", "1999-04-12").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"dateOfBirth"}},
		{name: "profile: another customer's", as: bob, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("firstName", "Mallory").String(), wantStatus: 404, wantType: "not-found"},
		{name: "profile: no such customer", as: agent, method: "PUT", path: "/api/customers/" + nobodyID, contentType: json, body: aliceProfile.String(), wantStatus: 404, wantType: "not-found"},
		{name: "profile: not an id", as: agent, method: "PUT", path: "/api/customers/alice", contentType: json, body: aliceProfile.String(), wantStatus: 404, wantType: "not-found"},
		{name: "profile: fleet manager", as: fleet, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("firstName", "X").String(), wantStatus: 403, wantType: "forbidden"},
		{name: "profile: reservations-api", as: reservations, method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("firstName", "X").String(), wantStatus: 403, wantType: "forbidden"},
		{name: "profile: anonymous", method: "PUT", path: aliceURL, contentType: json, body: aliceProfile.with("firstName", "X").String(), wantStatus: 401, wantType: "unauthorized"},

		// licence update
		{name: "licence: everything missing", as: alice, method: "PUT", path: licenceURL, contentType: json, body: `{}`, wantStatus: 400, wantType: "invalid",
			wantFields: []string{"number", "issuingCountry", "issueDate", "expiryDate"}},
		{name: "licence: expires before issue", as: alice, method: "PUT", path: licenceURL, contentType: json, body: strings.Replace(licence, "2039-06-14", "2024-06-14", 1), wantStatus: 400, wantType: "invalid", wantFields: []string{"expiryDate"}},
		{name: "licence: issued tomorrow", as: alice, method: "PUT", path: licenceURL, contentType: json, body: strings.Replace(licence, "2024-06-15", future, 1), wantStatus: 400, wantType: "invalid", wantFields: []string{"issueDate"}},
		{name: "licence: before the 16th birthday", as: alice, method: "PUT", path: licenceURL, contentType: json, body: strings.Replace(licence, "2024-06-15", "2005-06-15", 1), wantStatus: 400, wantType: "invalid", wantFields: []string{"issueDate"}},
		{name: "licence: unknown field", as: alice, method: "PUT", path: licenceURL, contentType: json, body: strings.Replace(licence, `{`, `{"class":"B",`, 1), wantStatus: 400, wantType: "invalid", wantFields: []string{"class"}},
		{name: "licence: no content type", as: alice, method: "PUT", path: licenceURL, body: licence, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "licence: stale If-Match", as: alice, method: "PUT", path: licenceURL, contentType: json, body: licence, header: []string{"If-Match", `"9"`}, wantStatus: 412, wantType: "precondition-failed"},
		{name: "licence: another customer's", as: bob, method: "PUT", path: licenceURL, contentType: json, body: licence, wantStatus: 404, wantType: "not-found"},

		// status change
		{name: "status: unknown status", as: agent, method: "PUT", path: statusURL, contentType: json, body: `{"status":"deleted","reason":"x"}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"status"}},
		{name: "status: erasure is not a status change", as: agent, method: "PUT", path: statusURL, contentType: json, body: `{"status":"erased","reason":"asked"}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"status"}},
		{name: "status: no reason, no status", as: agent, method: "PUT", path: statusURL, contentType: json, body: `{}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"status", "reason"}},
		{name: "status: reason too long", as: agent, method: "PUT", path: statusURL, contentType: json, body: `{"status":"blocked","reason":"` + strings.Repeat("x", 501) + `"}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"reason"}},
		{name: "status: stale If-Match", as: agent, method: "PUT", path: statusURL, contentType: json, body: `{"status":"blocked","reason":"fraud"}`, header: []string{"If-Match", `"3"`}, wantStatus: 412, wantType: "precondition-failed"},
		{name: "status: no such customer", as: agent, method: "PUT", path: "/api/customers/" + nobodyID + "/status", contentType: json, body: `{"status":"blocked","reason":"fraud"}`, wantStatus: 404, wantType: "not-found"},
		{name: "status: customers cannot", as: alice, method: "PUT", path: statusURL, contentType: json, body: `{"status":"active","reason":"me"}`, wantStatus: 403, wantType: "forbidden"},
		{name: "status: nor can reservations-api", as: reservations, method: "PUT", path: statusURL, contentType: json, body: `{"status":"blocked","reason":"x"}`, wantStatus: 403, wantType: "forbidden"},

		// eligibility (reads only; still nothing may change)
		{name: "eligibility: no period", as: alice, method: "POST", path: eligibleURL, contentType: json, body: `{}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"pickupAt", "returnAt"}},
		{name: "eligibility: return before pickup", as: alice, method: "POST", path: eligibleURL, contentType: json, body: `{"pickupAt":"2030-05-04T10:00:00Z","returnAt":"2030-05-01T10:00:00Z"}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"returnAt"}},
		{name: "eligibility: not a time", as: alice, method: "POST", path: eligibleURL, contentType: json, body: `{"pickupAt":"tomorrow","returnAt":"2030-05-01"}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"pickupAt", "returnAt"}},
		{name: "eligibility: wrong content type", as: alice, method: "POST", path: eligibleURL, contentType: "text/plain", body: period, wantStatus: 415, wantType: "unsupported-media-type"},
		{name: "eligibility: another customer's", as: bob, method: "POST", path: eligibleURL, contentType: json, body: period, wantStatus: 404, wantType: "not-found"},
		{name: "eligibility: a function not granted it", as: payments, method: "POST", path: eligibleURL, contentType: json, body: period, wantStatus: 403, wantType: "forbidden"},
		{name: "eligibility: no such customer", as: reservations, method: "POST", path: "/api/customers/" + nobodyID + "/eligibility", contentType: json, body: period, wantStatus: 404, wantType: "not-found"},

		// applicant eligibility (reads only)
		{name: "applicant: nothing given", as: reservations, method: "POST", path: applicantURL, contentType: json, body: `{}`, wantStatus: 400, wantType: "invalid", wantFields: []string{"pickupAt", "returnAt", "dateOfBirth"}},
		{name: "applicant: licence fields all bad", as: agent, method: "POST", path: applicantURL, contentType: json,
			body:       applicant.with("licence", map[string]any{"issuingCountry": "DEU", "issueDate": future, "expiryDate": "soon"}).String(),
			wantStatus: 400, wantType: "invalid", wantFields: []string{"licence.number", "licence.issuingCountry", "licence.issueDate", "licence.expiryDate"}},
		{name: "applicant: licence before the 16th birthday", as: reservations, method: "POST", path: applicantURL, contentType: json, body: applicant.with("licence.issueDate", "1996-01-01").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"licence.issueDate"}},
		{name: "applicant: born tomorrow", as: reservations, method: "POST", path: applicantURL, contentType: json, body: applicant.with("dateOfBirth", future).String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"dateOfBirth"}},
		{name: "applicant: unknown field", as: reservations, method: "POST", path: applicantURL, contentType: json, body: applicant.with("email", "x@example.com").String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"email"}},
		{name: "applicant: a registration's every bad field", as: reservations, method: "POST", path: applicantURL, contentType: json,
			body:       doc{"registration": newCustomer.with("email", "clara", "phone", "call me", "dateOfBirth", "17.05.1992"), "pickupAt": "2030-05-01T10:00:00+02:00", "returnAt": "x"}.String(),
			wantStatus: 400, wantType: "invalid", wantFields: []string{"returnAt", "registration.email", "registration.phone", "registration.dateOfBirth"}},
		{name: "applicant: a registration and a date of birth beside it", as: reservations, method: "POST", path: applicantURL, contentType: json,
			body: applicant.with("registration", newCustomer).String(), wantStatus: 400, wantType: "invalid", wantFields: []string{"registration"}},
		{name: "applicant: customers may not", as: alice, method: "POST", path: applicantURL, contentType: json, body: applicant.String(), wantStatus: 403, wantType: "forbidden"},
		{name: "applicant: nor fleet managers", as: fleet, method: "POST", path: applicantURL, contentType: json, body: applicant.String(), wantStatus: 403, wantType: "forbidden"},
		{name: "applicant: nor other functions", as: payments, method: "POST", path: applicantURL, contentType: json, body: applicant.String(), wantStatus: 403, wantType: "forbidden"},
		{name: "applicant: anonymous", method: "POST", path: applicantURL, contentType: json, body: applicant.String(), wantStatus: 401, wantType: "unauthorized"},

		// erasure
		{name: "erasure: another customer's", as: bob, method: "POST", path: erasureURL, wantStatus: 404, wantType: "not-found"},
		{name: "erasure: no such customer", as: agent, method: "POST", path: "/api/customers/" + nobodyID + "/erasure", wantStatus: 404, wantType: "not-found"},
		{name: "erasure: malformed If-Match", as: alice, method: "POST", path: erasureURL, header: []string{"If-Match", "one"}, wantStatus: 400, wantType: "invalid"},
		{name: "erasure: stale If-Match", as: alice, method: "POST", path: erasureURL, header: []string{"If-Match", `"2"`}, wantStatus: 412, wantType: "precondition-failed"},
		{name: "erasure: fleet manager", as: fleet, method: "POST", path: erasureURL, wantStatus: 403, wantType: "forbidden"},
		{name: "erasure: reservations-api", as: reservations, method: "POST", path: erasureURL, wantStatus: 403, wantType: "forbidden"},
		{name: "erasure: anonymous", method: "POST", path: erasureURL, wantStatus: 401, wantType: "unauthorized"},

		{name: "wrong method", as: agent, method: "DELETE", path: aliceURL, wantStatus: 405, wantType: "method-not-allowed"},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := a.as(t)
			r := a.do(tt.as, tt.method, tt.path, tt.contentType, tt.body, tt.header...)
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			p := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+tt.wantType, p.Type)
			assert.Equal(t, tt.wantStatus, p.Status)
			assert.NotEmpty(t, p.Detail)
			fields := problemFields(t, r)
			for _, f := range tt.wantFields {
				assert.Contains(t, fields, f)
			}
			if tt.wantFields != nil {
				assert.Len(t, fields, len(tt.wantFields), "exactly the bad fields are named: %v", fields)
			}
			assert.Equal(t, before, a.snapshot(), "a rejected request changed the data")
		})
	}
}
