package fleet_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// TestChangesEmitEvents checks every change records its vehicle event in the outbox of the
// same transaction, and a change that changes nothing records none.
func TestChangesEmitEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	r := a.json(http.MethodPost, "/api/vehicles", `{"name":"Opel Corsa","category":"KLEIN","locationCode":"BER-HBF","seats":5,
		"fuel":"petrol","transmission":"manual","licencePlate":"B-EV 4711"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	id := decode[struct{ ID string }](t, r).ID
	steps := []struct{ path, body string }{
		{"/status", `{"status":"maintenance"}`},
		{"/status", `{"status":"maintenance"}`}, // no change, no event
		{"/status", `{"status":"available"}`},
		{"/location", `{"locationCode":"HAM-HBF"}`},
		{"/daily-rate", `{"dailyRateNetCents":3199}`},
	}
	for _, st := range steps {
		r := a.json(http.MethodPut, "/api/vehicles/"+id+st.path, st.body)
		require.Equal(t, http.StatusOK, r.status, string(r.body))
	}

	rows, err := a.db.Pool.Query(context.Background(), `SELECT type, subject, (data->>'version')::int, source FROM fleet.outbox ORDER BY seq`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var typ, subject, source string
		var version int
		require.NoError(t, rows.Scan(&typ, &subject, &version, &source))
		assert.Equal(t, id, subject)
		assert.Equal(t, "vehicles-api", source)
		got = append(got, fmt.Sprintf("%s v%d", typ, version))
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		events.VehicleCreated + " v1",
		events.VehicleStatusChanged + " v2",
		events.VehicleStatusChanged + " v3",
		events.VehicleMoved + " v4",
		events.VehicleUpdated + " v5",
	}, got)
}
