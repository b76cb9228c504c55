package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform/database"
)

// The search at scale (issue 19): a fleet of scaleVehicles cars over scaleBranches branches
// (200 a branch, the "~200 candidates" of a busy branch) with scaleBookings bookings, and
// the branch the measurements search.
const (
	scaleVehicles = 10_000
	scaleBookings = 100_000
	scaleBranches = 50
	scaleBranch   = "GEN-07"
)

// generateFleetSQL fills a migrated fleet schema with $1 cars and $2 bookings in a few
// statements (generate_series, no round trip per row), deterministically (setseed): cars of
// every category, fuel and gearbox at branches GEN-00 … GEN-(n-1), 5 % of them in the
// workshop; bookings 1–14 days long starting within the next year, about 70 % of them
// blocking (pending, confirmed, active) as in a busy season. Plates are Z-AA 1 … Z-AK 999,
// outside the demo fleet's area codes. It ends as autovacuum would after such a load, with
// VACUUM ANALYZE (statistics for the planner).
const generateFleetSQL = `
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

// newScaleDB is a fresh fleet database holding the demo fleet and the generated one.
func newScaleDB(t testing.TB) *database.DB {
	t.Helper()
	ctx := context.Background()
	db := pg.NewDB(t, fleet.Migrations)
	start := time.Now()
	// One connection, so that setseed holds for the random() calls after it; one statement
	// per Exec, as the extended protocol binds parameters to one statement.
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	stmts := strings.Split(strings.TrimSpace(generateFleetSQL), ";\n")
	args := [][]any{nil, {scaleVehicles, scaleBranches}, {scaleVehicles, scaleBookings}, nil, nil}
	require.Len(t, stmts, len(args))
	for i, s := range stmts {
		_, err := conn.Exec(ctx, strings.TrimSuffix(s, ";"), args[i]...)
		require.NoError(t, err, s)
	}
	t.Logf("generated %d cars and %d bookings in %s", scaleVehicles, scaleBookings, time.Since(start).Round(time.Millisecond))
	return db
}

// TestSearchPlanAtScale checks, on 10k cars and 100k bookings, that the search's candidate
// query reads both tables through indexes — never a sequential scan of fleet.bookings or
// fleet.vehicles — whichever plan PostgreSQL picks: a custom plan (the values known, as on a
// connection's first executions) and the generic plan it caches after five. Each search is
// also run once (EXPLAIN ANALYZE) and its time logged.
func TestSearchPlanAtScale(t *testing.T) {
	t.Parallel()
	db := newScaleDB(t)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, "PREPARE candidates AS "+fleet.CandidatesSQL)
	require.NoError(t, err)

	pickup := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Hour)
	searches := []struct {
		name string
		q    fleet.SearchQuery
	}{
		{"branch only", fleet.SearchQuery{LocationCode: scaleBranch, MinSeats: 1, PickupAt: pickup, ReturnAt: pickup.Add(72 * time.Hour)}},
		{"a category", fleet.SearchQuery{LocationCode: scaleBranch, MinSeats: 1, Category: fleet.CategoryKompakt, PickupAt: pickup, ReturnAt: pickup.Add(72 * time.Hour)}},
		{"every filter, 90 days", fleet.SearchQuery{LocationCode: scaleBranch, MinSeats: 5, Category: "SUV", Fuel: "diesel", Transmission: "automatic",
			PickupAt: pickup, ReturnAt: pickup.Add(fleet.MaxRentalDuration)}},
		{"a branch without cars", fleet.SearchQuery{LocationCode: "BER-XXX", MinSeats: 1, PickupAt: pickup, ReturnAt: pickup.Add(24 * time.Hour)}},
	}
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		_, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode)
		require.NoError(t, err)
		for _, s := range searches {
			execute := "EXECUTE candidates(" + sqlLiterals(fleet.CandidatesArgs(s.q, 201)) + ")"
			var plan []explained
			var raw []byte
			require.NoError(t, conn.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+execute).Scan(&raw))
			require.NoError(t, json.Unmarshal(raw, &plan))
			require.Len(t, plan, 1)
			nodes := plan[0].Plan.flatten()
			t.Logf("%s, %s: %.2f ms, %s", mode, s.name, plan[0].ExecutionTime, strings.Join(nodes, " > "))
			// The branch's blocked cars: one range of bookings_branch_blocking_idx, read once
			// (an index-only scan once the visibility map covers the table, a bitmap scan of
			// the same index before), never a probe per car nor a scan of every booking.
			reads := []string{"Index Only Scan on bookings using bookings_branch_blocking_idx", "Index Scan on bookings using bookings_branch_blocking_idx",
				"Bitmap Heap Scan on bookings", "Bitmap Index Scan using bookings_branch_blocking_idx"}
			if !strings.Contains(strings.Join(nodes, " > "), "using bookings_branch_blocking_idx") {
				t.Errorf("%s, %s: bookings_branch_blocking_idx is not in the plan: %s", mode, s.name, raw)
			}
			for _, n := range plan[0].Plan.all() {
				name := n.name()
				if strings.HasPrefix(name, "Seq Scan on bookings") || strings.HasPrefix(name, "Seq Scan on vehicles") {
					t.Errorf("%s, %s: %s in the plan: %s", mode, s.name, name, raw)
				}
				if strings.Contains(name, " on bookings") || strings.Contains(name, "using bookings_") {
					if !slices.Contains(reads, name) {
						t.Errorf("%s, %s: bookings read by %q, not one range of bookings_branch_blocking_idx: %s", mode, s.name, name, raw)
					}
					if n.Loops > 1 {
						t.Errorf("%s, %s: %q ran %d times, not once per search: %s", mode, s.name, name, n.Loops, raw)
					}
				}
			}
		}
	}
}

// explained is what the test reads of EXPLAIN (FORMAT JSON).
type explained struct {
	Plan          planNode `json:"Plan"`
	ExecutionTime float64  `json:"Execution Time"`
}

type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Loops     int        `json:"Actual Loops"`
	Plans     []planNode `json:"Plans"`
}

// name is "Node Type on relation using index".
func (n planNode) name() string {
	s := n.NodeType
	if n.Relation != "" {
		s += " on " + n.Relation
	}
	if n.IndexName != "" {
		s += " using " + n.IndexName
	}
	return s
}

// all lists the plan's nodes depth first.
func (n planNode) all() []planNode {
	out := []planNode{n}
	for _, c := range n.Plans {
		out = append(out, c.all()...)
	}
	return out
}

// flatten lists the plan's nodes depth first, as "Node Type on relation using index".
func (n planNode) flatten() []string {
	var out []string
	for _, c := range n.all() {
		out = append(out, c.name())
	}
	return out
}

// sqlLiterals writes a statement's arguments as SQL literals for EXECUTE.
func sqlLiterals(args []any) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case time.Time:
			out[i] = "'" + v.Format(time.RFC3339Nano) + "'"
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(out, ", ")
}
