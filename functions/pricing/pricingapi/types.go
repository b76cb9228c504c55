// Package pricingapi is pricing-api's contract with the functions that call it (design.md
// §3): the request and response types of the operations they use — quotes, the batch rate
// calculator, the cancellation fee, the return charges — and a typed client. Callers import this package and
// nothing else of pricing; pricing itself serves these very types, so the two cannot drift,
// and a contract test runs the client against the real function.
//
// Money is integer euro cents, net unless a name says gross. Request times are RFC 3339
// strings, as on the wire: pricing-api reports a malformed one under its field name.
package pricingapi

import "time"

// Service is pricing-api's Knative Service name, the host its client addresses.
const Service = "pricing-api"

// Prefix is where pricing-api serves its operations.
const Prefix = "/api/pricing"

// Category is a vehicle category (KLEIN, KOMPAKT, MITTEL, OBER, SUV, KOMBI, TRANS, LUXUS).
type Category string

// Per says what a price is charged for.
type Per string

// A price is charged per rental day (once per billed day and item) or once per rental.
const (
	PerDay    Per = "day"
	PerRental Per = "rental"
)

// QuoteRequest is the body of POST /api/pricing/quotes.
type QuoteRequest struct {
	PickupLocation string `json:"pickupLocation"`
	// ReturnLocation defaults to PickupLocation; another branch adds the one-way fee.
	ReturnLocation string         `json:"returnLocation,omitempty"`
	PickupAt       string         `json:"pickupAt"`
	ReturnAt       string         `json:"returnAt"`
	Category       string         `json:"category"`
	Insurance      string         `json:"insurance,omitempty"`
	Extras         []ExtraRequest `json:"extras,omitempty"`
	// DailyRateNetCents replaces the rate policy's daily rate: a vehicle may carry its own
	// rate in the fleet. A quote is a calculation, not an offer: a booking is priced again
	// with the vehicle's rate as the fleet knows it, never with a rate a client sent.
	DailyRateNetCents *int64 `json:"dailyRateNetCents,omitempty"`
}

// ExtraRequest asks for an extra; Quantity defaults to 1.
type ExtraRequest struct {
	Code     string `json:"code"`
	Quantity *int   `json:"quantity,omitempty"`
}

// Quote is a priced rental: its lines add up to NetCents, and NetCents + VATCents =
// GrossCents.
type Quote struct {
	Category            Category  `json:"category"`
	PickupLocation      string    `json:"pickupLocation"`
	ReturnLocation      string    `json:"returnLocation"`
	PickupAt            time.Time `json:"pickupAt"`
	ReturnAt            time.Time `json:"returnAt"`
	Days                int       `json:"days"`
	DailyRateNetCents   int64     `json:"dailyRateNetCents"`
	DailyRateGrossCents int64     `json:"dailyRateGrossCents"`
	// RateSource is "policy" (PolicyID says which) or "override" (the request's own rate).
	RateSource      string  `json:"rateSource"`
	PolicyID        *string `json:"policyId"`
	DiscountPercent int     `json:"discountPercent"`
	Insurance       string  `json:"insurance"`
	Lines           []Line  `json:"lines"`
	NetCents        int64   `json:"netCents"`
	VATPercent      int     `json:"vatPercent"`
	VATCents        int64   `json:"vatCents"`
	GrossCents      int64   `json:"grossCents"`
	Currency        string  `json:"currency"`
}

// Line is one row of a quote. NetCents = Quantity × UnitNetCents always; for a per-day price
// the quantity counts item-days (2 child seats for 5 days: 10 × 8.00 €).
type Line struct {
	Code         string `json:"code"`
	Description  string `json:"description"`
	Quantity     int    `json:"quantity"`
	Per          Per    `json:"per"`
	UnitNetCents int64  `json:"unitNetCents"`
	NetCents     int64  `json:"netCents"`
}

// MaxRatesItems bounds the items of one RatesRequest: a caller with more sends several.
const MaxRatesItems = 200

// RatesRequest is the body of POST /api/pricing/rates: the batch calculator the fleet's
// availability search calls. Items are priced independently; a caller with many items of the
// same kind (category and own rate) sends the kind once and maps the price back itself, as
// the fleet does (issue 19: a search sends a handful of items, not one per candidate car).
type RatesRequest struct {
	PickupLocation string      `json:"pickupLocation"`
	PickupAt       string      `json:"pickupAt"`
	ReturnAt       string      `json:"returnAt"`
	Items          []RatesItem `json:"items"`
}

// RatesItem is one vehicle to price. Key is opaque and echoed back; DailyRateNetCents, when
// set, is the vehicle's own rate and replaces the policy's (null: the category's policy).
type RatesItem struct {
	Key               string `json:"key"`
	Category          string `json:"category"`
	DailyRateNetCents *int64 `json:"dailyRateNetCents"`
}

// RatesResponse prices every item of a request, in request order, for Days billed days.
type RatesResponse struct {
	Days  int          `json:"days"`
	Items []RateResult `json:"items"`
}

// RateResult is one item's base rental price (no extras, insurance or fees). DailyGrossCents
// is the average gross price per day with the discount (TotalGrossCents / days, rounded half
// up): what a customer pays per day, which a search shows and filters by.
type RateResult struct {
	Key             string   `json:"key"`
	Category        Category `json:"category"`
	DailyNetCents   int64    `json:"dailyNetCents"`
	DiscountPercent int      `json:"discountPercent"`
	TotalNetCents   int64    `json:"totalNetCents"`
	TotalVATCents   int64    `json:"totalVatCents"`
	TotalGrossCents int64    `json:"totalGrossCents"`
	DailyGrossCents int64    `json:"dailyGrossCents"`
}

// FeeRequest is the body of POST /api/pricing/cancellation-fee.
//
// Times are compared to the nanosecond: format them with time.RFC3339Nano, never with
// time.RFC3339 (which drops the fractional seconds and may move a cancellation across the
// 24 h or 48 h line).
type FeeRequest struct {
	PickupAt string `json:"pickupAt"`
	// CancelledAt defaults to now; a later time answers "what if I cancel then".
	CancelledAt string `json:"cancelledAt,omitempty"`
	// TotalGrossCents is what the booking costs, VAT included; the fee is a share of it.
	TotalGrossCents *int64 `json:"totalGrossCents"`
}

// FeeResponse is a cancellation fee with the inputs it was computed from (cancelledAt
// filled in when the request left it to the clock).
//
// HoursBeforePickup is a display figure (whole hours, rounded down); FeePercent is decided
// on the exact duration.
type FeeResponse struct {
	PickupAt          time.Time `json:"pickupAt"`
	CancelledAt       time.Time `json:"cancelledAt"`
	TotalGrossCents   int64     `json:"totalGrossCents"`
	HoursBeforePickup int64     `json:"hoursBeforePickup"`
	FeePercent        int       `json:"feePercent"`
	FeeCents          int64     `json:"feeCents"`
	Currency          string    `json:"currency"`
}

// ReturnChargesRequest is the body of POST /api/pricing/return-charges: what the counter
// recorded when the car left and came back. Fuel levels are in eighths of a tank, 0 (empty)
// to 8 (full), both required.
type ReturnChargesRequest struct {
	FuelAtPickup *int `json:"fuelAtPickup"`
	FuelAtReturn *int `json:"fuelAtReturn"`
}

// ReturnChargesResponse is what a return costs on top of the booking: net lines (today at
// most one, REFUEL: missing eighths × 12.00 €), their net total, VAT and gross. No charge is
// an empty Lines and zeros. Lines add up to NetCents; NetCents + VATCents = GrossCents.
type ReturnChargesResponse struct {
	Lines      []Line `json:"lines"`
	NetCents   int64  `json:"netCents"`
	VATCents   int64  `json:"vatCents"`
	GrossCents int64  `json:"grossCents"`
	Currency   string `json:"currency"`
}
