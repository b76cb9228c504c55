package reservations

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// peers are the functions a booking asks, through their contract packages over the
// platform client, which authenticates every call as reservations-api itself (design.md
// §9): customers-api (eligibility, guest registration), vehicles-api (the car) and
// pricing-api (quote, cancellation fee). Their answers become ours here, and only here.
type peers struct {
	customers *customersapi.Client
	fleet     *fleetapi.Client
	pricing   *pricingapi.Client
	// timeout bounds each call (RESERVATION_CALL_TIMEOUT; the client's own limit still applies).
	timeout time.Duration
}

func newPeers(client *http.Client, timeout time.Duration) peers {
	return peers{customers: customersapi.NewClient(client), fleet: fleetapi.NewClient(client),
		pricing: pricingapi.NewClient(client), timeout: timeout}
}

// answer is another function's answer other than 2xx that err carries; its Status is 0 for
// any other error (the function was not reached, or its answer was unreadable).
func answer(err error) platform.CallError {
	var e *platform.CallError
	if errors.As(err, &e) {
		return *e
	}
	return platform.CallError{}
}

// unavailable is the caller-safe error for a call that failed for a reason the booker cannot
// fix: a function unreachable, too slow, refusing reservations-api's own identity, or
// answering what it should not. The cause is logged, never shown.
func unavailable(what string, cause error) error {
	return &platform.Error{Kind: platform.KindUnavailable, Message: "a service the booking needs is not available; please try again shortly",
		Err: fmt.Errorf("%s: %w", what, cause)}
}

// explain is a problem's title and detail, for messages that pass another function's reason on.
func explain(p platform.Problem) string {
	return strings.TrimPrefix(strings.TrimSpace(p.Title+": "+p.Detail), ": ")
}

// rfc3339 is how times go to other functions: RFC 3339 with every fractional digit the
// time has (time.RFC3339Nano), never cut to the second — a cancellation 1 ms inside the 24 h
// line must reach pricing as such (issue 13). Times are stored by PostgreSQL to the
// microsecond, so that is the precision end to end.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// eligibleCustomer asks customers-api whether b's customer may rent for b's period and
// returns the customer as the same answer names it: one call for both. An unknown customer
// is a field error on customerId; an ineligible one 422 with customers-api's reasons.
func (p peers) eligibleCustomer(ctx context.Context, b booking) (customersapi.Customer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	e, err := p.customers.Eligibility(ctx, b.customerID, customersapi.Period{PickupAt: rfc3339(b.pickupAt), ReturnAt: rfc3339(b.returnAt)})
	if err != nil {
		if answer(err).Status == http.StatusNotFound {
			return customersapi.Customer{}, platform.Invalid("the booking is invalid", platform.FieldError{Field: "customerId", Reason: "no such customer"})
		}
		return customersapi.Customer{}, unavailable("customers-api eligibility", err)
	}
	if !e.Eligible {
		return customersapi.Customer{}, ineligible("the customer", e.Reasons)
	}
	if e.Customer == nil || e.Customer.ID != b.customerID || e.Customer.Email == "" {
		return customersapi.Customer{}, unavailable("customers-api eligibility", fmt.Errorf("the answer does not name customer %s: %+v", b.customerID, e.Customer))
	}
	return *e.Customer, nil
}

// ineligible is the 422 of a booking customers-api's rules refuse for who: its reasons in the
// message, and each as a field "eligibility.<code>" with its message, so a page can word the
// reason in its own language by the stable code (the messages are English).
func ineligible(who string, reasons []customersapi.Finding) error {
	fields := make([]platform.FieldError, len(reasons))
	for i, f := range reasons {
		fields[i] = platform.FieldError{Field: "eligibility." + f.Code, Reason: f.Message}
	}
	return &platform.Error{Kind: platform.KindUnprocessable, Fields: fields,
		Message: who + " may not rent for this period: " + strings.Join(customersapi.Messages(reasons), "; ")}
}

// guestEligible asks customers-api whether the guest of a registration may rent for b's
// period — its rules, on the registration's date of birth and licence — before anything is
// registered. customers-api validates the whole registration in the same answer, so a guest
// is told every invalid field of it at once (400), not the eligibility's first and the
// registration's after they are mended. An ineligible guest is 422 with customers-api's
// reasons.
func (p peers) guestEligible(ctx context.Context, reg customersapi.Registration, b booking) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	e, err := p.customers.ApplicantEligibility(ctx, customersapi.Applicant{Registration: &reg,
		PickupAt: rfc3339(b.pickupAt), ReturnAt: rfc3339(b.returnAt)})
	if err != nil {
		if a := answer(err); a.Status == http.StatusBadRequest {
			return guestInvalid(a.Problem)
		}
		return unavailable("customers-api applicant eligibility", err)
	}
	if !e.Eligible {
		return ineligible("the guest", e.Reasons)
	}
	return nil
}

// register registers a guest with customers-api as a guest (no welcome mail, no account),
// which validates the registration; its refusals are passed on with its explanation.
func (p peers) register(ctx context.Context, reg customersapi.Registration) (customersapi.Customer, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.customers.RegisterGuest(ctx, reg)
	if err != nil {
		switch a := answer(err); a.Status {
		case http.StatusConflict:
			return customersapi.Customer{}, platform.Conflict("a customer with this email is already registered; sign in to book").WithCode("email_registered")
		case http.StatusBadRequest, http.StatusUnprocessableEntity:
			return customersapi.Customer{}, guestInvalid(a.Problem)
		}
		return customersapi.Customer{}, unavailable("customers-api registration", err)
	}
	if c.ID == "" || c.Email == "" {
		return customersapi.Customer{}, unavailable("customers-api registration", fmt.Errorf("registration without id or email: %+v", c))
	}
	return c, nil
}

// withdrawGuest asks customers-api to withdraw the guest registration customerID (its booking
// failed); a guest already gone (404) is done.
func (p peers) withdrawGuest(ctx context.Context, customerID string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	err := p.customers.WithdrawGuest(ctx, customerID)
	if err != nil && answer(err).Status == http.StatusNotFound {
		return nil
	}
	return err
}

// guestInvalid turns customers-api's 400 about a guest into ours, its fields named where
// they sit in a guest booking ("customer.dateOfBirth"); the period is the booking's own.
func guestInvalid(p platform.Problem) error {
	fields := make([]platform.FieldError, len(p.Errors))
	for i, f := range p.Errors {
		if rest, ok := strings.CutPrefix(f.Field, "registration."); ok {
			f.Field = "customer." + rest
		} else if f.Field != "pickupAt" && f.Field != "returnAt" {
			f.Field = "customer." + f.Field
		}
		fields[i] = f
	}
	msg := "the guest registration is invalid"
	if p.Detail != "" {
		msg += ": " + p.Detail
	}
	return platform.Invalid(msg, fields...)
}

// checkVehicle reads b's vehicle from the fleet and holds the booking to it: the vehicle
// exists, is not in maintenance or out of service, is of the booked category (filled in
// when the booking left it out) and stands at the pickup branch; its own daily rate, if it
// has one, is what pricing prices.
func (p peers) checkVehicle(ctx context.Context, b *booking) error {
	return p.vehicleFits(ctx, b, false)
}

// keepVehicle is checkVehicle for a change that keeps a booking's car and category: the car
// was held to the booking when it was booked, and what the fleet did with it since — a new
// category, a rental that left it at another branch for now, a workshop visit — is the
// fleet's to settle with the booking, not a reason to refuse the customer new dates or
// cover. Its own daily rate still prices the change.
func (p peers) keepVehicle(ctx context.Context, b *booking) error {
	return p.vehicleFits(ctx, b, true)
}

func (p peers) vehicleFits(ctx context.Context, b *booking, booked bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, err := p.fleet.Vehicle(ctx, b.vehicleID)
	if err != nil {
		if answer(err).Status == http.StatusNotFound {
			return platform.Invalid("the booking is invalid", platform.FieldError{Field: "vehicleId", Reason: "no such vehicle"})
		}
		return unavailable("vehicles-api vehicle", err)
	}
	if booked {
		b.dailyRateNet = v.DailyRateNetCents
		return nil
	}
	var errs platform.FieldErrors
	if b.category == "" {
		b.category = v.Category
	} else if b.category != v.Category {
		errs.Add("category", "the vehicle's category is "+v.Category)
	}
	if b.pickupLocation != v.LocationCode {
		errs.Add("pickupLocation", "the vehicle is at "+v.LocationCode)
	}
	if len(errs) > 0 {
		return platform.Invalid("the booking does not fit the vehicle", errs...)
	}
	if v.Status == fleetapi.StatusMaintenance || v.Status == fleetapi.StatusOutOfService {
		return platform.Conflict("the vehicle is %s and cannot be booked", strings.ReplaceAll(v.Status, "_", " ")).WithCode("vehicle_unavailable")
	}
	b.dailyRateNet = v.DailyRateNetCents
	return nil
}

// quote prices b with pricing-api; a request pricing refuses (an unknown extra, no rate for
// the branch) is 422 with pricing's explanation.
func (p peers) quote(ctx context.Context, b booking) (price, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	q, err := p.pricing.Quote(ctx, pricingapi.QuoteRequest{
		PickupLocation: b.pickupLocation, ReturnLocation: b.returnLocation,
		PickupAt: rfc3339(b.pickupAt), ReturnAt: rfc3339(b.returnAt),
		Category: b.category, Insurance: b.insurance, Extras: b.extras, DailyRateNetCents: b.dailyRateNet,
	})
	if err != nil {
		a := answer(err)
		if a.Status >= 400 && a.Status < 500 && a.Status != http.StatusUnauthorized && a.Status != http.StatusForbidden && a.Status != http.StatusTooManyRequests {
			// Pricing's field errors name the booking's own fields (extras[0].quantity,
			// insurance): passed on, so the client learns which.
			return price{}, &platform.Error{Kind: platform.KindUnprocessable,
				Message: "the booking cannot be priced: " + explain(a.Problem), Fields: a.Problem.Errors}
		}
		return price{}, unavailable("pricing-api quote", err)
	}
	pr, err := priceOf(q)
	if err != nil {
		return price{}, unavailable("pricing-api quote", err)
	}
	return pr, nil
}

// cancellationFee asks pricing-api what cancelling now costs (the policy of design.md §4).
func (p peers) cancellationFee(ctx context.Context, pickupAt, cancelledAt time.Time, totalGross int64) (pricingapi.FeeResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	f, err := p.pricing.CancellationFee(ctx, pricingapi.FeeRequest{PickupAt: rfc3339(pickupAt),
		CancelledAt: rfc3339(cancelledAt), TotalGrossCents: &totalGross})
	if err != nil {
		return pricingapi.FeeResponse{}, unavailable("pricing-api cancellation fee", err)
	}
	if f.FeeCents < 0 || f.FeeCents > totalGross {
		return pricingapi.FeeResponse{}, unavailable("pricing-api cancellation fee", fmt.Errorf("implausible fee %d of %d", f.FeeCents, totalGross))
	}
	return f, nil
}
