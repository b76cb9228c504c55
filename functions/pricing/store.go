package pricing

import (
	"context"
	"embed"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the pricing schema.
var Migrations = database.Migrations{Schema: "pricing", FS: migrationFiles, Dir: "migrations"}

// Store keeps rate policies in PostgreSQL.
type Store struct {
	db *database.DB
}

// PolicyFilter narrows a policy list; empty fields match everything.
type PolicyFilter struct {
	Category Category
	Location string
	// ActiveAt keeps the policies whose window contains this instant.
	ActiveAt *time.Time
	// Status is "active" (the default), "inactive" or "all".
	Status   string
	Page     int
	PageSize int
}

const policyColumns = `id::text, category, location_code, daily_rate_net_cents, valid_from, valid_to,
	active, version, created_at, updated_at, deactivated_at`

const policyWhere = ` FROM pricing.rate_policies
WHERE ($1 = '' OR category = $1)
  AND ($2 = '' OR location_code = $2)
  AND ($3::timestamptz IS NULL OR validity @> $3::timestamptz)
  AND ($4 = 'all' OR active = ($4 = 'active'))`

const listPoliciesSQL = `SELECT ` + policyColumns + policyWhere + `
ORDER BY category, location_code NULLS FIRST, valid_from, id
LIMIT $5 OFFSET $6`

const countPoliciesSQL = `SELECT count(*)` + policyWhere

const getPolicySQL = `SELECT ` + policyColumns + ` FROM pricing.rate_policies WHERE id = $1`

const insertPolicySQL = `INSERT INTO pricing.rate_policies
	(category, location_code, daily_rate_net_cents, valid_from, valid_to)
VALUES ($1, $2, $3, $4, $5)
RETURNING ` + policyColumns

// updatePolicySQL replaces an active policy's terms; replacing them with what they are is a
// no-op (same version). $5 = 0 skips the optimistic-concurrency check.
const updatePolicySQL = `UPDATE pricing.rate_policies SET
	daily_rate_net_cents = $2, valid_from = $3, valid_to = $4,
	version = version + CASE WHEN (daily_rate_net_cents, valid_from, valid_to)
		IS NOT DISTINCT FROM ($2::bigint, $3::timestamptz, $4::timestamptz) THEN 0 ELSE 1 END,
	updated_at = CASE WHEN (daily_rate_net_cents, valid_from, valid_to)
		IS NOT DISTINCT FROM ($2::bigint, $3::timestamptz, $4::timestamptz) THEN updated_at ELSE now() END
WHERE id = $1 AND active AND ($5 = 0 OR version = $5)
RETURNING ` + policyColumns

// deactivatePolicySQL deactivates a policy; deactivating an inactive one is a no-op.
const deactivatePolicySQL = `UPDATE pricing.rate_policies SET
	active = false,
	deactivated_at = CASE WHEN active THEN now() ELSE deactivated_at END,
	version = version + CASE WHEN active THEN 1 ELSE 0 END,
	updated_at = CASE WHEN active THEN now() ELSE updated_at END
WHERE id = $1 AND ($2 = 0 OR version = $2)
RETURNING ` + policyColumns

// overlappingSQL finds the active policy a window collides with, to name it in a 409.
const overlappingSQL = `SELECT id::text, valid_from, valid_to FROM pricing.rate_policies
WHERE active AND category = $1 AND location_code IS NOT DISTINCT FROM $2
  AND validity && tstzrange($3, $4, '[)') AND id::text <> $5
ORDER BY valid_from LIMIT 1`

// ratesAtSQL picks, per category, the active policy valid at $3 for branch $2, the branch's
// own before the general one.
const ratesAtSQL = `SELECT DISTINCT ON (category) category, id::text, daily_rate_net_cents
FROM pricing.rate_policies
WHERE active AND category = ANY($1::text[])
  AND (location_code = $2 OR location_code IS NULL)
  AND validity @> $3::timestamptz
ORDER BY category, location_code NULLS LAST`

func scanPolicy(row pgx.Row) (RatePolicy, error) {
	var p RatePolicy
	err := row.Scan(&p.ID, &p.Category, &p.LocationCode, &p.DailyRateNetCents, &p.ValidFrom, &p.ValidTo,
		&p.Active, &p.Version, &p.CreatedAt, &p.UpdatedAt, &p.DeactivatedAt)
	if err != nil {
		return RatePolicy{}, err
	}
	p.DailyRateGrossCents = GrossCents(p.DailyRateNetCents)
	p.ValidFrom, p.CreatedAt, p.UpdatedAt = p.ValidFrom.UTC(), p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	for _, t := range []**time.Time{&p.ValidTo, &p.DeactivatedAt} {
		if *t != nil {
			u := (**t).UTC()
			*t = &u
		}
	}
	return p, nil
}

// List returns one page of the policies matching f and how many match in all.
func (s *Store) List(ctx context.Context, f PolicyFilter) ([]RatePolicy, int, error) {
	args := []any{string(f.Category), f.Location, f.ActiveAt, f.Status}
	var total int
	if err := s.db.Pool.QueryRow(ctx, countPoliciesSQL, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, listPoliciesSQL, append(args, f.PageSize, (f.Page-1)*f.PageSize)...)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RatePolicy, error) { return scanPolicy(r) })
	if out == nil {
		out = []RatePolicy{}
	}
	return out, total, err
}

// Get returns the policy with id.
func (s *Store) Get(ctx context.Context, id string) (RatePolicy, error) {
	p, err := scanPolicy(s.db.Pool.QueryRow(ctx, getPolicySQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return RatePolicy{}, platform.NotFound("no rate policy with id %s", id)
	}
	return p, err
}

// Create stores a new policy; one overlapping an active policy of the same category and
// branch is a conflict.
func (s *Store) Create(ctx context.Context, d policyDraft) (RatePolicy, error) {
	p, err := scanPolicy(s.db.Pool.QueryRow(ctx, insertPolicySQL, string(d.category), d.location, d.dailyNet, d.validFrom, d.validTo))
	if err != nil {
		return RatePolicy{}, s.writeError(ctx, err, d.category, d.location, d.terms, "")
	}
	return p, nil
}

// Update replaces an active policy's terms. ifVersion > 0 requires the stored version.
func (s *Store) Update(ctx context.Context, id string, t terms, ifVersion int64) (RatePolicy, error) {
	p, err := scanPolicy(s.db.Pool.QueryRow(ctx, updatePolicySQL, id, t.dailyNet, t.validFrom, t.validTo, ifVersion))
	if errors.Is(err, pgx.ErrNoRows) {
		return RatePolicy{}, s.whyNoRow(ctx, id, true)
	}
	if err != nil {
		cur, getErr := s.Get(ctx, id)
		if getErr != nil {
			return RatePolicy{}, err
		}
		return RatePolicy{}, s.writeError(ctx, err, cur.Category, cur.LocationCode, t, id)
	}
	return p, nil
}

// Deactivate takes a policy out of pricing for good. ifVersion > 0 requires the stored version.
func (s *Store) Deactivate(ctx context.Context, id string, ifVersion int64) (RatePolicy, error) {
	p, err := scanPolicy(s.db.Pool.QueryRow(ctx, deactivatePolicySQL, id, ifVersion))
	if errors.Is(err, pgx.ErrNoRows) {
		return RatePolicy{}, s.whyNoRow(ctx, id, false)
	}
	return p, err
}

// whyNoRow tells a missing policy, a deactivated one (when the change needs an active one)
// and a version mismatch apart after a conditional update matched no row.
func (s *Store) whyNoRow(ctx context.Context, id string, needActive bool) error {
	p, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if needActive && !p.Active {
		return platform.Conflict("rate policy %s is deactivated; create a new policy instead", id)
	}
	return platform.Stale("rate policy", id)
}

// writeError maps a failed insert or update to a domain error: an overlap names the policy
// it collides with, so the fleet manager knows which one to shorten.
func (s *Store) writeError(ctx context.Context, err error, c Category, location *string, t terms, self string) error {
	switch {
	case database.IsCode(err, database.ExclusionViolation):
		var other string
		var from time.Time
		var to *time.Time
		if qErr := s.db.Pool.QueryRow(ctx, overlappingSQL, string(c), location, t.validFrom, t.validTo, self).Scan(&other, &from, &to); qErr != nil {
			return platform.Conflict("the validity window overlaps another active %s policy for the same branch", c)
		}
		until := "open end"
		if to != nil {
			until = to.UTC().Format(time.RFC3339)
		}
		return platform.Conflict("the validity window overlaps active rate policy %s (%s to %s) for %s at %s",
			other, from.UTC().Format(time.RFC3339), until, c, branchName(location))
	case database.IsCode(err, database.CheckViolation):
		return platform.Invalid("the rate policy breaks a rule of the rate_policies table")
	}
	return err
}

func branchName(location *string) string {
	if location == nil {
		return "every branch"
	}
	return *location
}

// policyRate is the rate a policy sets.
type policyRate struct {
	PolicyID      string
	DailyNetCents int64
}

// RatesAt returns, per category, the rate of the active policy valid at the instant at for
// branch location (its own policy, else the general one). Categories no policy prices are
// missing from the map.
func (s *Store) RatesAt(ctx context.Context, location string, at time.Time, categories []Category) (map[Category]policyRate, error) {
	names := make([]string, len(categories))
	for i, c := range categories {
		names[i] = string(c)
	}
	rows, err := s.db.Pool.Query(ctx, ratesAtSQL, names, location, at)
	if err != nil {
		return nil, err
	}
	out := map[Category]policyRate{}
	var (
		c Category
		r policyRate
	)
	_, err = pgx.ForEachRow(rows, []any{&c, &r.PolicyID, &r.DailyNetCents}, func() error {
		out[c] = r
		return nil
	})
	return out, err
}
