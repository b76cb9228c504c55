package reservations_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
)

// finished inserts a booking of alice's in status that finished at at and returns its id.
func (a *api) finished(status reservations.Status, at time.Time) string {
	a.t.Helper()
	column := "cancelled_at"
	if status == reservations.StatusCompleted || status == reservations.StatusActive {
		column = "completed_at"
	}
	if status == reservations.StatusActive {
		column = "activated_at"
	}
	pickup := at.Add(-72 * time.Hour)
	var id string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), fmt.Sprintf(`INSERT INTO reservations.reservations (customer_id,
		customer_email, vehicle_id, category, pickup_location, return_location, pickup_at, return_at, status, total_gross_cents,
		cancel_reason, damage_notes, %s)
		VALUES ($1, $2, gen_random_uuid(), 'KOMPAKT', 'BER-HBF', 'BER-HBF', $3, $4, $5, $6, 'found a cheaper car', 'scratch by Alice', $7)
		RETURNING id::text`, column), alice, aliceEmail, pickup, pickup.Add(48*time.Hour), string(status), quoteGross, at).Scan(&id))
	return id
}

func (a *api) archived(id string) bool {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM reservations.archived_reservations WHERE id = $1`, id).Scan(&n))
	return n == 1
}

// TestArchiveRetentionBoundary: a booking finished one second before finishedBefore moves
// to the archive, one finished exactly at it stays live, as does a rental under way however
// old; every finished state is archived. The archived booking still reads by id — for the
// agent and its own customer, not another — with its counter record, but no longer shows in
// searches and cannot change.
func TestArchiveRetentionBoundary(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC().Truncate(time.Second)
	a.setNow(now)
	cutoff := now.Add(-90 * 24 * time.Hour)
	outside := a.finished(reservations.StatusCompleted, cutoff.Add(-time.Second))
	at := a.finished(reservations.StatusCompleted, cutoff)
	inside := a.finished(reservations.StatusCancelled, cutoff.Add(time.Second))
	expired := a.finished(reservations.StatusExpired, cutoff.Add(-time.Hour))
	noShow := a.finished(reservations.StatusNoShow, cutoff.Add(-2*time.Hour))
	active := a.finished(reservations.StatusActive, cutoff.Add(-3*time.Hour))

	body := fmt.Sprintf(`{"finishedBefore": %q}`, cutoff.Format(time.RFC3339))
	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/archive", body)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, reservationsapi.Archived{Archived: 3}, decode[reservationsapi.Archived](t, r))
	for id, want := range map[string]bool{outside: true, expired: true, noShow: true, at: false, inside: false, active: false} {
		assert.Equal(t, want, a.archived(id), id)
	}

	got := a.do("carla", http.MethodGet, "/api/reservations/"+outside, "")
	require.Equal(t, http.StatusOK, got.status, got.String())
	res := decode[reservations.Reservation](t, got)
	assert.Equal(t, reservations.StatusCompleted, res.Status)
	assert.Equal(t, quoteGross, res.TotalGrossCents)
	assert.Equal(t, http.StatusOK, a.do("alice", http.MethodGet, "/api/reservations/"+outside, "").status)
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodGet, "/api/reservations/"+outside, "").status)
	assert.Equal(t, http.StatusOK, a.do("carla", http.MethodGet, "/api/reservations/"+outside+"/counter", "").status)
	assert.Equal(t, http.StatusConflict, a.do("carla", http.MethodPost, "/api/reservations/"+noShow+"/no-show", "").status)
	search := decode[struct {
		Items []reservations.Reservation `json:"items"`
	}](t, a.do("carla", http.MethodGet, "/api/reservations?pageSize=100", ""))
	for _, item := range search.Items {
		assert.NotEqual(t, outside, item.ID, "an archived booking is not searched")
	}

	r = a.do("ada", http.MethodPost, "/api/reservations/archive", body)
	require.Equal(t, http.StatusOK, r.status, r.String())
	assert.Equal(t, reservationsapi.Archived{}, decode[reservationsapi.Archived](t, r), "a second run finds nothing")
}

// TestArchiveRefusesBadRequests: no cutoff, one less than MinArchiveAge ago, a bad limit or
// another caller change nothing.
func TestArchiveRefusesBadRequests(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC()
	a.setNow(now)
	a.finished(reservations.StatusCompleted, now.Add(-30*24*time.Hour))
	before := a.snapshot()
	tooRecent := now.Add(-reservations.MinArchiveAge + time.Second).Format(time.RFC3339)
	old := now.Add(-20 * 24 * time.Hour).Format(time.RFC3339)
	for _, tt := range []struct {
		user, body string
		status     int
	}{
		{"cleanup-worker", ``, http.StatusUnsupportedMediaType},
		{"cleanup-worker", `{}`, http.StatusBadRequest},
		{"cleanup-worker", `{"finishedBefore": "yesterday"}`, http.StatusBadRequest},
		{"cleanup-worker", `{"finishedBefore": "` + tooRecent + `"}`, http.StatusBadRequest},
		{"cleanup-worker", `{"finishedBefore": "` + old + `", "limit": 5000}`, http.StatusBadRequest},
		{"carla", `{"finishedBefore": "` + old + `"}`, http.StatusForbidden},
		{"service:payments-api", `{"finishedBefore": "` + old + `"}`, http.StatusForbidden},
	} {
		r := a.do(tt.user, http.MethodPost, "/api/reservations/archive", tt.body)
		assert.Equal(t, tt.status, r.status, "%s %s: %s", tt.user, tt.body, r)
	}
	assert.Equal(t, before, a.snapshot())
}

// TestArchiveKeepsEveryColumn: the archive has exactly the live table's columns (but the
// generated period) plus archived_at, so a migration that adds a column to one and forgets
// the other fails here instead of losing the column's values in the move.
func TestArchiveKeepsEveryColumn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	columns := func(table string) []string {
		rows, err := a.db.Pool.Query(context.Background(), `SELECT column_name || ' ' || data_type || ' ' || is_nullable
			FROM information_schema.columns WHERE table_schema = 'reservations' AND table_name = $1
			AND column_name NOT IN ('period', 'archived_at') ORDER BY column_name`, table)
		require.NoError(t, err)
		var out []string
		for rows.Next() {
			var c string
			require.NoError(t, rows.Scan(&c))
			out = append(out, c)
		}
		require.NoError(t, rows.Err())
		return out
	}
	assert.Equal(t, columns("reservations"), columns("archived_reservations"))

	// Were it to happen all the same, the move refuses rather than drop the column.
	a.cleanup()
	now := time.Now().UTC()
	a.setNow(now)
	id := a.finished(reservations.StatusCompleted, now.Add(-100*24*time.Hour))
	_, err := a.db.Pool.Exec(context.Background(), `ALTER TABLE reservations.reservations ADD COLUMN loyalty_points integer`)
	require.NoError(t, err)
	before := a.snapshot()
	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/archive",
		fmt.Sprintf(`{"finishedBefore": %q}`, now.Add(-90*24*time.Hour).Format(time.RFC3339)))
	assert.Equal(t, http.StatusInternalServerError, r.status, r.String())
	assert.NotContains(t, r.String(), "loyalty_points", "the reason is logged, not answered")
	assert.Equal(t, before, a.snapshot())
	assert.False(t, a.archived(id))
}

// TestLateEventsForAnArchivedBooking: events that still arrive for an archived booking — a
// payment authorized or declined late for a hold long expired, a redelivery — are accepted
// (2xx: not retried, not dead-lettered) and change nothing: the booking is not brought back
// to the live table, nothing is recorded; a transition asked for it is a 409.
func TestLateEventsForAnArchivedBooking(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC()
	a.setNow(now)
	id := a.finished(reservations.StatusExpired, now.Add(-100*24*time.Hour))
	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/archive",
		fmt.Sprintf(`{"finishedBefore": %q}`, now.Add(-90*24*time.Hour).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.True(t, a.archived(id))
	before := a.snapshot()

	failed := payment(id, "failed")
	failed.Reason = "card_declined"
	for _, e := range []struct {
		id, typ string
		data    any
	}{
		{"late-auth", events.PaymentAuthorized, payment(id, "authorized")},
		{"late-fail", events.PaymentFailed, failed},
		{"late-auth", events.PaymentAuthorized, payment(id, "authorized")},
	} {
		got := a.event(e.id, e.typ, e.data)
		assert.Contains(t, []int{http.StatusOK, http.StatusAccepted}, got.status, "%s %s: %s", e.typ, e.id, got)
	}
	for path, body := range map[string]string{"/cancel": `{"reason": "plans changed"}`, "/activate": `{"odometerKm": 1200, "fuelEighths": 8}`, "/no-show": ``} {
		got := a.do("carla", http.MethodPost, "/api/reservations/"+id+path, body)
		assert.Equal(t, http.StatusConflict, got.status, "%s: %s", path, got)
	}
	assert.Equal(t, before, a.snapshot(), "nothing changed, nothing recorded")
	assert.True(t, a.archived(id))
	var live int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM reservations.reservations WHERE id = $1`, id).Scan(&live))
	assert.Zero(t, live, "not brought back to the live table")
}

// TestErasureReachesTheArchive: customer.erased scrubs archived bookings as live ones.
func TestErasureReachesTheArchive(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.cleanup()
	now := time.Now().UTC()
	a.setNow(now)
	id := a.finished(reservations.StatusCancelled, now.Add(-100*24*time.Hour))
	r := a.do("cleanup-worker", http.MethodPost, "/api/reservations/archive",
		fmt.Sprintf(`{"finishedBefore": %q}`, now.Add(-90*24*time.Hour).Format(time.RFC3339)))
	require.Equal(t, http.StatusOK, r.status, r.String())
	require.True(t, a.archived(id))

	require.Equal(t, http.StatusAccepted, a.erase("erase-1", alice).status)
	var email, reason, notes string
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT customer_email, cancel_reason, damage_notes
		FROM reservations.archived_reservations WHERE id = $1`, id).Scan(&email, &reason, &notes))
	assert.Empty(t, email)
	assert.Equal(t, reservations.ReasonErased, reason)
	assert.Equal(t, reservations.ReasonErased, notes)
}
