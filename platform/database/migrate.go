package database

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Migrations is a function's schema and its embedded SQL files in FS under Dir, named
// NNNN_description.sql and applied in version order, each exactly once. Files run with the
// schema first on the search_path, so shared SQL (the events package's outbox and inbox)
// can create its tables in whichever function's schema includes it.
type Migrations struct {
	Schema string
	FS     fs.FS
	Dir    string
	// Track names the table recording applied versions (default schema_migrations). Sets
	// that share a schema but are numbered apart need their own.
	Track string
	// With are further sets applied after this one, in the same schema (e.g. the outbox).
	With []Migrations
}

func (m Migrations) track() string {
	if m.Track == "" {
		return "schema_migrations"
	}
	return m.Track
}

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// schemaName is a schema's shape; its length (at most 63, PostgreSQL's identifiers) is checked
// apart: the counted repetition {0,62} compiled to 62 copies of the class at every start.
var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// load reads and orders the migration files.
func (m Migrations) load() ([]migration, error) {
	if len(m.Schema) > 63 || !schemaName.MatchString(m.Schema) {
		return nil, fmt.Errorf("invalid schema name %q", m.Schema)
	}
	dir := m.Dir
	if dir == "" {
		dir = "."
	}
	entries, err := fs.ReadDir(m.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations of %s: %w", m.Schema, err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".sql" {
			continue
		}
		match := migrationName.FindStringSubmatch(e.Name())
		if match == nil {
			return nil, fmt.Errorf("migration %s/%s: name must be NNNN_description.sql", m.Schema, e.Name())
		}
		v, _ := strconv.Atoi(match[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s of %s share version %d", prev, e.Name(), m.Schema, v)
		}
		seen[v] = e.Name()
		body, err := fs.ReadFile(m.FS, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// Latest is the highest version among the files.
func (m Migrations) Latest() (int, error) {
	ms, err := m.load()
	if err != nil || len(ms) == 0 {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

// Migrate applies the pending migrations of m and of the sets it brings along, each set in
// one transaction. A transaction-scoped advisory lock per schema lets several replicas start
// at once: one applies, the others wait and then find nothing to do.
//
// A replica starting on a schema that is up to date (every start but a rollout's first) only
// asks, in one round trip, which versions are applied: no transaction, no lock, no DDL
// (docs/performance.md, "Start time").
func (db *DB) Migrate(ctx context.Context, m Migrations) (applied int, err error) {
	if db.CheckMigrated(ctx, m) == nil {
		return 0, nil
	}
	applied, err = db.migrateOne(ctx, m)
	if err != nil {
		return 0, err
	}
	for _, w := range m.With {
		w.Schema = m.Schema
		n, err := db.Migrate(ctx, w)
		if err != nil {
			return 0, err
		}
		applied += n
	}
	return applied, nil
}

func (db *DB) migrateOne(ctx context.Context, m Migrations) (applied int, err error) {
	ms, err := m.load()
	if err != nil {
		return 0, err
	}
	err = db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('orange.migrate.' || $1))`, m.Schema); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		ident := pgx.Identifier{m.Schema}.Sanitize()
		track := ident + "." + pgx.Identifier{m.track()}.Sanitize()
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+ident+`;
SET LOCAL search_path TO `+ident+`, public;
CREATE TABLE IF NOT EXISTS `+track+` (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
			return fmt.Errorf("create schema %s: %w", m.Schema, err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM `+track).Scan(&current); err != nil {
			return err
		}
		for _, mg := range ms {
			if mg.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, mg.sql); err != nil {
				return fmt.Errorf("migration %s/%s: %w", m.Schema, mg.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+track+` (version, name) VALUES ($1, $2)`, mg.version, mg.name); err != nil {
				return err
			}
			applied++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return applied, nil
}

// ErrMigrationsPending means the schema is behind the binary.
var ErrMigrationsPending = errors.New("migrations pending")

// CheckMigrated returns nil when every migration of m (and of the sets it brings along) is
// applied; it is a readiness check. It asks for every set's version in one query.
func (db *DB) CheckMigrated(ctx context.Context, m Migrations) error {
	sets := m.sets()
	latest := make([]int, len(sets))
	for i, s := range sets {
		v, err := s.Latest()
		if err != nil {
			return err
		}
		latest[i] = v
	}
	current, err := db.applied(ctx, sets)
	if err != nil {
		if IsCode(err, "42P01") || IsCode(err, "3F000") { // undefined table / schema
			return ErrMigrationsPending
		}
		return errors.New("database unreachable")
	}
	for i := range sets {
		if current[i] < latest[i] {
			return ErrMigrationsPending
		}
	}
	return nil
}

// sets is m followed by the sets it brings along (recursively), each in m's schema.
func (m Migrations) sets() []Migrations {
	out := []Migrations{m}
	for _, w := range m.With {
		w.Schema = m.Schema
		out = append(out, w.sets()...)
	}
	return out
}

// applied reads the highest applied version of each set in one statement over the simple
// protocol: one round trip, where a statement per set, each prepared on a new connection,
// took two per set (a replica's start and every readiness probe pay it).
func (db *DB) applied(ctx context.Context, sets []Migrations) ([]int, error) {
	var q strings.Builder
	q.WriteString("SELECT ")
	for i, s := range sets {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(SELECT coalesce(max(version), 0) FROM " + pgx.Identifier{s.Schema}.Sanitize() + "." + pgx.Identifier{s.track()}.Sanitize() + ")")
	}
	current := make([]int, len(sets))
	dest := make([]any, len(sets))
	for i := range current {
		dest[i] = &current[i]
	}
	err := db.Pool.QueryRow(ctx, q.String(), pgx.QueryExecModeSimpleProtocol).Scan(dest...)
	return current, err
}
