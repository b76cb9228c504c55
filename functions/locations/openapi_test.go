package locations_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/openapitest"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do(http.MethodGet, "/api/locations/openapi.json", "", "")
	require.Equal(t, http.StatusOK, r.status)
	return openapitest.Load(t, r.body)
}

// TestOpenAPICoversEveryRoute holds the document and the route table to each other: every
// route is documented under its operation id, and nothing undocumented is served.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	svc, err := locations.New(context.Background(), locations.Config{}, platform.Deps{})
	require.NoError(t, err)
	openapitest.CheckRoutes(t, loadOpenAPI(t, a), svc.Routes())
	// Both places the document is served return the same bytes.
	assert.Equal(t, a.do(http.MethodGet, "/openapi.json", "", "").body, a.do(http.MethodGet, "/api/locations/openapi.json", "", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the
// document, so the document cannot drift from what the API returns.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	v := openapitest.NewValidator(t, loadOpenAPI(t, a))

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
		header := http.Header{}
		if c.body != "" {
			header.Set("Content-Type", "application/json")
		}
		r := a.do(c.method, c.path, header.Get("Content-Type"), c.body)
		v.Check(t, c.method, c.path, header, r.status, r.header, r.body)
	}
}
