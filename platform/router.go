package platform

import (
	"net/http"

	"github.com/gorilla/mux"
)

// Route is one operation of a function's HTTP API. A function's route table is the single
// list its router, its OpenAPI test and its authorization checks read.
type Route struct {
	// Name is the operation id, as in the OpenAPI document.
	Name    string
	Method  string
	Path    string // gorilla/mux template, e.g. /api/locations/{code}
	Handler HandlerFunc
}

// NewRouter serves routes, answering unknown paths 404 and wrong methods 405 as problem+json.
func NewRouter(routes []Route) *mux.Router {
	r := mux.NewRouter()
	r.NotFoundHandler = NotFoundHandler()
	r.MethodNotAllowedHandler = MethodNotAllowedHandler()
	for _, rt := range routes {
		r.Handle(rt.Path, rt.Handler).Methods(rt.Method).Name(rt.Name)
	}
	return r
}

// PathVar returns the named path variable of the matched route.
func PathVar(r *http.Request, name string) string {
	return mux.Vars(r)[name]
}
