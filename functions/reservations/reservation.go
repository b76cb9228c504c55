package reservations

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// Status is where a reservation is in its lifecycle (design.md §4).
type Status string

// The states. Pending, confirmed and active block the vehicle (the exclusion constraint
// covers exactly these); the others are final.
const (
	StatusPending   Status = "pending"
	StatusConfirmed Status = "confirmed"
	StatusActive    Status = "active"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
	StatusExpired   Status = "expired"
	StatusNoShow    Status = "no_show"
)

// Statuses are every state, in lifecycle order.
var Statuses = []Status{StatusPending, StatusConfirmed, StatusActive, StatusCompleted, StatusCancelled, StatusExpired, StatusNoShow}

func (s Status) valid() bool { return slices.Contains(Statuses, s) }

// Action is a transition of the state machine.
type Action string

// The actions. Expire is the sweep's only; the others have routes.
const (
	ActionConfirm  Action = "confirm"
	ActionActivate Action = "activate"
	ActionComplete Action = "complete"
	ActionCancel   Action = "cancel"
	ActionNoShow   Action = "no-show"
	ActionExpire   Action = "expire"
)

// Actions are every action.
var Actions = []Action{ActionConfirm, ActionActivate, ActionComplete, ActionCancel, ActionNoShow, ActionExpire}

// transition is one edge set of the state machine: the states an action leaves from, the
// state it leads to and the event it emits.
type transition struct {
	from  []Status
	to    Status
	event string
}

// Machine is the state machine of design.md §4: pending → confirmed → active → completed,
// with the side exits cancelled (from pending or confirmed), expired (an unpaid hold) and
// no_show (a confirmed booking nobody picked up). The store applies it as a conditional
// UPDATE … WHERE status = ANY(from), so a concurrent change can never slip past it.
var Machine = map[Action]transition{
	ActionConfirm:  {from: []Status{StatusPending}, to: StatusConfirmed, event: events.ReservationConfirmed},
	ActionActivate: {from: []Status{StatusConfirmed}, to: StatusActive, event: events.ReservationActivated},
	ActionComplete: {from: []Status{StatusActive}, to: StatusCompleted, event: events.ReservationCompleted},
	ActionCancel:   {from: []Status{StatusPending, StatusConfirmed}, to: StatusCancelled, event: events.ReservationCancelled},
	ActionNoShow:   {from: []Status{StatusConfirmed}, to: StatusNoShow, event: events.ReservationNoShow},
	ActionExpire:   {from: []Status{StatusPending}, to: StatusExpired, event: events.ReservationExpired},
}

// Allowed reports whether action may leave from s.
func Allowed(action Action, s Status) bool { return slices.Contains(Machine[action].from, s) }

// Reservation is a booking as the API shows it.
type Reservation struct {
	ID                  string     `json:"id"`
	CustomerID          string     `json:"customerId"`
	VehicleID           string     `json:"vehicleId"`
	Category            string     `json:"category"`
	PickupLocation      string     `json:"pickupLocation"`
	ReturnLocation      string     `json:"returnLocation"`
	PickupAt            time.Time  `json:"pickupAt"`
	ReturnAt            time.Time  `json:"returnAt"`
	Status              Status     `json:"status"`
	HoldExpiresAt       *time.Time `json:"holdExpiresAt,omitempty"`
	TotalGrossCents     int64      `json:"totalGrossCents"`
	DailyRateGrossCents int64      `json:"dailyRateGrossCents"`
	Currency            string     `json:"currency"`
	CancelReason        string     `json:"cancelReason,omitempty"`
	FeeCents            int64      `json:"feeCents"`
	LateFeeCents        int64      `json:"lateFeeCents"`
	ActivatedAt         *time.Time `json:"activatedAt,omitempty"`
	CompletedAt         *time.Time `json:"completedAt,omitempty"`
	CancelledAt         *time.Time `json:"cancelledAt,omitempty"`
	// Insurance and Extras are what the booking asked pricing for (a change re-prices them).
	Insurance string  `json:"insurance"`
	Extras    []Extra `json:"extras"`
	// NetCents + VatCents = TotalGrossCents; Lines are the priced lines as pricing-api
	// quoted them (their NetCents add up to NetCents; a change may add CHANGE_FEE). A booking
	// made before lines were kept has none, and net = VAT = 0.
	NetCents int64              `json:"netCents"`
	VatCents int64              `json:"vatCents"`
	Lines    []events.PriceLine `json:"lines"`
	// ReturnCharges are what the return added (net lines pricing-api priced: refuelling), and
	// RentalGrossCents what the rental costs with them and the late fee: totalGrossCents +
	// lateFeeCents + the charges with their VAT (19 % of their sum, half up) — what payments-
	// api invoices and collects at the return, and what a page shows as the total.
	ReturnCharges    []events.PriceLine `json:"returnCharges"`
	RentalGrossCents int64              `json:"rentalGrossCents"`
	// PaymentAttempt counts the payment methods tried; PaymentDeclinedReason is the last
	// decline's reason while the booking waits for another card.
	PaymentAttempt        int    `json:"paymentAttempt"`
	PaymentDeclinedReason string `json:"paymentDeclinedReason,omitempty"`
	// Guest says a guest (no account) booked it: the guest manages it through the link.
	Guest     bool      `json:"guest"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// email and paymentMethodID are kept but never shown: the email is the lookup secret, the
	// payment method goes to payments in reservation.created only.
	email           string
	paymentMethodID string
	// feePickupAt is what fees are timed from (the earliest pickup while confirmed) and
	// changeFeeGross the change fee the booking carries (migration 0007).
	feePickupAt    time.Time
	changeFeeGross int64
}

// MaxRental is the longest bookable rental (design.md §4: at most 90 days).
const MaxRental = 90 * 24 * time.Hour

// PickupTolerance is how far in the past a pickup may lie (a walk-in keyed in at the counter).
const PickupTolerance = 15 * time.Minute

// paymentMethodPattern is a payment-method id as payments-api issues them: nothing else — a
// card number least of all — is taken, stored or passed on.
var paymentMethodPattern = regexp.MustCompile(`^pm_[0-9a-f]{32}$`)

// Booking is the body of a create: who books which car when and where, and the payment
// method (pm_…) payments-api made of the card, which payments will authorize. Card details
// never come here (design.md §9): they go to payments-api's POST /api/payments/methods.
type Booking struct {
	// CustomerID defaults to the caller's own customer record; staff must give it.
	CustomerID string `json:"customerId,omitempty"`
	VehicleID  string `json:"vehicleId"`
	// Category defaults to the vehicle's; given, it must be the vehicle's.
	Category       string  `json:"category,omitempty"`
	PickupLocation string  `json:"pickupLocation"`
	ReturnLocation string  `json:"returnLocation,omitempty"`
	PickupAt       string  `json:"pickupAt"`
	ReturnAt       string  `json:"returnAt"`
	Insurance      string  `json:"insurance,omitempty"`
	Extras         []Extra `json:"extras,omitempty"`

	// PaymentMethodID names the card: a payment method of payments-api (pm_…).
	PaymentMethodID string `json:"paymentMethodId"`
}

// Extra is an extra passed on to pricing's quote, in pricing's own contract type.
type Extra = pricingapi.ExtraRequest

// booking is a validated Booking.
type booking struct {
	customerID, vehicleID, category string
	pickupLocation, returnLocation  string
	pickupAt, returnAt              time.Time
	insurance                       string
	extras                          []Extra
	paymentMethodID                 string
	// dailyRateNet is the vehicle's own net daily rate (from the fleet), nil for the policy's.
	dailyRateNet *int64
}

// validate checks every field at once against now; requireCustomer says the customer id
// must be in the body (staff bookings). Guest bookings validate the customer elsewhere.
func (b Booking) validate(now time.Time, checkCustomer bool) (booking, platform.FieldErrors) {
	var errs platform.FieldErrors
	out := booking{
		customerID:     strings.ToLower(strings.TrimSpace(b.CustomerID)),
		vehicleID:      strings.ToLower(strings.TrimSpace(b.VehicleID)),
		category:       strings.ToUpper(strings.TrimSpace(b.Category)),
		pickupLocation: strings.ToUpper(strings.TrimSpace(b.PickupLocation)),
		returnLocation: strings.ToUpper(strings.TrimSpace(b.ReturnLocation)),
		insurance:      strings.ToUpper(strings.TrimSpace(b.Insurance)),
		extras:         normalExtras(b.Extras),
	}
	out.paymentMethodID = strings.TrimSpace(b.PaymentMethodID)
	if checkCustomer && !platform.ValidUUID(out.customerID) {
		errs.Add("customerId", "required for staff bookings: a customer id (UUID)")
	}
	if !platform.ValidUUID(out.vehicleID) {
		errs.Add("vehicleId", "required: a vehicle id (UUID)")
	}
	if out.category != "" && !rental.ValidCategory(out.category) {
		errs.Add("category", "must be one of "+rental.CategoryList()+" (or left out: the vehicle's)")
	}
	if !rental.ValidBranchCode(out.pickupLocation) {
		errs.Add("pickupLocation", "required: a branch code such as BER-HBF")
	}
	if out.returnLocation == "" {
		out.returnLocation = out.pickupLocation
	} else if !rental.ValidBranchCode(out.returnLocation) {
		errs.Add("returnLocation", "a branch code such as BER-HBF")
	}
	var perr, rerr error
	out.pickupAt, perr = platform.ParseTime(b.PickupAt)
	if perr != nil {
		errs.Add("pickupAt", platform.TimeReason(b.PickupAt, "2027-05-01T10:00:00+02:00"))
	} else if out.pickupAt.Before(now.Add(-PickupTolerance)) {
		errs.Add("pickupAt", "must not lie in the past")
	} else if out.pickupAt.After(rental.LatestPickup(now)) {
		errs.Add("pickupAt", rental.TooFarAhead)
	}
	out.returnAt, rerr = platform.ParseTime(b.ReturnAt)
	if rerr != nil {
		errs.Add("returnAt", platform.TimeReason(b.ReturnAt, "2027-05-04T10:00:00+02:00"))
	}
	if perr == nil && rerr == nil {
		switch d := out.returnAt.Sub(out.pickupAt); {
		case d <= 0:
			errs.Add("returnAt", "must be after pickupAt")
		case d > MaxRental:
			errs.Add("returnAt", "a rental lasts at most 90 days")
		}
	}
	if !paymentMethodPattern.MatchString(out.paymentMethodID) {
		errs.Add("paymentMethodId", "required: the id of a payment method (pm_…) from POST /api/payments/methods")
	}
	if len(b.Extras) > 20 {
		errs.Add("extras", "at most 20 entries")
	}
	return out, errs
}

// normalExtras is extras as stored and compared: codes in capitals, the quantity given (1
// when left out), in code order — so that the same extras asked again, in another order or
// spelling, are the same booking (a change that changes nothing changes nothing).
func normalExtras(extras []Extra) []Extra {
	if extras == nil {
		return nil
	}
	out := make([]Extra, len(extras))
	for i, e := range extras {
		q := 1
		if e.Quantity != nil {
			q = *e.Quantity
		}
		out[i] = Extra{Code: strings.ToUpper(strings.TrimSpace(e.Code)), Quantity: &q}
	}
	slices.SortStableFunc(out, func(a, b Extra) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// CancelRequest is the body of a cancel.
type CancelRequest struct {
	Reason string `json:"reason"`
}

// LateGrace is how late a return may be before it costs anything (pricing's grace period).
const LateGrace = time.Hour

// LateFee prices a late return: nothing within LateGrace of the booked return; beyond it,
// one full gross daily rate per started 24 hours beyond the grace — pricing's day rule, whose
// grace hour counts once, not per day (a return 24 h 30 min late is one day late, as a
// rental of 25 h is one day; it cost two). The daily rate is the one the booking was priced
// with (its quote's gross daily rate).
func LateFee(returnAt, returnedAt time.Time, dailyGrossCents int64) int64 {
	late := returnedAt.Sub(returnAt) - LateGrace
	if late <= 0 {
		return 0
	}
	days := int64((late + 24*time.Hour - 1) / (24 * time.Hour))
	return days * dailyGrossCents
}
