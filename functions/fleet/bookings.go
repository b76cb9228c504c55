package fleet

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// BookingStatus is a reservation's state as fleet's read model holds it (the reservation
// lifecycle of the reservations function).
type BookingStatus string

// The reservation states. Pending (a hold), confirmed (paid) and active (picked up) keep the
// car from being offered for an overlapping period; the others free it.
const (
	BookingPending   BookingStatus = "pending"
	BookingConfirmed BookingStatus = "confirmed"
	BookingActive    BookingStatus = "active"
	BookingCompleted BookingStatus = "completed"
	BookingCancelled BookingStatus = "cancelled"
	BookingExpired   BookingStatus = "expired"
	BookingNoShow    BookingStatus = "no_show"
)

var bookingStatuses = []BookingStatus{BookingPending, BookingConfirmed, BookingActive, BookingCompleted, BookingCancelled, BookingExpired, BookingNoShow}

// Blocking reports whether a booking in status s keeps its car from being offered.
func (s BookingStatus) Blocking() bool {
	return s == BookingPending || s == BookingConfirmed || s == BookingActive
}

// BookingChange is one reservation event as fleet needs it: which car, for when, in which
// state, at which version of the reservation. Events carry the aggregate's version because
// brokers keep no order.
type BookingChange struct {
	ReservationID string
	VehicleID     string
	PickupAt      time.Time
	ReturnAt      time.Time
	Status        BookingStatus
	Version       int64
	// OneWay says the car is returned at another branch than it is picked up at.
	OneWay bool
}

func (c BookingChange) validate() error {
	var errs platform.FieldErrors
	if !platform.ValidUUID(c.ReservationID) {
		errs.Add("reservationId", "must be a UUID")
	}
	if !platform.ValidUUID(c.VehicleID) {
		errs.Add("vehicleId", "must be a UUID")
	}
	if c.PickupAt.IsZero() || c.ReturnAt.IsZero() || !c.ReturnAt.After(c.PickupAt) {
		errs.Add("returnAt", "pickup and return are required, and return must be after pickup")
	}
	if !slices.Contains(bookingStatuses, c.Status) {
		errs.Add("status", "must be a reservation status such as pending or confirmed")
	}
	if c.Version < 1 {
		errs.Add("version", "must be at least 1")
	}
	if len(errs) > 0 {
		return platform.Invalid("the booking change is invalid", errs...)
	}
	return nil
}

// applyBookingSQL inserts a reservation's first known state, or replaces the stored one only
// when the change's version is newer. It returns a row only when it wrote.
const applyBookingSQL = `INSERT INTO fleet.bookings AS b (reservation_id, vehicle_id, period, status, version, one_way)
VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, $6, $7)
ON CONFLICT (reservation_id) DO UPDATE SET
	vehicle_id = EXCLUDED.vehicle_id, period = EXCLUDED.period, status = EXCLUDED.status,
	version = EXCLUDED.version, one_way = EXCLUDED.one_way, updated_at = now()
WHERE b.version < EXCLUDED.version
RETURNING true`

// ApplyBooking records a reservation change in fleet's bookings read model if it is newer
// than what the model holds, and reports whether it was applied. An older or equal version —
// a late or redelivered event — changes nothing and is not an error, so a "confirmed v2"
// arriving before its "created v1" leaves the booking confirmed. The reservation events'
// receiver calls it; it returns an invalid error (a 4xx, dead-lettered) for a change it can
// never apply, such as one for a vehicle fleet does not know.
func (s *Store) ApplyBooking(ctx context.Context, c BookingChange) (applied bool, err error) {
	return applyBooking(ctx, s.db.Pool, c)
}

// queryRower is what applyBooking needs: the pool, or the inbox transaction of the event
// receiver.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// applyBooking is ApplyBooking through q (the pool or a transaction).
func applyBooking(ctx context.Context, q queryRower, c BookingChange) (applied bool, err error) {
	c.ReservationID = strings.ToLower(c.ReservationID)
	c.VehicleID = strings.ToLower(c.VehicleID)
	if err := c.validate(); err != nil {
		return false, err
	}
	err = q.QueryRow(ctx, applyBookingSQL, c.ReservationID, c.VehicleID, c.PickupAt, c.ReturnAt,
		string(c.Status), c.Version, c.OneWay).Scan(&applied)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case database.IsCode(err, database.ForeignKeyViolation):
		return false, platform.Invalid("the booking names a vehicle fleet does not know",
			platform.FieldError{Field: "vehicleId", Reason: "no such vehicle"})
	case err != nil:
		return false, err
	}
	return true, nil
}
