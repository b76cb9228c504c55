package locations

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

// Migrations is the locations schema.
var Migrations = database.Migrations{Schema: "locations", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{events.Migrations()}}

// Store keeps branches in PostgreSQL.
type Store struct {
	db *database.DB
}

// Filter narrows a list; empty fields match everything.
type Filter struct {
	Status Status
	City   string
}

const selectColumns = `code, name, street, postal_code, city, country, latitude, longitude,
	phone, email, time_zone, opening_hours, status, version, created_at, updated_at`

const listSQL = `SELECT ` + selectColumns + ` FROM locations.locations
WHERE ($1 = '' OR status = $1) AND ($2 = '' OR lower(city) = lower($2))
ORDER BY code`

const getSQL = `SELECT ` + selectColumns + ` FROM locations.locations WHERE code = $1`

const insertSQL = `INSERT INTO locations.locations
	(code, name, street, postal_code, city, country, latitude, longitude, phone, email, time_zone, opening_hours)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
RETURNING ` + selectColumns

// updateSQL bumps the version; $13 = 0 skips the optimistic-concurrency check.
const updateSQL = `UPDATE locations.locations SET
	name = $2, street = $3, postal_code = $4, city = $5, country = $6, latitude = $7, longitude = $8,
	phone = $9, email = $10, time_zone = $11, opening_hours = $12,
	version = version + 1, updated_at = now()
WHERE code = $1 AND ($13 = 0 OR version = $13)
RETURNING ` + selectColumns

const setStatusSQL = `UPDATE locations.locations SET status = $2, version = version + 1, updated_at = now()
WHERE code = $1
RETURNING ` + selectColumns

func scanLocation(row pgx.Row) (Location, error) {
	var (
		l        Location
		lat, lng *float64
	)
	err := row.Scan(&l.Code, &l.Name, &l.Address.Street, &l.Address.PostalCode, &l.Address.City,
		&l.Address.Country, &lat, &lng, &l.Phone, &l.Email, &l.TimeZone, &l.OpeningHours,
		&l.Status, &l.Version, &l.CreatedAt, &l.UpdatedAt)
	if err != nil {
		return Location{}, err
	}
	if lat != nil && lng != nil {
		l.Coordinates = &Coordinates{Latitude: *lat, Longitude: *lng}
	}
	if l.OpeningHours == nil {
		l.OpeningHours = []OpeningHours{}
	}
	return l, nil
}

// List returns the branches matching f, ordered by code.
func (s *Store) List(ctx context.Context, f Filter) ([]Location, error) {
	rows, err := s.db.Pool.Query(ctx, listSQL, string(f.Status), f.City)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Location, error) { return scanLocation(r) })
	if out == nil {
		out = []Location{}
	}
	return out, err
}

// Get returns the branch with code.
func (s *Store) Get(ctx context.Context, code string) (Location, error) {
	l, err := scanLocation(s.db.Pool.QueryRow(ctx, getSQL, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return Location{}, platform.NotFound("no location with code %s", code)
	}
	return l, err
}

func coordinateArgs(c *Coordinates) (lat, lng any) {
	if c == nil {
		return nil, nil
	}
	return c.Latitude, c.Longitude
}

// writeAndEmit runs one statement returning a branch and records event typ about the result
// in the same transaction: the change and its event commit together or not at all.
func (s *Store) writeAndEmit(ctx context.Context, typ string, sql string, args ...any) (Location, error) {
	var l Location
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if l, err = scanLocation(tx.QueryRow(ctx, sql, args...)); err != nil {
			return err
		}
		return emitLocation(ctx, tx, typ, l)
	})
	return l, err
}

func emitLocation(ctx context.Context, tx pgx.Tx, typ string, l Location) error {
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, l.Code, events.Location{
		Code: l.Code, Version: int64(l.Version), Name: l.Name, City: l.Address.City, Status: string(l.Status),
	})
}

// Create stores a new branch; an existing code is a conflict.
func (s *Store) Create(ctx context.Context, n NewLocation) (Location, error) {
	lat, lng := coordinateArgs(n.Coordinates)
	l, err := s.writeAndEmit(ctx, events.LocationCreated, insertSQL, n.Code, n.Name, n.Address.Street,
		n.Address.PostalCode, n.Address.City, n.Address.Country, lat, lng, n.Phone, n.Email,
		n.TimeZone, n.OpeningHours)
	if database.IsCode(err, database.UniqueViolation) {
		return Location{}, platform.Conflict("a location with code %s already exists", n.Code)
	}
	if database.IsCode(err, database.CheckViolation) {
		return Location{}, platform.Invalid("the location breaks a rule of the locations table")
	}
	return l, err
}

// Update replaces a branch's details. ifVersion > 0 requires the stored version to match.
func (s *Store) Update(ctx context.Context, code string, d Details, ifVersion int64) (Location, error) {
	lat, lng := coordinateArgs(d.Coordinates)
	l, err := s.writeAndEmit(ctx, events.LocationUpdated, updateSQL, code, d.Name, d.Address.Street,
		d.Address.PostalCode, d.Address.City, d.Address.Country, lat, lng, d.Phone, d.Email,
		d.TimeZone, d.OpeningHours, ifVersion)
	if errors.Is(err, pgx.ErrNoRows) {
		return Location{}, s.missOrStale(ctx, code)
	}
	if database.IsCode(err, database.CheckViolation) {
		return Location{}, platform.Invalid("the location breaks a rule of the locations table")
	}
	return l, err
}

// SetStatus changes a branch's status; setting the status it has is a no-op (no new
// version, no event).
func (s *Store) SetStatus(ctx context.Context, code string, status Status, ifVersion int64) (Location, error) {
	var l Location
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if l, err = scanLocation(tx.QueryRow(ctx, getSQL+` FOR UPDATE`, code)); err != nil {
			return err
		}
		if ifVersion > 0 && int64(l.Version) != ifVersion {
			return platform.Stale("location", code)
		}
		if l.Status == status {
			return nil
		}
		if l, err = scanLocation(tx.QueryRow(ctx, setStatusSQL, code, string(status))); err != nil {
			return err
		}
		return emitLocation(ctx, tx, events.LocationStatusChanged, l)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Location{}, platform.NotFound("no location with code %s", code)
	}
	return l, err
}

// missOrStale tells a missing branch from a version mismatch after a conditional update
// matched no row.
func (s *Store) missOrStale(ctx context.Context, code string) error {
	if _, err := s.Get(ctx, code); err != nil {
		return err
	}
	return platform.Stale("location", code)
}
