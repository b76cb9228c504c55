package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// TestApplyBooking runs the read model's tests over one database; each works on reservations
// of its own.
func TestApplyBooking(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, fleet.Migrations)
	tests := []struct {
		name string
		run  func(*testing.T, *database.DB)
	}{
		{"KeepsTheNewestVersion", testApplyBookingKeepsTheNewestVersion},
		{"IsOrderIndependent", testApplyBookingIsOrderIndependent},
		{"Concurrently", testApplyBookingConcurrently},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, db)
		})
	}
}

// storedBooking is a bookings row as the test reads it back.
type storedBooking struct {
	vehicleID string
	pickup    time.Time
	ret       time.Time
	status    fleet.BookingStatus
	blocking  bool
	version   int64
}

func (a *api) booking(t *testing.T, reservationID string) (storedBooking, bool) {
	t.Helper()
	var b storedBooking
	err := a.db.Pool.QueryRow(context.Background(), `SELECT vehicle_id::text, lower(period), upper(period), status, blocking, version
		FROM fleet.bookings WHERE reservation_id = $1`, reservationID).Scan(&b.vehicleID, &b.pickup, &b.ret, &b.status, &b.blocking, &b.version)
	if err != nil {
		return storedBooking{}, false
	}
	b.pickup, b.ret = b.pickup.UTC(), b.ret.UTC()
	return b, true
}

func testApplyBookingKeepsTheNewestVersion(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db)
	ctx := context.Background()
	res := newUUID()
	day := time.Date(2031, 5, 1, 10, 0, 0, 0, time.UTC)
	change := func(status fleet.BookingStatus, version int64) fleet.BookingChange {
		return fleet.BookingChange{ReservationID: res, VehicleID: vwGolf, PickupAt: day, ReturnAt: day.Add(72 * time.Hour), Status: status, Version: version}
	}
	steps := []struct {
		change      fleet.BookingChange
		wantApplied bool
		wantStatus  fleet.BookingStatus
		wantVersion int64
	}{
		{change(fleet.BookingPending, 1), true, fleet.BookingPending, 1},
		{change(fleet.BookingPending, 1), false, fleet.BookingPending, 1},  // redelivered
		{change(fleet.BookingActive, 3), true, fleet.BookingActive, 3},     // v2 not seen yet
		{change(fleet.BookingConfirmed, 2), false, fleet.BookingActive, 3}, // late
		{change(fleet.BookingCancelled, 3), false, fleet.BookingActive, 3}, // same version, other content: the first wins
		{change(fleet.BookingCompleted, 4), true, fleet.BookingCompleted, 4},
	}
	for i, s := range steps {
		applied, err := a.store.ApplyBooking(ctx, s.change)
		require.NoError(t, err, "step %d", i)
		assert.Equal(t, s.wantApplied, applied, "step %d", i)
		got, ok := a.booking(t, res)
		require.True(t, ok)
		assert.Equal(t, s.wantStatus, got.status, "step %d", i)
		assert.Equal(t, s.wantVersion, got.version, "step %d", i)
		assert.Equal(t, s.wantStatus.Blocking(), got.blocking, "step %d", i)
	}
}

// testApplyBookingIsOrderIndependent delivers each reservation history in many shuffled
// orders (duplicates included, as at-least-once delivery makes them) and checks that the read
// model always ends at the newest version: what the broker's order was must not matter.
func testApplyBookingIsOrderIndependent(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db)
	ctx := context.Background()
	day := time.Date(2031, 6, 1, 9, 0, 0, 0, time.UTC)
	type event struct {
		vehicle string
		days    int
		status  fleet.BookingStatus
	}
	histories := []struct {
		name   string
		events []event // version = index + 1
	}{
		{"booked, paid, picked up, returned", []event{{vwGolf, 3, fleet.BookingPending}, {vwGolf, 3, fleet.BookingConfirmed}, {vwGolf, 3, fleet.BookingActive}, {vwGolf, 3, fleet.BookingCompleted}}},
		{"hold expired", []event{{vwID3, 2, fleet.BookingPending}, {vwID3, 2, fleet.BookingExpired}}},
		{"cancelled after payment", []event{{passat, 5, fleet.BookingPending}, {passat, 5, fleet.BookingConfirmed}, {passat, 5, fleet.BookingCancelled}}},
		{"no-show", []event{{tiguan, 1, fleet.BookingPending}, {tiguan, 1, fleet.BookingConfirmed}, {tiguan, 1, fleet.BookingNoShow}}},
		{"extended and swapped car, still confirmed", []event{{vito, 2, fleet.BookingPending}, {vito, 2, fleet.BookingConfirmed}, {vito, 4, fleet.BookingConfirmed}, {bmw5er, 4, fleet.BookingConfirmed}}},
		{"only a hold so far", []event{{vwUp, 7, fleet.BookingPending}}},
	}
	rng := rand.New(rand.NewPCG(5, 2026)) // fixed seed: a failure is reproducible
	const orders = 12
	for _, h := range histories {
		t.Run(h.name, func(t *testing.T) {
			last := h.events[len(h.events)-1]
			for n := range orders {
				res := newUUID()
				var changes []fleet.BookingChange
				for i, e := range h.events {
					c := fleet.BookingChange{ReservationID: res, VehicleID: e.vehicle, PickupAt: day,
						ReturnAt: day.Add(time.Duration(e.days) * 24 * time.Hour), Status: e.status, Version: int64(i + 1)}
					changes = append(changes, c, c) // every event delivered twice
				}
				switch n {
				case 0: // in order
				case 1:
					for i, j := 0, len(changes)-1; i < j; i, j = i+1, j-1 { // newest first
						changes[i], changes[j] = changes[j], changes[i]
					}
				default:
					rng.Shuffle(len(changes), func(i, j int) { changes[i], changes[j] = changes[j], changes[i] })
				}
				applied := 0
				for _, c := range changes {
					ok, err := a.store.ApplyBooking(ctx, c)
					require.NoError(t, err)
					if ok {
						applied++
					}
				}
				got, ok := a.booking(t, res)
				require.True(t, ok)
				order := fmt.Sprintf("order %d: %v", n, versionsOf(changes))
				assert.Equal(t, last.status, got.status, order)
				assert.Equal(t, last.vehicle, got.vehicleID, order)
				assert.Equal(t, int64(len(h.events)), got.version, order)
				assert.Equal(t, day.Add(time.Duration(last.days)*24*time.Hour), got.ret, order)
				assert.Equal(t, last.status.Blocking(), got.blocking, order)
				assert.LessOrEqual(t, applied, len(h.events), "a duplicate or older event was applied: %s", order)
			}
		})
	}
}

func testApplyBookingConcurrently(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db)
	res := newUUID()
	day := time.Date(2031, 7, 1, 9, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for v := int64(1); v <= 20; v++ {
		wg.Go(func() {
			status := fleet.BookingConfirmed
			if v == 20 {
				status = fleet.BookingCancelled
			}
			_, err := a.store.ApplyBooking(context.Background(), fleet.BookingChange{ReservationID: res, VehicleID: vwGolf,
				PickupAt: day, ReturnAt: day.Add(24 * time.Hour), Status: status, Version: v})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	got, ok := a.booking(t, res)
	require.True(t, ok)
	assert.EqualValues(t, 20, got.version)
	assert.Equal(t, fleet.BookingCancelled, got.status)
}

func TestApplyBookingRejectsWhatItCanNeverApply(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	day := time.Date(2031, 8, 1, 9, 0, 0, 0, time.UTC)
	good := fleet.BookingChange{ReservationID: newUUID(), VehicleID: vwGolf, PickupAt: day, ReturnAt: day.Add(24 * time.Hour), Status: fleet.BookingPending, Version: 1}
	with := func(f func(*fleet.BookingChange)) fleet.BookingChange { c := good; f(&c); return c }
	tests := []struct {
		name       string
		change     fleet.BookingChange
		wantFields []string
	}{
		{"reservation id not a UUID", with(func(c *fleet.BookingChange) { c.ReservationID = "R-1" }), []string{"reservationId"}},
		{"vehicle id not a UUID", with(func(c *fleet.BookingChange) { c.VehicleID = "golf" }), []string{"vehicleId"}},
		{"unknown vehicle", with(func(c *fleet.BookingChange) { c.VehicleID = unknownID }), []string{"vehicleId"}},
		{"return before pickup", with(func(c *fleet.BookingChange) { c.ReturnAt = day.Add(-time.Hour) }), []string{"returnAt"}},
		{"return at pickup", with(func(c *fleet.BookingChange) { c.ReturnAt = day }), []string{"returnAt"}},
		{"no times", with(func(c *fleet.BookingChange) { c.PickupAt, c.ReturnAt = time.Time{}, time.Time{} }), []string{"returnAt"}},
		{"unknown status", with(func(c *fleet.BookingChange) { c.Status = "held" }), []string{"status"}},
		{"version 0", with(func(c *fleet.BookingChange) { c.Version = 0 }), []string{"version"}},
		{"everything", fleet.BookingChange{}, []string{"reservationId", "vehicleId", "returnAt", "status", "version"}},
	}
	before := a.snapshot()
	for _, tt := range tests {
		applied, err := a.store.ApplyBooking(context.Background(), tt.change)
		require.Error(t, err, tt.name)
		assert.False(t, applied, tt.name)
		assert.Equal(t, platform.KindInvalid, platform.KindOf(err), "%s: %v", tt.name, err)
		var perr *platform.Error
		require.ErrorAs(t, err, &perr)
		var fields []string
		for _, f := range perr.Fields {
			fields = append(fields, f.Field)
		}
		assert.ElementsMatch(t, tt.wantFields, fields, tt.name)
		assert.Equal(t, before, a.snapshot(), tt.name)
	}
	applied, err := a.store.ApplyBooking(context.Background(), good)
	require.NoError(t, err)
	assert.True(t, applied)
}

func versionsOf(cs []fleet.BookingChange) []int64 {
	out := make([]int64, len(cs))
	for i, c := range cs {
		out[i] = c.Version
	}
	return out
}
