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
	"github.com/orangecarrental/orange/functions/fleet/fleetscale"
	"github.com/orangecarrental/orange/platform/database"
)

// The search at scale (issue 19): a fleet of scaleVehicles cars over scaleBranches branches
// (200 a branch, the "~200 candidates" of a busy branch) with scaleBookings bookings, and
// the branch the measurements search.
const (
	scaleVehicles = fleetscale.Vehicles
	scaleBookings = fleetscale.Bookings
	scaleBranches = fleetscale.Branches
	scaleBranch   = "GEN-07"
)

// newScaleDB is a fresh fleet database holding the demo fleet and the generated one.
func newScaleDB(t testing.TB) *database.DB {
	t.Helper()
	ctx := context.Background()
	db := pg.NewDB(t, fleet.Migrations)
	start := time.Now()
	conn, err := db.Pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	require.NoError(t, fleetscale.Generate(ctx, conn.Conn(), scaleVehicles, scaleBranches, scaleBookings))
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
			// Beside it, the one-way bookings that take a car elsewhere first: their small
			// partial index, read once too (0008).
			reads := []string{"Index Only Scan on bookings using bookings_branch_blocking_idx", "Index Scan on bookings using bookings_branch_blocking_idx",
				"Bitmap Heap Scan on bookings", "Bitmap Index Scan using bookings_branch_blocking_idx",
				"Index Only Scan on bookings using bookings_one_way_idx", "Index Scan on bookings using bookings_one_way_idx",
				"Bitmap Index Scan using bookings_one_way_idx"}
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
