package fleet

import (
	"context"
	"embed"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the fleet schema: vehicles, the status transition table, the bookings read
// model and the demo fleet, with the events package's inbox (and outbox) for the reservation
// events that feed the read model.
var Migrations = database.Migrations{Schema: "fleet", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations()}}

// Store keeps vehicles and fleet's bookings read model in PostgreSQL. Every rule that a
// concurrent writer could break is checked by the statement that writes (a conditional
// UPDATE), never by reading first and writing after.
type Store struct {
	db *database.DB
}

// NewStore returns the store over db. The events issue's CloudEvent receiver uses it to feed
// ApplyBooking.
func NewStore(db *database.DB) *Store { return &Store{db: db} }

// InventoryFilter narrows the inventory list; empty fields match everything.
type InventoryFilter struct {
	Status       Status
	LocationCode string
	Category     Category
	Page         int
	PageSize     int
}

const vehicleColumns = `id, name, category, location_code, seats, fuel, transmission, licence_plate,
	status, daily_rate_net_cents, version, created_at, updated_at`

const getVehicleSQL = `SELECT ` + vehicleColumns + ` FROM fleet.vehicles WHERE id = $1`

const inventoryWhere = ` FROM fleet.vehicles
WHERE ($1 = '' OR status = $1) AND ($2 = '' OR location_code = $2) AND ($3 = '' OR category = $3)`

const inventorySQL = `SELECT ` + vehicleColumns + inventoryWhere + `
ORDER BY location_code, name COLLATE "C", licence_plate
LIMIT $4 OFFSET $5`

const inventoryCountSQL = `SELECT count(*)` + inventoryWhere

const insertVehicleSQL = `INSERT INTO fleet.vehicles
	(name, category, location_code, seats, fuel, transmission, licence_plate, status, daily_rate_net_cents)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING ` + vehicleColumns

// updateDetailsSQL replaces what the car is; $8 = 0 skips the optimistic-concurrency check.
// The details the car already has are a no-op (same version, no event), as a status or a
// branch it already has are — also under an If-Match the no-op has outdated: a retried PUT
// whose first try was applied finds the car as it asked for, not a 412.
const updateDetailsSQL = `UPDATE fleet.vehicles SET
	name = $2, category = $3, seats = $4, fuel = $5, transmission = $6, licence_plate = $7,
	version = version + CASE WHEN ` + sameDetails + ` THEN 0 ELSE 1 END,
	updated_at = CASE WHEN ` + sameDetails + ` THEN updated_at ELSE now() END
WHERE id = $1 AND ($8 = 0 OR version = $8 OR ` + sameDetails + `)
RETURNING ` + vehicleColumns

// sameDetails holds when the car's details are those of updateDetailsSQL's arguments.
const sameDetails = `(name, category, seats, fuel, transmission, licence_plate) IS NOT DISTINCT FROM ($2, $3, $4::int, $5, $6, $7)`

// setStatusSQL changes the status only along a row of fleet.status_transitions, decided by
// the UPDATE itself, so two concurrent changes cannot both pass a check made earlier. The
// status a vehicle already has is a no-op (same version). A car promised to a booking that
// has not ended is not taken out of service — that would strand the booking, as a move
// would; the workshop (maintenance) is a stay the car comes back from, and stays allowed.
const setStatusSQL = `UPDATE fleet.vehicles v SET
	status = $2,
	version = version + CASE WHEN status = $2 THEN 0 ELSE 1 END,
	updated_at = CASE WHEN status = $2 THEN updated_at ELSE now() END,
	status_changed_at = CASE WHEN status = $2 THEN status_changed_at ELSE now() END
WHERE id = $1 AND ($3 = 0 OR version = $3 OR status = $2)
  AND (status = $2 OR EXISTS (
	SELECT 1 FROM fleet.status_transitions t WHERE t.from_status = v.status AND t.to_status = $2)
	AND ($2 <> 'out_of_service' OR NOT ` + bookedAhead + `))
RETURNING ` + vehicleColumns

// bookedAhead holds for vehicle v promised to a booking that has not ended.
const bookedAhead = `EXISTS (SELECT 1 FROM fleet.bookings b WHERE b.vehicle_id = v.id AND b.blocking AND upper(b.period) > now())`

// moveSQL moves a vehicle unless it is with a customer (rented), set aside for a pickup
// (reserved), or promised to a booking that has not ended: moving it would strand that
// booking at the old branch. Moving to where it already is is a no-op.
const moveSQL = `UPDATE fleet.vehicles v SET
	location_code = $2,
	version = version + CASE WHEN location_code = $2 THEN 0 ELSE 1 END,
	updated_at = CASE WHEN location_code = $2 THEN updated_at ELSE now() END,
	location_changed_at = CASE WHEN location_code = $2 THEN location_changed_at ELSE now() END
WHERE id = $1 AND ($3 = 0 OR version = $3 OR location_code = $2)
  AND (location_code = $2 OR (
	status NOT IN ('rented', 'reserved')
	AND NOT ` + bookedAhead + `))
RETURNING ` + vehicleColumns

// setRateSQL sets or clears (NULL) the vehicle's own daily rate; the same rate is a no-op.
const setRateSQL = `UPDATE fleet.vehicles SET
	daily_rate_net_cents = $2,
	version = version + CASE WHEN daily_rate_net_cents IS NOT DISTINCT FROM $2::bigint THEN 0 ELSE 1 END,
	updated_at = CASE WHEN daily_rate_net_cents IS NOT DISTINCT FROM $2::bigint THEN updated_at ELSE now() END
WHERE id = $1 AND ($3 = 0 OR version = $3 OR daily_rate_net_cents IS NOT DISTINCT FROM $2::bigint)
RETURNING ` + vehicleColumns

// candidatesSQL finds the vehicles a search may offer: at the branch, of the asked kind, not
// rented, in the workshop or off the road, and without a blocking booking overlapping the
// period [pickup, return). Ordered by name so a capped set is the same on every request.
//
// Its shape keeps one plan whatever the values and whether PostgreSQL plans it for them or
// generically (docs/fleet.md, "At scale"): the branch's blocked cars are one range of
// bookings_branch_blocking_idx (GiST on the booking's branch and period, migration 0007),
// read once into a hashed subplan, and the branch's cars are checked against it — not one
// probe of the bookings per candidate car (~200 at a busy branch: most of a search's
// PostgreSQL time), nor a hash anti join over a scan of every booking (what NOT EXISTS got as
// a custom plan: 21–27 ms at 100k bookings). TestSearchPlanAtScale checks both plans.
// fleet.bookings.location_code is the car's branch, kept in step by triggers (0007). A car
// with a blocking one-way booking ending before the period is left out: that booking takes
// it to another branch first (0008; booking it would be reservations-api's 409).
// (Conservative: a later one-way booking bringing it back is not looked for.)
//
// It reads only what an offer shows and pricing needs (searchColumns).
const candidatesSQL = `SELECT ` + searchColumns + ` FROM fleet.vehicles v
WHERE v.location_code = $1 AND v.status IN ('available', 'reserved')
  AND ($2 = '' OR v.category = $2) AND v.seats >= $3
  AND ($4 = '' OR v.fuel = $4) AND ($5 = '' OR v.transmission = $5)
  AND v.id NOT IN (SELECT b.vehicle_id FROM fleet.bookings b
	WHERE b.location_code = $1 AND b.blocking AND b.period && tstzrange($6, $7, '[)'))
  AND v.id NOT IN (SELECT b.vehicle_id FROM fleet.bookings b
	WHERE b.blocking AND b.one_way AND upper(b.period) <= $6)
ORDER BY v.name COLLATE "C", v.id
LIMIT $8`

// searchColumns are the columns of a car a search uses, in the order Candidates scans them.
const searchColumns = `id, name, category, location_code, seats, fuel, transmission, daily_rate_net_cents`

const allowedNextSQL = `SELECT coalesce(string_agg(to_status, ', ' ORDER BY to_status), '')
FROM fleet.status_transitions WHERE from_status = $1`

func scanVehicle(row pgx.Row) (Vehicle, error) {
	var v Vehicle
	err := row.Scan(&v.ID, &v.Name, &v.Category, &v.LocationCode, &v.Seats, &v.Fuel, &v.Transmission,
		&v.LicencePlate, &v.Status, &v.DailyRateNetCents, &v.Version, &v.CreatedAt, &v.UpdatedAt)
	// Times leave the API in UTC, whatever the server's zone.
	v.CreatedAt, v.UpdatedAt = v.CreatedAt.UTC(), v.UpdatedAt.UTC()
	return v, err
}

func collectVehicles(rows pgx.Rows) ([]Vehicle, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Vehicle, error) { return scanVehicle(r) })
	if out == nil {
		out = []Vehicle{}
	}
	return out, err
}

// Get returns the vehicle with id.
func (s *Store) Get(ctx context.Context, id string) (Vehicle, error) {
	v, err := scanVehicle(s.db.Pool.QueryRow(ctx, getVehicleSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, platform.NotFound("no vehicle with id %s", id)
	}
	return v, err
}

// Inventory returns one page of the vehicles matching f, ordered by branch, name (byte order,
// the same on every server) and plate,
// and how many match in all.
func (s *Store) Inventory(ctx context.Context, f InventoryFilter) ([]Vehicle, int, error) {
	args := []any{string(f.Status), f.LocationCode, string(f.Category)}
	var total int
	if err := s.db.Pool.QueryRow(ctx, inventoryCountSQL, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, inventorySQL, append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, err
	}
	items, err := collectVehicles(rows)
	return items, total, err
}

// Candidates returns at most limit vehicles the search q may offer, before pricing, with the
// fields an offer needs (searchColumns; the others are zero).
func (s *Store) Candidates(ctx context.Context, q SearchQuery, limit int) ([]Vehicle, error) {
	rows, err := s.db.Pool.Query(ctx, candidatesSQL, candidatesArgs(q, limit)...)
	if err != nil {
		return nil, err
	}
	// Plain strings, not the named string types: pgx scans those through reflection, a
	// visible share of a search's Go time at 200 rows.
	// Room for every row up front: growing a slice of Vehicles row by row copied it ~8 times.
	return pgx.AppendRows(make([]Vehicle, 0, min(limit, 1024)), rows, func(r pgx.CollectableRow) (Vehicle, error) {
		var v Vehicle
		var category, fuel, transmission string
		err := r.Scan(&v.ID, &v.Name, &category, &v.LocationCode, &v.Seats, &fuel, &transmission, &v.DailyRateNetCents)
		v.Category, v.Fuel, v.Transmission = Category(category), Fuel(fuel), Transmission(transmission)
		return v, err
	})
}

// candidatesArgs binds candidatesSQL's parameters for q.
func candidatesArgs(q SearchQuery, limit int) []any {
	return []any{q.LocationCode, string(q.Category), q.MinSeats, string(q.Fuel), string(q.Transmission), q.PickupAt, q.ReturnAt, limit}
}

// Create stores a new vehicle; a plate already in the fleet is a conflict.
func (s *Store) Create(ctx context.Context, n NewVehicle) (Vehicle, error) {
	v, err := s.writeEmitting(ctx, events.VehicleCreated, insertVehicleSQL, n.Name, string(n.Category), n.LocationCode,
		n.Seats, string(n.Fuel), string(n.Transmission), n.LicencePlate, string(n.Status), n.DailyRateNetCents)
	return v, s.writeError(err, n.LicencePlate)
}

// Update replaces a vehicle's details. ifVersion > 0 requires the stored version to match.
func (s *Store) Update(ctx context.Context, id string, d Details, ifVersion int64) (Vehicle, error) {
	v, err := s.writeEmitting(ctx, events.VehicleUpdated, updateDetailsSQL, id, d.Name, string(d.Category), d.Seats,
		string(d.Fuel), string(d.Transmission), d.LicencePlate, ifVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, s.whyNot(ctx, id, ifVersion, nil)
	}
	return v, s.writeError(err, d.LicencePlate)
}

// SetStatus changes a vehicle's status along an allowed transition (docs/fleet.md).
func (s *Store) SetStatus(ctx context.Context, id string, to Status, ifVersion int64) (Vehicle, error) {
	v, err := s.writeEmitting(ctx, events.VehicleStatusChanged, setStatusSQL, id, string(to), ifVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, s.whyNot(ctx, id, ifVersion, func(cur Vehicle) error {
			var booked bool
			if err := s.db.Pool.QueryRow(ctx, `SELECT `+bookedAhead+` FROM fleet.vehicles v WHERE v.id = $1`, id).Scan(&booked); err != nil {
				return err
			}
			if to == StatusOutOfService && booked {
				return platform.Conflict("vehicle %s has a booking that has not ended and cannot be taken out of service: give its customer another car first", id)
			}
			var allowed string
			if err := s.db.Pool.QueryRow(ctx, allowedNextSQL, string(cur.Status)).Scan(&allowed); err != nil {
				return err
			}
			return platform.Conflict("vehicle %s is %s and cannot become %s; from %s it can become: %s",
				id, cur.Status, to, cur.Status, allowed)
		})
	}
	return v, ruleError(err)
}

// Move puts a vehicle at another branch, unless it is rented, reserved or has a booking that
// has not ended.
func (s *Store) Move(ctx context.Context, id, locationCode string, ifVersion int64) (Vehicle, error) {
	v, err := s.writeEmitting(ctx, events.VehicleMoved, moveSQL, id, locationCode, ifVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, s.whyNot(ctx, id, ifVersion, func(cur Vehicle) error {
			if cur.Status == StatusRented || cur.Status == StatusReserved {
				return platform.Conflict("vehicle %s is %s and cannot be moved", id, cur.Status)
			}
			return platform.Conflict("vehicle %s has a booking that has not ended and cannot be moved", id)
		})
	}
	return v, ruleError(err)
}

// SetDailyRate sets the vehicle's own net daily rate in cents, or clears it (nil) so that
// the category policy applies again.
func (s *Store) SetDailyRate(ctx context.Context, id string, cents *int64, ifVersion int64) (Vehicle, error) {
	v, err := s.writeEmitting(ctx, events.VehicleUpdated, setRateSQL, id, cents, ifVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return Vehicle{}, s.whyNot(ctx, id, ifVersion, nil)
	}
	return v, err
}

// writeEmitting runs one statement returning a vehicle and, when it changed the row, records
// event typ in the outbox in the same transaction. A statement that changed nothing (the
// status it already has) keeps updated_at, which then differs from the transaction's now().
func (s *Store) writeEmitting(ctx context.Context, typ, sql string, args ...any) (Vehicle, error) {
	var v Vehicle
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if v, err = scanVehicle(tx.QueryRow(ctx, sql, args...)); err != nil {
			return err
		}
		var changed bool
		if err := tx.QueryRow(ctx, `SELECT $1::timestamptz = now()`, v.UpdatedAt).Scan(&changed); err != nil || !changed {
			return err
		}
		return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, v.ID, events.Vehicle{
			VehicleID: v.ID, Version: v.Version, Category: string(v.Category), LocationCode: v.LocationCode,
			Status: string(v.Status), LicensePlate: v.LicencePlate,
		})
	})
	return v, err
}

// whyNot explains, after a conditional UPDATE matched no row, what stopped it: a missing
// vehicle (404), a stale If-Match (412), else the rule the statement enforced (409, via
// rule). The decision was the UPDATE's; this read only words the answer.
func (s *Store) whyNot(ctx context.Context, id string, ifVersion int64, rule func(Vehicle) error) error {
	cur, err := s.Get(ctx, id)
	switch {
	case err != nil:
		return err
	case ifVersion > 0 && cur.Version != ifVersion:
		return platform.Stale("vehicle", id)
	case rule != nil:
		return rule(cur)
	default:
		return platform.ConflictForNow("vehicle %s changed concurrently; try again", id)
	}
}

// writeError maps the constraint violations of an INSERT or UPDATE of vehicles.
func (s *Store) writeError(err error, plate string) error {
	switch {
	case err == nil:
		return nil
	case database.IsCode(err, database.UniqueViolation):
		return platform.Conflict("a vehicle with licence plate %s is already in the fleet", plate)
	case database.IsCode(err, database.CheckViolation):
		return platform.Invalid("the vehicle breaks a rule of the vehicles table")
	}
	return err
}

// ruleError maps the schema's trigger (fleet.vehicle_rules), which only fires when a write
// slipped past the statement's own condition, to the conflict it is.
func ruleError(err error) error {
	if database.IsCode(err, database.CheckViolation) {
		return platform.Conflict("the change breaks a vehicle rule; reload the vehicle and try again")
	}
	return err
}
