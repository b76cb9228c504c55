package locations

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// ServiceName is the Knative Service of this function.
const ServiceName = "locations-api"

// Prefix is where the API is served, alone and in `orange dev`.
const Prefix = "/api/locations"

//go:embed openapi.json
var openAPIDocument []byte

// Service serves the locations API.
type Service struct {
	store *Store
}

// Config is locations-api's own configuration: none yet beyond the host's, kept so that its
// New has the shape every function's has.
type Config struct{}

// New returns the service over deps.DB. It does not fail today; the error is the shape every
// function's New shares.
func New(_ context.Context, _ Config, deps platform.Deps) (*Service, error) {
	return &Service{store: &Store{db: deps.DB}}, nil
}

// Function describes locations-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it. Branches are public knowledge; fleet managers (and admins) maintain them.
func (s *Service) Routes() []platform.Route {
	fleet := platform.Allow(platform.RoleFleet)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getLocationsOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "listLocations", Method: http.MethodGet, Path: Prefix, Access: platform.Public, Handler: s.handleList},
		{Name: "createLocation", Method: http.MethodPost, Path: Prefix, Access: fleet, Handler: s.handleCreate},
		{Name: "getLocation", Method: http.MethodGet, Path: Prefix + "/{code}", Access: platform.Public, Handler: s.handleGet},
		{Name: "updateLocation", Method: http.MethodPut, Path: Prefix + "/{code}", Access: fleet, Handler: s.handleUpdate},
		{Name: "changeLocationStatus", Method: http.MethodPut, Path: Prefix + "/{code}/status", Access: fleet, Handler: s.handleChangeStatus},
	}
}
