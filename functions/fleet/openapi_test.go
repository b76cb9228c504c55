package fleet_test

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

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.get("/api/vehicles/openapi.json", "Authorization", "")
	require.Equal(t, http.StatusOK, r.status)
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// testOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func testOpenAPICoversEveryRoute(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	doc := loadOpenAPI(t, a)

	documented := map[string]string{} // "METHOD path" → operationId
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op.OperationID
		}
	}
	svc, err := fleet.New(fleet.Config{MaxCandidates: 1, PricingTimeout: 1}, platform.Deps{Client: &http.Client{}})
	require.NoError(t, err)
	served := map[string]bool{}
	for _, rt := range svc.Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		assert.Equal(t, rt.Name, documented[key], "route %s is not documented (or under another operationId)", key)
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
	// Both places the document is served return the same bytes.
	assert.Equal(t, a.get("/openapi.json").body, a.get("/api/vehicles/openapi.json").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	doc := loadOpenAPI(t, a)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
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
		req, err := http.NewRequest(c.method, "http://localhost"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s %s", c.method, c.path)
		r := a.do(c.method, c.path, req.Header.Get("Content-Type"), c.body, c.header...)
		require.Equal(t, c.wantStatus, r.status, "%s %s: %s", c.method, c.path, r.body)
		input := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{ExcludeRequestBody: true, ExcludeRequestQueryParams: true}},
			Status:  r.status,
			Header:  r.header,
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		input.SetBodyBytes(r.body)
		assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input), "%s %s → %d %s", c.method, c.path, r.status, r.body)
	}

	// The 503 of a search without prices is documented too.
	a.pricing.setMode("fail")
	req, err := http.NewRequest("GET", "http://localhost"+search, nil)
	require.NoError(t, err)
	route, params, err := router.FindRoute(req)
	require.NoError(t, err)
	r := a.get(search)
	require.Equal(t, http.StatusServiceUnavailable, r.status)
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestQueryParams: true}},
		Status: r.status, Header: r.header, Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(r.body)
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input))
}
