// Package openapitest holds a function's OpenAPI document to what the function serves:
// Load parses and validates the served document, CheckRoutes compares it with the route
// table both ways, and a Validator checks real responses against it.
//
// In a function's openapi_test.go:
//
//	doc := openapitest.Load(t, served)
//	openapitest.CheckRoutes(t, doc, svc.Routes())
//
//	v := openapitest.NewValidator(t, doc)
//	r := call(...)
//	v.Check(t, method, path, reqHeader, r.status, r.header, r.body)
package openapitest

import (
	"context"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// Load parses the OpenAPI document doc and validates it, failing the test at once if either
// step fails.
func Load(t testing.TB, doc []byte) *openapi3.T {
	t.Helper()
	d, err := openapi3.NewLoader().LoadFromData(doc)
	require.NoError(t, err)
	require.NoError(t, d.Validate(context.Background()))
	return d
}

// CheckRoutes holds the document and the route table to each other: every route is
// documented under its operation id (Route.Name), the document describes no operation that
// is not served, and a route that is not public documents the 401 and 403 its access check
// answers before any handler runs.
func CheckRoutes(t testing.TB, doc *openapi3.T, routes []platform.Route) {
	t.Helper()
	documented := map[string]*openapi3.Operation{} // "METHOD path" → operation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = op
		}
	}
	served := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		served[key] = true
		op := documented[key]
		if !assert.NotNil(t, op, "route %s is not documented", key) {
			continue
		}
		assert.Equal(t, rt.Name, op.OperationID, "route %s is documented under another operationId", key)
		if !rt.Access.Public && op.Responses != nil {
			for _, status := range []string{"401", "403"} {
				assert.NotNil(t, op.Responses.Value(status), "%s (%s) is not public: it answers %s, which its document does not list", key, rt.Name, status)
			}
		}
	}
	for key := range documented {
		assert.True(t, served[key], "the document describes %s, which is not served", key)
	}
}

// Validator validates real responses against a document. Its fields may be changed between
// calls to Check.
type Validator struct {
	router routers.Router

	// Request are the options of the request side of the validation input. NewValidator sets
	// them to exclude the request body and query parameters.
	Request *openapi3filter.Options
	// Response are the options of the response validation, e.g. IncludeResponseStatus to
	// fail on a status the operation does not document; nil by default.
	Response *openapi3filter.Options
	// DocumentedStatus additionally asserts that the operation documents the response's
	// status code itself (not only through a default response).
	DocumentedStatus bool
}

// NewValidator returns a Validator over doc, routing requests with a gorillamux router.
func NewValidator(t testing.TB, doc *openapi3.T) *Validator {
	t.Helper()
	router, err := gorillamux.NewRouter(doc)
	require.NoError(t, err)
	return &Validator{
		router:  router,
		Request: &openapi3filter.Options{ExcludeRequestBody: true, ExcludeRequestQueryParams: true},
	}
}

// Check validates a response — status, header and body — of the request method path (the
// path may carry a query string) against the operation that the document routes it to. It
// stops the test if the document has no such operation, and otherwise reports whether the
// response matches.
func (v *Validator) Check(t testing.TB, method, path string, reqHeader http.Header, status int, respHeader http.Header, body []byte) bool {
	t.Helper()
	req, err := http.NewRequest(method, "http://localhost"+path, http.NoBody)
	require.NoError(t, err)
	for k, vs := range reqHeader {
		req.Header[k] = append([]string(nil), vs...)
	}
	route, params, err := v.router.FindRoute(req)
	require.NoError(t, err, "%s %s", method, path)
	ok := true
	if v.DocumentedStatus {
		ok = assert.NotNil(t, route.Operation.Responses.Status(status), "%s %s → %d is not a documented status", method, path, status)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.Request},
		Status:                 status,
		Header:                 respHeader,
		Options:                v.Response,
	}
	input.SetBodyBytes(body)
	return assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), input), "%s %s → %d %s", method, path, status, body) && ok
}
