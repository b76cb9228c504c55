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

// inbound delivers one inbound vehicle event as the Broker does after sync-worker
// published it: from fleet's Trigger for the type, with sync-worker as the source.
func (a *api) inbound(id, typ string, data any) response {
	a.t.Helper()
	return a.inboundFrom("sync-worker/partners/telematics-test", id, typ, data)
}

// inboundFrom is inbound with another CloudEvents source.
func (a *api) inboundFrom(source, id, typ string, data any) response {
	a.t.Helper()
	b, err := json.Marshal(data)
	require.NoError(a.t, err)
	name := strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental.vehicle."), ".v1")
	trigger := platform.Trigger("vehicles-api-vehicle-" + strings.ReplaceAll(name, "_", "-"))
	return a.do(http.MethodPost, events.ReceivePath, "application/json", string(b),
		"Ce-Specversion", "1.0", "Ce-Id", id, "Ce-Source", source, "Ce-Type", typ,
		"Authorization", a.id.DeliveryBearer(a.t, trigger, fleet.ServiceName))
}

// telematics is what fleet stores from the inbound events about one car.
type telematics struct {
	Odometer       *int64
	Fuel           *int
	Lat, Lon       *float64
	DamageAt       *time.Time
	Severity       *string
	MaintenanceDue bool
}

func (a *api) telematics(id string) telematics {
	a.t.Helper()
	var s telematics
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), `SELECT odometer_km, fuel_eighths, latitude, longitude,
		damage_reported_at, damage_severity, maintenance_due FROM fleet.vehicles WHERE id = $1`, id).
		Scan(&s.Odometer, &s.Fuel, &s.Lat, &s.Lon, &s.DamageAt, &s.Severity, &s.MaintenanceDue))
	return s
}

// outboxTypes lists the types fleet's outbox holds for a car, oldest first.
func (a *api) outboxTypes(id string) []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(), `SELECT type FROM fleet.outbox WHERE subject = $1 ORDER BY seq`, id)
	require.NoError(a.t, err)
	var out []string
	for rows.Next() {
		var typ string
		require.NoError(a.t, rows.Scan(&typ))
		out = append(out, typ)
	}
	require.NoError(a.t, rows.Err())
	return out
}

// TestReadingsApplyOnlyIfNewer delivers odometer, fuel and position readings shuffled,
// some twice with the same id (a redelivery) and some again under a new id (a producer
// resending): the car ends with the newest reading of each kind, its record (version)
// untouched and nothing in the outbox.
func TestReadingsApplyOnlyIfNewer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	base := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	at := func(i int) string { return base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339) }
	type delivery struct {
		id, typ string
		data    any
	}
	var all []delivery
	for i := range 5 {
		all = append(all,
			delivery{fmt.Sprintf("odo-%d", i), events.VehicleOdometerRead, events.OdometerReading{VehicleID: vwGolf, ReadAt: at(i), OdometerKm: int64(41000 + 10*i)}},
			delivery{fmt.Sprintf("fuel-%d", i), events.VehicleFuelRead, events.FuelReading{VehicleID: vwGolf, ReadAt: at(i), FuelEighths: 8 - i}},
			delivery{fmt.Sprintf("pos-%d", i), events.VehiclePositionRead, events.PositionReading{VehicleID: vwGolf, ReadAt: at(i), Latitude: 52.5 + float64(i)/100, Longitude: 13.36}},
		)
	}
	// Redeliveries, and a reading resent under another id (the same time: applied once).
	all = append(all, all[0], all[4], all[14],
		delivery{"odo-again", events.VehicleOdometerRead, events.OdometerReading{VehicleID: vwGolf, ReadAt: at(4), OdometerKm: 41040}})
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	version := a.vehicle(vwGolf).Version

	for _, d := range all {
		r := a.inbound(d.id, d.typ, d.data)
		require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status, "%s: %s", d.id, r.body) // 200: a duplicate
	}
	got := a.telematics(vwGolf)
	require.NotNil(t, got.Odometer)
	assert.Equal(t, int64(41040), *got.Odometer)
	require.NotNil(t, got.Fuel)
	assert.Equal(t, 4, *got.Fuel)
	require.NotNil(t, got.Lat)
	assert.InDelta(t, 52.54, *got.Lat, 1e-9)
	assert.Equal(t, version, a.vehicle(vwGolf).Version, "a reading is not an edit of the car")
	assert.Empty(t, a.outboxTypes(vwGolf))
	assert.Nil(t, a.telematics(vwUp).Odometer, "another car is untouched")
}

// TestDamageAndRepair: a damage report sends an available car to the workshop, and the
// garage's repair brings it back; a car out on a rental is flagged and its return sends it
// to the workshop instead of the search; late reports and repairs change nothing they
// should not. Every step is delivered twice (a redelivery is a no-op).
func TestDamageAndRepair(t *testing.T) {
	t.Parallel()
	t0 := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Second)
	ts := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	damage := func(id string, h int, severity string) step {
		return step{typ: events.VehicleDamageReported, data: events.DamageReport{VehicleID: id, ReportedAt: ts(h), Severity: severity, Description: "dent in the rear door"}}
	}
	repair := func(id string, h int) step {
		return step{typ: events.VehicleRepairCompleted, data: events.RepairCompletion{VehicleID: id, CompletedAt: ts(h)}}
	}
	tests := []struct {
		name      string
		car       string
		start     fleet.Status
		steps     []step
		want      fleet.Status
		wantDue   bool
		wantTypes []string // vehicle events in the outbox
	}{
		{"damage sends an available car to the workshop", vwGolf, fleet.StatusAvailable,
			[]step{damage(vwGolf, 1, "major")}, fleet.StatusMaintenance, false, []string{events.VehicleStatusChanged}},
		{"the repair brings it back", vwGolf, fleet.StatusAvailable,
			[]step{damage(vwGolf, 1, "minor"), repair(vwGolf, 5)}, fleet.StatusAvailable, false,
			[]string{events.VehicleStatusChanged, events.VehicleStatusChanged}},
		{"a report from before the last repair is history", vwGolf, fleet.StatusAvailable,
			[]step{repair(vwGolf, 5), damage(vwGolf, 1, "major")}, fleet.StatusAvailable, false, nil},
		{"a repair older than open damage leaves the car in the workshop", vwGolf, fleet.StatusAvailable,
			[]step{damage(vwGolf, 1, "minor"), damage(vwGolf, 6, "major"), repair(vwGolf, 5)}, fleet.StatusMaintenance, false,
			[]string{events.VehicleStatusChanged}},
		{"a rented car is flagged, not moved", vwGolf, fleet.StatusRented,
			[]step{damage(vwGolf, 1, "minor")}, fleet.StatusRented, true, nil},
		{"a reserved car is flagged", vwGolf, fleet.StatusReserved,
			[]step{damage(vwGolf, 1, "minor")}, fleet.StatusReserved, true, nil},
		{"a repair of the reported damage clears the flag", vwGolf, fleet.StatusRented,
			[]step{damage(vwGolf, 1, "minor"), repair(vwGolf, 2)}, fleet.StatusRented, false, nil},
		{"a car off the road stays off the road", vwGolf, fleet.StatusOutOfService,
			[]step{damage(vwGolf, 1, "total_loss"), repair(vwGolf, 9)}, fleet.StatusOutOfService, false, nil},
		{"a repair makes no available car out of one that is not in the workshop", vwGolf, fleet.StatusAvailable,
			[]step{repair(vwGolf, 1)}, fleet.StatusAvailable, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAPI(t)
			a.setVehicleStatus(tt.car, tt.start)
			for round := range 2 {
				for i, s := range tt.steps {
					r := a.inbound(fmt.Sprintf("step-%d", i), s.typ, s.data)
					require.Contains(t, []int{http.StatusOK, http.StatusAccepted}, r.status, "round %d step %d: %s", round, i, r.body)
				}
			}
			assert.Equal(t, tt.want, a.vehicle(tt.car).Status)
			assert.Equal(t, tt.wantDue, a.telematics(tt.car).MaintenanceDue, "flagged for the return")
			assert.Equal(t, tt.wantTypes, a.outboxTypes(tt.car))
		})
	}
}

type step struct {
	typ  string
	data any
}

// TestDamagedRentalGoesToTheWorkshopOnReturn: damage reported while the car is out; its
// return (reservation.completed) makes it maintenance, not available, in one event, and
// the search does not offer it; the garage's repair then makes it available.
func TestDamagedRentalGoesToTheWorkshopOnReturn(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	h := history(newUUID(), vwGolf, pickupDay(), 2, events.ReservationCreated, events.ReservationConfirmed,
		events.ReservationActivated, events.ReservationCompleted)
	for i, e := range h[:3] {
		require.Equal(t, http.StatusAccepted, a.event(fmt.Sprintf("r-%d", i), e.typ, e.data).status)
	}
	require.Equal(t, fleet.StatusRented, a.vehicle(vwGolf).Status)
	reported := time.Now().UTC().Truncate(time.Second)
	r := a.inbound("dmg", events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: reported.Format(time.RFC3339), Severity: "major"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.True(t, a.telematics(vwGolf).MaintenanceDue)

	before := len(a.outboxTypes(vwGolf))
	require.Equal(t, http.StatusAccepted, a.event("r-3", h[3].typ, h[3].data).status)
	v := a.vehicle(vwGolf)
	assert.Equal(t, fleet.StatusMaintenance, v.Status, "back from the rental, to the workshop")
	assert.False(t, a.telematics(vwGolf).MaintenanceDue)
	assert.Equal(t, []string{events.VehicleStatusChanged}, a.outboxTypes(vwGolf)[before:], "one event tells the final state")

	r = a.inbound("fixed", events.VehicleRepairCompleted, events.RepairCompletion{VehicleID: vwGolf, CompletedAt: time.Now().Add(time.Second).UTC().Format(time.RFC3339)})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	assert.Equal(t, fleet.StatusAvailable, a.vehicle(vwGolf).Status)
}

// TestBadInboundEventsAreRefused: what can never be applied is refused for good (400, so
// the Broker dead-letters it instead of retrying) and changes nothing.
func TestBadInboundEventsAreRefused(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	now := time.Now().UTC().Format(time.RFC3339)
	tests := []struct {
		name, typ string
		data      any
	}{
		{"unknown car", events.VehicleOdometerRead, events.OdometerReading{VehicleID: unknownID, ReadAt: now, OdometerKm: 5}},
		{"unknown car, damage", events.VehicleDamageReported, events.DamageReport{VehicleID: unknownID, ReportedAt: now, Severity: "minor"}},
		{"not a uuid", events.VehicleFuelRead, events.FuelReading{VehicleID: "golf", ReadAt: now, FuelEighths: 3}},
		{"no time", events.VehicleFuelRead, events.FuelReading{VehicleID: vwGolf, FuelEighths: 3}},
		{"fuel beyond full", events.VehicleFuelRead, events.FuelReading{VehicleID: vwGolf, ReadAt: now, FuelEighths: 9}},
		{"negative odometer", events.VehicleOdometerRead, events.OdometerReading{VehicleID: vwGolf, ReadAt: now, OdometerKm: -1}},
		{"latitude beyond the pole", events.VehiclePositionRead, events.PositionReading{VehicleID: vwGolf, ReadAt: now, Latitude: 91}},
		{"unknown severity", events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: now, Severity: "scratched"}},
		{"wrong shape", events.VehicleRepairCompleted, []int{1, 2}},
	}
	before := a.snapshot()
	for _, tt := range tests {
		r := a.inbound("bad-"+tt.name, tt.typ, tt.data)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tt.name, r.body)
	}
	// A good fact under another source than sync-worker's (vehicles-api's own name).
	r := a.inboundFrom("vehicles-api", "forged", events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: now, Severity: "major"})
	assert.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	assert.Equal(t, before, a.snapshot(), "a refused event changed the data")
}

// TestTelematicsRoute shows staff what was applied: the newest readings and the open damage.
func TestTelematicsRoute(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	path := "/api/vehicles/" + vwGolf + "/telematics"
	empty := decode[fleet.Telematics](t, a.get(path))
	assert.Equal(t, fleet.Telematics{VehicleID: vwGolf, Status: fleet.StatusAvailable}, empty)

	read := time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)
	for _, d := range []struct {
		typ  string
		data any
	}{
		{events.VehicleOdometerRead, events.OdometerReading{VehicleID: vwGolf, ReadAt: read.Format(time.RFC3339), OdometerKm: 41000}},
		{events.VehicleFuelRead, events.FuelReading{VehicleID: vwGolf, ReadAt: read.Format(time.RFC3339), FuelEighths: 6}},
		{events.VehiclePositionRead, events.PositionReading{VehicleID: vwGolf, ReadAt: read.Format(time.RFC3339), Latitude: 52.525, Longitude: 13.369}},
		{events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: read.Add(time.Hour).Format(time.RFC3339), Severity: "minor"}},
		{events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: read.Add(2 * time.Hour).Format(time.RFC3339), Severity: "major"}},
		{events.VehicleDamageReported, events.DamageReport{VehicleID: vwGolf, ReportedAt: read.Add(3 * time.Hour).Format(time.RFC3339), Severity: "minor"}},
	} {
		require.Equal(t, http.StatusAccepted, a.inbound(newUUID(), d.typ, d.data).status)
	}
	got := decode[fleet.Telematics](t, a.get(path))
	assert.Equal(t, fleet.StatusMaintenance, got.Status)
	assert.Equal(t, &fleet.OdometerValue{Km: 41000, ReadAt: read}, got.Odometer)
	assert.Equal(t, &fleet.FuelValue{Eighths: 6, ReadAt: read}, got.Fuel)
	assert.Equal(t, &fleet.PositionValue{Latitude: 52.525, Longitude: 13.369, ReadAt: read}, got.Position)
	assert.Equal(t, &fleet.DamageValue{ReportedAt: read.Add(3 * time.Hour), Severity: "major"}, got.Damage, "the newest report, the worst severity")

	repaired := read.Add(4 * time.Hour)
	require.Equal(t, http.StatusAccepted, a.inbound(newUUID(), events.VehicleRepairCompleted, events.RepairCompletion{VehicleID: vwGolf, CompletedAt: repaired.Format(time.RFC3339)}).status)
	got = decode[fleet.Telematics](t, a.get(path))
	assert.Equal(t, fleet.StatusAvailable, got.Status)
	assert.Nil(t, got.Damage, "repaired")
	require.NotNil(t, got.RepairCompletedAt)
	assert.True(t, repaired.Equal(*got.RepairCompletedAt))

	assert.Equal(t, http.StatusForbidden, a.get(path, "Authorization", a.id.Bearer(t, "alice")).status, "not for customers")
}
