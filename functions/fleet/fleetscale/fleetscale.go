// Package fleetscale fills a migrated fleet schema with a busy season's data — 10,000 cars
// over 50 branches and 100,000 bookings by default — for the search-at-scale test and
// benchmark (functions/fleet) and the capacity model's measurement (internal/capacity), so
// both search the same fleet. Not used by vehicles-api itself.
package fleetscale

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The issue-19 scale: 200 cars a branch (the "~200 candidates" of a busy branch).
const (
	Vehicles = 10_000
	Bookings = 100_000
	Branches = 50
)

// Branch is the name of generated branch i: GEN-00 … GEN-(Branches-1).
func Branch(i int) string { return fmt.Sprintf("GEN-%02d", i) }

// generateSQL makes $1 cars and $2 bookings in a few statements (generate_series, no round
// trip per row), deterministically (setseed): cars of every category, fuel and gearbox at
// branches GEN-00 … GEN-(n-1), 5 % of them in the workshop; bookings 1–14 days long starting
// within the next year, about 70 % of them blocking (pending, confirmed, active) as in a
// busy season. Plates are Z-AA 1 … Z-AK 999, outside the demo fleet's area codes. It ends
// as autovacuum would after such a load, with VACUUM ANALYZE (statistics for the planner).
const generateSQL = `
SELECT setseed(0.19);
INSERT INTO fleet.vehicles (id, name, category, location_code, seats, fuel, transmission, licence_plate, status, daily_rate_net_cents)
SELECT ('f2ee0000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
       (ARRAY['VW', 'BMW', 'Audi', 'Opel', 'Ford', 'Škoda', 'Mercedes-Benz', 'Toyota'])[1 + i % 8] || ' ' || (1000 + i % 97)::text,
       (ARRAY['KLEIN', 'KOMPAKT', 'MITTEL', 'OBER', 'SUV', 'KOMBI', 'TRANS', 'LUXUS'])[1 + (i / 7) % 8],
       'GEN-' || lpad((i % $2::int)::text, 2, '0'),
       2 + i % 8,
       (ARRAY['petrol', 'diesel', 'electric', 'hybrid', 'plug_in_hybrid', 'hydrogen'])[1 + i % 6],
       (ARRAY['manual', 'automatic'])[1 + (i / 3) % 2],
       'Z-A' || chr(65 + i / 999) || ' ' || (1 + i % 999)::text,
       CASE WHEN i % 20 = 0 THEN 'maintenance' ELSE 'available' END,
       CASE WHEN i % 10 = 0 THEN 2000 + i % 5000 END
FROM generate_series(0, $1::int - 1) AS i;
INSERT INTO fleet.bookings (reservation_id, vehicle_id, period, status, version)
SELECT gen_random_uuid(),
       ('f2ee0000-0000-4000-8000-' || lpad(to_hex((random() * ($1::int - 1))::int), 12, '0'))::uuid,
       tstzrange(s, s + (1 + (random() * 13)::int) * interval '1 day', '[)'),
       (ARRAY['pending', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'confirmed', 'active', 'completed', 'cancelled', 'expired'])[1 + (random() * 9)::int],
       1
FROM (SELECT date_trunc('hour', now()) + (random() * 365 * 24)::int * interval '1 hour' AS s
      FROM generate_series(1, $2::int)) AS g;
VACUUM ANALYZE fleet.vehicles;
VACUUM ANALYZE fleet.bookings;`

// Generate fills conn's migrated fleet schema with vehicles cars over branches branches and
// bookings bookings. conn is one connection, so that setseed holds for the random() calls
// after it; one statement per Exec, as the extended protocol binds parameters to one
// statement.
func Generate(ctx context.Context, conn *pgx.Conn, vehicles, branches, bookings int) error {
	stmts := strings.Split(strings.TrimSpace(generateSQL), ";\n")
	args := [][]any{nil, {vehicles, branches}, {vehicles, bookings}, nil, nil}
	if len(stmts) != len(args) {
		return fmt.Errorf("fleetscale: %d statements, %d argument lists", len(stmts), len(args))
	}
	for i, s := range stmts {
		if _, err := conn.Exec(ctx, strings.TrimSuffix(s, ";"), args[i]...); err != nil {
			return fmt.Errorf("fleetscale: statement %d: %w", i+1, err)
		}
	}
	return nil
}
