// Package fleet is the vehicles-api function: the rental cars (what they are, where they
// stand, their status and their own daily rate) and the public availability search.
//
// Decisions (docs/fleet.md has the long form):
//
//   - Status changes follow one table in the schema (fleet.status_transitions); a rented
//     car can only be returned (→ available), only available or reserved cars can be
//     rented, and setting the status a car has is a no-op. Each change is one conditional
//     UPDATE, and a trigger holds any other UPDATE to the same table.
//   - A car that is rented or reserved, or promised to a booking that has not ended, cannot
//     be moved to another branch: that would strand its customer.
//   - The search offers available and reserved cars at the branch with no blocking booking
//     (pending, confirmed, active) overlapping [pickup, return) in fleet's own bookings read
//     model, which reservation events feed through Store.ApplyBooking (newest version wins,
//     whatever the arrival order).
//   - Prices come from pricing-api (POST /api/pricing/rates) through its contract package
//     pricingapi, called as vehicles-api itself: the platform client carries fleet's own
//     service token, never the searcher's. Price filter and order need prices, so they are
//     applied after pricing, over at most FLEET_SEARCH_MAX_CANDIDATES vehicles per search.
//     When pricing fails or is slower than FLEET_PRICING_TIMEOUT the search answers 503 with
//     Retry-After: a result without prices, or with guessed ones, is worse than a retry.
//     Prices pricing gave are reused for FLEET_PRICE_CACHE_TTL (30 s) per branch, period and
//     kind of car: a search's price is a display the booking re-quotes, so a policy change
//     may show that late in searches (pricing publishes no event to invalidate by).
//   - Each booking in the read model carries its car's branch (triggers keep it so), so a
//     branch's blocked cars are one range of a GiST index, not a probe per car.
//   - The branch code of a vehicle is checked for its form, not against locations-api:
//     fleet's writes do not depend on another function being up.
//   - Facts about cars from outside (telematics readings, damage reports, repairs; published
//     by sync-worker) carry no version: the time each was taken orders it (telematics.go). A
//     damage report sends an available car to the workshop and flags a rented or reserved
//     one, whose return then sends it to the workshop instead of the search; a repair brings
//     a car in the workshop back unless later damage is open.
package fleet

import (
	"cmp"
	"context"
	_ "embed"
	"errors"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// ServiceName is the Knative Service of this function.
const ServiceName = fleetapi.Service

// Prefix is where the API is served, alone and in `orange dev`.
const Prefix = fleetapi.Prefix

//go:embed openapi.json
var openAPIDocument []byte

// Config is the fleet function's own configuration. Names carry a FLEET_ prefix because
// `orange dev` gives every function the same environment.
type Config struct {
	// MaxCandidates bounds how many vehicles one search prices (one branch has dozens).
	MaxCandidates int `env:"FLEET_SEARCH_MAX_CANDIDATES, default=200"`
	// PricingTimeout bounds the call to pricing-api within a search (CALL_TIMEOUT, the
	// platform client's own limit, still applies).
	PricingTimeout time.Duration `env:"FLEET_PRICING_TIMEOUT, default=5s"`
	// PriceCacheTTL is how long a search reuses the prices pricing gave for a branch, period
	// and kind of car (prices.go; 0 turns the cache off). Search prices are a display the
	// booking re-quotes, so a policy change shows in searches at most this late.
	PriceCacheTTL time.Duration `env:"FLEET_PRICE_CACHE_TTL, default=30s"`
	// PriceCacheEntries bounds how many (branch, period) price sets the cache keeps.
	PriceCacheEntries int `env:"FLEET_PRICE_CACHE_ENTRIES, default=2000"`
	// BranchTTL is how long a search uses a branch read from locations-api (status, time
	// zone, opening hours) before asking again, as reservations-api's booking does.
	BranchTTL time.Duration `env:"FLEET_BRANCH_TTL, default=30s"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.MaxCandidates < 1 || c.MaxCandidates > 1000:
		return errors.New("FLEET_SEARCH_MAX_CANDIDATES must be between 1 and 1000")
	case c.PricingTimeout <= 0:
		return errors.New("FLEET_PRICING_TIMEOUT must be positive")
	case c.PriceCacheTTL < 0 || c.PriceCacheTTL > 10*time.Minute:
		return errors.New("FLEET_PRICE_CACHE_TTL must be from 0 (off) to 10m")
	case c.PriceCacheTTL > 0 && (c.PriceCacheEntries < 1 || c.PriceCacheEntries > 100_000):
		return errors.New("FLEET_PRICE_CACHE_ENTRIES must be between 1 and 100000")
	case c.BranchTTL < 0 || c.BranchTTL > 10*time.Minute:
		return errors.New("FLEET_BRANCH_TTL must be positive, at most 10m")
	}
	return nil
}

// Service serves the vehicles API.
type Service struct {
	cfg     Config
	store   *Store
	pricing *pricingapi.Client
	prices  *priceCache
	// branches are the branches read from locations-api: a search offers nothing a booking
	// would refuse for its branch (closed, outside the opening hours).
	branches *locationsapi.Cache
	now      func() time.Time
}

// New returns the service over deps.DB, calling pricing-api and locations-api through
// deps.Client (as vehicles-api itself).
func New(_ context.Context, cfg Config, deps platform.Deps) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Client == nil {
		return nil, errors.New("fleet: an HTTP client to reach pricing-api is required")
	}
	return &Service{
		cfg:      cfg,
		store:    NewStore(deps.DB),
		pricing:  pricingapi.NewClient(deps.Client),
		branches: locationsapi.NewCache(locationsapi.NewClient(deps.Client), min(cfg.PricingTimeout, 2*time.Second), cmp.Or(cfg.BranchTTL, 30*time.Second)),
		prices:   newPriceCache(cfg.PriceCacheTTL, cfg.PriceCacheEntries),
		now:      time.Now,
	}, nil
}

// Function describes vehicles-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it. Finding and looking at cars is public; the inventory (every car, whatever its
// state) is for staff who plan with it; changing cars is for fleet managers (and admins).
// Fixed paths come before /{id}, which would otherwise match them.
func (s *Service) Routes() []platform.Route {
	fleet := platform.Allow(platform.RoleFleet)
	staff := platform.Allow(platform.RoleFleet, platform.RoleAgent)
	senders := platform.Deliveries(
		platform.Trigger("vehicles-api-reservation-created"),
		platform.Trigger("vehicles-api-reservation-confirmed"),
		platform.Trigger("vehicles-api-reservation-changed"),
		platform.Trigger("vehicles-api-reservation-activated"),
		platform.Trigger("vehicles-api-reservation-completed"),
		platform.Trigger("vehicles-api-reservation-cancelled"),
		platform.Trigger("vehicles-api-reservation-expired"),
		platform.Trigger("vehicles-api-reservation-no-show"),
		// The inbound facts about cars that sync-worker publishes (telematics.go).
		platform.Trigger("vehicles-api-vehicle-odometer-read"),
		platform.Trigger("vehicles-api-vehicle-fuel-read"),
		platform.Trigger("vehicles-api-vehicle-position-read"),
		platform.Trigger("vehicles-api-vehicle-damage-reported"),
		platform.Trigger("vehicles-api-vehicle-repair-completed"),
	)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getVehiclesOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "searchVehicles", Method: http.MethodGet, Path: Prefix, Access: platform.Public, Handler: s.handleSearch},
		{Name: "createVehicle", Method: http.MethodPost, Path: Prefix, Access: fleet, Handler: s.handleCreate},
		{Name: "listInventory", Method: http.MethodGet, Path: Prefix + "/inventory", Access: staff, Handler: s.handleInventory},
		{Name: "getVehicle", Method: http.MethodGet, Path: Prefix + "/{id}", Access: platform.Public, Handler: s.handleGet},
		// Where a car is and what the garages reported is for staff only (docs/fleet.md).
		{Name: "getVehicleTelematics", Method: http.MethodGet, Path: Prefix + "/{id}/telematics", Access: staff, Handler: s.handleTelematics},
		{Name: "updateVehicle", Method: http.MethodPut, Path: Prefix + "/{id}", Access: fleet, Handler: s.handleUpdate},
		{Name: "changeVehicleStatus", Method: http.MethodPut, Path: Prefix + "/{id}/status", Access: fleet, Handler: s.handleChangeStatus},
		{Name: "moveVehicle", Method: http.MethodPut, Path: Prefix + "/{id}/location", Access: fleet, Handler: s.handleMove},
		{Name: "changeVehicleDailyRate", Method: http.MethodPut, Path: Prefix + "/{id}/daily-rate", Access: fleet, Handler: s.handleChangeDailyRate},
		// Only the event platform's deliveries from fleet's own Triggers (design.md §9).
		{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath, Access: senders,
			Handler: events.Receiver(s.store.db, Migrations.Schema, s.handleEvent)},
	}
}
