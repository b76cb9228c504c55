package fleet_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet"
)

// timedEvent is a reservation event with the time its fact happened (the CloudEvent's time,
// which reservations-api sets in the transaction of the change).
type timedEvent struct {
	id string
	reservationEvent
	at time.Time
}

// eventAt delivers e as its Trigger does, with its time.
func (a *api) eventAt(e timedEvent) response {
	a.t.Helper()
	return a.eventWith(e.id, e.typ, e.data, "Ce-Time", e.at.UTC().Format(time.RFC3339Nano))
}

// rental is one booking of vehicle from branch `from` to branch `to`, picked up at pickup
// for days, with the events of types in the order reservations-api emits them: created and
// confirmed in the two hours before pickup, activated at pickup, completed at the return.
func rental(vehicle, from, to string, pickup time.Time, days int, types ...string) []timedEvent {
	res := newUUID()
	h := history(res, vehicle, pickup, days, types...)
	out := make([]timedEvent, len(h))
	for i, e := range h {
		e.data.PickupLocation, e.data.ReturnLocation = from, to
		at := pickup.Add(time.Duration(i-2) * time.Hour)
		switch e.typ {
		case events.ReservationActivated:
			at = pickup
		case events.ReservationCompleted:
			at = pickup.Add(time.Duration(days) * 24 * time.Hour)
		}
		out[i] = timedEvent{id: fmt.Sprintf("%s-%d", res, i), reservationEvent: e, at: at}
	}
	return out
}

// resetCar puts a car back at branch, available, with a status and branch older than any
// test's events.
func (a *api) resetCar(id, branch string) {
	a.t.Helper()
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE fleet.vehicles SET status = 'available', location_code = $2,
		status_changed_at = '2000-01-01T00:00:00Z', location_changed_at = '2000-01-01T00:00:00Z' WHERE id = $1`, id, branch)
	require.NoError(a.t, err)
}

// permutations is every order of n items (n! of them), as index lists.
func permutations(n int) [][]int {
	if n == 0 {
		return [][]int{{}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// vehicleEvents is the car's events in its outbox, as "type location status v<version>".
func (a *api) vehicleEvents(id string) []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(), `SELECT type, data->>'locationCode', data->>'status', (data->>'version')::int
		FROM fleet.outbox WHERE subject = $1 ORDER BY seq`, id)
	require.NoError(a.t, err)
	var out []string
	for rows.Next() {
		var typ, loc, status string
		var v int
		require.NoError(a.t, rows.Scan(&typ, &loc, &status, &v))
		out = append(out, fmt.Sprintf("%s %s %s v%d", typ, loc, status, v))
	}
	require.NoError(a.t, rows.Err())
	return out
}

// TestChangeMovesTheBooking: reservation.changed moves the booking in the read model to its
// new car and period, whatever the order of created (v1), changed (v2) and confirmed (v3):
// the old car is offered again for the old period, the new one is not for the new period.
func TestChangeMovesTheBooking(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for round, order := range permutations(3) {
		pickup := pickupDay().Add(time.Duration(round) * 10 * 24 * time.Hour)
		res := newUUID()
		h := history(res, vwGolf, pickup, 3, events.ReservationCreated, events.ReservationChanged, events.ReservationConfirmed)
		for i := 1; i < 3; i++ { // the change: the ID.3 for one day, a day later
			h[i].data.VehicleID = vwID3
			h[i].data.PickupAt = pickup.Add(24 * time.Hour).UTC().Format(time.RFC3339Nano)
			h[i].data.ReturnAt = pickup.Add(48 * time.Hour).UTC().Format(time.RFC3339Nano)
		}
		h[1].data.Status = "pending"
		for _, i := range order {
			r := a.event(fmt.Sprintf("%s-%d", res, i), h[i].typ, h[i].data)
			require.Equal(t, http.StatusAccepted, r.status, "round %d: %s", round, r.body)
		}
		b, ok := a.booking(t, res)
		require.True(t, ok)
		assert.Equal(t, vwID3, b.vehicleID, "order %v", order)
		assert.True(t, pickup.Add(24*time.Hour).Equal(b.pickup), "order %v: pickup %s", order, b.pickup)
		assert.True(t, pickup.Add(48*time.Hour).Equal(b.ret), "order %v: return %s", order, b.ret)
		assert.Equal(t, fleet.BookingConfirmed, b.status, "order %v", order)
		assert.Equal(t, int64(3), b.version, "order %v", order)

		r := a.get(searchPath(pickup, 3, "category=KOMPAKT"))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		assert.Equal(t, []string{"VW Golf"}, names(decode[searchPage](t, r).Items), "order %v: the Golf is free again, the ID.3 booked", order)
	}

	// A change that names no known state can never be applied: dead-lettered.
	bad := history(newUUID(), vwGolf, pickupDay(), 3, events.ReservationChanged)[0]
	bad.data.Status = "shifted"
	assert.Equal(t, http.StatusBadRequest, a.event("bad-change", bad.typ, bad.data).status)
}

// TestOneWayReturnMovesTheCar: in every one of the 24 orders of a rental's four events, a
// one-way rental BER-HBF → MUC-FLG leaves the car available at MUC-FLG, announced by
// vehicle.moved; a round trip leaves it at BER-HBF.
func TestOneWayReturnMovesTheCar(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	base := time.Now().UTC().Add(-400 * 24 * time.Hour).Truncate(time.Hour)
	types := []string{events.ReservationCreated, events.ReservationConfirmed, events.ReservationActivated, events.ReservationCompleted}
	for round, order := range permutations(4) {
		for _, to := range []string{"MUC-FLG", "BER-HBF"} {
			a.resetCar(vwGolf, "BER-HBF")
			pickup := base.Add(time.Duration(round) * 10 * 24 * time.Hour)
			if to == "BER-HBF" {
				pickup = pickup.Add(5 * 24 * time.Hour)
			}
			h := rental(vwGolf, "BER-HBF", to, pickup, 3, types...)
			before := len(a.vehicleEvents(vwGolf))
			for _, i := range order {
				r := a.eventAt(h[i])
				require.Equal(t, http.StatusAccepted, r.status, "%v: %s", order, r.body)
			}
			v := a.vehicle(vwGolf)
			assert.Equal(t, fleet.StatusAvailable, v.Status, "order %v to %s", order, to)
			assert.Equal(t, to, v.LocationCode, "order %v to %s", order, to)
			b, ok := a.booking(t, h[0].data.ReservationID)
			require.True(t, ok)
			assert.Equal(t, fleet.BookingCompleted, b.status)
			emitted := a.vehicleEvents(vwGolf)[before:]
			if to == "MUC-FLG" {
				assert.Contains(t, emitted, fmt.Sprintf("%s MUC-FLG available v%d", events.VehicleMoved, v.Version), "order %v", order)
			} else {
				for _, e := range emitted {
					assert.NotContains(t, e, events.VehicleMoved, "order %v: a round trip moves nothing", order)
				}
			}
		}
	}
}

// TestReturnNeverOverwritesANewerState: a return (or a pickup) that arrives late never undoes
// what happened to the car after it, in any arrival order.
func TestReturnNeverOverwritesANewerState(t *testing.T) {
	t.Parallel()
	c, f, act, done := events.ReservationCreated, events.ReservationConfirmed, events.ReservationActivated, events.ReservationCompleted
	// shuffled returns a shuffler of its own for each parallel subtest (a rand.Rand is not
	// safe for concurrent use).
	shuffler := func(seed uint64) func([]timedEvent) []timedEvent {
		rng := rand.New(rand.NewPCG(seed, 17))
		return func(es []timedEvent) []timedEvent {
			out := append([]timedEvent{}, es...)
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			return out
		}
	}

	// The next renter has the car: A (one-way BER-HBF → MUC-FLG) is completed, B picked the
	// car up at MUC-FLG a day later. Whatever arrives last, the car is rented at MUC-FLG.
	t.Run("the next rental is active", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t)
		shuffled := shuffler(13)
		base := time.Now().UTC().Add(-400 * 24 * time.Hour).Truncate(time.Hour)
		for round := range 30 {
			a.resetCar(vwGolf, "BER-HBF")
			pickup := base.Add(time.Duration(round) * 10 * 24 * time.Hour)
			first := rental(vwGolf, "BER-HBF", "MUC-FLG", pickup, 3, c, f, act, done)
			next := rental(vwGolf, "MUC-FLG", "MUC-FLG", pickup.Add(4*24*time.Hour), 3, c, f, act)
			order := shuffled(append(first, next...))
			for _, e := range order {
				r := a.eventAt(e)
				require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			}
			v := a.vehicle(vwGolf)
			assert.Equal(t, fleet.StatusRented, v.Status, "round %d", round)
			assert.Equal(t, "MUC-FLG", v.LocationCode, "round %d", round)
		}
	})

	// A fleet manager acts on the car after the return (events up to k arrived before, the
	// rest after): the workshop stays the workshop, a move stays a move; the parts of the
	// return the manager did not touch still apply (the branch, the status).
	staff := []struct {
		name       string
		act        func(a *api, id string)
		wantStatus fleet.Status
		wantBranch string
	}{
		{"sent to the workshop after the return", func(a *api, id string) {
			a.putStatus(id, fleet.StatusMaintenance)
		}, fleet.StatusMaintenance, "MUC-FLG"},
		{"moved after the return", func(a *api, id string) {
			if a.vehicle(id).Status == fleet.StatusRented {
				a.putStatus(id, fleet.StatusAvailable) // the counter takes it back by hand
			}
			r := a.json(http.MethodPut, "/api/vehicles/"+id+"/location", `{"locationCode":"HAM-HBF"}`)
			require.Equal(a.t, http.StatusOK, r.status, string(r.body))
		}, fleet.StatusAvailable, "HAM-HBF"},
	}
	for n, tc := range staff {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			shuffled := shuffler(uint64(20 + n))
			base := time.Now().UTC().Add(-400 * 24 * time.Hour).Truncate(time.Hour)
			for round := range 20 {
				a.resetCar(vwGolf, "BER-HBF")
				h := shuffled(rental(vwGolf, "BER-HBF", "MUC-FLG", base.Add(time.Duration(round)*10*24*time.Hour), 3, c, f, act, done))
				k := round % (len(h) + 1)
				for _, e := range h[:k] {
					require.Equal(t, http.StatusAccepted, a.eventAt(e).status)
				}
				tc.act(a, vwGolf)
				for _, e := range h[k:] {
					require.Equal(t, http.StatusAccepted, a.eventAt(e).status)
				}
				v := a.vehicle(vwGolf)
				assert.Equal(t, tc.wantStatus, v.Status, "round %d, staff after %d events", round, k)
				assert.Equal(t, tc.wantBranch, v.LocationCode, "round %d, staff after %d events", round, k)
			}
		})
	}

	// A pickup that arrives after the car went to the workshop does not rent it out.
	t.Run("a late pickup", func(t *testing.T) {
		t.Parallel()
		a := newAPI(t)
		a.resetCar(vwGolf, "BER-HBF")
		h := rental(vwGolf, "BER-HBF", "BER-HBF", time.Now().UTC().Add(-time.Hour), 3, c, f, act)
		a.putStatus(vwGolf, fleet.StatusMaintenance)
		a.putStatus(vwGolf, fleet.StatusAvailable) // back from the workshop: newer than the pickup
		for _, e := range h {
			require.Equal(t, http.StatusAccepted, a.eventAt(e).status)
		}
		assert.Equal(t, fleet.StatusAvailable, a.vehicle(vwGolf).Status)
	})
}

// putStatus changes a car's status through the API as a fleet manager; a rented car is taken
// back (available) first, as the counter does.
func (a *api) putStatus(id string, s fleet.Status) {
	a.t.Helper()
	if s != fleet.StatusAvailable && a.vehicle(id).Status == fleet.StatusRented {
		a.putStatus(id, fleet.StatusAvailable)
	}
	r := a.json(http.MethodPut, "/api/vehicles/"+id+"/status", fmt.Sprintf(`{"status":%q}`, s))
	require.Equal(a.t, http.StatusOK, r.status, string(r.body))
}
