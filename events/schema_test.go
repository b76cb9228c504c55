package events_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// compileSchema compiles the published schema of typ as sync-worker does: draft 2020-12
// with formats asserted.
func compileSchema(t *testing.T, typ string) *jsonschema.Schema {
	t.Helper()
	b, ok := events.Schema(typ)
	require.Truef(t, ok, "no schema for %s: run go generate ./events/", typ)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := "https://schemas.orangecarrental.test/" + typ + ".json"
	require.NoError(t, c.AddResource(url, doc))
	s, err := c.Compile(url)
	require.NoErrorf(t, err, "the schema of %s does not compile", typ)
	return s
}

// TestEverySchemaCompilesAndAcceptsItsPayload: every type has a schema that compiles with
// santhosh-tekuri/jsonschema and accepts a payload the Go type encodes (every field set;
// for the inbound types a valid one).
func TestEverySchemaCompilesAndAcceptsItsPayload(t *testing.T) {
	t.Parallel()
	valid := map[string]any{
		events.VehicleOdometerRead:    events.OdometerReading{VehicleID: "f1ee0000-0000-4000-8000-000000000002", ReadAt: "2026-11-02T08:00:00Z", OdometerKm: 41000},
		events.VehicleFuelRead:        events.FuelReading{VehicleID: "f1ee0000-0000-4000-8000-000000000002", ReadAt: "2026-11-02T08:00:00+01:00", FuelEighths: 8},
		events.VehiclePositionRead:    events.PositionReading{VehicleID: "f1ee0000-0000-4000-8000-000000000002", ReadAt: "2026-11-02T08:00:00.5Z", Latitude: -90, Longitude: 180},
		events.VehicleDamageReported:  events.DamageReport{VehicleID: "f1ee0000-0000-4000-8000-000000000002", ReportedAt: "2026-11-02T08:00:00Z", Severity: "total_loss", Description: "front axle"},
		events.VehicleRepairCompleted: events.RepairCompletion{VehicleID: "F1EE0000-0000-4000-8000-000000000002", CompletedAt: "2026-11-02T08:00:00Z"},
	}
	for _, typ := range sortedTypes() {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			s := compileSchema(t, typ)
			payload := valid[typ]
			if payload == nil {
				p := events.Types[typ]()
				n := 0
				fill(t, reflect.ValueOf(p), typ, &n)
				payload = p
			}
			b, err := json.Marshal(payload)
			require.NoError(t, err)
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			require.NoError(t, err)
			assert.NoError(t, s.Validate(v))
		})
	}
	assert.Equal(t, sortedTypes(), events.SchemaTypes())
	_, ok := events.Schema("com.orangecarrental.vehicle.teleported.v1")
	assert.False(t, ok)
	_, ok = events.Schema("../asyncapi")
	assert.False(t, ok)
}

// TestInboundSchemasAreStrict: what a producer outside may not send, each schema refuses.
func TestInboundSchemasAreStrict(t *testing.T) {
	t.Parallel()
	const car = `"vehicleId": "f1ee0000-0000-4000-8000-000000000002"`
	tests := []struct {
		name, typ, body string
	}{
		{"no vehicle", events.VehicleOdometerRead, `{"readAt": "2026-11-02T08:00:00Z", "odometerKm": 1}`},
		{"vehicle not a uuid", events.VehicleOdometerRead, `{"vehicleId": "golf", "readAt": "2026-11-02T08:00:00Z", "odometerKm": 1}`},
		{"no time", events.VehicleOdometerRead, `{` + car + `, "odometerKm": 1}`},
		{"time not RFC 3339", events.VehicleOdometerRead, `{` + car + `, "readAt": "02.11.2026 08:00", "odometerKm": 1}`},
		{"negative odometer", events.VehicleOdometerRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "odometerKm": -1}`},
		{"odometer a fraction", events.VehicleOdometerRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "odometerKm": 1.5}`},
		{"odometer as a string", events.VehicleOdometerRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "odometerKm": "1"}`},
		{"an unknown field", events.VehicleOdometerRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "odometerKm": 1, "driver": "Alice"}`},
		{"a version", events.VehicleOdometerRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "odometerKm": 1, "version": 2}`},
		{"fuel beyond full", events.VehicleFuelRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "fuelEighths": 9}`},
		{"fuel below empty", events.VehicleFuelRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "fuelEighths": -1}`},
		{"latitude beyond a pole", events.VehiclePositionRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "latitude": 90.5, "longitude": 0}`},
		{"longitude beyond the date line", events.VehiclePositionRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "latitude": 0, "longitude": -180.1}`},
		{"no longitude", events.VehiclePositionRead, `{` + car + `, "readAt": "2026-11-02T08:00:00Z", "latitude": 0}`},
		{"unknown severity", events.VehicleDamageReported, `{` + car + `, "reportedAt": "2026-11-02T08:00:00Z", "severity": "scratch"}`},
		{"no severity", events.VehicleDamageReported, `{` + car + `, "reportedAt": "2026-11-02T08:00:00Z"}`},
		{"description too long", events.VehicleDamageReported, `{` + car + `, "reportedAt": "2026-11-02T08:00:00Z", "severity": "minor", "description": "` + string(bytes.Repeat([]byte("x"), 1001)) + `"}`},
		{"a repair without its time", events.VehicleRepairCompleted, `{` + car + `}`},
		{"not an object", events.VehicleRepairCompleted, `[1]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(tt.body)))
			require.NoError(t, err)
			assert.Error(t, compileSchema(t, tt.typ).Validate(v))
		})
	}
}
