package reservations

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
)

// mayBookFor reports whether the signed-in caller may book for customerID: a customer for
// their own record only, agents and admins for anyone. Customers-api cannot check this any
// more — reservations calls it as itself — so this is where the booker is checked.
func mayBookFor(c platform.Caller, customerID string) bool {
	return c.Has(platform.RoleAgent) || c.Has(platform.RoleAdmin) || c.Owns(customerID)
}

// Book books for a signed-in caller: validate, check the booker may book for the customer
// (before any call), then ask customers-api (eligibility and the customer's email, one
// call), vehicles-api (the car fits) and pricing-api (the price), and hold the car.
func (s *Service) Book(ctx context.Context, caller platform.Caller, in Booking) (Reservation, error) {
	anyone := caller.Has(platform.RoleAgent) || caller.Has(platform.RoleAdmin)
	if !anyone && strings.TrimSpace(in.CustomerID) == "" {
		in.CustomerID = caller.CustomerID
	}
	b, errs := in.validate(s.now(), true)
	if len(errs) > 0 {
		return Reservation{}, platform.Invalid("the booking is invalid", errs...)
	}
	if !mayBookFor(caller, b.customerID) {
		// Not 403: a customer must not learn whether another customer's id exists.
		return Reservation{}, platform.Invalid("the booking is invalid", platform.FieldError{Field: "customerId", Reason: "no such customer"})
	}
	c, q, err := s.askPeers(ctx, &b)
	if err != nil {
		return Reservation{}, err
	}
	return s.holdVehicle(ctx, b, q, c.Email, s.hold, false)
}

// askPeers asks what a booking needs to know before it holds the car, at once (issue 19):
// customers-api's eligibility and the branches run beside the vehicle's check and its quote,
// which needs the vehicle (its category, its own rate). All are reads, so asking pricing
// about a booking customers-api then refuses costs nothing but the call. The answer is the
// first refusal in the order the checks were once made one after the other — eligibility,
// branches, vehicle, price — so a booking wrong in several ways is told the same as before.
func (s *Service) askPeers(ctx context.Context, b *booking) (customersapi.Customer, price, error) {
	var (
		c          customersapi.Customer
		cerr, berr error
		wg         sync.WaitGroup
		asked      = *b // the others read a copy: checkVehicle fills in b
	)
	wg.Add(2)
	go func() { defer wg.Done(); c, cerr = s.peers.eligibleCustomer(ctx, asked) }()
	go func() {
		defer wg.Done()
		berr = s.checkBranches(ctx, asked.pickupLocation, asked.returnLocation, asked.pickupAt, asked.returnAt)
	}()
	var q price
	verr := s.peers.checkVehicle(ctx, b)
	var qerr error
	if verr == nil {
		q, qerr = s.peers.quote(ctx, *b)
	}
	wg.Wait()
	for _, err := range []error{cerr, berr, verr, qerr} {
		if err != nil {
			return customersapi.Customer{}, price{}, err
		}
	}
	return c, q, nil
}

// GuestBooking is the body of a guest booking: a registration as customers-api takes it
// (with the driver's licence, which the eligibility rules need) and the booking.
type GuestBooking struct {
	Customer *customersapi.Registration `json:"customer"`
	Booking
}

// BookGuest registers a guest and books in one call, for client (guestClient): one outcome,
// both or neither. Everything that can refuse the booking runs before the registration —
// the guest hold limits (429), customers-api's eligibility rules on the guest's date of
// birth and licence, the car, the price — so a refused guest is never registered; a hold
// refused after the registration (the car taken meanwhile: 409) withdraws the guest again
// (withdrawGuest), and registering the same guest again answers their existing record, so
// a retry works even after a crash between the two steps. The guest is registered as a
// guest (no welcome mail: the booking sends its mail), and the hold is a guest's: shorter.
func (s *Service) BookGuest(ctx context.Context, in GuestBooking, client string) (res Reservation, err error) {
	b, errs := in.Booking.validate(s.now(), false)
	if in.CustomerID != "" {
		errs.Add("customerId", "not allowed in a guest booking: the guest is registered by it")
	}
	if in.Customer == nil {
		errs.Add("customer", "required: the guest's registration (see POST /api/customers)")
	}
	if len(errs) > 0 {
		return Reservation{}, platform.Invalid("the guest booking is invalid", errs...)
	}
	claim, err := s.guests.claim(ctx, in.Customer.Email, client)
	if err != nil {
		return Reservation{}, err
	}
	defer func() { s.guests.settle(ctx, claim, res, err) }()
	if err := s.peers.guestEligible(ctx, *in.Customer, b); err != nil {
		return Reservation{}, err
	}
	if err := s.checkBranches(ctx, b.pickupLocation, b.returnLocation, b.pickupAt, b.returnAt); err != nil {
		return Reservation{}, err
	}
	if err := s.peers.checkVehicle(ctx, &b); err != nil {
		return Reservation{}, err
	}
	q, err := s.peers.quote(ctx, b)
	if err != nil {
		return Reservation{}, err
	}
	c, err := s.peers.register(ctx, *in.Customer)
	if err != nil {
		return Reservation{}, err
	}
	b.customerID = c.ID
	res, err = s.holdVehicle(ctx, b, q, c.Email, s.guests.hold, true)
	if err != nil {
		// Both or neither (issue 13): a guest whose hold was refused is withdrawn again.
		s.withdrawGuest(ctx, c.ID)
		return Reservation{}, err
	}
	return res, nil
}

// holdVehicle stores the pending reservation for b priced at p, holding the car for hold;
// email is the lookup secret, guest says a guest booked.
func (s *Service) holdVehicle(ctx context.Context, b booking, p price, email string, hold time.Duration, guest bool) (Reservation, error) {
	return s.store.Create(ctx, newHold{booking: b, email: strings.ToLower(email), price: p, hold: hold, guest: guest})
}
