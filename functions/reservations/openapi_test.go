package reservations_test

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

	"github.com/orangecarrental/orange/functions/reservations"
)

func loadOpenAPI(t *testing.T, a *api) *openapi3.T {
	t.Helper()
	r := a.do("", http.MethodGet, "/api/reservations/openapi.json", "")
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
	for _, rt := range reservations.New(nil, nil, reservations.Config{}).Routes() {
		key := rt.Method + " " + rt.Path
		served[key] = true
		assert.Equal(t, rt.Name, documented[key], "route %s is not documented (or under another operationId)", key)
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
	assert.Equal(t, a.do("", http.MethodGet, "/openapi.json", "").body, a.do("", http.MethodGet, "/api/reservations/openapi.json", "").body)
}

// TestResponsesMatchTheDocument validates real responses, errors included, against the document.
func TestResponsesMatchTheDocument(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	doc := loadOpenAPI(t, a)
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	p, ret := period(3, 48)
	res := a.book(vehicle1, p, ret)
	calls := []struct{ user, method, path, body string }{
		{"alice", "POST", "/api/reservations", bookingBody(vehicle2, p, ret, "")},
		{"alice", "POST", "/api/reservations", bookingBody(vehicle2, p, ret, "")},
		{"alice", "POST", "/api/reservations", `{"vehicleId":"x"}`},
		{"carla", "GET", "/api/reservations?status=pending&sort=-createdAt", ""},
		{"carla", "GET", "/api/reservations?status=lost", ""},
		{"alice", "GET", "/api/reservations/" + res.ID, ""},
		{"bob", "GET", "/api/reservations/" + res.ID, ""},
		{"", "GET", "/api/reservations/lookup?id=" + res.ID + "&email=" + emailOf(alice), ""},
		{"carla", "POST", "/api/reservations/" + res.ID + "/confirm", ""},
		{"carla", "POST", "/api/reservations/" + res.ID + "/complete", ""},
		{"alice", "POST", "/api/reservations/" + res.ID + "/cancel", `{"reason":"changed plans"}`},
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
