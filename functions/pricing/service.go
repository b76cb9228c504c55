// Package pricing is the pricing-api function: what a rental costs. It keeps the rate
// policies (a net daily rate per vehicle category, optionally per branch, with a validity
// window) and prices with them: quotes with extras, insurance, one-way fee and VAT; a batch
// rate calculator for the fleet's availability search; and the cancellation-fee rule.
//
// The rules (docs/pricing.md has the reasoning):
//
//   - Money is integer cents, net unless a name says gross. VAT is 19 % of the total net,
//     rounded half up once; gross = net + VAT. Every line is quantity × unit price exactly,
//     so the lines add up to the net total to the cent.
//   - Days: every started 24 hours of elapsed time, the last one free while it is at most
//     an hour old (grace; it also absorbs October's extra hour); at least 1.
//   - Duration discount on the base rental only: 7+ days 10 %, 14+ 15 %, 28+ 20 %.
//   - One-way fee 49.00 € net when the return branch differs from the pickup branch.
//   - A rental lasts at most 90 × 24 h; pickup may be at most 15 minutes in the past and at
//     most two calendar years ahead; return after pickup. Violations are 400s listing every field.
//   - The daily rate is the active policy valid at pickup for the category at the pickup
//     branch, else the general one; none is a 404 (a policy is missing). An explicit
//     dailyRateNetCents (a vehicle's own rate) replaces it.
//   - Policies never overlap: an exclusion constraint in the schema refuses two active
//     policies for one (category, branch) whose windows intersect (409). Deactivation is
//     final and keeps the row for history.
//   - Cancellation: ≥ 48 h before pickup free, ≥ 24 h 50 %, later 100 % of the gross total,
//     rounded half up.
//   - Return charges: REFUEL, 12.00 € net per eighth of a tank the car came back short of its
//     pickup level; nothing for the same or more fuel.
//
// Who may call what: quotes, rates and the catalogue are public (a visitor prices a rental
// before signing in; the fleet's search prices as vehicles-api); reading policies is for
// staff (fleet managers, agents; planned prices are not public); changing them for fleet
// managers; the cancellation fee for customers, agents and reservations-api (its own
// identity); the return charges for agents and reservations-api. Admins may call
// everything. Other functions use the contract package pricingapi, whose types the
// handlers serve.
package pricing

import (
	"context"
	_ "embed"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// ServiceName is the Knative Service of this function.
const ServiceName = pricingapi.Service

// Prefix is where the API is served, alone and in `orange dev`.
const Prefix = pricingapi.Prefix

//go:embed openapi.json
var openAPIDocument []byte

// Service serves the pricing API.
type Service struct {
	store *Store
	now   func() time.Time
}

// Config is pricing-api's own configuration: none yet beyond the host's (the rules are
// constants, rules.go), kept so that its New has the shape every function's has.
type Config struct{}

// New returns the service over deps.DB, on the system clock. It does not fail today; the
// error is the shape every function's New shares.
func New(_ context.Context, _ Config, deps platform.Deps) (*Service, error) {
	return &Service{store: &Store{db: deps.DB}, now: time.Now}, nil
}

// Function describes pricing-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it.
func (s *Service) Routes() []platform.Route {
	fleet := platform.Allow(platform.RoleFleet)
	staff := platform.Allow(platform.RoleFleet, platform.RoleAgent)
	feeCallers := platform.Allow(platform.RoleCustomer, platform.RoleAgent).AndServices("reservations-api")
	returnCallers := platform.Allow(platform.RoleAgent).AndServices("reservations-api")
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getPricingOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getCatalogue", Method: http.MethodGet, Path: Prefix + "/catalogue", Access: platform.Public, Handler: s.handleCatalogue},
		{Name: "listRatePolicies", Method: http.MethodGet, Path: Prefix + "/policies", Access: staff, Handler: s.handleListPolicies},
		{Name: "createRatePolicy", Method: http.MethodPost, Path: Prefix + "/policies", Access: fleet, Handler: s.handleCreatePolicy},
		{Name: "getRatePolicy", Method: http.MethodGet, Path: Prefix + "/policies/{id}", Access: staff, Handler: s.handleGetPolicy},
		{Name: "updateRatePolicy", Method: http.MethodPut, Path: Prefix + "/policies/{id}", Access: fleet, Handler: s.handleUpdatePolicy},
		{Name: "deactivateRatePolicy", Method: http.MethodPost, Path: Prefix + "/policies/{id}/deactivate", Access: fleet, Handler: s.handleDeactivatePolicy},
		{Name: "createQuote", Method: http.MethodPost, Path: Prefix + "/quotes", Access: platform.Public, Handler: s.handleQuote},
		{Name: "calculateRates", Method: http.MethodPost, Path: Prefix + "/rates", Access: platform.Public, Handler: s.handleRates},
		{Name: "calculateCancellationFee", Method: http.MethodPost, Path: Prefix + "/cancellation-fee", Access: feeCallers, Handler: s.handleCancellationFee},
		{Name: "calculateReturnCharges", Method: http.MethodPost, Path: Prefix + "/return-charges", Access: returnCallers, Handler: s.handleReturnCharges},
	}
}
