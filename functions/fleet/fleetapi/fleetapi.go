// Package fleetapi is vehicles-api's contract with the functions that call it (design.md §3):
// the vehicle as they read it and a typed client. Callers import this package and nothing
// else of fleet; fleet's vehicle statuses are defined from the constants here, and a contract
// test runs the client against the real function.
package fleetapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/orangecarrental/orange/platform"
)

// Service is vehicles-api's Knative Service name, the host its client addresses.
const Service = "vehicles-api"

// Prefix is where vehicles-api serves its operations.
const Prefix = "/api/vehicles"

// The vehicle states. Only available and reserved vehicles can be booked (for a period no
// other booking holds); maintenance and out_of_service ones cannot.
const (
	StatusAvailable    = "available"
	StatusReserved     = "reserved"
	StatusRented       = "rented"
	StatusMaintenance  = "maintenance"
	StatusOutOfService = "out_of_service"
)

// Vehicle is what other functions read of a vehicle: what it is (Category), where it stands
// (LocationCode, a branch code), its Status and its own net daily rate (nil: pricing's
// category policy applies). The record vehicles-api shows has more; these fields are part
// of it.
type Vehicle struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Category          string `json:"category"`
	LocationCode      string `json:"locationCode"`
	Status            string `json:"status"`
	DailyRateNetCents *int64 `json:"dailyRateNetCents"`
	Version           int64  `json:"version"`
}

// Client calls vehicles-api. Its HTTP client is the caller's platform.Deps.Client, which
// reaches vehicles-api by its service name (in-process in `orange dev`, its cluster-local URL
// on Knative) and authenticates as the calling function: the identity plumbing stays in
// platform. An answer other than 2xx is a *platform.CallError; a transport failure is not.
type Client struct {
	http *http.Client
}

// NewClient returns a client over c.
func NewClient(c *http.Client) *Client { return &Client{http: c} }

// Vehicle reads vehicle id (GET /api/vehicles/{id}; public). An unknown id is a 404
// *platform.CallError.
func (c *Client) Vehicle(ctx context.Context, id string) (Vehicle, error) {
	var out Vehicle
	err := platform.CallJSON(ctx, c.http, http.MethodGet, Service, Prefix+"/"+url.PathEscape(id), nil, &out)
	return out, err
}
