package pricingapi

import (
	"context"
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// Client calls pricing-api. Its HTTP client is the caller's platform.Deps.Client, which
// reaches pricing-api by its service name (in-process in `orange dev`, its cluster-local URL
// on Knative) and authenticates as the calling function: the identity plumbing stays in
// platform. An answer other than 2xx is a *platform.CallError; a transport failure is not.
type Client struct {
	http *http.Client
}

// NewClient returns a client over c.
func NewClient(c *http.Client) *Client { return &Client{http: c} }

// Quote prices a rental with its extras, insurance and one-way fee (POST
// /api/pricing/quotes; public). A request pricing cannot price is a 4xx
// *platform.CallError: 400 naming the bad fields, 404 when no rate policy prices the
// category at the branch.
func (c *Client) Quote(ctx context.Context, q QuoteRequest) (Quote, error) {
	var out Quote
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/quotes", q, &out)
	return out, err
}

// Rates prices a batch of vehicles for one period and branch (POST /api/pricing/rates;
// public): every item or none (a 404 *platform.CallError names the items no policy prices).
func (c *Client) Rates(ctx context.Context, r RatesRequest) (RatesResponse, error) {
	var out RatesResponse
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/rates", r, &out)
	return out, err
}

// CancellationFee says what cancelling a booking costs (POST /api/pricing/cancellation-fee).
// Callers: customers, agents, admins, reservations-api.
func (c *Client) CancellationFee(ctx context.Context, f FeeRequest) (FeeResponse, error) {
	var out FeeResponse
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/cancellation-fee", f, &out)
	return out, err
}

// ReturnCharges prices what a return costs on top of the booking (POST
// /api/pricing/return-charges): the refuel charge when the car came back with less fuel
// than it left with. Callers: reservations-api, agents, admins. Missing or out-of-range fuel
// levels are a 400 *platform.CallError naming them.
func (c *Client) ReturnCharges(ctx context.Context, r ReturnChargesRequest) (ReturnChargesResponse, error) {
	var out ReturnChargesResponse
	err := platform.CallJSON(ctx, c.http, http.MethodPost, Service, Prefix+"/return-charges", r, &out)
	return out, err
}
