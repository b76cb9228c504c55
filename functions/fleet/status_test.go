package fleet_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/platform"
)

var allStatuses = []fleet.Status{fleet.StatusAvailable, fleet.StatusReserved, fleet.StatusRented, fleet.StatusMaintenance, fleet.StatusOutOfService}

// transitions is the status table of docs/fleet.md, written out by hand: row = from, column
// = to, in the order of allStatuses; 200 allowed (or a no-op on the diagonal), 409 refused.
var transitions = map[fleet.Status][5]int{
	//                         available reserved rented maintenance out_of_service
	fleet.StatusAvailable:    {200, 200, 200, 200, 200},
	fleet.StatusReserved:     {200, 200, 200, 200, 200},
	fleet.StatusRented:       {200, 409, 200, 409, 409},
	fleet.StatusMaintenance:  {200, 409, 409, 200, 200},
	fleet.StatusOutOfService: {200, 409, 409, 200, 200},
}

// TestEveryStatusTransition puts a fresh car in each status along an allowed path, asks for
// each status, and checks the answer against the table: a refused change is a 409 that leaves
// the car exactly as it was; an allowed one changes the status and bumps the version once (a
// no-op on the diagonal keeps it).
func TestEveryStatusTransition(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	n := 0
	for _, from := range allStatuses {
		for i, to := range allStatuses {
			n++
			want := transitions[from][i]
			t.Run(fmt.Sprintf("%s→%s", from, to), func(t *testing.T) {
				id := a.createCar(t, fmt.Sprintf("B-ST %d", n))
				if from != fleet.StatusAvailable {
					r := a.json(http.MethodPut, "/api/vehicles/"+id+"/status", fmt.Sprintf(`{"status":%q}`, from))
					require.Equal(t, http.StatusOK, r.status, string(r.body))
				}
				before := a.vehicle(id)
				require.Equal(t, from, before.Status)

				r := a.json(http.MethodPut, "/api/vehicles/"+id+"/status", fmt.Sprintf(`{"status":%q}`, to),
					"If-Match", fmt.Sprintf(`"%d"`, before.Version))
				require.Equal(t, want, r.status, string(r.body))
				after := a.vehicle(id)
				if want == http.StatusConflict {
					p := decode[platform.Problem](t, r)
					assert.Equal(t, platform.ProblemTypeBase+"conflict", p.Type)
					assert.Contains(t, p.Detail, string(from))
					assert.Equal(t, before, after, "a refused change altered the vehicle")
					return
				}
				assert.Equal(t, to, after.Status)
				wantVersion := before.Version + 1
				if from == to {
					wantVersion = before.Version
					assert.Equal(t, before, after, "setting the status a car has is a no-op")
				}
				assert.Equal(t, wantVersion, after.Version)
				assert.Equal(t, fmt.Sprintf(`"%d"`, wantVersion), r.header.Get("ETag"))
			})
		}
	}
}

// TestConcurrentStatusChangesCannotBothPass races "rented" against "maintenance" on free
// cars. Each is allowed from available, but neither after the other, so exactly one must
// win on every car: the rule is decided by the UPDATE, not by a read before it.
func TestConcurrentStatusChangesCannotBothPass(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	const cars = 12
	for i := range cars {
		id := a.createCar(t, fmt.Sprintf("B-RC %d", i+1))
		var wg sync.WaitGroup
		codes := make([]int, 2)
		for j, status := range []fleet.Status{fleet.StatusRented, fleet.StatusMaintenance} {
			wg.Go(func() {
				codes[j] = a.json(http.MethodPut, "/api/vehicles/"+id+"/status", fmt.Sprintf(`{"status":%q}`, status)).status
			})
		}
		wg.Wait()
		assert.ElementsMatch(t, []int{200, 409}, codes, "car %d", i)
		got := a.vehicle(id)
		assert.EqualValues(t, 2, got.Version)
		assert.Contains(t, []fleet.Status{fleet.StatusRented, fleet.StatusMaintenance}, got.Status)
	}
}

// createCar adds an available KLEIN car at BER-HBF with the given plate and returns its id.
func (a *api) createCar(t *testing.T, plate string) string {
	t.Helper()
	r := a.json(http.MethodPost, "/api/vehicles", fmt.Sprintf(`{"name":"Test car","category":"KLEIN","locationCode":"BER-HBF",
		"seats":4,"fuel":"petrol","transmission":"manual","licencePlate":%q}`, plate))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	return decode[fleet.Vehicle](t, r).ID
}

// TestARetriedChangeFindsItsEffect: a status change, a move or a daily rate retried with the
// If-Match of its first try (whose answer was lost) finds the car as it asked — 200, the
// same version — as a retried details PUT does, not a 412 for the version its own first try
// moved on.
func TestARetriedChangeFindsItsEffect(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, c := range []struct{ path, body string }{
		{"/status", `{"status":"maintenance"}`},
		{"/location", `{"locationCode":"MUC-FLG"}`},
		{"/daily-rate", `{"dailyRateNetCents":4599}`},
	} {
		path := "/api/vehicles/" + vwID3 + c.path
		etag := a.get("/api/vehicles/" + vwID3).header.Get("ETag")
		first := a.json(http.MethodPut, path, c.body, "If-Match", etag)
		require.Equal(t, http.StatusOK, first.status, "%s: %s", c.path, first.body)
		retry := a.json(http.MethodPut, path, c.body, "If-Match", etag)
		require.Equal(t, http.StatusOK, retry.status, "%s: %s", c.path, retry.body)
		assert.Equal(t, first.header.Get("ETag"), retry.header.Get("ETag"), c.path)
	}
}
