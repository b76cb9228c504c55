package customersapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/orangecarrental/orange/platform"
)

// Client calls customers-api. Its HTTP client is the caller's platform.Deps.Client, which
// reaches customers-api by its service name (in-process in `orange dev`, its cluster-local
// URL on Knative) and authenticates as the calling function: the identity plumbing stays in
// platform. An answer other than 2xx is a *platform.CallError; a transport failure is not.
type Client struct {
	http *http.Client
}

// NewClient returns a client over c.
func NewClient(c *http.Client) *Client { return &Client{http: c} }

// Eligibility asks whether customer id may rent for period p (POST
// /api/customers/{id}/eligibility) and returns the decision with the customer's id, email
// and status. Callers: agents, admins, the customer themselves, reservations-api.
func (c *Client) Eligibility(ctx context.Context, id string, p Period) (Eligibility, error) {
	var out Eligibility
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/"+url.PathEscape(id)+"/eligibility", p, &out)
	return out, err
}

// ApplicantEligibility asks whether someone not registered yet may rent for the period
// (POST /api/customers/eligibility): the same rules as for a customer, on the applicant's
// date of birth and licence. Callers: agents, admins, reservations-api.
func (c *Client) ApplicantEligibility(ctx context.Context, a Applicant) (Eligibility, error) {
	var out Eligibility
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/eligibility", a, &out)
	return out, err
}

// Register registers an account (POST /api/customers; public) and returns the new record's
// id, email and status. The account must verify its address before it can book. An email
// already registered is a 409 *platform.CallError; an invalid registration a 400 one naming
// every bad field.
func (c *Client) Register(ctx context.Context, r Registration) (Customer, error) {
	var out Customer
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix, r, &out)
	return out, err
}

// RegisterGuest registers the guest of a guest booking (POST /api/customers/guests) with the
// very rules of Register; a guest gets no welcome mail (its booking sends its mail) and no
// account to verify. The same guest again (same address, names and date of birth) gets
// their record back, updated (200), so a failed or interrupted guest booking can be retried. Callers: reservations-api (and admins). Errors as Register's.
func (c *Client) RegisterGuest(ctx context.Context, r Registration) (Customer, error) {
	var out Customer
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/guests", r, &out)
	return out, err
}

// WithdrawGuest deletes the guest registration id whose booking failed (DELETE
// /api/customers/guests/{id}), recording customer.erased for its consumers: a guest booking
// registers and holds as one outcome. An account is a 409 *platform.CallError; an unknown
// id (already withdrawn) a 404 one. Callers: reservations-api (and admins).
func (c *Client) WithdrawGuest(ctx context.Context, id string) error {
	return platform.CallJSON(ctx, c.http, http.MethodDelete, Service, Prefix+"/guests/"+url.PathEscape(id), nil, nil)
}

// Customer reads customer id's record (GET /api/customers/{id}) as far as Record shows it:
// the type and, for a business, the company name and VAT id its invoices carry. An unknown
// id is a 404 *platform.CallError. Callers: agents, admins, the customer themselves,
// payments-api (invoices).
func (c *Client) Customer(ctx context.Context, id string) (Record, error) {
	var out Record
	err := platform.CallJSON(ctx, c.http, http.MethodGet, Service, Prefix+"/"+url.PathEscape(id), nil, &out)
	return out, err
}
