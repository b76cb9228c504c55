package payments_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do("", http.MethodGet, "/api/payments/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)
	documented := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op.OperationID
		}
	}
	served := map[string]bool{}
	for _, rt := range a.svc.Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		assert.Equal(t, rt.Name, documented[key], "route %s is not documented (or under another operationId)", key)
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
	assert.Equal(t, a.do("", http.MethodGet, "/openapi.json", "").body, a.do("", http.MethodGet, "/api/payments/openapi.json", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the document.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	p := a.authorized(10000)
	res := uuid.NewString()
	invoice := `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","lines":[{"description":"Car rental","grossCents":10000}]}`
	calls := []struct{ user, method, path, body string }{
		{"carla", "POST", "/api/payments", authorizeBody(uuid.NewString(), payments.TokenSuccess, 500)},
		{"carla", "POST", "/api/payments", authorizeBody(uuid.NewString(), payments.TokenDecline, 500)},
		{"carla", "POST", "/api/payments", `{}`},
		{"alice", "POST", "/api/payments", authorizeBody(uuid.NewString(), payments.TokenSuccess, 500)},
		{"alice", "GET", "/api/payments?reservation=" + p.ReservationID, ""},
		{"alice", "GET", "/api/payments/" + p.ID, ""},
		{"bob", "GET", "/api/payments/" + p.ID, ""},
		{"carla", "POST", "/api/payments/" + p.ID + "/capture", amount(20000)},
		{"carla", "POST", "/api/payments/" + p.ID + "/capture", amount(10000)},
		{"carla", "POST", "/api/payments/" + p.ID + "/refund", amount(500)},
		{"carla", "POST", "/api/payments/" + p.ID + "/void", ""},
		{"service", "POST", "/api/invoices", invoice},
		{"service", "POST", "/api/invoices", invoice},
		{"alice", "GET", "/api/invoices", ""},
		{"alice", "GET", "/api/invoices?pageSize=0", ""},
	}
	for _, c := range calls {
		req, err := http.NewRequest(c.method, "http://localhost"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s %s", c.method, c.path)
		r := a.do(c.user, c.method, c.path, c.body)
		input := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{ExcludeRequestBody: true, ExcludeRequestQueryParams: true}},
			Status: r.status,
			Header: r.header,
		}
		input.SetBodyBytes(r.body)
		assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input), "%s %s → %d %s", c.method, c.path, r.status, r.body)
	}
}
