package payments_test

import (
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do("", http.MethodGet, "/api/payments/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	openapitest.CheckRoutes(t, loadOpenAPI(t, a), a.svc.Routes())
	assert.Equal(t, a.do("", http.MethodGet, "/openapi.json", "").body, a.do("", http.MethodGet, "/api/payments/openapi.json", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the document.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	p := a.authorized(10000)
	res := uuid.NewString()
	invoice := `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","lines":[{"description":"Car rental","grossCents":10000}]}`
	calls := []struct{ user, method, path, body string }{
		{"carla", "POST", "/api/payments", a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 500)},
		{"carla", "POST", "/api/payments", a.authorizeBody(uuid.NewString(), payments.TokenDecline, 500)},
		{"carla", "POST", "/api/payments", `{}`},
		{"", "POST", "/api/payments/methods", testCard(payments.CardSuccess)},
		{"alice", "POST", "/api/payments/methods", `{"token":"tok_decline"}`},
		{"", "POST", "/api/payments/methods", testCard("4111111111111111")},
		{"", "POST", "/api/payments/methods", testCard("4242424242424241")},
		{"", "POST", "/api/payments/methods", `{"token":"tok_nope"}`},
		{"alice", "POST", "/api/payments", a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 500)},
		{"alice", "GET", "/api/payments?reservation=" + p.ReservationID, ""},
		{"alice", "GET", "/api/payments/" + p.ID, ""},
		{"bob", "GET", "/api/payments/" + p.ID, ""},
		{"carla", "POST", "/api/payments/" + p.ID + "/capture", amount(20000)},
		{"carla", "POST", "/api/payments/" + p.ID + "/capture", amount(10000)},
		{"carla", "POST", "/api/payments/" + p.ID + "/refund", amount(500)},
		{"carla", "POST", "/api/payments/" + p.ID + "/void", ""},
		{"ada", "POST", "/api/invoices", invoice},
		{"ada", "POST", "/api/invoices", invoice},
		{"alice", "GET", "/api/invoices", ""},
		{"alice", "GET", "/api/invoices?pageSize=0", ""},
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.do(c.user, c.method, c.path, c.body)
		v.Check(t, c.method, c.path, header, r.status, r.header, r.body)
	}
}
