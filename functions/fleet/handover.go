package fleet

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// carFact is what a reservation event says about the car itself: a pickup hands it over at
// the pickup branch (rented there), a return takes it back at the return branch (available
// there). At is when it happened (the event's time); Pickup is the booking's pickup, which
// orders the car's rentals.
type carFact struct {
	VehicleID     string
	ReservationID string
	Status        Status
	Location      string // empty: the fact says nothing about the branch
	Pickup        time.Time
	At            time.Time
	EventType     string
}

// lockVehicleSQL reads the car with the times its status and its branch last changed, and
// locks the row until the event's transaction ends: two facts about one car are decided one
// after the other.
const lockVehicleSQL = `SELECT ` + vehicleColumns + `, status_changed_at, location_changed_at, maintenance_due
FROM fleet.vehicles WHERE id = $1 FOR UPDATE`

// laterRentalSQL: has a later rental of the car (picked up after $3) already started or
// ended? Then the car has moved on, and an older booking's facts are history.
const laterRentalSQL = `SELECT EXISTS (SELECT 1 FROM fleet.bookings b
WHERE b.vehicle_id = $1 AND b.reservation_id <> $2 AND b.status IN ('active', 'completed') AND lower(b.period) > $3)`

const transitionAllowedSQL = `SELECT EXISTS (SELECT 1 FROM fleet.status_transitions WHERE from_status = $1 AND to_status = $2)`

// applyFactSQL writes a fact: a new status and/or branch, each with the fact's time.
const applyFactSQL = `UPDATE fleet.vehicles SET
	status = $2, location_code = $3, version = version + 1, updated_at = now(),
	status_changed_at = CASE WHEN status = $2 THEN status_changed_at ELSE $4 END,
	location_changed_at = CASE WHEN location_code = $3 THEN location_changed_at ELSE $4 END
WHERE id = $1
RETURNING ` + vehicleColumns

// applyCarFact applies f to the car inside the event's transaction, part by part, and never
// over a newer state of the car:
//
//   - nothing at all when a later rental of the car has started or ended in the bookings
//     read model (the next renter has the car: an older booking's pickup or return is
//     history, whatever the clocks say);
//   - the status only if the car's status last changed at or before f.At (a fleet manager
//     who sent the car to the workshop after the return wins), and only along the
//     transition table (a car taken out of service stays so; logged);
//   - the branch only if the car's branch last changed at or before f.At (a move after the
//     return wins); a car that stays rented moves only with a new pickup (the next renter
//     took it at another branch before the previous return arrived).
//
// What it changes it announces in the outbox: vehicle.moved when the branch changed (the
// payload is the whole car, its status included), else vehicle.status_changed. A fact that
// changes nothing is a no-op.
func applyCarFact(ctx context.Context, tx pgx.Tx, f carFact) error {
	log := platform.LoggerFrom(ctx).With(slog.String("vehicle", f.VehicleID), slog.String("reservation", f.ReservationID),
		slog.String("type", f.EventType))
	var (
		cur                  Vehicle
		statusAt, locationAt time.Time
		maintenanceDue       bool
	)
	err := tx.QueryRow(ctx, lockVehicleSQL, f.VehicleID).Scan(&cur.ID, &cur.Name, &cur.Category, &cur.LocationCode,
		&cur.Seats, &cur.Fuel, &cur.Transmission, &cur.LicencePlate, &cur.Status, &cur.DailyRateNetCents, &cur.Version,
		&cur.CreatedAt, &cur.UpdatedAt, &statusAt, &locationAt, &maintenanceDue)
	if err != nil {
		return err // the booking names the car, so it exists (foreign key)
	}
	var later bool
	if err := tx.QueryRow(ctx, laterRentalSQL, f.VehicleID, f.ReservationID, f.Pickup).Scan(&later); err != nil {
		return err
	}
	if later {
		log.InfoContext(ctx, "a later rental of the car has started; the older booking's event leaves the car as it is")
		return nil
	}
	status := cur.Status
	switch {
	case f.Status == cur.Status:
	case statusAt.After(f.At):
		log.InfoContext(ctx, "the car's status changed after the reservation event; it is left as it is",
			slog.Time("eventTime", f.At), slog.Time("statusChangedAt", statusAt))
	default:
		var allowed bool
		if err := tx.QueryRow(ctx, transitionAllowedSQL, string(cur.Status), string(f.Status)).Scan(&allowed); err != nil {
			return err
		}
		if allowed {
			status = f.Status
		} else {
			log.WarnContext(ctx, "reservation event leaves the vehicle status as it is",
				slog.String("status", string(cur.Status)), slog.String("wanted", string(f.Status)))
		}
	}
	locationCode := cur.LocationCode
	switch {
	case f.Location == "" || f.Location == cur.LocationCode:
	case locationAt.After(f.At):
		log.InfoContext(ctx, "the car was moved after the reservation event; it stays where it is",
			slog.Time("eventTime", f.At), slog.Time("locationChangedAt", locationAt))
	case cur.Status == StatusRented && status == StatusRented && f.Status != StatusRented:
		log.WarnContext(ctx, "the car is rented and stays at its branch", slog.String("wanted", f.Location))
	default:
		locationCode = f.Location
	}
	if cur.Status == StatusRented && status == StatusRented && locationCode != cur.LocationCode {
		// The next renter picked the car up elsewhere before the previous return arrived.
		if _, err := tx.Exec(ctx, `SELECT set_config('fleet.recording_handover', 'on', true)`); err != nil {
			return err
		}
	}
	if status == cur.Status && locationCode == cur.LocationCode {
		return nil
	}
	v, err := scanVehicle(tx.QueryRow(ctx, applyFactSQL, f.VehicleID, string(status), locationCode, f.At))
	if err != nil {
		return ruleError(err)
	}
	if maintenanceDue && v.Status == StatusAvailable {
		// Damage was reported while the car was out (telematics.go): back, it goes to the
		// workshop instead of being offered; one event tells the final state.
		log.InfoContext(ctx, "damage was reported during the rental; the returned car goes to the workshop")
		if v, err = scanVehicle(tx.QueryRow(ctx, setFactStatusSQL, f.VehicleID, f.At, string(StatusMaintenance))); err != nil {
			return ruleError(err)
		}
	}
	typ := events.VehicleStatusChanged
	if locationCode != cur.LocationCode {
		typ = events.VehicleMoved
	}
	return emitVehicle(ctx, tx, typ, v)
}

// emitVehicle records a vehicle event about v in the outbox of tx.
func emitVehicle(ctx context.Context, tx pgx.Tx, typ string, v Vehicle) error {
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, v.ID, events.Vehicle{
		VehicleID: v.ID, Version: v.Version, Category: string(v.Category), LocationCode: v.LocationCode,
		Status: string(v.Status), LicensePlate: v.LicencePlate,
	})
}

// eventLocation is a branch an event names, canonical; empty when it names none (the fact
// says nothing about the branch). A malformed code can never be applied: a permanent error.
func eventLocation(field, raw string) (string, error) {
	code := NormalizeLocationCode(raw)
	if code == "" {
		return "", nil
	}
	if !rental.ValidBranchCode(code) {
		return "", events.Permanent(platform.Invalid("the reservation names a branch code that is not one",
			platform.FieldError{Field: field, Reason: "must be a branch code such as BER-HBF"}))
	}
	return code, nil
}

// factTime is when the event's fact happened: the event's time (set by the producer in the
// transaction of the change), else — an event sent by hand without one — its arrival.
func factTime(at time.Time) time.Time {
	if at.IsZero() {
		return time.Now()
	}
	return at
}
