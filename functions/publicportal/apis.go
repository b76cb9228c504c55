package publicportal

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
)

// The services the portal calls. Typed clients come from the callees' contract packages
// where they offer the operation; the renter-facing operations they do not (search,
// booking, self-service, tokenization, invoices) are called with the portal's own request
// and response types below, which hold only the fields the pages show.
const (
	paymentsService = "payments-api"
	paymentsPrefix  = "/api/payments"
	invoicesPrefix  = "/api/invoices"
)

// apis calls the functions for one page request: c carries the signed-in user's token, or
// the portal's own identity when signed out (public routes only). headers go on every call
// (the client address for guest limits, an Idempotency-Key on a booking).
type apis struct {
	c       *http.Client
	headers http.Header
}

// Branch is a branch as the pages show it.
type Branch struct {
	Code     string `json:"code"`
	Name     string `json:"name"`
	TimeZone string `json:"timeZone"`
	Status   string `json:"status"`
	Address  struct {
		Street     string `json:"street"`
		PostalCode string `json:"postalCode"`
		City       string `json:"city"`
	} `json:"address"`
	OpeningHours []locationsapi.OpeningHours `json:"openingHours"`
}

// Zone is the branch's time zone (Europe/Berlin when it names none it can load).
func (b Branch) Zone() *time.Location {
	if z, err := platform.LoadZone(cmp.Or(b.TimeZone, "Europe/Berlin")); err == nil {
		return z
	}
	z, _ := platform.LoadZone("Europe/Berlin")
	return z
}

// location is the branch as locationsapi judges its hours.
func (b Branch) location() locationsapi.Location {
	return locationsapi.Location{Code: b.Code, TimeZone: cmp.Or(b.TimeZone, "Europe/Berlin"), Status: b.Status, OpeningHours: b.OpeningHours}
}

// Vehicle is a vehicle as the pages show it (vehicles-api's record has more).
type Vehicle struct {
	fleetapi.Vehicle
	Seats        int    `json:"seats"`
	Fuel         string `json:"fuel"`
	Transmission string `json:"transmission"`
}

// Offer is one result of the availability search, with its gross price.
type Offer struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Category     string `json:"category"`
	LocationCode string `json:"locationCode"`
	Seats        int    `json:"seats"`
	Fuel         string `json:"fuel"`
	Transmission string `json:"transmission"`
	Price        struct {
		Days            int     `json:"days"`
		DailyGrossCents int64   `json:"dailyGrossCents"`
		DiscountPercent float64 `json:"discountPercent"`
		TotalGrossCents int64   `json:"totalGrossCents"`
	} `json:"price"`
}

// SearchResult is one page of offers.
type SearchResult struct {
	Items     []Offer `json:"items"`
	Page      int     `json:"page"`
	PageSize  int     `json:"pageSize"`
	Total     int     `json:"total"`
	Truncated bool    `json:"truncated"`
}

// Catalogue is pricing's list of extras and insurance packages.
type Catalogue struct {
	Extras           []Extra     `json:"extras"`
	Insurance        []Insurance `json:"insurance"`
	DefaultInsurance string      `json:"defaultInsurance"`
}

// Extra is a bookable add-on of the catalogue (net price).
type Extra struct {
	Code        string         `json:"code"`
	Description string         `json:"description"`
	NetCents    int64          `json:"netCents"`
	Per         pricingapi.Per `json:"per"`
	MaxQuantity int            `json:"maxQuantity"`
}

// Insurance is an insurance package of the catalogue (net price per day).
type Insurance struct {
	Code          string `json:"code"`
	Description   string `json:"description"`
	DailyNetCents int64  `json:"dailyNetCents"`
	ExcessCents   int64  `json:"excessCents"`
}

// Line is a priced line of a booking or a quote.
type Line = pricingapi.Line

// Reservation is a booking as the pages show it.
type Reservation struct {
	ID                    string                    `json:"id"`
	CustomerID            string                    `json:"customerId"`
	VehicleID             string                    `json:"vehicleId"`
	Category              string                    `json:"category"`
	PickupLocation        string                    `json:"pickupLocation"`
	ReturnLocation        string                    `json:"returnLocation"`
	PickupAt              time.Time                 `json:"pickupAt"`
	ReturnAt              time.Time                 `json:"returnAt"`
	Status                string                    `json:"status"`
	HoldExpiresAt         *time.Time                `json:"holdExpiresAt"`
	TotalGrossCents       int64                     `json:"totalGrossCents"`
	RentalGrossCents      int64                     `json:"rentalGrossCents"` // with what the return added: what is billed
	ReturnCharges         []Line                    `json:"returnCharges"`
	NetCents              int64                     `json:"netCents"`
	VatCents              int64                     `json:"vatCents"`
	FeeCents              int64                     `json:"feeCents"`
	Insurance             string                    `json:"insurance"`
	Extras                []pricingapi.ExtraRequest `json:"extras"`
	Lines                 []Line                    `json:"lines"`
	PaymentDeclinedReason string                    `json:"paymentDeclinedReason"`
	Guest                 bool                      `json:"guest"`
	Version               int                       `json:"version"`
}

// Booking is the body of a booking (reservations-api's POST /api/reservations).
type Booking struct {
	VehicleID       string                    `json:"vehicleId"`
	PickupLocation  string                    `json:"pickupLocation"`
	ReturnLocation  string                    `json:"returnLocation,omitempty"`
	PickupAt        string                    `json:"pickupAt"`
	ReturnAt        string                    `json:"returnAt"`
	Insurance       string                    `json:"insurance,omitempty"`
	Extras          []pricingapi.ExtraRequest `json:"extras,omitempty"`
	PaymentMethodID string                    `json:"paymentMethodId"`
}

// GuestBooking is a guest's registration and booking in one (POST /api/reservations/guest).
type GuestBooking struct {
	Customer Registration `json:"customer"`
	Booking
}

// Registration is a guest as the booking form asks for them.
type Registration struct {
	FirstName         string `json:"firstName"`
	LastName          string `json:"lastName"`
	Email             string `json:"email"`
	Phone             string `json:"phone"`
	DateOfBirth       string `json:"dateOfBirth"`
	PreferredLanguage string `json:"preferredLanguage,omitempty"`
	Address           struct {
		Street     string `json:"street"`
		PostalCode string `json:"postalCode"`
		City       string `json:"city"`
		Country    string `json:"country"`
	} `json:"address"`
	Licence *Licence `json:"licence,omitempty"`
}

// Licence is the guest's driver's licence (the eligibility rules need it).
type Licence struct {
	Number         string `json:"number"`
	IssuingCountry string `json:"issuingCountry"`
	IssueDate      string `json:"issueDate"`
	ExpiryDate     string `json:"expiryDate"`
}

// Change is a change of dates (POST …/change); fields left nil stay.
type Change struct {
	PickupAt *string `json:"pickupAt,omitempty"`
	ReturnAt *string `json:"returnAt,omitempty"`
}

// Fee is what cancelling costs now.
type Fee struct {
	FeeCents        int64 `json:"feeCents"`
	TotalGrossCents int64 `json:"totalGrossCents"`
}

// Invoice is an invoice as the booking page lists it.
type Invoice struct {
	ID            string    `json:"id"`
	Number        string    `json:"number"`
	Kind          string    `json:"kind"`
	ReservationID string    `json:"reservationId"`
	GrossCents    int64     `json:"grossCents"`
	IssuedAt      time.Time `json:"issuedAt"`
}

// call sends in as JSON to service's path and decodes a 2xx answer into out, as
// platform.CallJSON does, with a.headers on the request.
func (a apis) call(ctx context.Context, method, service, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+service+path, body)
	if err != nil {
		return err
	}
	for k, v := range a.headers {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &platform.CallError{Service: service, Status: resp.StatusCode}
		var p platform.Problem
		if dec.Decode(&p) == nil {
			e.Problem = p
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return nil
}

// Branches lists the active branches.
func (a apis) Branches(ctx context.Context) ([]Branch, error) {
	var out struct {
		Items []Branch `json:"items"`
	}
	err := a.call(ctx, http.MethodGet, locationsapi.Service, locationsapi.Prefix+"?status=active", nil, &out)
	return out.Items, err
}

// Catalogue reads pricing's extras and insurance packages.
func (a apis) Catalogue(ctx context.Context) (Catalogue, error) {
	var out Catalogue
	err := a.call(ctx, http.MethodGet, pricingapi.Service, pricingapi.Prefix+"/catalogue", nil, &out)
	return out, err
}

// Search runs vehicles-api's availability search with q (its own parameter names).
func (a apis) Search(ctx context.Context, q url.Values) (SearchResult, error) {
	var out SearchResult
	err := a.call(ctx, http.MethodGet, fleetapi.Service, fleetapi.Prefix+"?"+q.Encode(), nil, &out)
	return out, err
}

// Vehicle reads one vehicle.
func (a apis) Vehicle(ctx context.Context, id string) (Vehicle, error) {
	var out Vehicle
	err := a.call(ctx, http.MethodGet, fleetapi.Service, fleetapi.Prefix+"/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Quote prices a rental.
func (a apis) Quote(ctx context.Context, q pricingapi.QuoteRequest) (pricingapi.Quote, error) {
	var out pricingapi.Quote
	err := a.call(ctx, http.MethodPost, pricingapi.Service, pricingapi.Prefix+"/quotes", q, &out)
	return out, err
}

// Tokenize turns a provider token (the sandbox's test tokens) into a payment method id.
// Card numbers never come here: the browser sends them to payments-api itself.
func (a apis) Tokenize(ctx context.Context, token string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	err := a.call(ctx, http.MethodPost, paymentsService, paymentsPrefix+"/methods", map[string]string{"token": token}, &out)
	return out.ID, err
}

// Book books as the signed-in customer.
func (a apis) Book(ctx context.Context, b Booking) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, reservationsapi.Prefix, b, &out)
	return out, err
}

// BookGuest registers a guest and books.
func (a apis) BookGuest(ctx context.Context, b GuestBooking) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, reservationsapi.Prefix+"/guest", b, &out)
	return out, err
}

// Lookup reads a booking by its id and the booker's email (what a guest's own browser
// remembers right after booking).
func (a apis) Lookup(ctx context.Context, id, email string) (Reservation, error) {
	var out Reservation
	q := url.Values{"id": {id}, "email": {email}}
	err := a.call(ctx, http.MethodGet, reservationsapi.Service, reservationsapi.Prefix+"/lookup?"+q.Encode(), nil, &out)
	return out, err
}

// Reservations lists the signed-in customer's bookings, latest pickup first.
func (a apis) Reservations(ctx context.Context) ([]Reservation, error) {
	var out struct {
		Items []Reservation `json:"items"`
	}
	err := a.call(ctx, http.MethodGet, reservationsapi.Service, reservationsapi.Prefix+"?sort=-pickupAt&pageSize=100", nil, &out)
	return out.Items, err
}

// guestPath is the path of a booking's operation: the signed-in owner's, or a guest's with
// the link's token.
func guestPath(id, op, token string) string {
	p := reservationsapi.Prefix + "/" + url.PathEscape(id)
	if token == "" {
		if op != "" {
			p += "/" + op
		}
		return p
	}
	p += "/guest"
	if op != "" {
		p += "/" + op
	}
	return p + "?" + url.Values{"token": {token}}.Encode()
}

// Reservation reads a booking (token: a guest's link token, "" for the signed-in owner).
func (a apis) Reservation(ctx context.Context, id, token string) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodGet, reservationsapi.Service, guestPath(id, "", token), nil, &out)
	return out, err
}

// Cancel cancels a booking.
func (a apis) Cancel(ctx context.Context, id, token string) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, guestPath(id, "cancel", token), map[string]string{"reason": "cancelled by the renter on the web site"}, &out)
	return out, err
}

// ChangeDates changes a booking's dates.
func (a apis) ChangeDates(ctx context.Context, id, token string, c Change) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, guestPath(id, "change", token), c, &out)
	return out, err
}

// PreviewChange is the booking as a change of its dates would leave it (nothing changed):
// the price to show before the renter confirms.
func (a apis) PreviewChange(ctx context.Context, id, token string, c Change) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, guestPath(id, "change-preview", token), c, &out)
	return out, err
}

// NamePaymentMethod names another card after a decline.
func (a apis) NamePaymentMethod(ctx context.Context, id, token, pm string) (Reservation, error) {
	var out Reservation
	err := a.call(ctx, http.MethodPost, reservationsapi.Service, guestPath(id, "payment-method", token), map[string]string{"paymentMethodId": pm}, &out)
	return out, err
}

// CancellationFee is what cancelling r now costs, as reservations-api would charge it: a
// guest's through their link, a signed-in owner's as themselves.
func (a apis) CancellationFee(ctx context.Context, r Reservation, token string) (Fee, error) {
	path := reservationsapi.Prefix + "/" + r.ID + "/cancellation-fee"
	if token != "" {
		path = guestPath(r.ID, "cancellation-fee", token)
	}
	var out Fee
	err := a.call(ctx, http.MethodGet, reservationsapi.Service, path, nil, &out)
	return out, err
}

// Invoices lists the signed-in customer's invoices of booking id (payments-api answers only
// the caller's own).
func (a apis) Invoices(ctx context.Context, reservation string) ([]Invoice, error) {
	var out struct {
		Items []Invoice `json:"items"`
	}
	err := a.call(ctx, http.MethodGet, paymentsService, invoicesPrefix+"?"+url.Values{"reservation": {reservation}}.Encode(), nil, &out)
	return out.Items, err
}

// InvoicePDF fetches an invoice's PDF.
func (a apis) InvoicePDF(ctx context.Context, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+paymentsService+invoicesPrefix+"/"+url.PathEscape(id)+"/pdf", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pdf")
	resp, err := a.c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &platform.CallError{Service: paymentsService, Status: resp.StatusCode}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e.Problem)
		return nil, e
	}
	return io.ReadAll(io.LimitReader(resp.Body, 8<<20))
}
