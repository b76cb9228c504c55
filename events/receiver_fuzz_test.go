package events_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
)

// validHeaderValue is what net/http's server lets through in a header value: no control
// bytes but tab (RFC 9110 field-value; obs-text, bytes from 0x80, is allowed).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// FuzzReceiver posts fuzzed deliveries — binary mode (ce-* headers and a body) or
// structured mode (the whole event as JSON) — to events.Receiver on a real database. The
// receiver must never panic and never answer 5xx to a delivery (with the database healthy
// a 5xx makes the Broker retry a malformed event forever); an event it accepts must reach
// the handler as a valid CloudEvent, be recorded once in the inbox, and a redelivery of the
// same request must be a 200 that changes nothing.
func FuzzReceiver(f *testing.F) {
	db := pg.NewDB(f, consumerMigrations())
	var handled []cloudevents.Event
	handler := func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
		if err := e.Validate(); err != nil {
			f.Errorf("the handler got an invalid event %v: %v", e, err)
		}
		handled = append(handled, e)
		return applyEffect(ctx, tx, e)
	}
	receiver := events.Receiver(db, consumer, handler)

	vehicle := `{"vehicleId":"v-1","version":1}`
	f.Add(false, "1.0", "b-1", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "b-2", source, events.VehicleUpdated, "", []byte(vehicle))
	f.Add(false, "0.3", "b-3", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "2.0", "b-4", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "b-5", "", events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "b-6", "%zz", events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "b-7", source, events.VehicleUpdated, "application/json", []byte(`{"vehicleId":"v-1","version":"1"}`))
	f.Add(false, "1.0", "b-8", source, events.VehicleUpdated, "application/json", []byte(`null`))
	f.Add(false, "1.0", "b-9", source, events.VehicleUpdated, "text/plain", []byte("\xff"))
	f.Add(false, "1.0", "b-\xff", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(false, "1.0", "b-%00", source, events.VehicleUpdated, "application/json", []byte(vehicle))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-1", nil)))
	f.Add(true, "", "", "", "", "application/cloudevents+json; charset=utf-8", []byte(structured("s-2", map[string]any{"data": "x"})))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-3", map[string]any{"specversion": "0.3"})))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-4", map[string]any{"source": nil})))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-5", map[string]any{"data_base64": "eyJ9"})))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-6", map[string]any{"time": "yesterday"})))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-\u0000", nil)))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(structured("s-7", map[string]any{"Ext": 1})))
	f.Add(true, "", "", "", "", "application/cloudevents-batch+json", []byte("["+structured("s-8", nil)+"]"))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(`{"specversion":"1.0","id":"s-9","source":"x","type":"t","data":`))
	f.Add(true, "", "", "", "", "application/cloudevents+json", []byte(`[]`))

	f.Fuzz(func(t *testing.T, structuredMode bool, specversion, id, src, typ, contentType string, body []byte) {
		header := http.Header{}
		set := func(k, v string) {
			if v != "" {
				header.Set(k, v)
			}
		}
		if !structuredMode {
			set("Ce-Specversion", specversion)
			set("Ce-Id", id)
			set("Ce-Source", src)
			set("Ce-Type", typ)
		}
		set("Content-Type", contentType)
		for _, vs := range header {
			for _, v := range vs {
				if !validHeaderValue(v) {
					return // net/http refuses such a request before any handler sees it
				}
			}
		}
		send := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, events.ReceivePath, bytes.NewReader(body))
			req.Header = header.Clone()
			rec := httptest.NewRecorder()
			receiver.ServeHTTP(rec, req)
			return rec
		}
		handled = handled[:0]
		rec := send()
		if rec.Code >= 500 {
			t.Fatalf("status %d for a delivery (structured %v, ce-id %q, ce-source %q, content-type %q, body %q): %s",
				rec.Code, structuredMode, id, src, contentType, body, rec.Body)
		}
		if rec.Code >= 300 {
			if !strings.Contains(rec.Header().Get("Content-Type"), "problem+json") {
				t.Fatalf("status %d without a problem document: %q", rec.Code, rec.Body)
			}
			return
		}
		// Accepted (202) or a duplicate of an earlier input (200). Either way the event is
		// in the inbox now, and sending it again changes nothing.
		for _, e := range handled {
			if n := count(t, db, `SELECT count(*) FROM evsink.inbox WHERE source = $1 AND id = $2`, e.Source(), e.ID()); n != 1 {
				t.Fatalf("event %s/%s is %d times in the inbox", e.Source(), e.ID(), n)
			}
		}
		handled = handled[:0]
		if again := send(); again.Code != http.StatusOK || len(handled) != 0 {
			t.Fatalf("redelivery: status %d, handled %d times; want 200 and no effect", again.Code, len(handled))
		}
	})
}
