package fleet_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.get("/api/vehicles/openapi.json", "Authorization", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// testOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func testOpenAPICoversEveryRoute(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	doc := loadOpenAPI(t, a)
	svc, err := fleet.New(context.Background(), fleet.Config{MaxCandidates: 1, PricingTimeout: 1}, platform.Deps{Client: &http.Client{}})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, doc, svc.Routes())
	// Both places the document is served return the same bytes.
	assert.Equal(t, a.get("/openapi.json").body, a.get("/api/vehicles/openapi.json").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))
	v.Response = &openapi3filter.Options{IncludeResponseStatus: true}
	search := searchPath(pickupDay(), 3, "")

	calls := []struct {
		method, path, body string
		header             []string
		wantStatus         int
	}{
		{"GET", search, "", nil, 200},
		{"GET", searchPath(pickupDay(), 3, "category=KOMPAKT&sort=-price&pageSize=1&page=2"), "", nil, 200},
		{"GET", searchPath(pickupDay(), 3, "maxDailyGross=1"), "", nil, 200},
		{"GET", "/api/vehicles?location=BER-HBF", "", nil, 400},
		{"GET", "/api/vehicles/inventory", "", nil, 200},
		{"GET", "/api/vehicles/inventory?status=maintenance&location=BER-HBF&category=KOMPAKT", "", nil, 200},
		{"GET", "/api/vehicles/inventory?status=sold", "", nil, 400},
		{"GET", "/api/vehicles/inventory", "", []string{"Authorization", ""}, 401},
		{"GET", "/api/vehicles/" + vwGolf, "", nil, 200},
		{"GET", "/api/vehicles/" + taycan, "", nil, 200},
		{"GET", "/api/vehicles/" + unknownID, "", nil, 404},
		{"GET", "/api/vehicles/" + vwGolf + "/telematics", "", nil, 200},
		{"GET", "/api/vehicles/" + unknownID + "/telematics", "", nil, 404},
		{"GET", "/api/vehicles/golf/telematics", "", nil, 404},
		{"GET", "/api/vehicles/" + vwGolf + "/telematics", "", []string{"Authorization", ""}, 401},
		{"POST", "/api/vehicles", newCar, nil, 201},
		{"POST", "/api/vehicles", newCar, nil, 409},
		{"POST", "/api/vehicles", `{"name":""}`, nil, 400},
		{"POST", "/api/vehicles", newCar, []string{"Authorization", ""}, 401},
		{"PUT", "/api/vehicles/" + vwUp, `{"name":"VW up! GTI","category":"KLEIN","seats":4,"fuel":"petrol","transmission":"manual","licencePlate":"B-OC 1001"}`, nil, 200},
		{"PUT", "/api/vehicles/" + vwUp, `{"name":"x"}`, []string{"If-Match", `"1"`}, 400},
		{"PUT", "/api/vehicles/" + vwUp + "/status", `{"status":"rented"}`, []string{"If-Match", `"1"`}, 412},
		{"PUT", "/api/vehicles/" + vwUp + "/status", `{"status":"rented"}`, nil, 200},
		{"PUT", "/api/vehicles/" + vwUp + "/status", `{"status":"maintenance"}`, nil, 409},
		{"PUT", "/api/vehicles/" + vwUp + "/location", `{"locationCode":"MUC-FLG"}`, nil, 409},
		{"PUT", "/api/vehicles/" + vwGolf + "/location", `{"locationCode":"MUC-FLG"}`, nil, 200},
		{"PUT", "/api/vehicles/" + vwGolf + "/daily-rate", `{"dailyRateNetCents":4599}`, nil, 200},
		{"PUT", "/api/vehicles/" + vwGolf + "/daily-rate", `{"dailyRateNetCents":null}`, nil, 200},
		{"PUT", "/api/vehicles/" + unknownID + "/daily-rate", `{"dailyRateNetCents":null}`, nil, 404},
		{"PUT", "/api/vehicles/" + vwGolf + "/daily-rate", `{"dailyRateNetCents":1}`, []string{"Authorization", a.id.Bearer(t, "alice")}, 403},
		{"PUT", "/api/vehicles/" + vwGolf + "/daily-rate", `{"dailyRateNetCents":4599}`, nil, 200},
	}
	for _, c := range calls {
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.do(c.method, c.path, header.Get("Content-Type"), c.body, c.header...)
		require.Equal(t, c.wantStatus, r.status, "%s %s: %s", c.method, c.path, r.body)
		v.Check(t, c.method, c.path, header, r.status, r.header, r.body)
	}

	// The 503 of a search without prices is documented too.
	a.pricing.setMode("fail")
	r := a.get(search)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	v.Request = &openapi3filter.Options{ExcludeRequestQueryParams: true}
	v.Check(t, http.MethodGet, search, nil, r.status, r.header, r.body)
}
