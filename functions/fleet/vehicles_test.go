package fleet_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

type inventoryPage struct {
	Items    []fleet.Vehicle `json:"items"`
	Page     int             `json:"page"`
	PageSize int             `json:"pageSize"`
	Total    int             `json:"total"`
}

const newCar = `{"name":"Cupra Born","category":"KOMPAKT","locationCode":"BER-HBF","seats":5,
	"fuel":"electric","transmission":"automatic","licencePlate":"B-OC 777E"}`

func testDemoFleet(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	r := a.get("/api/vehicles/inventory?pageSize=100")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	page := decode[inventoryPage](t, r)
	require.Equal(t, 34, page.Total)
	require.Len(t, page.Items, 34)
	branches, categories, statuses, plates := map[string]int{}, map[fleet.Category]int{}, map[fleet.Status]int{}, map[string]bool{}
	for _, v := range page.Items {
		branches[v.LocationCode]++
		categories[v.Category]++
		statuses[v.Status]++
		plates[v.LicencePlate] = true
		normal, ok := fleet.NormalizePlate(v.LicencePlate)
		assert.True(t, ok && normal == v.LicencePlate, "seed plate %q is not in its written form", v.LicencePlate)
	}
	assert.Len(t, branches, 5)
	assert.Len(t, categories, 8, "every category has demo cars")
	assert.Equal(t, map[fleet.Status]int{fleet.StatusAvailable: 32, fleet.StatusMaintenance: 2}, statuses)
	assert.Len(t, plates, 34)
	assert.Equal(t, berlinSeed, branches["BER-HBF"])
}

func testGet(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	tests := []struct {
		path       string
		wantStatus int
	}{
		{"/api/vehicles/" + vwGolf, 200},
		{"/api/vehicles/" + strings.ToUpper(vwGolf), 200}, // ids are case-insensitive
		{"/api/vehicles/" + unknownID, 404},
		{"/api/vehicles/not-a-uuid", 404},
		{"/api/vehicles/" + vwGolf + "/extra", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := a.get(tt.path, "Authorization", "") // public
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			if tt.wantStatus != 200 {
				assert.Equal(t, platform.ProblemTypeBase+"not-found", decode[platform.Problem](t, r).Type)
				return
			}
			v := decode[fleet.Vehicle](t, r)
			assert.Equal(t, vwGolf, v.ID)
			assert.Equal(t, "VW Golf", v.Name)
			assert.Equal(t, fleet.CategoryKompakt, v.Category)
			assert.Equal(t, "B-OC 1002", v.LicencePlate)
			assert.Nil(t, v.DailyRateNetCents)
			assert.Equal(t, `"1"`, r.header.Get("ETag"))
		})
	}
}

func TestCreateThenGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	body := `{"name":"  Cupra   Born ","category":"kompakt","locationCode":"ber-hbf","seats":5,
		"fuel":"Electric","transmission":"automatic","licencePlate":"b oc-777e","dailyRateNetCents":4299}`
	r := a.json(http.MethodPost, "/api/vehicles", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	created := decode[fleet.Vehicle](t, r)
	assert.Equal(t, "/api/vehicles/"+created.ID, r.header.Get("Location"))
	assert.Equal(t, `"1"`, r.header.Get("ETag"))
	assert.Equal(t, "Cupra Born", created.Name)
	assert.Equal(t, fleet.CategoryKompakt, created.Category)
	assert.Equal(t, "BER-HBF", created.LocationCode)
	assert.Equal(t, fleet.FuelElectric, created.Fuel)
	assert.Equal(t, "B-OC 777E", created.LicencePlate, "plates are stored in their written form")
	assert.Equal(t, fleet.StatusAvailable, created.Status)
	require.NotNil(t, created.DailyRateNetCents)
	assert.EqualValues(t, 4299, *created.DailyRateNetCents)
	assert.EqualValues(t, 1, created.Version)

	got := decode[fleet.Vehicle](t, a.get("/api/vehicles/"+created.ID))
	assert.Equal(t, created, got)

	// A new car may start in the workshop (pre-delivery inspection).
	r = a.json(http.MethodPost, "/api/vehicles", strings.Replace(newCar, `"B-OC 777E"`, `"B-OC 778E","status":"maintenance"`, 1))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, fleet.StatusMaintenance, decode[fleet.Vehicle](t, r).Status)
}

func TestUpdateWithOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	const details = `{"name":"VW Golf Variant","category":"KOMBI","seats":5,"fuel":"diesel","transmission":"automatic","licencePlate":"B-OC 1002"}`
	path := "/api/vehicles/" + vwGolf

	r := a.json(http.MethodPut, path, details, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	updated := decode[fleet.Vehicle](t, r)
	assert.EqualValues(t, 2, updated.Version)
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
	assert.Equal(t, fleet.CategoryKombi, updated.Category)
	assert.Equal(t, fleet.TransmissionAutomatic, updated.Transmission)
	assert.Equal(t, "BER-HBF", updated.LocationCode, "an update leaves the branch alone")
	assert.True(t, updated.UpdatedAt.After(updated.CreatedAt))

	before := a.snapshot()
	stale := a.json(http.MethodPut, path, strings.Replace(details, "VW Golf Variant", "VW Golf", 1), "If-Match", `"1"`)
	require.Equal(t, http.StatusPreconditionFailed, stale.status, string(stale.body))
	assert.Equal(t, before, a.snapshot())

	// The same PUT again (a retry whose first answer was lost): the car is as it asks, so
	// it is answered as it is — same version, no event — not 412, nor a new version.
	retry := a.json(http.MethodPut, path, details, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, retry.status, string(retry.body))
	assert.EqualValues(t, 2, decode[fleet.Vehicle](t, retry).Version)
	assert.Equal(t, before, a.snapshot())
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, path, details).status)
	assert.Equal(t, before, a.snapshot(), "an identical PUT is a no-op")

	// Without If-Match the last writer wins.
	r = a.json(http.MethodPut, path, strings.Replace(details, "KOMBI", "KOMPAKT", 1))
	require.Equal(t, http.StatusOK, r.status)
	assert.EqualValues(t, 3, decode[fleet.Vehicle](t, r).Version)
}

func TestMove(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	now := time.Now()
	book := func(vehicle string, from, to time.Time, status fleet.BookingStatus) {
		_, err := a.store.ApplyBooking(ctx, fleet.BookingChange{ReservationID: newUUID(), VehicleID: vehicle,
			PickupAt: from, ReturnAt: to, Status: status, Version: 1})
		require.NoError(t, err)
	}
	setStatus := func(vehicle string, s fleet.Status) {
		r := a.json(http.MethodPut, "/api/vehicles/"+vehicle+"/status", fmt.Sprintf(`{"status":%q}`, s))
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	}

	tests := []struct {
		name        string
		vehicle     string
		setup       func(id string)
		to          string
		wantStatus  int
		wantVersion int64 // after the call, when 200
	}{
		{"available car moves", vwUp, nil, "HAM-HBF", 200, 2},
		{"lower-case code is accepted", passat, nil, "cgn-hbf", 200, 2},
		{"to where it is: a no-op", bmw5er, nil, "BER-HBF", 200, 1},
		{"car in maintenance moves (to a workshop branch)", opelAstra, nil, "FRA-FLG", 200, 2},
		{"rented car stays", vwGolf, func(id string) { setStatus(id, fleet.StatusRented) }, "MUC-FLG", 409, 0},
		{"rented car, same branch: a no-op", vwGolf, nil, "BER-HBF", 200, 2},
		{"reserved car stays for its pickup", vwID3, func(id string) { setStatus(id, fleet.StatusReserved) }, "MUC-FLG", 409, 0},
		{"car with an upcoming booking stays", tiguan, func(id string) {
			book(id, now.Add(48*time.Hour), now.Add(96*time.Hour), fleet.BookingConfirmed)
		}, "MUC-FLG", 409, 0},
		{"car with a running hold stays", vito, func(id string) {
			book(id, now.Add(-time.Hour), now.Add(time.Hour), fleet.BookingPending)
		}, "MUC-FLG", 409, 0},
		{"cancelled and ended bookings do not hold a car", taycan, func(id string) {
			book(id, now.Add(48*time.Hour), now.Add(96*time.Hour), fleet.BookingCancelled)
			book(id, now.Add(-96*time.Hour), now.Add(-48*time.Hour), fleet.BookingCompleted)
			book(id, now.Add(-96*time.Hour), now.Add(-time.Hour), fleet.BookingActive) // ended, not yet reported returned
		}, "MUC-FLG", 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup(tt.vehicle)
			}
			before := a.vehicle(tt.vehicle)
			r := a.json(http.MethodPut, "/api/vehicles/"+tt.vehicle+"/location", fmt.Sprintf(`{"locationCode":%q}`, tt.to))
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			after := a.vehicle(tt.vehicle)
			if tt.wantStatus != 200 {
				assert.Equal(t, before, after, "a refused move changed the vehicle")
				assert.Equal(t, platform.ProblemTypeBase+"conflict", decode[platform.Problem](t, r).Type)
				return
			}
			assert.Equal(t, strings.ToUpper(tt.to), after.LocationCode)
			assert.Equal(t, tt.wantVersion, after.Version)
			assert.Equal(t, after, decode[fleet.Vehicle](t, r))
		})
	}
}

// TestOutOfServiceKeepsItsBookings: a car promised to a booking that has not ended is not
// taken out of service (it stranded the booking as a move would: every change of it then
// refused, the handover too); the workshop stays open to it, and a car whose bookings have
// ended retires.
func TestOutOfServiceKeepsItsBookings(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	now := time.Now()
	_, err := a.store.ApplyBooking(ctx, fleet.BookingChange{ReservationID: newUUID(), VehicleID: tiguan,
		PickupAt: now.Add(48 * time.Hour), ReturnAt: now.Add(96 * time.Hour), Status: fleet.BookingConfirmed, Version: 1})
	require.NoError(t, err)
	before := a.vehicle(tiguan)
	r := a.json(http.MethodPut, "/api/vehicles/"+tiguan+"/status", `{"status":"out_of_service"}`)
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, decode[platform.Problem](t, r).Detail, "booking that has not ended")
	assert.Equal(t, before, a.vehicle(tiguan))

	r = a.json(http.MethodPut, "/api/vehicles/"+tiguan+"/status", `{"status":"maintenance"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = a.json(http.MethodPut, "/api/vehicles/"+vwUp+"/status", `{"status":"out_of_service"}`)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
}

func TestChangeDailyRate(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	path := "/api/vehicles/" + vwGolf + "/daily-rate"
	tests := []struct {
		body        string
		want        *int64
		wantVersion int64
	}{
		{`{"dailyRateNetCents":4599}`, ptr(4599), 2},
		{`{"dailyRateNetCents":4599}`, ptr(4599), 2}, // the same rate: a no-op
		{`{"dailyRateNetCents":100}`, ptr(100), 3},   // lowest allowed
		{`{"dailyRateNetCents":1000000}`, ptr(1000000), 4},
		{`{"dailyRateNetCents":null}`, nil, 5}, // back to the category policy
		{`{"dailyRateNetCents":null}`, nil, 5},
	}
	for _, tt := range tests {
		r := a.json(http.MethodPut, path, tt.body)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		v := decode[fleet.Vehicle](t, r)
		assert.Equal(t, tt.want, v.DailyRateNetCents, tt.body)
		assert.Equal(t, tt.wantVersion, v.Version, tt.body)
		assert.Equal(t, v, a.vehicle(vwGolf))
	}
	assert.Contains(t, string(a.get("/api/vehicles/"+vwGolf).body), `"dailyRateNetCents":null`, "a cleared rate is an explicit null")
}

func testInventory(t *testing.T, db *database.DB) {
	a := newAPIOn(t, db, nil)
	tests := []struct {
		query      string
		caller     string
		wantStatus int
		wantTotal  int
		wantNames  []string // the page's names, when given
	}{
		{"?location=BER-HBF&category=KOMPAKT", "frank", 200, 3, []string{"Opel Astra", "VW Golf", "VW ID.3"}},
		{"?location=ber-hbf&category=kompakt", "frank", 200, 3, nil},
		{"?status=maintenance", "carla", 200, 2, []string{"Opel Astra", "Volvo XC60 Recharge"}},
		{"?category=LUXUS", "ada", 200, 3, []string{"Porsche Taycan", "Mercedes-Benz S-Klasse", "BMW 750e"}}, // by branch: BER, FRA, MUC
		{"?location=LEJ-HBF", "frank", 200, 0, []string{}},
		// By branch, then name in byte order (BER, CGN, FRA, HAM, MUC; the last four are MUC's).
		{"?pageSize=3&page=2", "frank", 200, 34, []string{"Porsche Taycan", "VW Golf", "VW ID.3"}},
		{"?pageSize=5&page=7", "frank", 200, 34, []string{"BMW X3", "Fiat 500", "VW Golf GTE", "VW Multivan"}},
		{"?pageSize=10&page=4", "frank", 200, 34, []string{"BMW X3", "Fiat 500", "VW Golf GTE", "VW Multivan"}},
		{"?pageSize=10&page=5", "frank", 200, 34, []string{}},
		{"?status=sold", "frank", 400, 0, nil},
		{"?category=VAN&location=BERLIN&page=0&pageSize=101&colour=red", "frank", 400, 0, nil},
		{"", "alice", 403, 0, nil},
		{"", "service:reservations-api", 403, 0, nil},
		{"", "", 401, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query+" as "+tt.caller, func(t *testing.T) {
			auth := ""
			if tt.caller != "" {
				auth = a.id.Bearer(t, tt.caller)
			}
			r := a.get("/api/vehicles/inventory"+tt.query, "Authorization", auth)
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			if tt.wantStatus != 200 {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
				return
			}
			page := decode[inventoryPage](t, r)
			assert.Equal(t, tt.wantTotal, page.Total)
			if tt.wantNames != nil {
				names := []string{}
				for _, v := range page.Items {
					names = append(names, v.Name)
				}
				assert.Equal(t, tt.wantNames, names)
			}
		})
	}
	// Every bad parameter is reported at once.
	p := decode[platform.Problem](t, a.get("/api/vehicles/inventory?category=VAN&location=BERLIN&page=0&pageSize=101&colour=red"))
	assert.ElementsMatch(t, []string{"category", "location", "page", "pageSize", "colour"}, fieldsOf(p))

	// The query string is read strictly (platform.ParseQuery): nothing is silently dropped.
	for _, tt := range []struct {
		query  string
		fields []string
	}{
		{"page=1;pageSize=9999999", []string{"page"}}, // the pair is named by its key
		{"status=available;location=BER-HBF", []string{"status"}},
		{"status=available&status=rented", []string{"status"}},
		{"location=BER-HBF&limit=5", []string{"limit"}},
		{"location=%G0", []string{"location"}},
	} {
		r := a.get("/api/vehicles/inventory?" + tt.query)
		require.Equal(t, http.StatusBadRequest, r.status, "%s: %s", tt.query, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		assert.ElementsMatch(t, tt.fields, fieldsOf(decode[platform.Problem](t, r)), tt.query)
	}
}

func TestRejectedRequestsWriteNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	golf := "/api/vehicles/" + vwGolf
	// The Golf is rented, so the status and move rules have something to refuse.
	require.Equal(t, http.StatusOK, a.json(http.MethodPut, golf+"/status", `{"status":"rented"}`).status)
	huge := `{"name":"` + strings.Repeat("x", platform.DefaultMaxBodyBytes) + `"}`
	const details = `{"name":"VW Golf","category":"KOMPAKT","seats":5,"fuel":"diesel","transmission":"manual","licencePlate":"B-OC 1002"}`
	replace := func(s, old, new string) string { return strings.Replace(s, old, new, 1) }
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		header      []string
		wantStatus  int
		wantType    string
		wantFields  []string
	}{
		{"create: malformed JSON", "POST", "/api/vehicles", "application/json", `{"name":"x",`, nil, 400, "invalid", nil},
		{"create: not JSON", "POST", "/api/vehicles", "application/json", `name=x`, nil, 400, "invalid", nil},
		{"create: empty body", "POST", "/api/vehicles", "application/json", ``, nil, 400, "invalid", nil},
		{"create: two JSON values", "POST", "/api/vehicles", "application/json", newCar + newCar, nil, 400, "invalid", nil},
		{"create: unknown field", "POST", "/api/vehicles", "application/json", replace(newCar, `"name"`, `"colour":"orange","name"`), nil, 400, "invalid", []string{"colour"}},
		{"create: id is not the caller's to pick", "POST", "/api/vehicles", "application/json", replace(newCar, `"name"`, `"id":"`+unknownID+`","name"`), nil, 400, "invalid", []string{"id"}},
		{"create: wrong content type", "POST", "/api/vehicles", "text/plain", newCar, nil, 415, "unsupported-media-type", nil},
		{"create: no content type", "POST", "/api/vehicles", "", newCar, nil, 415, "unsupported-media-type", nil},
		{"create: oversize body", "POST", "/api/vehicles", "application/json", huge, nil, 413, "payload-too-large", nil},
		{"create: wrong JSON type", "POST", "/api/vehicles", "application/json", replace(newCar, `"seats":5`, `"seats":"five"`), nil, 400, "invalid", []string{"seats"}},
		{"create: rate in euros", "POST", "/api/vehicles", "application/json", replace(newCar, `"seats":5`, `"seats":5,"dailyRateNetCents":45.99`), nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"create: every field wrong at once", "POST", "/api/vehicles", "application/json",
			`{"name":"","category":"VAN","locationCode":"BERLIN","seats":12,"fuel":"coal","transmission":"cvt","licencePlate":"12345","status":"rented","dailyRateNetCents":99}`,
			nil, 400, "invalid", []string{"name", "category", "locationCode", "seats", "fuel", "transmission", "licencePlate", "status", "dailyRateNetCents"}},
		{"create: one seat", "POST", "/api/vehicles", "application/json", replace(newCar, `"seats":5`, `"seats":1`), nil, 400, "invalid", []string{"seats"}},
		{"create: ten seats", "POST", "/api/vehicles", "application/json", replace(newCar, `"seats":5`, `"seats":10`), nil, 400, "invalid", []string{"seats"}},
		{"create: name too long", "POST", "/api/vehicles", "application/json", replace(newCar, "Cupra Born", strings.Repeat("ü", 101)), nil, 400, "invalid", []string{"name"}},
		{"create: plate without area separator", "POST", "/api/vehicles", "application/json", replace(newCar, "B-OC 777E", "BOC 777"), nil, 400, "invalid", []string{"licencePlate"}},
		{"create: plate with leading zero", "POST", "/api/vehicles", "application/json", replace(newCar, "B-OC 777E", "B-OC 0777"), nil, 400, "invalid", []string{"licencePlate"}},
		{"create: plate too long", "POST", "/api/vehicles", "application/json", replace(newCar, "B-OC 777E", "HHH-OC 1234"), nil, 400, "invalid", []string{"licencePlate"}},
		{"create: reserved without a booking", "POST", "/api/vehicles", "application/json", replace(newCar, `"seats":5`, `"seats":5,"status":"reserved"`), nil, 400, "invalid", []string{"status"}},
		{"create: plate already in the fleet", "POST", "/api/vehicles", "application/json", replace(newCar, "B-OC 777E", "b-oc 1002"), nil, 409, "conflict", nil},
		{"create: anonymous", "POST", "/api/vehicles", "application/json", newCar, []string{"Authorization", ""}, 401, "unauthorized", nil},
		{"create: customer", "POST", "/api/vehicles", "application/json", newCar, []string{"Authorization", a.id.Bearer(t, "alice")}, 403, "forbidden", nil},
		{"create: agent", "POST", "/api/vehicles", "application/json", newCar, []string{"Authorization", a.id.Bearer(t, "carla")}, 403, "forbidden", nil},

		{"update: malformed", "PUT", golf, "application/json", `{"name":`, nil, 400, "invalid", nil},
		{"update: location is its own operation", "PUT", golf, "application/json", replace(details, `"name"`, `"locationCode":"MUC-FLG","name"`), nil, 400, "invalid", []string{"locationCode"}},
		{"update: status is its own operation", "PUT", golf, "application/json", replace(details, `"name"`, `"status":"available","name"`), nil, 400, "invalid", []string{"status"}},
		{"update: missing fields", "PUT", golf, "application/json", `{"name":"VW Golf"}`, nil, 400, "invalid", []string{"category", "seats", "fuel", "transmission", "licencePlate"}},
		{"update: another car's plate", "PUT", golf, "application/json", replace(details, "B-OC 1002", "B-OC 1001"), nil, 409, "conflict", nil},
		{"update: unknown vehicle", "PUT", "/api/vehicles/" + unknownID, "application/json", details, nil, 404, "not-found", nil},
		{"update: not a vehicle id", "PUT", "/api/vehicles/golf", "application/json", details, nil, 404, "not-found", nil},
		{"update: stale If-Match", "PUT", golf, "application/json", strings.Replace(details, `"VW Golf"`, `"VW Golf GTI"`, 1), []string{"If-Match", `"1"`}, 412, "precondition-failed", nil},
		{"update: weak If-Match (never a strong match)", "PUT", golf, "application/json", strings.Replace(details, `"VW Golf"`, `"VW Golf GTI"`, 1), []string{"If-Match", `W/"1"`}, 412, "precondition-failed", nil},
		{"update: an ETag never issued", "PUT", golf, "application/json", strings.Replace(details, `"VW Golf"`, `"VW Golf GTI"`, 1), []string{"If-Match", `"01"`}, 412, "precondition-failed", nil},
		{"update: a version beyond any stored", "PUT", golf, "application/json", strings.Replace(details, `"VW Golf"`, `"VW Golf GTI"`, 1), []string{"If-Match", `"3000000000"`}, 412, "precondition-failed", nil},
		{"update: garbled If-Match", "PUT", golf, "application/json", details, []string{"If-Match", `garbled`}, 400, "invalid", nil},
		{"update: wrong content type", "PUT", golf, "application/xml", `<name/>`, nil, 415, "unsupported-media-type", nil},

		{"status: unknown status", "PUT", golf + "/status", "application/json", `{"status":"sold"}`, nil, 400, "invalid", []string{"status"}},
		{"status: missing", "PUT", golf + "/status", "application/json", `{}`, nil, 400, "invalid", []string{"status"}},
		{"status: rented car to the workshop", "PUT", golf + "/status", "application/json", `{"status":"maintenance"}`, nil, 409, "conflict", nil},
		{"status: rented car off the road", "PUT", golf + "/status", "application/json", `{"status":"out_of_service"}`, nil, 409, "conflict", nil},
		{"status: workshop car rented", "PUT", "/api/vehicles/" + opelAstra + "/status", "application/json", `{"status":"rented"}`, nil, 409, "conflict", nil},
		{"status: stale If-Match beats the rule", "PUT", golf + "/status", "application/json", `{"status":"maintenance"}`, []string{"If-Match", `"1"`}, 412, "precondition-failed", nil},
		{"status: unknown vehicle", "PUT", "/api/vehicles/" + unknownID + "/status", "application/json", `{"status":"available"}`, nil, 404, "not-found", nil},
		{"status: customer", "PUT", golf + "/status", "application/json", `{"status":"available"}`, []string{"Authorization", a.id.Bearer(t, "bob")}, 403, "forbidden", nil},

		{"move: rented car", "PUT", golf + "/location", "application/json", `{"locationCode":"MUC-FLG"}`, nil, 409, "conflict", nil},
		{"move: bad code", "PUT", "/api/vehicles/" + vwUp + "/location", "application/json", `{"locationCode":"Munich"}`, nil, 400, "invalid", []string{"locationCode"}},
		{"move: missing code", "PUT", "/api/vehicles/" + vwUp + "/location", "application/json", `{}`, nil, 400, "invalid", []string{"locationCode"}},
		{"move: unknown vehicle", "PUT", "/api/vehicles/" + unknownID + "/location", "application/json", `{"locationCode":"MUC-FLG"}`, nil, 404, "not-found", nil},
		{"move: stale If-Match", "PUT", "/api/vehicles/" + vwUp + "/location", "application/json", `{"locationCode":"MUC-FLG"}`, []string{"If-Match", `"7"`}, 412, "precondition-failed", nil},

		{"rate: missing field", "PUT", golf + "/daily-rate", "application/json", `{}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: euros, not cents", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":45.99}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: a string", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":"4599"}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: below one euro", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":99}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: negative", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":-4599}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: above ten thousand euros", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":1000001}`, nil, 400, "invalid", []string{"dailyRateNetCents"}},
		{"rate: unknown vehicle", "PUT", "/api/vehicles/" + unknownID + "/daily-rate", "application/json", `{"dailyRateNetCents":4599}`, nil, 404, "not-found", nil},
		{"rate: stale If-Match", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":4599}`, []string{"If-Match", `"1"`}, 412, "precondition-failed", nil},
		{"rate: anonymous", "PUT", golf + "/daily-rate", "application/json", `{"dailyRateNetCents":4599}`, []string{"Authorization", ""}, 401, "unauthorized", nil},

		{"wrong method", "DELETE", golf, "", "", nil, 405, "method-not-allowed", nil},
	}
	before := a.snapshot()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.do(tt.method, tt.path, tt.contentType, tt.body, tt.header...)
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			p := decode[platform.Problem](t, r)
			assert.Equal(t, platform.ProblemTypeBase+tt.wantType, p.Type)
			assert.Equal(t, tt.wantStatus, p.Status)
			assert.NotEmpty(t, p.Detail)
			if tt.wantFields != nil {
				assert.ElementsMatch(t, tt.wantFields, fieldsOf(p))
			}
			assert.Equal(t, before, a.snapshot(), "a rejected request changed the data")
		})
	}
}

func TestNormalizePlate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"B-OC 1001", "B-OC 1001", true},
		{"b oc 1001", "B-OC 1001", true},
		{"  HH - OC  4001 ", "HH-OC 4001", true},
		{"M-A1", "M-A 1", true},
		{"K-OC 503E", "K-OC 503E", true},
		{"TÜ-AB 12", "TÜ-AB 12", true},
		{"tü-ab 12h", "TÜ-AB 12H", true},
		{"HHH-OC 123", "HHH-OC 123", true}, // eight characters
		{"HHH-OC 1234", "", false},         // nine
		{"BOC 1001", "", false},            // where does the area code end?
		{"B-OC 0101", "", false},           // no leading zero
		{"B-OC 12345", "", false},          // at most four digits
		{"B-ABC 1", "", false},             // at most two letters
		{"B-OC", "", false},                // no number
		{"B-OC 12X", "", false},            // only E or H after the number
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := fleet.NormalizePlate(tt.in)
		assert.Equal(t, tt.ok, ok, tt.in)
		if tt.ok {
			assert.Equal(t, tt.want, got, tt.in)
		}
	}
}

func TestSchemaRefusesWhatValidationRefuses(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	ctx := context.Background()
	insert := `INSERT INTO fleet.vehicles (name, category, location_code, seats, fuel, transmission, licence_plate) VALUES `
	tests := []struct {
		name string
		sql  string
		code string
	}{
		{"unknown category", insert + `('x', 'VAN', 'BER-HBF', 5, 'diesel', 'manual', 'B-X 1')`, database.CheckViolation},
		{"one seat", insert + `('x', 'KLEIN', 'BER-HBF', 1, 'diesel', 'manual', 'B-X 1')`, database.CheckViolation},
		{"bad branch code", insert + `('x', 'KLEIN', 'Berlin', 4, 'diesel', 'manual', 'B-X 1')`, database.CheckViolation},
		{"unknown fuel", insert + `('x', 'KLEIN', 'BER-HBF', 4, 'coal', 'manual', 'B-X 1')`, database.CheckViolation},
		{"plate not in written form", insert + `('x', 'KLEIN', 'BER-HBF', 4, 'diesel', 'manual', 'B X 1')`, database.CheckViolation},
		{"plate too long", insert + `('x', 'KLEIN', 'BER-HBF', 4, 'diesel', 'manual', 'HHH-OC 1234')`, database.CheckViolation},
		{"duplicate plate", insert + `('x', 'KLEIN', 'BER-HBF', 4, 'diesel', 'manual', 'B-OC 1001')`, database.UniqueViolation},
		{"rate below a euro", `UPDATE fleet.vehicles SET daily_rate_net_cents = 99 WHERE id = '` + vwUp + `'`, database.CheckViolation},
		{"workshop car rented", `UPDATE fleet.vehicles SET status = 'rented' WHERE id = '` + opelAstra + `'`, database.CheckViolation},
		{"unknown status", `UPDATE fleet.vehicles SET status = 'sold' WHERE id = '` + vwUp + `'`, database.CheckViolation},
		{"booking for an unknown car", `INSERT INTO fleet.bookings (reservation_id, vehicle_id, period, status, version)
			VALUES (gen_random_uuid(), '` + unknownID + `', '[2026-06-01, 2026-06-02)', 'pending', 1)`, database.ForeignKeyViolation},
		{"booking with an open end", `INSERT INTO fleet.bookings (reservation_id, vehicle_id, period, status, version)
			VALUES (gen_random_uuid(), '` + vwUp + `', '[2026-06-01,)', 'pending', 1)`, database.CheckViolation},
		{"booking in an unknown state", `INSERT INTO fleet.bookings (reservation_id, vehicle_id, period, status, version)
			VALUES (gen_random_uuid(), '` + vwUp + `', '[2026-06-01, 2026-06-02)', 'held', 1)`, database.CheckViolation},
	}
	before := a.snapshot()
	for _, tt := range tests {
		_, err := a.db.Pool.Exec(ctx, tt.sql)
		require.Error(t, err, tt.name)
		assert.True(t, database.IsCode(err, tt.code), "%s: %v", tt.name, err)
	}
	// The rented-car rules hold for raw updates too, through the trigger.
	_, err := a.db.Pool.Exec(ctx, `UPDATE fleet.vehicles SET status = 'rented' WHERE id = '`+vwGolf+`'`)
	require.NoError(t, err)
	for _, sql := range []string{
		`UPDATE fleet.vehicles SET status = 'maintenance' WHERE id = '` + vwGolf + `'`,
		`UPDATE fleet.vehicles SET location_code = 'MUC-FLG' WHERE id = '` + vwGolf + `'`,
	} {
		_, err := a.db.Pool.Exec(ctx, sql)
		assert.True(t, database.IsCode(err, database.CheckViolation), "%s: %v", sql, err)
	}
	_, err = a.db.Pool.Exec(ctx, `UPDATE fleet.vehicles SET status = 'available' WHERE id = '`+vwGolf+`'`)
	require.NoError(t, err)
	assert.Equal(t, before, a.snapshot())
}

func fieldsOf(p platform.Problem) []string {
	var fields []string
	for _, f := range p.Errors {
		fields = append(fields, f.Field)
	}
	return fields
}

func ptr(n int64) *int64 { return &n }
