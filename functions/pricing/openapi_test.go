package pricing_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.call("", http.MethodGet, "/api/pricing/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func testOpenAPICoversEveryRoute(t *testing.T, a *api) {
	svc, err := pricing.New(context.Background(), pricing.Config{}, platform.Deps{})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, loadOpenAPI(t, a), svc.Routes())
	assert.Equal(t, a.call("", http.MethodGet, "/openapi.json", "", "").body, a.call("", http.MethodGet, "/api/pricing/openapi.json", "", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	v.DocumentedStatus = true

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
		{"frank", "GET", "/api/pricing/policies/" + seedKompakt, ""},
		{reservationsAPI, "GET", "/api/pricing/policies/" + seedKompakt, ""}, // 403
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
		{vehiclesAPI, "POST", "/api/pricing/cancellation-fee", `{}`}, // 403
		{reservationsAPI, "POST", "/api/pricing/cancellation-fee", `{"pickupAt":"2026-03-10T10:00:00+01:00","cancelledAt":"2026-03-09T09:00:00+01:00","totalGrossCents":14276}`},
		{"", "POST", "/api/pricing/cancellation-fee", `{}`},
		{"frank", "POST", "/api/pricing/cancellation-fee", `{}`},
		{"carla", "POST", "/api/pricing/cancellation-fee", `{}`},
		{reservationsAPI, "POST", "/api/pricing/return-charges", `{"fuelAtPickup":8,"fuelAtReturn":5}`},
		{"carla", "POST", "/api/pricing/return-charges", `{"fuelAtPickup":4,"fuelAtReturn":6}`},
		{"carla", "POST", "/api/pricing/return-charges", `{"fuelAtPickup":9}`},
		{"alice", "POST", "/api/pricing/return-charges", `{"fuelAtPickup":8,"fuelAtReturn":5}`}, // 403
		{"", "POST", "/api/pricing/return-charges", `{}`},                                       // 401
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.call(c.user, c.method, c.path, header.Get("Content-Type"), c.body)
		v.Check(t, c.method, c.path, header, r.status, r.header, r.body)
	}
}
