package fleet

import (
	"context"
	"errors"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// bookingEvents maps the reservation events fleet consumes to the booking state each one
// reports; "" takes it from the payload (a change keeps the booking pending or confirmed).
var bookingEvents = map[string]BookingStatus{
	events.ReservationCreated:   BookingPending,
	events.ReservationConfirmed: BookingConfirmed,
	events.ReservationChanged:   "",
	events.ReservationActivated: BookingActive,
	events.ReservationCompleted: BookingCompleted,
	events.ReservationCancelled: BookingCancelled,
	events.ReservationExpired:   BookingExpired,
	events.ReservationNoShow:    BookingNoShow,
}

// vehicleStatusAfter is the vehicle status a newly applied booking state implies: a picked-up
// car is rented, a returned one available again (at its return branch). The other states
// leave the car alone (a pending or confirmed booking blocks the car through the read model,
// not its status; a changed booking moves in the read model only).
var vehicleStatusAfter = map[BookingStatus]Status{
	BookingActive:    StatusRented,
	BookingCompleted: StatusAvailable,
}

// handleEvent applies one delivered reservation event inside the inbox transaction: the
// booking read model takes it if its version is newer than what it holds (any arrival order,
// duplicates included; a change moves the booking to its new car and period), and only then
// — so a late "activated" after "completed" cannot rent the car again — activated hands the
// car over at the pickup branch and completed takes it back at the return branch, unless
// the car's own state is newer than the event (applyCarFact). Other types are acknowledged and ignored: the
// Triggers do not send them.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	if apply, ok := telematicsHandlers[e.Type()]; ok {
		if !strings.HasPrefix(e.Source(), inboundSource) {
			return nil, events.Permanentf("%s %s: inbound vehicle facts come from sync-worker, not %q", e.Type(), e.ID(), e.Source())
		}
		return nil, apply(ctx, tx, e)
	}
	status, ok := bookingEvents[e.Type()]
	if !ok {
		return nil, nil
	}
	r, err := events.DecodeData[events.Reservation](e)
	if err != nil {
		return nil, err
	}
	if status == "" {
		status = BookingStatus(strings.ToLower(strings.TrimSpace(r.Status)))
	}
	pickup, err1 := time.Parse(time.RFC3339Nano, r.PickupAt)
	ret, err2 := time.Parse(time.RFC3339Nano, r.ReturnAt)
	if err := errors.Join(err1, err2); err != nil {
		return nil, events.Permanentf("%s %s: pickupAt/returnAt: %v", e.Type(), e.ID(), err)
	}
	c := BookingChange{ReservationID: r.ReservationID, VehicleID: r.VehicleID, PickupAt: pickup, ReturnAt: ret,
		Status: status, Version: r.Version, OneWay: r.ReturnLocation != "" && r.ReturnLocation != r.PickupLocation}
	applied, err := applyBooking(ctx, tx, c)
	var perr *platform.Error
	if errors.As(err, &perr) && perr.Kind == platform.KindInvalid {
		return nil, events.Permanent(err)
	}
	if err != nil || !applied {
		return nil, err
	}
	to, ok := vehicleStatusAfter[status]
	if !ok || e.Type() == events.ReservationChanged { // a change moves the booking, not the car
		return nil, nil
	}
	f := carFact{VehicleID: strings.ToLower(r.VehicleID), ReservationID: strings.ToLower(r.ReservationID), Status: to,
		Pickup: pickup, At: factTime(e.Time()), EventType: e.Type()}
	// A pickup happens at the pickup branch; a return at the return branch (one-way).
	if status == BookingCompleted {
		f.Location, err = eventLocation("returnLocation", r.ReturnLocation)
	} else {
		f.Location, err = eventLocation("pickupLocation", r.PickupLocation)
	}
	if err != nil {
		return nil, err
	}
	return nil, applyCarFact(ctx, tx, f)
}
