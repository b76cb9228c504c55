package contract_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"knative.dev/eventing/pkg/kncloudevents"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	// What Knative's broker filter configures for its dispatcher (filter_handler.go
	// NewHandler), so concurrent deliveries reuse connections as they do on a cluster.
	kncloudevents.ConfigureConnectionArgs(&kncloudevents.ConnectionArgs{MaxIdleConns: 1000, MaxIdleConnsPerHost: 100})
	pgtest.Main(m, &pg)
}

// The consumer is a function whose schema holds its inbox (events.Migrations), an effects
// table without a unique key — only the inbox stands between a redelivery and a second
// effect — and a read model of vehicles that applies an event only when it is newer.
const consumerSchema = "ctsink"

func consumerMigrations() database.Migrations {
	return database.Migrations{
		Schema: consumerSchema,
		FS: fstest.MapFS{"m/0001_consumer.sql": &fstest.MapFile{Data: []byte(`
CREATE TABLE ctsink.effects (
    n        bigserial PRIMARY KEY,
    event_id text NOT NULL,
    subject  text NOT NULL,
    version  bigint NOT NULL,
    applied  boolean NOT NULL
);
CREATE TABLE ctsink.vehicles (
    id      text PRIMARY KEY,
    version bigint NOT NULL,
    status  text NOT NULL
);`)}},
		Dir:  "m",
		With: []database.Migrations{events.Migrations()},
	}
}

// script tells the consumer how to misbehave, per event id.
type script struct {
	// failFirst answers 500 (a retryable error) to the first n attempts.
	failFirst map[string]int
	// refuse answers 400 (events.Permanent) to every attempt.
	refuse map[string]bool
	// hang keeps the first n attempts waiting until their request ends: the broker's
	// per-attempt timeout ends them.
	hang map[string]int
	// reply answers with a reply event, which the broker delivers as a new event: a
	// status change of the same vehicle, one version up, with id "reply-to-<id>".
	reply map[string]bool
}

// consumer is the function under test: events.Receiver over its database, served as a host
// serves it (platform.Observe in front, the authenticator a host puts in front of a function
// and the route table's access check behind it: only deliveries of its own Triggers are
// admitted), with a probe around it recording every request it got and what it answered.
// The same http.Handler is mounted in-process on the platform transport in one mode and
// served by a loopback HTTP server in the other.
type consumer struct {
	db      *database.DB
	script  script
	id      *authtest.Identity
	senders []platform.Sender // the consumer's Triggers, the only senders it admits

	mu       sync.Mutex
	handled  map[string]int    // handler calls per event id (the inbox insert succeeded)
	sentBy   map[string]string // the sender (service account) of the deliveries handled, per event id
	requests []request
	inFlight int // requests whose handler has not returned
}

// request is one delivery as the consumer saw it.
type request struct {
	id      string // Ce-Id; empty when the request was not in binary mode
	arrived time.Time
	wire    string
	status  int
}

func newConsumer(t *testing.T, id *authtest.Identity, sc script) *consumer {
	t.Helper()
	return &consumer{db: pg.NewDB(t, consumerMigrations()), script: sc, id: id, senders: triggerSenders(t),
		handled: map[string]int{}, sentBy: map[string]string{}}
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// handler is the consumer as a host serves it, with the probe outside.
func (c *consumer) handler() http.Handler {
	api := platform.RouteTable{{Name: "receiveEvent", Method: http.MethodPost, Path: events.ReceivePath,
		Access: platform.Deliveries(c.senders...), Handler: events.Receiver(c.db, consumerSchema, c.handle)}}
	observed := platform.Observe(quiet(), platform.Handler(api, c.id.Authenticator(consumerService)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		i := len(c.requests)
		c.requests = append(c.requests, request{id: r.Header.Get("Ce-Id"), arrived: time.Now(), wire: wireOf(r)})
		c.inFlight++
		c.mu.Unlock()
		defer func() {
			c.mu.Lock()
			c.inFlight--
			c.mu.Unlock()
		}()
		// The status is recorded when it is decided, before any byte of the answer leaves.
		observed.ServeHTTP(&statusProbe{ResponseWriter: w, record: func(status int) {
			c.mu.Lock()
			c.requests[i].status = status
			c.mu.Unlock()
		}}, r)
	})
}

// settle waits until every event of want reached the consumer and it handles no request
// any more: an attempt its broker gave up on (timeout) may still be rolling back when
// Publish returned, and replies are delivered after it. A bound, not an assertion on time.
func (c *consumer) settle(t *testing.T, want []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		missing := slices.DeleteFunc(slices.Clone(want), func(id string) bool {
			return slices.ContainsFunc(c.requests, func(r request) bool { return r.id == id })
		})
		busy := c.inFlight
		c.mu.Unlock()
		if len(missing) == 0 && busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer never got %v and still handles %d requests", missing, busy)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// handle is the consumer's events.Handler: the script's hangs and failures first, then a
// strict decode of the payload (events.DecodeData), the read model (newer versions only),
// one effect row and the reply, if any — all in the inbox's transaction.
func (c *consumer) handle(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	c.mu.Lock()
	c.handled[e.ID()]++
	n := c.handled[e.ID()]
	c.sentBy[e.ID()] = platform.CallerFrom(ctx).Sender
	c.mu.Unlock()
	if n <= c.script.hang[e.ID()] {
		<-ctx.Done()
		return nil, fmt.Errorf("attempt %d of %s abandoned: %w", n, e.ID(), ctx.Err())
	}
	if n <= c.script.failFirst[e.ID()] {
		return nil, fmt.Errorf("transient failure %d of %s", n, e.ID())
	}
	if c.script.refuse[e.ID()] {
		return nil, events.Permanentf("%s is refused", e.ID())
	}
	v, err := events.DecodeData[events.Vehicle](e)
	if err != nil {
		return nil, err
	}
	var reply *cloudevents.Event
	if c.script.reply[e.ID()] {
		r, err := events.New("/functions/"+consumerService, events.VehicleStatusChanged, v.VehicleID,
			events.Vehicle{VehicleID: v.VehicleID, Version: v.Version + 1, Status: "replied"})
		if err != nil {
			return nil, err
		}
		r.SetID("reply-to-" + e.ID())
		reply = &r
	}
	// One statement: the read model takes the version only when it is newer, and the
	// effect row records whether it did.
	_, err = tx.Exec(ctx, `WITH applied AS (
    INSERT INTO ctsink.vehicles (id, version, status) VALUES ($3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status
    WHERE ctsink.vehicles.version < EXCLUDED.version
    RETURNING 1
)
INSERT INTO ctsink.effects (event_id, subject, version, applied)
SELECT $1, $2, $4, EXISTS (SELECT FROM applied)`, e.ID(), e.Subject(), v.VehicleID, v.Version, v.Status)
	if err != nil {
		return nil, err
	}
	return reply, nil
}

// statusProbe reports the status a handler answers as soon as it is written.
type statusProbe struct {
	http.ResponseWriter
	record func(int)
	wrote  bool
}

func (s *statusProbe) WriteHeader(code int) {
	if !s.wrote {
		s.wrote = true
		s.record(code)
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusProbe) Write(b []byte) (int, error) {
	if !s.wrote {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusProbe) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// wireOf is what of a delivery's HTTP form a consumer may depend on: the CloudEvents
// encoding, the CloudEvents and Knative headers present, and the content type.
func wireOf(r *http.Request) string {
	encoding := "structured"
	if r.Header.Get("Ce-Specversion") != "" {
		encoding = "binary"
	}
	var ce []string
	for k := range r.Header {
		// The distributed-tracing extension is left out: whether a delivery carries one
		// depends on the Broker's tracing setup (Knative's dispatcher propagates a trace only
		// when its observability config installs a propagator), not on the contract.
		if k := strings.ToLower(k); k == "ce-traceparent" || k == "ce-tracestate" {
			continue
		}
		if strings.HasPrefix(strings.ToLower(k), "ce-") {
			ce = append(ce, strings.ToLower(k))
		}
	}
	slices.Sort(ce)
	return fmt.Sprintf("%s content-type=%q prefer=%q kn-namespace=%q ce=%s", encoding,
		r.Header.Get("Content-Type"), r.Header.Get("Prefer"), r.Header.Get("Kn-Namespace"), strings.Join(ce, ","))
}

// deadLetterSink is the dead-letter Service: it records every CloudEvent and answers 202.
// Like any function it admits only deliveries of the Triggers that dead-letter to it.
type deadLetterSink struct {
	mu  sync.Mutex
	got []received
}

type received struct {
	event  cloudevents.Event
	wire   string
	sender string // the delivering sender's service account
}

// handler is the sink as a host serves it: behind the authenticator, for senders only.
func (d *deadLetterSink) handler(id *authtest.Identity, senders []platform.Sender) http.Handler {
	api := platform.RouteTable{{Name: "receiveDeadLetter", Method: http.MethodPost, Path: "/", Access: platform.Deliveries(senders...),
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			d.ServeHTTP(w, r)
			return nil
		}}}
	h := platform.Observe(quiet(), platform.Handler(api, id.Authenticator(deadLetterService)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The sink's destination has no uri: a delivery posts to the Service's root URL,
		// which a server sees as "/". platform.Transport hands an in-process handler the
		// client's empty path instead (the router would answer 301), so it is made "/"
		// here as a server makes it.
		if r.URL.Path == "" {
			r = r.Clone(r.Context())
			r.URL.Path = "/"
		}
		h.ServeHTTP(w, r)
	})
}

func (d *deadLetterSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wire := wireOf(r)
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	d.mu.Lock()
	d.got = append(d.got, received{event: *e, wire: wire, sender: platform.CallerFrom(r.Context()).Sender})
	d.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (d *deadLetterSink) letters() []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.got)
}

// vehicleEvent is version of vehicle id in status, as the fleet function emits it.
func vehicleEvent(t *testing.T, id string, version int64, status string) cloudevents.Event {
	t.Helper()
	e, err := events.New("/functions/fleet", events.VehicleUpdated, id,
		events.Vehicle{VehicleID: id, Version: version, Category: "compact", LocationCode: "BER", Status: status, LicensePlate: "B-OC " + id})
	require.NoError(t, err)
	return e
}

// statusChange is the status_changed event of version of vehicle id, which goes through
// the Trigger with the short timeout.
func statusChange(t *testing.T, id string, version int64, status string) cloudevents.Event {
	t.Helper()
	e, err := events.New("/functions/fleet", events.VehicleStatusChanged, id, events.Vehicle{VehicleID: id, Version: version, Status: status})
	require.NoError(t, err)
	return e
}

// withData is e carrying raw bytes as its JSON data (the malformed-data cases); nil data
// leaves the event without any.
func withData(t *testing.T, e cloudevents.Event, data []byte) cloudevents.Event {
	t.Helper()
	out := e.Clone()
	if data == nil {
		out.DataEncoded = nil
		out.SetDataContentType("")
		return out
	}
	require.NoError(t, out.SetData(cloudevents.ApplicationJSON, data))
	return out
}

// errorData decodes a knativeerrordata value: the base64 of the consumer's answer — a
// problem+json document, returned without its request id (which differs per request) —
// or, when there was no answer, of the dispatcher's "dispatch error: …" text.
func errorData(t *testing.T, data string) (problem map[string]any, text string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(data)
	require.NoError(t, err, "knativeerrordata %q", data)
	if json.Unmarshal(raw, &problem) != nil {
		return nil, string(raw)
	}
	require.NotEmpty(t, problem["requestId"], "the problem names its request")
	delete(problem, "requestId")
	return problem, ""
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
