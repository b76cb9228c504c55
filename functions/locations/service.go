package locations

import (
	"context"
	_ "embed"
	"net/http"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
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

// New returns the service over db.
func New(db *database.DB) *Service {
	return &Service{store: &Store{db: db}}
}

// Function describes locations-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New: func(ctx context.Context, deps platform.Deps) (platform.API, error) {
			return New(deps.DB), nil
		},
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it. Branches are public knowledge; fleet managers (and admins) maintain them.
func (s *Service) Routes() []platform.Route {
	fleet := platform.Allow(platform.RoleFleet)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: s.handleOpenAPI},
		{Name: "getLocationsOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: s.handleOpenAPI},
		{Name: "listLocations", Method: http.MethodGet, Path: Prefix, Access: platform.Public, Handler: s.handleList},
		{Name: "createLocation", Method: http.MethodPost, Path: Prefix, Access: fleet, Handler: s.handleCreate},
		{Name: "getLocation", Method: http.MethodGet, Path: Prefix + "/{code}", Access: platform.Public, Handler: s.handleGet},
		{Name: "updateLocation", Method: http.MethodPut, Path: Prefix + "/{code}", Access: fleet, Handler: s.handleUpdate},
		{Name: "changeLocationStatus", Method: http.MethodPut, Path: Prefix + "/{code}/status", Access: fleet, Handler: s.handleChangeStatus},
	}
}

func (s *Service) handleOpenAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPIDocument)
	return err
}
