package customers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do(anonymous, http.MethodGet, "/api/customers/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func testOpenAPICoversEveryRoute(t *testing.T, a *api) {
	doc := loadOpenAPI(t, a)
	svc, err := customers.New(context.Background(), customers.Config{}, platform.Deps{})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, doc, svc.Routes())
	assert.Equal(t, a.do(anonymous, http.MethodGet, "/openapi.json", "", "").body, a.do(anonymous, http.MethodGet, "/api/customers/openapi.json", "", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	v.Request.AuthenticationFunc = openapi3filter.NoopAuthenticationFunc

	const (
		aliceURL = "/api/customers/" + aliceID
		period   = `{"pickupAt":"2030-05-01T10:00:00+02:00","returnAt":"2030-05-04T10:00:00+02:00"}`
		licence  = `{"number":"B072RRE2J66","issuingCountry":"DE","issueDate":"2024-06-15","expiryDate":"2039-06-14"}`
		emily    = "/api/customers/c5000000-0000-4000-8000-000000000013"
	)
	calls := []struct{ as, method, path, body string }{
		{anonymous, "GET", "/api/customers/openapi.json", ""},
		{anonymous, "GET", "/openapi.json", ""},
		{anonymous, "POST", "/api/customers", newCustomer.String()},
		{anonymous, "POST", "/api/customers", newCustomer.String()}, // 409
		{anonymous, "POST", "/api/customers", `{}`},                 // 400
		{reservations, "POST", "/api/customers/guests", newCustomer.with("email", "guest@example.de").String()},
		{reservations, "POST", "/api/customers/guests", newCustomer.with("firstName", "Click https://evil.example").String()}, // 400
		{anonymous, "POST", "/api/customers/guests", newCustomer.with("email", "guest2@example.de").String()},                 // 401
		{agent, "POST", "/api/customers/guests", newCustomer.with("email", "guest3@example.de").String()},                     // 403
		{reservations, "POST", "/api/customers/guests", newCustomer.with("email", "Guest@example.de").String()},               // 200: the same guest again
		{reservations, "DELETE", "/api/customers/guests/" + nobodyID, ""},                                                     // 404
		{reservations, "DELETE", "/api/customers/guests/" + aliceID, ""},                                                      // 409
		{anonymous, "POST", "/api/customers/verify-email", `{"token":"nothing"}`},                                             // 400
		{agent, "POST", "/api/customers", newCustomer.with("email", "biz@example.de", "type", "business", "companyName", "B GmbH", "vatId", "DE111222333", "licence", nil).String()},
		{agent, "GET", "/api/customers", ""},
		{agent, "GET", "/api/customers?name=sch&status=active&page=1&pageSize=5", ""},
		{agent, "GET", "/api/customers?status=gone", ""},
		{alice, "GET", "/api/customers", ""},     // 403
		{anonymous, "GET", "/api/customers", ""}, // 401
		{alice, "GET", aliceURL, ""},
		{agent, "GET", "/api/customers/c5000000-0000-4000-8000-000000000010", ""}, // with its status reason
		{bob, "GET", aliceURL, ""},                                                // 404
		{fleet, "GET", aliceURL, ""},                                              // 403
		{alice, "PUT", aliceURL, aliceProfile.with("phone", "+49 30 5550111").String()},
		{alice, "PUT", aliceURL, aliceProfile.with("dateOfBirth", "1991-01-01").String()}, // 403
		{agent, "PUT", aliceURL, aliceProfile.with("email", "bob@example.com").String()},  // 409
		{alice, "PUT", aliceURL + "/licence", licence},
		{alice, "PUT", aliceURL + "/licence", `{}`}, // 400
		{agent, "PUT", aliceURL + "/status", `{"status":"suspended","reason":"check ID"}`},
		{agent, "PUT", aliceURL + "/status", `{"status":"active","reason":"ID checked"}`},
		{reservations, "POST", aliceURL + "/eligibility", period},
		{payments, "POST", aliceURL + "/eligibility", period}, // 403
		{reservations, "POST", "/api/customers/eligibility", `{"dateOfBirth":"1990-01-01","licence":{"number":"B7HK22P0X11","issuingCountry":"US","issueDate":"2010-01-01","expiryDate":"2035-01-01"},` + period[1:]},
		{agent, "POST", "/api/customers/eligibility", `{"dateOfBirth":"2015-01-01",` + period[1:]},
		{reservations, "POST", "/api/customers/eligibility", `{"dateOfBirth":"x"}`},                // 400
		{alice, "POST", "/api/customers/eligibility", `{"dateOfBirth":"1990-01-01",` + period[1:]}, // 403
		{agent, "POST", emily + "/eligibility", period},
		{alice, "POST", aliceURL + "/eligibility", `{"pickupAt":"x"}`}, // 400
		{alice, "POST", aliceURL + "/erasure", ""},
		{alice, "GET", aliceURL, ""}, // erased
		{agent, "PUT", aliceURL + "/status", `{"status":"active","reason":"undo"}`}, // 409
		{agent, "POST", aliceURL + "/eligibility", period},
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.do(c.as, c.method, c.path, header.Get("Content-Type"), c.body)
		if !v.Check(t, c.method, c.path, header, r.status, r.header, r.body) {
			t.Logf("%s %s was called as %q", c.method, c.path, c.as)
		}
	}

	// A verification with the token of a real link.
	c := a.register(newCustomer.with("email", "verify@example.de").String())
	header := http.Header{"Content-Type": {"application/json"}}
	r := a.json(anonymous, "POST", "/api/customers/verify-email", `{"token":"`+a.verificationToken(c.ID)+`"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	v.Check(t, "POST", "/api/customers/verify-email", header, r.status, r.header, r.body)
}
