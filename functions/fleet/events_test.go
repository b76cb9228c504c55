package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
)

// event delivers one reservation event to /cloudevents in binary mode, as the Broker does.
func (a *api) event(id, typ string, data any) response {
	a.t.Helper()
	return a.eventWith(id, typ, data)
}

// eventWith is event with more CloudEvent headers (name/value pairs), such as Ce-Time.
func (a *api) eventWith(id, typ string, data any, header ...string) response {
	a.t.Helper()
	body := ""
	if data != nil {
		b, err := json.Marshal(data)
		require.NoError(a.t, err)
		body = string(b)
	}
	return a.do(http.MethodPost, events.ReceivePath, "application/json", body, append([]string{
		"Ce-Specversion", "1.0", "Ce-Id", id, "Ce-Source", "reservations-api", "Ce-Type", typ,
		"Authorization", a.id.DeliveryBearer(a.t, triggerOf(typ), fleet.ServiceName)}, header...)...)
}

// triggerOf is the Trigger of knative/base/vehicles-api.yaml that delivers a reservation
// event type: vehicles-api-reservation-no-show for reservation.no_show.v1.
func triggerOf(typ string) platform.Sender {
	name := strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental.reservation."), ".v1")
	return platform.Trigger("vehicles-api-reservation-" + strings.ReplaceAll(name, "_", "-"))
}

// TestOnlyFleetsTriggersDeliver: /cloudevents refuses every caller but the event platform
// delivering from fleet's own Triggers, and a refused delivery changes nothing.
func TestOnlyFleetsTriggersDeliver(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	h := history("c1000000-0000-4000-8000-0000000000d1", vwGolf, pickupDay(), 3, events.ReservationCreated)
	body, err := json.Marshal(h[0].data)
	require.NoError(t, err)
	tests := []struct {
		name          string
		authorization string
		want          int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"a fleet manager", a.fleet, http.StatusForbidden},
		{"an admin", a.id.Bearer(t, "ada"), http.StatusForbidden},
		{"reservations-api calling as itself", a.id.Bearer(t, "service:reservations-api"), http.StatusForbidden},
		{"another function's Trigger", a.id.DeliveryBearer(t, platform.Trigger("reservations-api-payment-authorized"), fleet.ServiceName), http.StatusForbidden},
		{"fleet's Trigger, addressed to another function", a.id.DeliveryBearer(t, triggerOf(events.ReservationCreated), "reservations-api"), http.StatusUnauthorized},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(http.MethodPost, events.ReceivePath, "application/json", string(body),
				"Ce-Specversion", "1.0", "Ce-Id", "forged-"+tt.name, "Ce-Source", "reservations-api", "Ce-Type", h[0].typ,
				"Authorization", tt.authorization)
			assert.Equal(t, tt.want, r.status, string(r.body))
		})
	}
	assert.Equal(t, before, a.snapshot(), "a refused delivery changed the data")
	assert.Equal(t, http.StatusAccepted, a.event("delivered", h[0].typ, h[0].data).status, "fleet's own Trigger delivers")
	assert.NotEqual(t, before, a.snapshot())
}

// reservationEvent is one reservation event as reservations-api records it.
type reservationEvent struct {
	typ  string
	data events.Reservation
}

// history is a reservation's events in the order reservations-api emits them, versions 1….
func history(reservationID, vehicleID string, pickup time.Time, days int, types ...string) []reservationEvent {
	status := map[string]string{
		events.ReservationCreated: "pending", events.ReservationConfirmed: "confirmed", events.ReservationActivated: "active",
		events.ReservationCompleted: "completed", events.ReservationCancelled: "cancelled", events.ReservationExpired: "expired",
		events.ReservationNoShow: "no_show",
	}
	var out []reservationEvent
	for i, typ := range types {
		out = append(out, reservationEvent{typ: typ, data: events.Reservation{
			ReservationID: reservationID, Version: int64(i + 1), CustomerID: "c0000000-0000-4000-8000-000000000001",
			VehicleID: vehicleID, Category: "KOMPAKT", PickupLocation: "BER-HBF", ReturnLocation: "BER-HBF",
			PickupAt: pickup.UTC().Format(time.RFC3339), ReturnAt: pickup.Add(time.Duration(days) * 24 * time.Hour).UTC().Format(time.RFC3339),
			Status: status[typ], TotalGross: 14276, Currency: "EUR",
		}})
	}
	return out
}

// setVehicleStatus puts a vehicle straight into a status, bypassing the transition table.
func (a *api) setVehicleStatus(id string, s fleet.Status) {
	a.t.Helper()
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE fleet.vehicles SET status = $2 WHERE id = $1`, id, string(s))
	require.NoError(a.t, err)
}

// TestReservationEventsInAnyOrder delivers each history shuffled, every event twice (a
// redelivery with the same id, a second publication with another id) and checks the final
// booking state and vehicle status: whatever the order, the newest version wins, and only
// the newest decides whether the car is rented (activated) or available (completed).
func TestReservationEventsInAnyOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup := pickupDay()
	c, f, act, done := events.ReservationCreated, events.ReservationConfirmed, events.ReservationActivated, events.ReservationCompleted
	cases := []struct {
		name    string
		vehicle string
		types   []string
		booking fleet.BookingStatus
		status  fleet.Status
	}{
		{"picked up", vwGolf, []string{c, f, act}, fleet.BookingActive, fleet.StatusRented},
		{"returned", vwID3, []string{c, f, act, done}, fleet.BookingCompleted, fleet.StatusAvailable},
		{"cancelled", passat, []string{c, f, events.ReservationCancelled}, fleet.BookingCancelled, fleet.StatusAvailable},
		{"expired", bmw5er, []string{c, events.ReservationExpired}, fleet.BookingExpired, fleet.StatusAvailable},
		{"no-show", tiguan, []string{c, f, events.ReservationNoShow}, fleet.BookingNoShow, fleet.StatusAvailable},
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for round := range 8 {
		for _, tc := range cases {
			a.setVehicleStatus(tc.vehicle, fleet.StatusAvailable)
			res := newUUID()
			h := history(res, tc.vehicle, pickup.Add(time.Duration(round)*72*time.Hour), 2, tc.types...)
			type delivery struct {
				id string
				e  reservationEvent
			}
			var ds []delivery
			for i, e := range h {
				ds = append(ds, delivery{fmt.Sprintf("%s-%d", res, i), e}, delivery{fmt.Sprintf("%s-%d", res, i), e},
					delivery{fmt.Sprintf("%s-%d-again", res, i), e})
			}
			rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			for _, d := range ds {
				r := a.event(d.id, d.e.typ, d.e.data)
				require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status, "%s round %d: %s", tc.name, round, r.body)
			}
			b, ok := a.booking(t, res)
			require.True(t, ok, tc.name)
			assert.Equal(t, tc.booking, b.status, "%s round %d", tc.name, round)
			assert.Equal(t, int64(len(tc.types)), b.version, "%s round %d", tc.name, round)
			assert.Equal(t, tc.status, a.vehicle(tc.vehicle).Status, "%s round %d", tc.name, round)
		}
	}
}

// TestReservationEventsLeaveTheVehicleStatusAlone: a car already rented is a no-op for
// activated, and a car the transition table cannot move (in the workshop) keeps its status
// while the booking is still recorded — neither is an error, so the Broker does not retry.
func TestReservationEventsLeaveTheVehicleStatusAlone(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup := pickupDay()

	a.setVehicleStatus(vwGolf, fleet.StatusRented)
	before := a.vehicle(vwGolf).Version
	h := history(newUUID(), vwGolf, pickup, 2, events.ReservationCreated, events.ReservationConfirmed, events.ReservationActivated)
	assert.Equal(t, http.StatusAccepted, a.event("golf-3", h[2].typ, h[2].data).status)
	assert.Equal(t, fleet.StatusRented, a.vehicle(vwGolf).Status)
	assert.Equal(t, before, a.vehicle(vwGolf).Version, "already rented: no change")

	res := newUUID()
	h = history(res, opelAstra, pickup, 2, events.ReservationCreated, events.ReservationConfirmed, events.ReservationActivated)
	r := a.event("astra-3", h[2].typ, h[2].data)
	assert.Equal(t, http.StatusAccepted, r.status, string(r.body))
	assert.Equal(t, fleet.StatusMaintenance, a.vehicle(opelAstra).Status)
	b, ok := a.booking(t, res)
	require.True(t, ok)
	assert.Equal(t, fleet.BookingActive, b.status)

	// What can never be applied is refused for good (400: dead-lettered, not retried).
	bad := history(newUUID(), unknownID, pickup, 2, events.ReservationCreated)[0]
	assert.Equal(t, http.StatusBadRequest, a.event("unknown-vehicle", bad.typ, bad.data).status)
	assert.Equal(t, http.StatusBadRequest, a.event("no-data", events.ReservationCreated, nil).status)
	bad.data.VehicleID, bad.data.PickupAt = vwID3, "tomorrow"
	assert.Equal(t, http.StatusBadRequest, a.event("bad-time", bad.typ, bad.data).status)
}

// TestSearchReflectsBookingEvents: a confirmed booking fed by an event (its created event
// not even arrived yet) takes the car out of the search for that period; its cancellation
// puts it back.
func TestSearchReflectsBookingEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	pickup := pickupDay()
	path := searchPath(pickup, 3, "category=KOMPAKT")
	offered := func() []string {
		t.Helper()
		r := a.get(path)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		return names(decode[searchPage](t, r).Items)
	}
	require.Equal(t, []string{"VW Golf", "VW ID.3"}, offered())

	h := history(newUUID(), vwGolf, pickup.Add(24*time.Hour), 3, events.ReservationCreated, events.ReservationConfirmed, events.ReservationCancelled)
	require.Equal(t, http.StatusAccepted, a.event("golf-2", h[1].typ, h[1].data).status)
	assert.Equal(t, []string{"VW ID.3"}, offered(), "the Golf is booked for an overlapping period")
	require.Equal(t, http.StatusAccepted, a.event("golf-1", h[0].typ, h[0].data).status, "the late created event is acknowledged")
	assert.Equal(t, []string{"VW ID.3"}, offered(), "and changes nothing")
	require.Equal(t, http.StatusAccepted, a.event("golf-3", h[2].typ, h[2].data).status)
	assert.Equal(t, []string{"VW Golf", "VW ID.3"}, offered(), "cancelled: the Golf is free again")
}
