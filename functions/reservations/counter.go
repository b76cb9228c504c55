package reservations

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// The counter's actions on a booking (docs/counter.md): the handover (activate), the return
// (complete) and the no-show. Staff do them at the branch; the routes are the agents'.

// MaxOdometerKm bounds an odometer reading.
const MaxOdometerKm = 9_999_999

// MaxFuelEighths is a full tank: fuel levels are recorded in eighths, 0 (empty) to 8.
const MaxFuelEighths = 8

// MaxDamageNotes bounds the damage notes of a return, in characters.
const MaxDamageNotes = 2000

// Handover is the body of an activation: the car's readings as it leaves the branch.
type Handover struct {
	// OdometerKm is the odometer reading in whole kilometres.
	OdometerKm *int `json:"odometerKm"`
	// FuelEighths is the fuel level in eighths of a tank, 0 (empty) to 8 (full).
	FuelEighths *int `json:"fuelEighths"`
}

// CarReturn is the body of a return: the readings as the car comes back and what the staff
// noted about its state.
type CarReturn struct {
	OdometerKm  *int `json:"odometerKm"`
	FuelEighths *int `json:"fuelEighths"`
	// DamageNotes is the staff's note about the car (scratches, a cracked mirror …); at most
	// MaxDamageNotes characters. It stays in reservations: never in an event.
	DamageNotes string `json:"damageNotes,omitempty"`
}

// CounterView is a booking as the counter answers it: the reservation and what the
// counter recorded of its car.
type CounterView struct {
	Reservation
	Counter Counter `json:"counter"`
}

func errNoReservation(id string) error { return platform.NotFound("no reservation with id %s", id) }

// readings validates an odometer and a fuel reading, each required, into errs.
func readings(odometer, fuel *int, errs *platform.FieldErrors) {
	if odometer == nil || *odometer < 0 || *odometer > MaxOdometerKm {
		errs.Add("odometerKm", "required: the odometer reading in whole km, 0 to "+strconv.Itoa(MaxOdometerKm))
	}
	if fuel == nil || *fuel < 0 || *fuel > MaxFuelEighths {
		errs.Add("fuelEighths", "required: the fuel level in eighths of a tank, 0 (empty) to 8 (full)")
	}
}

// callerBooking loads booking id for caller: another customer's is not found.
func (s *Service) callerBooking(ctx context.Context, caller platform.Caller, id string) (Reservation, error) {
	res, err := s.store.Get(ctx, id)
	if err != nil {
		return Reservation{}, err
	}
	if !caller.MaySee(res.CustomerID) {
		return Reservation{}, errNoReservation(id)
	}
	return res, nil
}

// counterBooking loads booking id for caller and checks that action may leave its state.
func (s *Service) counterBooking(ctx context.Context, caller platform.Caller, id string, action Action) (Reservation, error) {
	res, err := s.callerBooking(ctx, caller, id)
	if err != nil {
		return Reservation{}, err
	}
	if !Allowed(action, res.Status) {
		return Reservation{}, illegal(action, res.Status)
	}
	return res, nil
}

// view answers res with its counter record.
func (s *Service) view(ctx context.Context, res Reservation) (CounterView, error) {
	c, err := s.store.Counter(ctx, res.ID)
	return CounterView{Reservation: res, Counter: c}, err
}

// counterTransition applies action with c; a reading the table refuses is a 400.
func (s *Service) counterTransition(ctx context.Context, res Reservation, action Action, c change) (CounterView, error) {
	c.version = res.Version // the car was checked, the fee computed, for this version
	out, err := s.store.Transition(ctx, res.ID, action, []Status{res.Status}, c)
	if database.IsCode(err, database.CheckViolation) {
		return CounterView{}, platform.Invalid("the readings break a rule of the reservations table")
	}
	if err != nil {
		return CounterView{}, err
	}
	return s.view(ctx, out)
}

// Activate hands the car of confirmed booking id over: not before the pickup day (in the
// pickup branch's time zone; the branch's opening hours are not checked: staff at the
// counter do it), and only a car that stands at the pickup branch and is available or
// reserved for it (vehicles-api says; 409 otherwise). The odometer and fuel readings are
// recorded.
func (s *Service) Activate(ctx context.Context, caller platform.Caller, id string, in Handover) (CounterView, error) {
	var errs platform.FieldErrors
	readings(in.OdometerKm, in.FuelEighths, &errs)
	if len(errs) > 0 {
		return CounterView{}, platform.Invalid("the handover is invalid", errs...)
	}
	res, err := s.counterBooking(ctx, caller, id, ActionActivate)
	if err != nil {
		return CounterView{}, err
	}
	day, err := s.branchDay(ctx, res.PickupLocation)
	if err != nil {
		return CounterView{}, err
	}
	if day(s.now()) < day(res.PickupAt) {
		return CounterView{}, platform.Conflict("the car can be picked up from %s on (%s time), not before", day(res.PickupAt), res.PickupLocation).WithCode("before_pickup_day")
	}
	if err := s.peers.carAtBranch(ctx, res.VehicleID, res.PickupLocation); err != nil {
		return CounterView{}, err
	}
	return s.counterTransition(ctx, res, ActionActivate, change{counter: &counterRecord{
		pickupOdometerKm: in.OdometerKm, pickupFuelEighths: in.FuelEighths}})
}

// Complete takes the car of active booking id back: the readings (the odometer not below
// the handover's), the damage notes, a late fee (LateFee) and the return charges pricing-api
// computes from the fuel levels (none when the handover recorded no fuel level).
func (s *Service) Complete(ctx context.Context, caller platform.Caller, id string, in CarReturn) (CounterView, error) {
	var errs platform.FieldErrors
	readings(in.OdometerKm, in.FuelEighths, &errs)
	notes := strings.TrimSpace(in.DamageNotes)
	if !utf8.ValidString(notes) || strings.ContainsRune(notes, 0) || utf8.RuneCountInString(notes) > MaxDamageNotes {
		errs.Add("damageNotes", "at most "+strconv.Itoa(MaxDamageNotes)+" characters of text")
	}
	if len(errs) > 0 {
		return CounterView{}, platform.Invalid("the return is invalid", errs...)
	}
	res, err := s.counterBooking(ctx, caller, id, ActionComplete)
	if err != nil {
		return CounterView{}, err
	}
	before, err := s.store.Counter(ctx, res.ID)
	if err != nil {
		return CounterView{}, err
	}
	if before.PickupOdometerKm != nil && *in.OdometerKm < *before.PickupOdometerKm {
		return CounterView{}, platform.Invalid("the return is invalid", platform.FieldError{Field: "odometerKm",
			Reason: "must be at least the handover's reading, " + strconv.Itoa(*before.PickupOdometerKm) + " km"})
	}
	charges := []events.PriceLine{}
	if before.PickupFuelEighths != nil {
		if charges, err = s.peers.returnCharges(ctx, *before.PickupFuelEighths, *in.FuelEighths); err != nil {
			return CounterView{}, err
		}
	}
	late := LateFee(res.ReturnAt, s.now(), res.DailyRateGrossCents)
	return s.counterTransition(ctx, res, ActionComplete, change{lateFeeCents: &late, counter: &counterRecord{
		returnOdometerKm: in.OdometerKm, returnFuelEighths: in.FuelEighths, damageNotes: &notes, returnCharges: charges}})
}

// CounterRecord is booking id with what the counter recorded of its car, for staff.
func (s *Service) CounterRecord(ctx context.Context, caller platform.Caller, id string) (CounterView, error) {
	res, err := s.callerBooking(ctx, caller, id)
	if err != nil {
		return CounterView{}, err
	}
	return s.view(ctx, res)
}

// NoShow marks confirmed booking id, which nobody picked up, as a no-show: only once its
// pickup time has passed. Its fee is the cancellation fee pricing's rule gives at the pickup
// time itself (less than 24 h before pickup: 100 % of the gross), so a no-show never costs
// less than a late cancellation; reservation.no_show carries it (FeeCents) for payments to
// capture.
func (s *Service) NoShow(ctx context.Context, caller platform.Caller, id string) (Reservation, error) {
	res, err := s.counterBooking(ctx, caller, id, ActionNoShow)
	if err != nil {
		return Reservation{}, err
	}
	if s.now().Before(res.PickupAt) {
		return Reservation{}, platform.Conflict("a reservation can be marked as a no-show only after its pickup time").WithCode("before_pickup_time")
	}
	return s.markNoShow(ctx, res)
}

// carAtBranch asks vehicles-api whether vehicle stands at branch, ready to be handed over:
// available or reserved (a car rented out, in the workshop or out of service is not). 409
// otherwise, saying why.
func (p peers) carAtBranch(ctx context.Context, vehicle, branch string) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	v, err := p.fleet.Vehicle(ctx, vehicle)
	if err != nil {
		if answer(err).Status == http.StatusNotFound {
			return platform.Conflict("the booked vehicle is no longer in the fleet").WithCode("vehicle_gone")
		}
		return unavailable("vehicles-api vehicle", err)
	}
	if v.LocationCode != branch {
		return platform.Conflict("the booked vehicle is at %s, not at the pickup branch %s", v.LocationCode, branch).WithCode("vehicle_elsewhere")
	}
	if v.Status != fleetapi.StatusAvailable && v.Status != fleetapi.StatusReserved {
		return platform.Conflict("the booked vehicle is %s and cannot be handed over", strings.ReplaceAll(v.Status, "_", " ")).WithCode("vehicle_unavailable")
	}
	return nil
}

// returnCharges asks pricing-api what a return with these fuel levels costs on top of the
// booking: its net lines, as the completed event carries them.
func (p peers) returnCharges(ctx context.Context, fuelAtPickup, fuelAtReturn int) ([]events.PriceLine, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	rc, err := p.pricing.ReturnCharges(ctx, pricingapi.ReturnChargesRequest{FuelAtPickup: &fuelAtPickup, FuelAtReturn: &fuelAtReturn})
	if err != nil {
		return nil, unavailable("pricing-api return charges", err)
	}
	lines := make([]events.PriceLine, 0, len(rc.Lines))
	var sum int64
	for _, l := range rc.Lines {
		if l.NetCents < 0 || l.NetCents != int64(l.Quantity)*l.UnitNetCents {
			return nil, unavailable("pricing-api return charges", errImplausible(l))
		}
		sum += l.NetCents
		lines = append(lines, events.PriceLine{Code: l.Code, Description: l.Description, Quantity: l.Quantity,
			Per: string(l.Per), UnitNetCents: l.UnitNetCents, NetCents: l.NetCents})
	}
	if sum != rc.NetCents {
		return nil, unavailable("pricing-api return charges", errImplausible(rc))
	}
	return lines, nil
}

func errImplausible(v any) error { return fmt.Errorf("implausible answer %+v", v) }
