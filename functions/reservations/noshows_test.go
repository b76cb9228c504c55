package reservations_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
)

// cleanup is the token of cleanup-worker's own identity.
func (a *api) cleanup() {
	if _, ok := a.tokens["cleanup-worker"]; !ok {
		a.tokens["cleanup-worker"] = a.id.Bearer(a.t, "service:cleanup-worker")
	}
}

// confirmedAt inserts a confirmed booking of alice's picking up at pickup (its own car, so
// bookings never overlap) and returns its id.
func (a *api) confirmedAt(pickup time.Time) string {
	a.t.Helper()
	var id string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), `INSERT INTO reservations.reservations (customer_id, vehicle_id,
		category, pickup_location, return_location, pickup_at, return_at, status, total_gross_cents)
		VALUES ($1, gen_random_uuid(), 'KOMPAKT', 'BER-HBF', 'BER-HBF', $2, $3, 'confirmed', $4) RETURNING id::text`,
		alice, pickup, pickup.Add(48*time.Hour), quoteGross).Scan(&id))
	return id
}

// TestNoShowGraceBoundary: with the default grace of 3 h, a confirmed booking is due exactly
// at pickup + 3 h, not a second before; it is marked like an agent's no-show (the fee at
// the pickup time: 100 % of the gross; one reservation.no_show), and a second sweep finds
// nothing.
func TestNoShowGraceBoundary(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC().Truncate(time.Second)
	a.setNow(now)
	atGrace := a.confirmedAt(now.Add(-reservations.DefaultNoShowGrace))
	secondBefore := a.confirmedAt(now.Add(-reservations.DefaultNoShowGrace + time.Second))
	future := a.confirmedAt(now.Add(24 * time.Hour))

	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/no-shows", "")
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, reservationsapi.NoShows{Due: 1, Marked: 1, More: false, Grace: "3h0m0s"}, decode[reservationsapi.NoShows](t, r))
	assert.Equal(t, reservations.StatusNoShow, a.status(atGrace))
	assert.Equal(t, reservations.StatusConfirmed, a.status(secondBefore))
	assert.Equal(t, reservations.StatusConfirmed, a.status(future))
	got := decode[reservations.Reservation](t, a.do("carla", http.MethodGet, "/api/reservations/"+atGrace, ""))
	assert.Equal(t, quoteGross, got.FeeCents, "a no-show costs 100 % of the gross, as an agent's")
	assert.Equal(t, []string{"no_show " + atGrace}, a.recorded())

	a.setNow(now.Add(time.Second))
	r = a.do("cleanup-worker", http.MethodPost, "/api/reservations/no-shows", `{"limit": 10}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, 1, decode[reservationsapi.NoShows](t, r).Marked)
	assert.Equal(t, reservations.StatusNoShow, a.status(secondBefore))

	r = a.do("ada", http.MethodPost, "/api/reservations/no-shows", `{}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, reservationsapi.NoShows{Grace: "3h0m0s"}, decode[reservationsapi.NoShows](t, r))
	assert.Len(t, a.recorded(), 2)
}

// TestNoShowSweepBatchesAndRaces: two sweeps at once mark every due booking exactly once
// (one event each); a full batch says more; bad input and other callers change nothing.
func TestNoShowSweepBatchesAndRaces(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC()
	a.setNow(now)
	var ids []string
	for i := range 6 {
		ids = append(ids, a.confirmedAt(now.Add(-4*time.Hour-time.Duration(i)*time.Minute)))
	}
	before := a.snapshot()
	for _, tt := range []struct {
		user, body string
		status     int
	}{
		{"cleanup-worker", `{"limit": 0.5}`, http.StatusBadRequest},
		{"cleanup-worker", `{"limit": 1001}`, http.StatusBadRequest},
		{"cleanup-worker", `{"limit": -1}`, http.StatusBadRequest},
		{"cleanup-worker", `{"grace": "0s"}`, http.StatusBadRequest},
		{"carla", ``, http.StatusForbidden},
		{"alice", ``, http.StatusForbidden},
		{"service:payments-api", ``, http.StatusForbidden},
		{"", ``, http.StatusUnauthorized},
	} {
		r := a.do(tt.user, http.MethodPost, "/api/reservations/no-shows", tt.body)
		assert.Equal(t, tt.status, r.status, "%s %s: %s", tt.user, tt.body, r)
	}
	assert.Equal(t, before, a.snapshot(), "a refused sweep changed something")

	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/no-shows", `{"limit": 2}`)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, reservationsapi.NoShows{Due: 2, Marked: 2, More: true, Grace: "3h0m0s"}, decode[reservationsapi.NoShows](t, r))

	var wg sync.WaitGroup
	marked := make([]int, 2)
	for i := range marked {
		wg.Go(func() {
			r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/no-shows", `{"limit": 10}`)
			if assert.Equal(t, http.StatusOK, r.status, r.String()) {
				marked[i] = decode[reservationsapi.NoShows](t, r).Marked
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 4, marked[0]+marked[1], "every due booking is marked once")
	for _, id := range ids {
		assert.Equal(t, reservations.StatusNoShow, a.status(id))
	}
	assert.Len(t, a.recorded(), 6, "one reservation.no_show per booking")
}
