package locations_test

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

	"github.com/orangecarrental/orange/functions/locations"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do(http.MethodGet, "/api/locations/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	return doc
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)

	documented := map[string]string{} // "METHOD path" → operationId
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op.OperationID
		}
	}
	served := map[string]bool{}
	for _, rt := range locations.New(nil).Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		assert.Equal(t, rt.Name, documented[key], "route %s is not documented (or under another operationId)", key)
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
	// Both places the document is served return the same bytes.
	assert.Equal(t, a.do(http.MethodGet, "/openapi.json", "", "").body, a.do(http.MethodGet, "/api/locations/openapi.json", "", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)

	calls := []struct{ method, path, body string }{
		{"GET", "/api/locations", ""},
		{"GET", "/api/locations?status=active&city=Berlin", ""},
		{"GET", "/api/locations?status=open", ""},
		{"GET", "/api/locations/BER-HBF", ""},
		{"GET", "/api/locations/XYZ-ABC", ""},
		{"POST", "/api/locations", newBranch},
		{"POST", "/api/locations", newBranch},
		{"POST", "/api/locations", `{"code":"x"}`},
		{"PUT", "/api/locations/DUS-HBF", `{"name":"D","address":{"street":"s","postalCode":"40210","city":"Düsseldorf"}}`},
		{"PUT", "/api/locations/DUS-HBF/status", `{"status":"closed"}`},
	}
	for _, c := range calls {
		req, err := http.NewRequest(c.method, "http://localhost"+c.path, strings.NewReader(c.body))
		require.NoError(t, err)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s %s", c.method, c.path)
		r := a.do(c.method, c.path, req.Header.Get("Content-Type"), c.body)
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
