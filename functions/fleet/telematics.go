package fleet

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// inboundSource starts the source of every inbound event: sync-worker publishes a partner's
// events as sync-worker/partners/<client id> (its EventPolicy admits no other). The Broker's
// policies already keep other functions from sending these types; fleet checks once more, so
// a fact about a car never comes from inside under a function's name.
const inboundSource = "sync-worker/"

// telematicsHandlers apply the inbound vehicle.* events (events.Inbound), which sync-worker
// publishes after validating them against their schemas; each runs in the inbox
// transaction of the delivery, so a redelivery changes nothing.
var telematicsHandlers = map[string]func(context.Context, pgx.Tx, cloudevents.Event) error{
	events.VehicleOdometerRead:    applyOdometer,
	events.VehicleFuelRead:        applyFuel,
	events.VehiclePositionRead:    applyPosition,
	events.VehicleDamageReported:  applyDamage,
	events.VehicleRepairCompleted: applyRepair,
}

// Readings: each is written only if it was taken after the one stored (the producers'
// clocks order them; the payloads carry no version). They change neither version nor
// updated_at: a reading is not an edit of the car's record. RETURNING says whether it wrote.
const (
	applyOdometerSQL = `UPDATE fleet.vehicles SET odometer_km = $2, odometer_read_at = $3
WHERE id = $1 AND (odometer_read_at IS NULL OR odometer_read_at < $3) RETURNING true`
	applyFuelSQL = `UPDATE fleet.vehicles SET fuel_eighths = $2, fuel_read_at = $3
WHERE id = $1 AND (fuel_read_at IS NULL OR fuel_read_at < $3) RETURNING true`
	applyPositionSQL = `UPDATE fleet.vehicles SET latitude = $2, longitude = $3, position_read_at = $4
WHERE id = $1 AND (position_read_at IS NULL OR position_read_at < $4) RETURNING true`
	vehicleExistsSQL = `SELECT EXISTS (SELECT 1 FROM fleet.vehicles WHERE id = $1)`
)

func applyOdometer(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := decodeInbound[events.OdometerReading](e)
	if err != nil {
		return err
	}
	at, err := inboundTime(r.VehicleID, "readAt", r.ReadAt)
	if err != nil {
		return err
	}
	if r.OdometerKm < 0 || r.OdometerKm > 2_000_000 {
		return inboundInvalid("odometerKm", "must be between 0 and 2000000")
	}
	return applyReading(ctx, tx, e, r.VehicleID, applyOdometerSQL, r.VehicleID, r.OdometerKm, at)
}

func applyFuel(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := decodeInbound[events.FuelReading](e)
	if err != nil {
		return err
	}
	at, err := inboundTime(r.VehicleID, "readAt", r.ReadAt)
	if err != nil {
		return err
	}
	if r.FuelEighths < 0 || r.FuelEighths > 8 {
		return inboundInvalid("fuelEighths", "must be between 0 and 8")
	}
	return applyReading(ctx, tx, e, r.VehicleID, applyFuelSQL, r.VehicleID, r.FuelEighths, at)
}

func applyPosition(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := decodeInbound[events.PositionReading](e)
	if err != nil {
		return err
	}
	at, err := inboundTime(r.VehicleID, "readAt", r.ReadAt)
	if err != nil {
		return err
	}
	if r.Latitude < -90 || r.Latitude > 90 || r.Longitude < -180 || r.Longitude > 180 {
		return inboundInvalid("latitude", "latitude must be within ±90 and longitude within ±180")
	}
	return applyReading(ctx, tx, e, r.VehicleID, applyPositionSQL, r.VehicleID, r.Latitude, r.Longitude, at)
}

// applyReading runs one reading's conditional UPDATE; a reading for a car fleet does not know
// can never be applied (a permanent error: dead-lettered), an older one is a no-op.
func applyReading(ctx context.Context, tx pgx.Tx, e cloudevents.Event, vehicleID, sql string, args ...any) error {
	var wrote bool
	err := tx.QueryRow(ctx, sql, args...).Scan(&wrote)
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if err := tx.QueryRow(ctx, vehicleExistsSQL, vehicleID).Scan(&wrote); err != nil {
		return err
	}
	if !wrote {
		return unknownVehicle()
	}
	platform.LoggerFrom(ctx).DebugContext(ctx, "an older reading changes nothing",
		slog.String("vehicle", vehicleID), slog.String("type", e.Type()))
	return nil
}

// lockDamageSQL reads what a damage report or a repair decides on, and locks the car.
const lockDamageSQL = `SELECT status, status_changed_at, damage_reported_at, damage_severity, repair_completed_at
FROM fleet.vehicles WHERE id = $1 FOR UPDATE`

// recordDamageSQL keeps the newest open report's time and the worst open severity ($3 is
// the report's, $4 whether earlier reports are still open), and flags a car that is with a
// customer or set aside for one ($5).
const recordDamageSQL = `UPDATE fleet.vehicles SET
	damage_reported_at = CASE WHEN $4 THEN greatest(damage_reported_at, $2) ELSE $2 END,
	damage_severity = CASE WHEN $4 AND array_position($6::text[], damage_severity) > array_position($6::text[], $3::text)
		THEN damage_severity ELSE $3 END,
	maintenance_due = maintenance_due OR $5
WHERE id = $1`

// toWorkshopSQL and fromWorkshopSQL change the status as a fact of time $2 (the report's,
// the repair's), along the transition table (the rules trigger holds it).
const (
	setFactStatusSQL = `UPDATE fleet.vehicles SET status = $3, version = version + 1, updated_at = now(),
	status_changed_at = $2 WHERE id = $1 RETURNING ` + vehicleColumns
	recordRepairSQL = `UPDATE fleet.vehicles SET
	repair_completed_at = greatest(repair_completed_at, $2),
	maintenance_due = maintenance_due AND NOT (damage_reported_at IS NOT NULL AND damage_reported_at <= $2)
WHERE id = $1`
)

// damageState is a car as a damage report or a repair sees it.
type damageState struct {
	status          Status
	statusChangedAt time.Time
	damageAt        *time.Time
	severity        *string
	repairedAt      *time.Time
}

func lockDamage(ctx context.Context, tx pgx.Tx, id string) (damageState, error) {
	var s damageState
	err := tx.QueryRow(ctx, lockDamageSQL, id).Scan(&s.status, &s.statusChangedAt, &s.damageAt, &s.severity, &s.repairedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, unknownVehicle()
	}
	return s, err
}

// openAt reports whether damage reported before the repair at t is still open: a report
// at or after the last repair.
func (s damageState) open() bool {
	return s.damageAt != nil && (s.repairedAt == nil || s.damageAt.After(*s.repairedAt))
}

// applyDamage records a damage report taken at reportedAt, unless a repair completed at or
// after it (the report is history), and acts on the car: an available car goes to the
// workshop (vehicle.status_changed); a rented or reserved one is flagged, and its return (or
// release) sends it to the workshop instead of making it available; a car in the workshop
// or off the road stays where it is. Every severity goes to the workshop: writing a car off
// is a fleet manager's decision.
func applyDamage(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := decodeInbound[events.DamageReport](e)
	if err != nil {
		return err
	}
	at, err := inboundTime(r.VehicleID, "reportedAt", r.ReportedAt)
	if err != nil {
		return err
	}
	if !slices.Contains(events.DamageSeverities, r.Severity) {
		return inboundInvalid("severity", "must be one of "+strings.Join(events.DamageSeverities, ", "))
	}
	id := strings.ToLower(r.VehicleID)
	s, err := lockDamage(ctx, tx, id)
	if err != nil {
		return err
	}
	log := platform.LoggerFrom(ctx).With(slog.String("vehicle", id), slog.String("severity", r.Severity))
	if s.repairedAt != nil && !at.After(*s.repairedAt) {
		log.InfoContext(ctx, "a damage report from before the last repair changes nothing")
		return nil
	}
	flag := s.status == StatusRented || s.status == StatusReserved
	if _, err := tx.Exec(ctx, recordDamageSQL, id, at, r.Severity, s.open(), flag, events.DamageSeverities); err != nil {
		return err
	}
	if s.status != StatusAvailable {
		log.InfoContext(ctx, "damage recorded; the car's status stays", slog.String("status", string(s.status)), slog.Bool("maintenanceDue", flag))
		return nil
	}
	return setFactStatus(ctx, tx, id, StatusMaintenance, at)
}

// applyRepair records a repair completed at completedAt and makes a car in the workshop
// available again — unless damage reported after the repair is still open, the car's status
// changed after the repair (a fleet manager's later decision wins), or the car is off the
// road (only a fleet manager brings it back). A flag for the return is cleared when the
// repair covers the reported damage.
func applyRepair(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := decodeInbound[events.RepairCompletion](e)
	if err != nil {
		return err
	}
	at, err := inboundTime(r.VehicleID, "completedAt", r.CompletedAt)
	if err != nil {
		return err
	}
	id := strings.ToLower(r.VehicleID)
	s, err := lockDamage(ctx, tx, id)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, recordRepairSQL, id, at); err != nil {
		return err
	}
	log := platform.LoggerFrom(ctx).With(slog.String("vehicle", id))
	switch {
	case s.status != StatusMaintenance:
		log.InfoContext(ctx, "repair recorded; the car is not in the workshop", slog.String("status", string(s.status)))
		return nil
	case s.damageAt != nil && s.damageAt.After(at):
		log.InfoContext(ctx, "damage reported after the repair is still open; the car stays in the workshop")
		return nil
	case s.statusChangedAt.After(at):
		log.InfoContext(ctx, "the car went to the workshop after the repair; it stays there")
		return nil
	}
	return setFactStatus(ctx, tx, id, StatusAvailable, at)
}

// setFactStatus changes the car's status as a fact of time at and announces it.
func setFactStatus(ctx context.Context, tx pgx.Tx, id string, to Status, at time.Time) error {
	v, err := scanVehicle(tx.QueryRow(ctx, setFactStatusSQL, id, at, string(to)))
	if err != nil {
		return ruleError(err)
	}
	return emitVehicle(ctx, tx, events.VehicleStatusChanged, v)
}

// decodeInbound decodes an inbound payload; one that does not decode can never be applied.
func decodeInbound[T any](e cloudevents.Event) (T, error) {
	v, err := events.DecodeData[T](e)
	if err != nil {
		return v, events.Permanent(err)
	}
	return v, nil
}

// inboundTime checks the car's id and parses the event's time field (RFC 3339).
func inboundTime(vehicleID, field, raw string) (time.Time, error) {
	if !platform.ValidUUID(vehicleID) {
		return time.Time{}, inboundInvalid("vehicleId", "must be a UUID")
	}
	at, err := platform.ParseTime(raw)
	if err != nil {
		return time.Time{}, inboundInvalid(field, "must be an RFC 3339 time")
	}
	return at, nil
}

func inboundInvalid(field, reason string) error {
	return events.Permanent(platform.Invalid("the event's payload is invalid", platform.FieldError{Field: field, Reason: reason}))
}

func unknownVehicle() error {
	return events.Permanent(platform.Invalid("the event names a vehicle fleet does not know",
		platform.FieldError{Field: "vehicleId", Reason: "no such vehicle"}))
}

// Telematics is what the inbound events told about a car: the newest readings, each with
// the time it was taken (nil: none yet), and the open damage.
type Telematics struct {
	VehicleID         string         `json:"vehicleId"`
	Status            Status         `json:"status"`
	Odometer          *OdometerValue `json:"odometer"`
	Fuel              *FuelValue     `json:"fuel"`
	Position          *PositionValue `json:"position"`
	Damage            *DamageValue   `json:"damage"`
	RepairCompletedAt *time.Time     `json:"repairCompletedAt"`
	MaintenanceDue    bool           `json:"maintenanceDue"`
}

// OdometerValue is an odometer reading.
type OdometerValue struct {
	Km     int64     `json:"km"`
	ReadAt time.Time `json:"readAt"`
}

// FuelValue is a fuel reading in eighths of a tank.
type FuelValue struct {
	Eighths int       `json:"eighths"`
	ReadAt  time.Time `json:"readAt"`
}

// PositionValue is a position reading (WGS 84).
type PositionValue struct {
	Latitude  float64   `json:"latitude"`
	Longitude float64   `json:"longitude"`
	ReadAt    time.Time `json:"readAt"`
}

// DamageValue is the open damage: the newest report since the last repair, with the worst
// severity since then.
type DamageValue struct {
	ReportedAt time.Time `json:"reportedAt"`
	Severity   string    `json:"severity"`
}

const telematicsSQL = `SELECT id, status, odometer_km, odometer_read_at, fuel_eighths, fuel_read_at,
	latitude, longitude, position_read_at, damage_reported_at, damage_severity, repair_completed_at, maintenance_due
FROM fleet.vehicles WHERE id = $1`

// Telematics returns what the inbound events told about car id (a not-found error when
// fleet has no such car).
func (s *Store) Telematics(ctx context.Context, id string) (Telematics, error) {
	var (
		t                    Telematics
		km                   *int64
		fuel                 *int
		lat, lon             *float64
		odoAt, fuelAt, posAt *time.Time
		damageAt             *time.Time
		severity             *string
	)
	err := s.db.Pool.QueryRow(ctx, telematicsSQL, id).Scan(&t.VehicleID, &t.Status, &km, &odoAt, &fuel, &fuelAt,
		&lat, &lon, &posAt, &damageAt, &severity, &t.RepairCompletedAt, &t.MaintenanceDue)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, platform.NotFound("no vehicle with this id")
	}
	if err != nil {
		return t, err
	}
	if km != nil && odoAt != nil {
		t.Odometer = &OdometerValue{Km: *km, ReadAt: odoAt.UTC()}
	}
	if fuel != nil && fuelAt != nil {
		t.Fuel = &FuelValue{Eighths: *fuel, ReadAt: fuelAt.UTC()}
	}
	if lat != nil && lon != nil && posAt != nil {
		t.Position = &PositionValue{Latitude: *lat, Longitude: *lon, ReadAt: posAt.UTC()}
	}
	if damageAt != nil && severity != nil && (t.RepairCompletedAt == nil || damageAt.After(*t.RepairCompletedAt)) {
		t.Damage = &DamageValue{ReportedAt: damageAt.UTC(), Severity: *severity}
	}
	return t, nil
}
