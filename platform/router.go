package platform

import (
	"context"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/orangecarrental/orange/platform/tracing"
)

// API is what a function serves: its route table.
type API interface {
	Routes() []Route
}

// RouteTable is a route table as an API, for handlers that need no service struct (a test's
// fake function, a host's stand-in for a Service it does not run).
type RouteTable []Route

// Routes implements API.
func (t RouteTable) Routes() []Route { return t }

// Route is one operation of a function's HTTP API. A function's route table is the single
// list its router, its OpenAPI test and its authorization checks read.
type Route struct {
	// Name is the operation id, as in the OpenAPI document.
	Name string
	// Method is the HTTP method; empty matches every method (the gateway's forwarding routes).
	Method string
	// Path is a gorilla/mux template, e.g. /api/locations/{code}.
	Path string
	// Prefix makes Path match every path below it too.
	Prefix bool
	// Access says who may call the route; it is checked before the handler runs.
	Access  Access
	Handler HandlerFunc
}

// NewRouter serves routes, answering unknown paths 404 and wrong methods 405 as problem+json,
// and refusing callers the route's Access does not admit (401/403) before its handler runs.
func NewRouter(routes []Route) *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = NotFoundHandler()
	r.MethodNotAllowedHandler = allowHeader(r, MethodNotAllowedHandler())
	for _, rt := range routes {
		var m *mux.Route
		if rt.Prefix {
			m = r.PathPrefix(rt.Path)
		} else {
			m = r.Path(rt.Path)
		}
		if methods := Methods(rt.Method); methods != nil {
			m = m.Methods(methods...)
		}
		m.Handler(guard(rt)).Name(rt.Name)
	}
	return r
}

// Methods are the HTTP methods a route of method answers (nil: every method). A GET route
// answers HEAD too: HEAD is GET without the body (RFC 9110 §9.3.2), net/http drops what the
// handler writes, and link checkers and uptime probes ask for it.
func Methods(method string) []string {
	switch method {
	case "":
		return nil
	case http.MethodGet:
		return []string{http.MethodGet, http.MethodHead}
	}
	return []string{method}
}

func guard(rt Route) HandlerFunc {
	template := rt.Path
	if rt.Prefix {
		template = strings.TrimSuffix(rt.Path, "/") + "/*"
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		tracing.NameRoute(r.Context(), r.Method, template) // the server span is named by its route
		if err := rt.Access.check(CallerFrom(r.Context())); err != nil {
			if KindOf(err) == KindUnauthorized {
				// RFC 6750 §3: a protected resource tells an anonymous caller how to authenticate.
				w.Header().Set("WWW-Authenticate", `Bearer realm="orange-car-rental"`)
			}
			return err
		}
		return rt.Handler(w, r)
	}
}

// PathVar returns the named path variable of the matched route.
func PathVar(r *http.Request, name string) string {
	return mux.Vars(r)[name]
}

// Authenticator turns a request's credentials into a Caller. It returns an unauthorized
// *Error for a credential that is present but not valid; no credential is anonymous.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (Caller, error)
}

// Authenticate puts the caller into each request's context, answering 401 problem+json for
// an invalid token. Every function runs behind it: on Knative each Service has its own route,
// so none may trust that the gateway checked.
func Authenticate(a Authenticator, next http.Handler) http.Handler {
	return HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		c, err := a.Authenticate(r.Context(), r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			return err
		}
		next.ServeHTTP(w, r.WithContext(WithCaller(r.Context(), c)))
		return nil
	})
}

// allowHeader sets the Allow header a 405 must carry (RFC 9110 §15.5.6): the methods whose
// routes match the request's path, found by asking r again with each.
func allowHeader(r *mux.Router, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			probe := req.Clone(req.Context())
			probe.Method = m
			var match mux.RouteMatch
			if r.Match(probe, &match) && match.MatchErr == nil {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
		}
		next.ServeHTTP(w, req)
	})
}
