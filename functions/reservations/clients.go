package reservations

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// The operations of other functions a booking uses, addressed by Knative Service name: the
// platform client reaches them in-process in `orange dev` and at their cluster-local URLs on
// Knative, carrying the caller's token.
const (
	customersURL   = "http://customers-api/api/customers"
	quoteURL       = "http://pricing-api/api/pricing/quotes"
	cancelFeeURL   = "http://pricing-api/api/pricing/cancellation-fee"
	vehiclesURL    = "http://vehicles-api/api/vehicles"
	maxPeerReponse = 1 << 20
)

// peers calls customers-api and pricing-api.
type peers struct {
	client  *http.Client
	timeout time.Duration
}

// peerAnswer is a status and body from another function.
type peerAnswer struct {
	status int
	body   []byte
}

func (a peerAnswer) problem() string {
	var p struct {
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(a.body, &p) == nil && (p.Detail != "" || p.Title != "") {
		return strings.TrimSpace(p.Title + ": " + p.Detail)
	}
	return fmt.Sprintf("%.200s", a.body)
}

// call sends one JSON request; a transport failure is an unavailable error (503).
func (p peers) call(ctx context.Context, method, url string, in any) (peerAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return peerAnswer{}, err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return peerAnswer{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return peerAnswer{}, unavailable(url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerReponse))
	if err != nil {
		return peerAnswer{}, unavailable(url, err)
	}
	return peerAnswer{status: resp.StatusCode, body: raw}, nil
}

func unavailable(what string, cause error) error {
	return &platform.Error{Kind: platform.KindUnavailable, Message: "a service the booking needs is not available; please try again shortly",
		Err: fmt.Errorf("%s: %w", what, cause)}
}

func decodeAnswer(url string, a peerAnswer, v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return unavailable(url, fmt.Errorf("answer %d: %w", a.status, err))
	}
	return nil
}

// customer is what a booking needs of a customer record.
type customer struct {
	ID     string `json:"id"`
	Email  string `json:"email"`
	Status string `json:"status"`
}

// getCustomer reads customer id; a customer the caller may not see (or that does not exist)
// is a field error on customerId.
func (p peers) getCustomer(ctx context.Context, id string) (customer, error) {
	url := customersURL + "/" + id
	a, err := p.call(ctx, http.MethodGet, url, nil)
	if err != nil {
		return customer{}, err
	}
	switch {
	case a.status == http.StatusOK:
		var c customer
		return c, decodeAnswer(url, a, &c)
	case a.status == http.StatusNotFound:
		return customer{}, platform.Invalid("the booking is invalid", platform.FieldError{Field: "customerId", Reason: "no such customer"})
	case a.status == http.StatusUnauthorized || a.status == http.StatusForbidden:
		return customer{}, platform.Errorf(platform.KindForbidden, "you may not book for this customer")
	}
	return customer{}, unavailable(url, fmt.Errorf("answered %d: %s", a.status, a.problem()))
}

// eligibility is customers' answer to an eligibility check.
type eligibility struct {
	Eligible bool `json:"eligible"`
	Reasons  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"reasons"`
}

// checkEligibility asks customers whether customer id may rent for the period; an ineligible
// customer is 422 with the reasons.
func (p peers) checkEligibility(ctx context.Context, id string, pickupAt, returnAt time.Time) error {
	url := customersURL + "/" + id + "/eligibility"
	a, err := p.call(ctx, http.MethodPost, url, map[string]string{
		"pickupAt": pickupAt.Format(time.RFC3339), "returnAt": returnAt.Format(time.RFC3339)})
	if err != nil {
		return err
	}
	if a.status == http.StatusNotFound {
		return platform.Invalid("the booking is invalid", platform.FieldError{Field: "customerId", Reason: "no such customer"})
	}
	if a.status != http.StatusOK {
		return unavailable(url, fmt.Errorf("answered %d: %s", a.status, a.problem()))
	}
	var e eligibility
	if err := decodeAnswer(url, a, &e); err != nil {
		return err
	}
	if !e.Eligible {
		var msgs []string
		for _, r := range e.Reasons {
			msgs = append(msgs, r.Message)
		}
		return &platform.Error{Kind: platform.KindUnprocessable, Message: "the customer may not rent for this period: " + strings.Join(msgs, "; ")}
	}
	return nil
}

// quoteRequest is the body of pricing's quote operation.
type quoteRequest struct {
	PickupLocation string  `json:"pickupLocation"`
	ReturnLocation string  `json:"returnLocation,omitempty"`
	PickupAt       string  `json:"pickupAt"`
	ReturnAt       string  `json:"returnAt"`
	Category       string  `json:"category"`
	Insurance      string  `json:"insurance,omitempty"`
	Extras         []Extra `json:"extras,omitempty"`
	// DailyRateNetCents is the vehicle's own rate as the fleet knows it (never a client's).
	DailyRateNetCents *int64 `json:"dailyRateNetCents,omitempty"`
}

// quote is what a booking keeps of pricing's quote.
type quote struct {
	Days                int    `json:"days"`
	DailyRateGrossCents int64  `json:"dailyRateGrossCents"`
	GrossCents          int64  `json:"grossCents"`
	Currency            string `json:"currency"`
}

// quote prices b with pricing; a request pricing refuses (an unknown extra, no rate for the
// branch) is 422 with pricing's explanation.
func (p peers) quote(ctx context.Context, b booking) (quote, error) {
	a, err := p.call(ctx, http.MethodPost, quoteURL, quoteRequest{
		PickupLocation: b.pickupLocation, ReturnLocation: b.returnLocation,
		PickupAt: b.pickupAt.Format(time.RFC3339), ReturnAt: b.returnAt.Format(time.RFC3339),
		Category: b.category, Insurance: b.insurance, Extras: b.extras, DailyRateNetCents: b.dailyRateNet,
	})
	if err != nil {
		return quote{}, err
	}
	switch {
	case a.status == http.StatusOK:
		var q quote
		if err := decodeAnswer(quoteURL, a, &q); err != nil {
			return quote{}, err
		}
		if q.GrossCents < 0 || q.DailyRateGrossCents < 0 || q.Currency == "" {
			return quote{}, unavailable(quoteURL, fmt.Errorf("implausible quote %+v", q))
		}
		return q, nil
	case a.status >= 400 && a.status < 500 && a.status != http.StatusUnauthorized && a.status != http.StatusForbidden && a.status != http.StatusTooManyRequests:
		return quote{}, &platform.Error{Kind: platform.KindUnprocessable, Message: "the booking cannot be priced: " + a.problem()}
	}
	return quote{}, unavailable(quoteURL, fmt.Errorf("answered %d: %s", a.status, a.problem()))
}

// fee is pricing's cancellation fee.
type fee struct {
	FeePercent        int   `json:"feePercent"`
	FeeCents          int64 `json:"feeCents"`
	HoursBeforePickup int64 `json:"hoursBeforePickup"`
}

// cancellationFee asks pricing what cancelling now costs (the policy of design.md §4).
func (p peers) cancellationFee(ctx context.Context, pickupAt, cancelledAt time.Time, totalGross int64) (fee, error) {
	a, err := p.call(ctx, http.MethodPost, cancelFeeURL, map[string]any{
		"pickupAt": pickupAt.Format(time.RFC3339), "cancelledAt": cancelledAt.UTC().Format(time.RFC3339), "totalGrossCents": totalGross})
	if err != nil {
		return fee{}, err
	}
	if a.status != http.StatusOK {
		return fee{}, unavailable(cancelFeeURL, fmt.Errorf("answered %d: %s", a.status, a.problem()))
	}
	var f fee
	if err := decodeAnswer(cancelFeeURL, a, &f); err != nil {
		return fee{}, err
	}
	if f.FeeCents < 0 || f.FeeCents > totalGross {
		return fee{}, unavailable(cancelFeeURL, fmt.Errorf("implausible fee %d of %d", f.FeeCents, totalGross))
	}
	return f, nil
}

// registered is customers' answer to a registration.
type registered struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// register registers a guest with customers: the registration body goes through as given,
// so customers validates it; its 4xx answers are passed on with its explanation.
func (p peers) register(ctx context.Context, reg json.RawMessage) (registered, error) {
	a, err := p.call(ctx, http.MethodPost, customersURL, reg)
	if err != nil {
		return registered{}, err
	}
	switch {
	case a.status == http.StatusCreated || a.status == http.StatusOK:
		var c registered
		if err := decodeAnswer(customersURL, a, &c); err != nil {
			return registered{}, err
		}
		if c.ID == "" {
			return registered{}, unavailable(customersURL, fmt.Errorf("registration without id"))
		}
		return c, nil
	case a.status == http.StatusConflict:
		return registered{}, platform.Conflict("a customer with this email is already registered; sign in to book")
	case a.status == http.StatusBadRequest || a.status == http.StatusUnprocessableEntity:
		return registered{}, passOn(a)
	}
	return registered{}, unavailable(customersURL, fmt.Errorf("answered %d: %s", a.status, a.problem()))
}

// passOn turns a 400 problem from customers into our own, field names prefixed by
// "customer." (where they sit in a guest booking).
func passOn(a peerAnswer) error {
	var p struct {
		Detail string                `json:"detail"`
		Errors []platform.FieldError `json:"errors"`
	}
	_ = json.Unmarshal(a.body, &p)
	for i := range p.Errors {
		p.Errors[i].Field = "customer." + p.Errors[i].Field
	}
	msg := "the guest registration is invalid"
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	return platform.Invalid(msg, p.Errors...)
}

// vehicle is what a booking needs of a fleet vehicle.
type vehicle struct {
	ID                string `json:"id"`
	Category          string `json:"category"`
	LocationCode      string `json:"locationCode"`
	Status            string `json:"status"`
	DailyRateNetCents *int64 `json:"dailyRateNetCents"`
}

// checkVehicle reads b's vehicle from the fleet and holds the booking to it: the vehicle
// exists, is not in maintenance or out of service, is of the booked category (filled in
// when the booking left it out) and stands at the pickup branch; its own daily rate, if it
// has one, is what pricing prices.
func (p peers) checkVehicle(ctx context.Context, b *booking) error {
	url := vehiclesURL + "/" + b.vehicleID
	a, err := p.call(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	switch {
	case a.status == http.StatusNotFound:
		return platform.Invalid("the booking is invalid", platform.FieldError{Field: "vehicleId", Reason: "no such vehicle"})
	case a.status != http.StatusOK:
		return unavailable(url, fmt.Errorf("answered %d: %s", a.status, a.problem()))
	}
	var v vehicle
	if err := decodeAnswer(url, a, &v); err != nil {
		return err
	}
	var errs fieldErrors
	if b.category == "" {
		b.category = v.Category
	} else if b.category != v.Category {
		errs.add("category", "the vehicle is a "+v.Category)
	}
	if b.pickupLocation != v.LocationCode {
		errs.add("pickupLocation", "the vehicle is at "+v.LocationCode)
	}
	if len(errs) > 0 {
		return platform.Invalid("the booking does not fit the vehicle", errs...)
	}
	if v.Status == "maintenance" || v.Status == "out_of_service" {
		return platform.Conflict("the vehicle is %s and cannot be booked", strings.ReplaceAll(v.Status, "_", " "))
	}
	b.dailyRateNet = v.DailyRateNetCents
	return nil
}
