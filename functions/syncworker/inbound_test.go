package syncworker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/syncworker"
)

const car = "5a1e0000-0000-4000-8000-0000000000c1"

// structured is one event in structured mode.
func structured(id, typ string, data any) map[string]any {
	return map[string]any{"specversion": "1.0", "id": id, "source": "urn:telematics:box-7", "type": typ,
		"datacontenttype": "application/json", "time": "2026-12-03T09:00:00Z", "data": data}
}

func odometer(km any) map[string]any {
	return map[string]any{"vehicleId": car, "readAt": "2026-12-03T09:00:00Z", "odometerKm": km}
}

func damage() map[string]any {
	return map[string]any{"vehicleId": car, "reportedAt": "2026-12-03T09:05:00Z", "severity": "major", "description": "rear bumper"}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// TestInbound: the table of good and bad requests. Each row runs on the state the rows
// before it left (the duplicate row repeats an earlier event), and the outbox must hold
// exactly the events published so far.
func TestInbound(t *testing.T) {
	w := newWorker(t, testConfig())
	partner := w.id.Bearer(t, "partner:dev-garage")
	limited := w.id.Bearer(t, "partner:odometer-only")
	r := w.admin_(http.MethodPut, syncworker.PartnersPrefix+"/odometer-only", map[string]any{"types": []string{events.VehicleOdometerRead}})
	require.Equal(t, http.StatusCreated, r.status, string(r.body))

	binary := func(id, typ string, data any) (string, []byte, []string) {
		return "application/json", mustJSON(data), []string{"ce-specversion", "1.0", "ce-id", id, "ce-source", "urn:telematics:box-7", "ce-type", typ}
	}
	type req struct {
		auth, contentType string
		body              []byte
		header            []string
	}
	bin := func(auth, id, typ string, data any) req {
		ct, b, h := binary(id, typ, data)
		return req{auth, ct, b, h}
	}
	str := func(auth string, ev map[string]any) req {
		return req{auth, "application/cloudevents+json", mustJSON(ev), nil}
	}
	batch := func(auth string, evs ...any) req {
		return req{auth, "application/cloudevents-batch+json", mustJSON(evs), nil}
	}
	for _, tc := range []struct {
		name      string
		req       req
		status    int
		published int    // the outbox's size after the row
		mention   string // a problem the answer names
	}{
		{"good binary", bin(partner, "e-1", events.VehicleOdometerRead, odometer(12000)), http.StatusAccepted, 1, ""},
		{"good structured", str(partner, structured("e-2", events.VehicleDamageReported, damage())), http.StatusAccepted, 2, ""},
		{"good batch", batch(partner, structured("e-3", events.VehicleFuelRead, map[string]any{"vehicleId": car, "readAt": "2026-12-03T09:01:00Z", "fuelEighths": 6}),
			structured("e-4", events.VehicleRepairCompleted, map[string]any{"vehicleId": car, "completedAt": "2026-12-03T10:00:00Z"})), http.StatusAccepted, 4, ""},
		{"duplicate id", bin(partner, "e-1", events.VehicleOdometerRead, odometer(12000)), http.StatusAccepted, 4, `"duplicates":1`},
		{"duplicate in a batch with a new one", batch(partner, structured("e-2", events.VehicleDamageReported, damage()),
			structured("e-5", events.VehicleOdometerRead, odometer(12100))), http.StatusAccepted, 5, `"duplicates":1`},
		{"wrong schema: negative", bin(partner, "e-6", events.VehicleOdometerRead, odometer(-5)), http.StatusBadRequest, 5, "data/odometerKm"},
		{"wrong schema: string", bin(partner, "e-6", events.VehicleOdometerRead, odometer("12")), http.StatusBadRequest, 5, "data/odometerKm"},
		{"wrong schema: extra field", bin(partner, "e-6", events.VehicleOdometerRead, map[string]any{"vehicleId": car, "readAt": "2026-12-03T09:00:00Z", "odometerKm": 1, "driver": "x"}),
			http.StatusBadRequest, 5, "driver"},
		{"wrong schema: bad date", bin(partner, "e-6", events.VehicleOdometerRead, map[string]any{"vehicleId": car, "readAt": "yesterday", "odometerKm": 1}), http.StatusBadRequest, 5, "data/readAt"},
		{"wrong schema: severity", str(partner, structured("e-6", events.VehicleDamageReported, map[string]any{"vehicleId": car, "reportedAt": "2026-12-03T09:05:00Z", "severity": "scratch"})),
			http.StatusBadRequest, 5, "data/severity"},
		{"no data", bin(partner, "e-6", events.VehicleOdometerRead, nil), http.StatusBadRequest, 5, "data"},
		{"unknown type", bin(partner, "e-6", "com.example.unknown.v1", odometer(1)), http.StatusBadRequest, 5, "not an inbound event type"},
		{"one of ours", bin(partner, "e-6", events.ReservationConfirmed, odometer(1)), http.StatusBadRequest, 5, "not an inbound event type"},
		{"type not allowed for the partner", bin(limited, "e-6", events.VehicleDamageReported, damage()), http.StatusForbidden, 5, "not allowed"},
		{"allowed type of the limited partner", bin(limited, "e-1", events.VehicleOdometerRead, odometer(12000)), http.StatusAccepted, 6, `"duplicates":0`},
		{"a partner without types", bin(w.id.Bearer(t, "partner:stranger"), "e-6", events.VehicleOdometerRead, odometer(1)), http.StatusForbidden, 6, "not allowed"},
		{"a time 24 hours off UTC", req{partner, "application/json", mustJSON(odometer(1)), []string{"ce-specversion", "1.0", "ce-id", "e-8", "ce-source", "s",
			"ce-type", events.VehicleOdometerRead, "ce-time", "2026-12-04T18:00:00+24:00"}}, http.StatusBadRequest, 6, "time: the offset"},
		{"malformed: no id", req{partner, "application/json", mustJSON(odometer(1)), []string{"ce-specversion", "1.0", "ce-source", "s", "ce-type", events.VehicleOdometerRead}},
			http.StatusBadRequest, 6, "id"},
		{"malformed: structured not JSON", req{partner, "application/cloudevents+json", []byte("{"), nil}, http.StatusBadRequest, 6, "CloudEvent"},
		{"malformed: batch not an array", req{partner, "application/cloudevents-batch+json", []byte(`{"id":"x"}`), nil}, http.StatusBadRequest, 6, "array"},
		{"malformed: batch member", batch(partner, structured("e-7", events.VehicleOdometerRead, odometer(1)), "nope"), http.StatusBadRequest, 6, "events[1]"},
		// Every bad member named at once: the invalid one beside the malformed one.
		{"malformed and invalid members", batch(partner, structured("e-7", events.VehicleOdometerRead, odometer(-1)), "nope"), http.StatusBadRequest, 6, `"field":"events[0]"`},
		{"malformed: data not what datacontenttype says", req{partner, "application/cloudevents+json",
			mustJSON(map[string]any{"specversion": "1.0", "id": "e-7", "source": "s", "type": events.VehicleOdometerRead, "datacontenttype": "application/xml", "data": odometer(1)}), nil},
			http.StatusBadRequest, 6, "not a CloudEvent"},
		{"malformed: no specversion", str(partner, map[string]any{"id": "e-7", "source": "s", "type": events.VehicleOdometerRead, "data": odometer(1)}), http.StatusBadRequest, 6, ""},
		{"batch all or nothing", batch(partner, structured("e-7", events.VehicleOdometerRead, odometer(1)), structured("e-8", events.VehicleOdometerRead, odometer(-1))),
			http.StatusBadRequest, 6, "events[1]"},
		// Valid by the schema, but text PostgreSQL does not store: a 500 once, which a
		// partner retrying 5xx would have sent for ever.
		{"NUL in a string", bin(partner, "e-7", events.VehicleDamageReported, map[string]any{"vehicleId": car, "reportedAt": "2026-12-03T09:05:00Z",
			"severity": "minor", "description": "a\x00b"}), http.StatusBadRequest, 6, "NUL"},
		{"half a surrogate pair", req{partner, "application/json", []byte(`{"vehicleId":"` + car + `","reportedAt":"2026-12-03T09:05:00Z","severity":"minor","description":"a\ud800b"}`),
			[]string{"ce-specversion", "1.0", "ce-id", "e-7", "ce-source", "urn:telematics:box-7", "ce-type", events.VehicleDamageReported}},
			http.StatusBadRequest, 6, "surrogate"},
		{"invalid UTF-8 in the data", req{partner, "application/json", []byte(`{"vehicleId":"` + car + `","reportedAt":"2026-12-03T09:05:00Z","severity":"minor","description":"a` + "\xff" + `b"}`),
			[]string{"ce-specversion", "1.0", "ce-id", "e-7", "ce-source", "urn:telematics:box-7", "ce-type", events.VehicleDamageReported}},
			http.StatusBadRequest, 6, "UTF-8"},
		// Accepted by JSON Schema's integer, then dead-lettered by vehicles-api's Go int.
		{"an integer written 3.0", req{partner, "application/json", []byte(`{"vehicleId":"` + car + `","readAt":"2026-12-03T09:01:00Z","fuelEighths":3.0}`),
			[]string{"ce-specversion", "1.0", "ce-id", "e-7", "ce-source", "urn:telematics:box-7", "ce-type", events.VehicleFuelRead}},
			http.StatusBadRequest, 6, "data/fuelEighths"},
		// Fleet keeps a car's newest reading: one dated 2099 hid every real one after it.
		{"a reading dated ahead", bin(partner, "e-7", events.VehicleOdometerRead, map[string]any{"vehicleId": car, "readAt": "2099-12-03T09:00:00Z", "odometerKm": 1}),
			http.StatusBadRequest, 6, "lies in the future"},
		// The same in the lower-case "t" and "z" RFC 3339 allows: the schema took it, the
		// future check (platform.ParseTime) could not read it and let it through to be
		// dead-lettered.
		{"a reading dated ahead, written in lower case", bin(partner, "e-7", events.VehicleOdometerRead, map[string]any{"vehicleId": car, "readAt": "2099-12-03t09:00:00z", "odometerKm": 1}),
			http.StatusBadRequest, 6, "lies in the future"},
		{"specversion 0.3", req{partner, "application/json", mustJSON(odometer(1)),
			[]string{"ce-specversion", "0.3", "ce-id", "e-7", "ce-source", "urn:telematics:box-7", "ce-type", events.VehicleOdometerRead}},
			http.StatusBadRequest, 6, "specversion"},
		{"NUL in a batch", batch(partner, structured("e-7", events.VehicleOdometerRead, odometer(1)),
			structured("e-8", events.VehicleDamageReported, map[string]any{"vehicleId": car, "reportedAt": "2026-12-03T09:05:00Z", "severity": "minor", "description": "\x00"})),
			http.StatusBadRequest, 6, "events[1]"},
		{"oversized batch", batch(partner, structured("e-7", events.VehicleOdometerRead, odometer(1)), structured("e-8", events.VehicleOdometerRead, odometer(1)),
			structured("e-9", events.VehicleOdometerRead, odometer(1)), structured("e-10", events.VehicleOdometerRead, odometer(1))), http.StatusRequestEntityTooLarge, 6, "at most 3"},
		{"oversized event", bin(partner, "e-7", events.VehicleDamageReported, map[string]any{"description": strings.Repeat("x", events.MaxEventBytes)}), http.StatusRequestEntityTooLarge, 6, ""},
		{"empty batch", batch(partner), http.StatusBadRequest, 6, "empty"},
		{"customer token", bin(w.id.Bearer(t, "alice"), "e-7", events.VehicleOdometerRead, odometer(1)), http.StatusForbidden, 6, ""},
		{"admin token", bin(w.admin, "e-7", events.VehicleOdometerRead, odometer(1)), http.StatusForbidden, 6, "partners"},
		{"a function's token", bin(w.id.Bearer(t, "service:vehicles-api"), "e-7", events.VehicleOdometerRead, odometer(1)), http.StatusForbidden, 6, ""},
		{"no token", bin("", "e-7", events.VehicleOdometerRead, odometer(1)), http.StatusUnauthorized, 6, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do(http.MethodPost, syncworker.EventsPath, tc.req.auth, tc.req.contentType, tc.req.body, tc.req.header...)
			require.Equal(t, tc.status, r.status, string(r.body))
			if tc.status >= 400 {
				assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			}
			assert.Contains(t, string(r.body), tc.mention)
			assert.NotContains(t, string(r.body), "bigger context", "the parser's excerpt of the body")
			var n int
			require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sync.outbox`).Scan(&n))
			assert.Equal(t, tc.published, n, "events in the outbox")
		})
	}

	// What the Broker gets: the partner's source, an id derived from the producer's, the car
	// as subject, the data as sent.
	var source, subject, id string
	var data []byte
	require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT source, subject, id::text, data FROM sync.outbox WHERE type = $1`,
		events.VehicleDamageReported).Scan(&source, &subject, &id, &data))
	assert.Equal(t, "sync-worker/partners/dev-garage", source)
	assert.Equal(t, car, subject)
	assert.JSONEq(t, string(mustJSON(damage())), string(data))
	var sources int
	require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT source) FROM sync.outbox WHERE type = $1`, events.VehicleOdometerRead).Scan(&sources))
	assert.Equal(t, 2, sources, "the same producer id from two partners is two events")
}

// TestInboundConcurrentDuplicates: the same events sent by several requests at once — single
// events and batches holding them in other orders — are published once each, and every
// request is answered 202 (no deadlock, no error).
func TestInboundConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	partner := w.id.Bearer(t, "partner:dev-garage")
	a := structured("c-1", events.VehicleOdometerRead, odometer(100))
	b := structured("c-2", events.VehicleOdometerRead, odometer(200))
	bodies := []struct {
		ct   string
		body []byte
	}{
		{"application/cloudevents+json", mustJSON(a)},
		{"application/cloudevents+json", mustJSON(a)},
		{"application/cloudevents-batch+json", mustJSON([]any{a, b})},
		{"application/cloudevents-batch+json", mustJSON([]any{b, a})},
		{"application/cloudevents-batch+json", mustJSON([]any{b, a})},
		{"application/cloudevents+json", mustJSON(b)},
	}
	statuses := make([]int, len(bodies))
	accepted := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, bd := range bodies {
		wg.Go(func() {
			r := w.do(http.MethodPost, syncworker.EventsPath, partner, bd.ct, bd.body)
			statuses[i] = r.status
			var out syncworker.Accepted
			if json.Unmarshal(r.body, &out) == nil {
				accepted[i] = out.Accepted
			}
		})
	}
	wg.Wait()
	total := 0
	for i := range bodies {
		assert.Equal(t, http.StatusAccepted, statuses[i], "request %d", i)
		total += accepted[i]
	}
	assert.Equal(t, 2, total, "each event accepted once in all")
	var n int
	require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sync.outbox`).Scan(&n))
	assert.Equal(t, 2, n, "each event published once")
}

// TestPartnerIDs: a partner's id is input of a create-or-replace — one that cannot be a
// client id is a 400 naming it, not a 404 — and a DELETE of one is a 404 that reaches no
// query (a NUL was a 500).
func TestPartnerIDs(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	body := map[string]any{"types": []string{events.VehicleOdometerRead}}
	for _, id := range []string{"no%20such", "%C3%BC", "%00", "Upper", strings.Repeat("a", 64), "-dash-first"} {
		r := w.admin_(http.MethodPut, syncworker.PartnersPrefix+"/"+id, body)
		assert.Equal(t, http.StatusBadRequest, r.status, "PUT %s: %s", id, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		assert.Contains(t, string(r.body), `"field":"client"`, id)
		r = w.admin_(http.MethodDelete, syncworker.PartnersPrefix+"/"+id, nil)
		assert.Equal(t, http.StatusNotFound, r.status, "DELETE %s: %s", id, r.body)
	}
	// Every bad type is named at once, by its place in the list.
	r := w.admin_(http.MethodPut, syncworker.PartnersPrefix+"/garage-7.eu_x", map[string]any{"types": []string{"nope", events.VehicleOdometerRead, "also-bad"}})
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"field":"types[0]"`)
	assert.Contains(t, string(r.body), `"field":"types[2]"`)
	// If-Match (RFC 9110 §13.1.1): a partner has no ETag, so "*" holds only when it exists and
	// a tag never; garbage is a 400.
	ifMatch := func(method, value string, body any) response {
		var raw []byte
		ct := ""
		if body != nil {
			raw, _ = json.Marshal(body)
			ct = "application/json"
		}
		return w.do(method, syncworker.PartnersPrefix+"/garage-7.eu_x", w.admin, ct, raw, "If-Match", value)
	}
	assert.Equal(t, http.StatusPreconditionFailed, ifMatch(http.MethodPut, "*", body).status, "* and no partner yet")
	assert.Equal(t, http.StatusBadRequest, ifMatch(http.MethodPut, "garbage", body).status)
	assert.Equal(t, http.StatusNotFound, ifMatch(http.MethodDelete, `"1"`, nil).status, "404 before 412")
	r = w.admin_(http.MethodPut, syncworker.PartnersPrefix+"/garage-7.eu_x", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body), "a PUT that creates")
	assert.Equal(t, http.StatusOK, ifMatch(http.MethodPut, "*", body).status, "* and it exists")
	assert.Equal(t, http.StatusPreconditionFailed, ifMatch(http.MethodPut, `"1"`, body).status)
	assert.Equal(t, http.StatusPreconditionFailed, ifMatch(http.MethodDelete, `"999"`, nil).status)
	assert.Equal(t, syncworker.PartnersPrefix+"/garage-7.eu_x", r.header.Get("Location"))
	r = w.admin_(http.MethodPut, syncworker.PartnersPrefix+"/garage-7.eu_x", body)
	require.Equal(t, http.StatusOK, r.status, string(r.body), "a PUT that replaces")
	r = w.admin_(http.MethodDelete, syncworker.PartnersPrefix+"/garage-7.eu_x", nil)
	assert.Equal(t, http.StatusNoContent, r.status, string(r.body))
	r = w.admin_(http.MethodGet, syncworker.PartnersPrefix, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.NotContains(t, string(r.body), "garage-7")
	assert.Len(t, r.json(t)["items"], 1, "the seeded dev-garage only")
}
