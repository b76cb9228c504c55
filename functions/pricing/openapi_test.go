package pricing_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.call("", http.MethodGet, "/api/pricing/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func testOpenAPICoversEveryRoute(t *testing.T, a *api) {
	doc := loadOpenAPI(t, a)

	documented := map[string]string{} // "METHOD path" → operationId
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op.OperationID
		}
	}
	served := map[string]bool{}
	for _, rt := range pricing.New(nil).Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		assert.Equal(t, rt.Name, documented[key], "route %s is not documented (or under another operationId)", key)
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
	assert.Equal(t, a.call("", http.MethodGet, "/openapi.json", "", "").body, a.call("", http.MethodGet, "/api/pricing/openapi.json", "", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	const (
		quote  = `{"pickupLocation":"BER-HBF","returnLocation":"MUC-FLG","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-17T10:00:00+01:00","category":"KOMPAKT","insurance":"FULL","extras":[{"code":"GPS"},{"code":"CHILD_SEAT","quantity":2}]}`
		period = `"pickupLocation":"BER-HBF","pickupAt":"2026-03-10T10:00:00+01:00","returnAt":"2026-03-13T10:00:00+01:00"`
		policy = `{"category":"SUV","locationCode":"FRA-FLG","dailyRateNetCents":7499,"validFrom":"2026-04-01T00:00:00+02:00","validTo":"2026-10-01T00:00:00+02:00"}`
	)
	calls := []struct{ user, method, path, body string }{
		{"", "GET", "/openapi.json", ""},
		{"", "GET", "/api/pricing/catalogue", ""},
		{"frank", "GET", "/api/pricing/policies", ""},
		{"carla", "GET", "/api/pricing/policies?category=SUV&activeAt=2026-05-01T00:00:00Z&status=all&page=1&pageSize=5", ""},
		{"frank", "GET", "/api/pricing/policies?status=open", ""},
		{"", "GET", "/api/pricing/policies", ""},
		{"alice", "GET", "/api/pricing/policies", ""},
		{"frank", "POST", "/api/pricing/policies", policy},
		{"frank", "POST", "/api/pricing/policies", policy},
		{"frank", "POST", "/api/pricing/policies", `{"category":"BUS"}`},
		{"service", "GET", "/api/pricing/policies/" + seedKompakt, ""},
		{"frank", "GET", "/api/pricing/policies/99999999-9999-4999-8999-999999999999", ""},
		{"frank", "PUT", "/api/pricing/policies/" + seedKompakt, `{"dailyRateNetCents":4099,"validFrom":"2025-01-01T00:00:00+01:00"}`},
		{"frank", "PUT", "/api/pricing/policies/" + seedKompakt, `{"dailyRateNetCents":0}`},
		{"frank", "POST", "/api/pricing/policies/" + seedLuxus + "/deactivate", ""},
		{"frank", "GET", "/api/pricing/policies/" + seedLuxus, ""},
		{"frank", "PUT", "/api/pricing/policies/" + seedLuxus, `{"dailyRateNetCents":4099,"validFrom":"2025-01-01T00:00:00+01:00"}`},
		{"", "POST", "/api/pricing/quotes", quote},
		{"", "POST", "/api/pricing/quotes", strings.Replace(quote, `"category":"KOMPAKT"`, `"category":"KLEIN","dailyRateNetCents":2500`, 1)},
		{"", "POST", "/api/pricing/quotes", strings.Replace(quote, "KOMPAKT", "LUXUS", 1)},
		{"", "POST", "/api/pricing/quotes", `{"category":"BUS"}`},
		{"", "POST", "/api/pricing/rates", `{` + period + `,"items":[{"key":"a","category":"KOMPAKT","dailyRateNetCents":null},{"key":"b","category":"SUV","dailyRateNetCents":6500}]}`},
		{"", "POST", "/api/pricing/rates", `{` + period + `,"items":[{"key":"a","category":"LUXUS"}]}`},
		{"", "POST", "/api/pricing/rates", `{` + period + `,"items":[]}`},
		{"alice", "POST", "/api/pricing/cancellation-fee", `{"pickupAt":"2026-03-03T10:00:00+01:00","totalGrossCents":14276}`},
		{"service", "POST", "/api/pricing/cancellation-fee", `{"pickupAt":"2026-03-10T10:00:00+01:00","cancelledAt":"2026-03-09T09:00:00+01:00","totalGrossCents":14276}`},
		{"", "POST", "/api/pricing/cancellation-fee", `{}`},
		{"frank", "POST", "/api/pricing/cancellation-fee", `{}`},
		{"carla", "POST", "/api/pricing/cancellation-fee", `{}`},
	}
	for _, c := range calls {
		req, err := http.NewRequest(c.method, "http://localhost"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		contentType := ""
		if c.body != "" {
			contentType = "application/json"
			req.Header.Set("Content-Type", contentType)
		}
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s %s", c.method, c.path)
		r := a.call(c.user, c.method, c.path, contentType, c.body)
		assert.NotNil(t, route.Operation.Responses.Status(r.status), "%s %s → %d is not a documented status", c.method, c.path, r.status)
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
