package fleet

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// bookingEvents maps the reservation events fleet consumes to the booking state each one
// reports.
var bookingEvents = map[string]BookingStatus{
	events.ReservationCreated:   BookingPending,
	events.ReservationConfirmed: BookingConfirmed,
	events.ReservationActivated: BookingActive,
	events.ReservationCompleted: BookingCompleted,
	events.ReservationCancelled: BookingCancelled,
	events.ReservationExpired:   BookingExpired,
	events.ReservationNoShow:    BookingNoShow,
}

// vehicleStatusAfter is the vehicle status a newly applied booking state implies: a picked-up
// car is rented, a returned one available again. The other states leave the car's status
// alone (a pending or confirmed booking blocks the car through the read model, not its
// status).
var vehicleStatusAfter = map[BookingStatus]Status{
	BookingActive:    StatusRented,
	BookingCompleted: StatusAvailable,
}

// handleEvent applies one delivered reservation event inside the inbox transaction: the
// booking read model takes it if its version is newer than what it holds (any arrival order,
// duplicates included), and only then — so a late "activated" after "completed" cannot rent
// the car again — activated sets the vehicle rented and completed sets it available, through
// the same conditional status update the API uses. A car already in that status is a no-op;
// one the transition table does not allow (e.g. taken out of service meanwhile) is logged and
// left alone: retrying could never change that, and the booking must still be recorded.
// Other types are acknowledged and ignored: the Triggers do not send them.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	status, ok := bookingEvents[e.Type()]
	if !ok {
		return nil, nil
	}
	r, err := events.DecodeData[events.Reservation](e)
	if err != nil {
		return nil, err
	}
	pickup, err1 := time.Parse(time.RFC3339, r.PickupAt)
	ret, err2 := time.Parse(time.RFC3339, r.ReturnAt)
	if err := errors.Join(err1, err2); err != nil {
		return nil, events.Permanentf("%s %s: pickupAt/returnAt: %v", e.Type(), e.ID(), err)
	}
	c := BookingChange{ReservationID: r.ReservationID, VehicleID: r.VehicleID, PickupAt: pickup, ReturnAt: ret,
		Status: status, Version: r.Version}
	applied, err := applyBooking(ctx, tx, c)
	var perr *platform.Error
	if errors.As(err, &perr) && perr.Kind == platform.KindInvalid {
		return nil, events.Permanent(err)
	}
	if err != nil || !applied {
		return nil, err
	}
	to, ok := vehicleStatusAfter[status]
	if !ok {
		return nil, nil
	}
	_, err = scanVehicle(tx.QueryRow(ctx, setStatusSQL, strings.ToLower(r.VehicleID), string(to), int64(0)))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		platform.LoggerFrom(ctx).WarnContext(ctx, "reservation event leaves the vehicle status as it is",
			slog.String("vehicle", r.VehicleID), slog.String("reservation", r.ReservationID),
			slog.String("type", e.Type()), slog.String("wanted", string(to)))
		return nil, nil
	case err != nil:
		return nil, ruleError(err)
	}
	return nil, nil
}
