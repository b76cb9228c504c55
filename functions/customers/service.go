// Package customers is the customers-api function: customer profiles, driver's licences,
// account status, the eligibility to rent, and GDPR erasure. Reservations ask it whether a
// customer may rent; the notifier reads a customer's preferred language from it.
//
// Decisions where the issue is silent (docs/customers.md has the full list):
//
//   - Registration is public (self-registration) and also what agents use on a customer's
//     behalf. It creates an active account whose address must be verified (the welcome
//     mail's link) before it books; a guest booking's guest is registered as a guest, by
//     reservations-api only, and gets no welcome. Customers must be 18 to hold an account
//     (contractual capacity); renting takes 21. The licence may come later.
//   - One account per email address, case-insensitively, enforced by a unique index on
//     lower(email): a duplicate is 409.
//   - Who sees what: a customer sees and changes only their own record; another customer's id
//     answers 404, exactly as a missing one does. Agents and admins see every record. Fleet
//     managers have no access. Only agents (and admins) change a status. Of the functions,
//     only reservations-api calls with its own identity, and only the eligibility checks:
//     a customer's (whose answer carries the id, email and status a booking needs) and an
//     applicant's (POST /api/customers/eligibility: a guest's date of birth and licence,
//     checked before the guest is registered). The rules exist here only; callers use
//     customersapi, the contract package.
//   - A customer cannot change their own date of birth (it decides the age rule); an agent
//     corrects it after seeing an ID. The reason of a status change is internal: customers
//     do not see it.
//   - Eligibility compares calendar days in Germany (Europe/Berlin), not instants: the pickup
//     day and return day are the days pickupAt and returnAt fall on there. All failing rules
//     are reported, not only the first.
//   - Erasure is POST /api/customers/{id}/erasure: the record stays (invoices and reservations
//     refer to its id) with every personal field removed and status "erased". It is
//     idempotent and final: an erased customer cannot be changed, refuses every rental, and
//     no longer shows in searches unless asked for with status=erased.
//   - Search is by name (every word a case-insensitive prefix of the first or last name),
//     email (whole address, case-insensitive) and status; ordered by last name, first name.
//   - Every change records its customer.* event in the outbox in the same transaction; a
//     change that changes nothing records none. Status events leave the reason out, and an
//     erasure also strips the customer's personal data from events still in the outbox.
package customers

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
)

// ServiceName is the Knative Service of this function.
const ServiceName = customersapi.Service

// Prefix is where the API is served, alone and in `orange dev`.
const Prefix = customersapi.Prefix

// reservationsAPI is the function that checks eligibility for its bookings with its own
// identity.
const reservationsAPI = "reservations-api"

// Zone is where the company rents: rental days and "today" are reckoned there.
const Zone = "Europe/Berlin"

//go:embed openapi.json
var openAPIDocument []byte

// Service serves the customers API.
type Service struct {
	store *Store
	zone  *time.Location
	now   func() time.Time
}

// Config is customers-api's own configuration: none yet beyond the host's, kept so that its
// New has the shape every function's has.
type Config struct{}

// New returns the service over deps.DB. It fails only when the time zone database lacks
// Zone (binaries embed time/tzdata).
func New(_ context.Context, _ Config, deps platform.Deps) (*Service, error) {
	zone, err := time.LoadLocation(Zone)
	if err != nil {
		return nil, fmt.Errorf("customers: load time zone %s: %w", Zone, err)
	}
	return &Service{store: &Store{db: deps.DB}, zone: zone, now: time.Now}, nil
}

// Function describes customers-api to hosts.
func Function() platform.Function {
	return platform.Function{
		Service:    ServiceName,
		Prefixes:   []string{Prefix},
		Migrations: &Migrations,
		New:        platform.Construct(New),
	}
}

// Routes is the API's route table: the router, the OpenAPI test and the authorization checks
// all read it. Access here is by role; which customer's record a customer may touch is
// checked in the handlers (their own only, else 404).
func (s *Service) Routes() []platform.Route {
	var (
		readers = platform.Allow(platform.RoleCustomer, platform.RoleAgent)
		writers = platform.Allow(platform.RoleCustomer, platform.RoleAgent)
		staff   = platform.Allow(platform.RoleAgent)
		agents  = platform.Allow(platform.RoleAgent)
		// A booking asks for the eligibility of any customer, guests included, as
		// reservations-api itself (design.md §9).
		eligibility = readers.AndServices(reservationsAPI)
		applicants  = agents.AndServices(reservationsAPI)
		// Guests are registered by guest bookings only (issue 11): no welcome mail, so
		// nobody else may register one.
		guests = platform.Allow().AndServices(reservationsAPI)
		byID   = Prefix + "/{id}"
	)
	return []platform.Route{
		{Name: "getOpenAPI", Method: http.MethodGet, Path: "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "getCustomersOpenAPI", Method: http.MethodGet, Path: Prefix + "/openapi.json", Access: platform.Public, Handler: platform.Document(openAPIDocument)},
		{Name: "registerCustomer", Method: http.MethodPost, Path: Prefix, Access: platform.Public, Handler: s.handleRegister},
		{Name: "registerGuest", Method: http.MethodPost, Path: Prefix + "/guests", Access: guests, Handler: s.handleRegisterGuest},
		{Name: "withdrawGuest", Method: http.MethodDelete, Path: Prefix + "/guests/{id}", Access: guests, Handler: s.handleWithdrawGuest},
		{Name: "verifyEmail", Method: http.MethodPost, Path: Prefix + "/verify-email", Access: platform.Public, Handler: s.handleVerifyEmail},
		{Name: "searchCustomers", Method: http.MethodGet, Path: Prefix, Access: staff, Handler: s.handleSearch},
		{Name: "checkApplicantEligibility", Method: http.MethodPost, Path: Prefix + "/eligibility", Access: applicants, Handler: s.handleApplicantEligibility},
		{Name: "getCustomer", Method: http.MethodGet, Path: byID, Access: readers.AndServices("payments-api"), Handler: s.handleGet}, // payments-api: a business's company and VAT id on its invoices
		{Name: "updateCustomerProfile", Method: http.MethodPut, Path: byID, Access: writers, Handler: s.handleUpdateProfile},
		{Name: "updateCustomerLicence", Method: http.MethodPut, Path: byID + "/licence", Access: writers, Handler: s.handleUpdateLicence},
		{Name: "changeCustomerStatus", Method: http.MethodPut, Path: byID + "/status", Access: agents, Handler: s.handleChangeStatus},
		{Name: "checkCustomerEligibility", Method: http.MethodPost, Path: byID + "/eligibility", Access: eligibility, Handler: s.handleEligibility},
		{Name: "eraseCustomer", Method: http.MethodPost, Path: byID + "/erasure", Access: writers, Handler: s.handleErase},
		{Name: "sendVerificationLink", Method: http.MethodPost, Path: byID + "/verification", Access: writers, Handler: s.handleNewVerificationLink},
	}
}

// today is the current calendar day where the company rents.
func (s *Service) today() Date { return DayIn(s.now(), s.zone) }
