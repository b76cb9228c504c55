package events_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// The producer: a synthetic function whose state change is a row in evtest.things, with the
// outbox brought along. The consumer: another function whose effect is a row in
// evsink.effects, with its inbox. The effects table has no unique key on purpose: only the
// inbox stands between a redelivery and a second effect.
const (
	producer = "evtest"
	consumer = "evsink"
	source   = "/functions/evtest"
)

func file(sql string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(sql)} }

func producerMigrations() database.Migrations {
	return database.Migrations{
		Schema: producer,
		FS:     fstest.MapFS{"m/0001_things.sql": file(`CREATE TABLE evtest.things (id text PRIMARY KEY, version bigint NOT NULL);`)},
		Dir:    "m",
		With:   []database.Migrations{events.Migrations()},
	}
}

func consumerMigrations() database.Migrations {
	return database.Migrations{
		Schema: consumer,
		FS: fstest.MapFS{"m/0001_effects.sql": file(`CREATE TABLE evsink.effects (
    n        bigserial PRIMARY KEY,
    event_id text NOT NULL,
    subject  text NOT NULL,
    version  bigint NOT NULL
);`)},
		Dir:  "m",
		With: []database.Migrations{events.Migrations()},
	}
}

// newDB is a fresh database holding both functions' schemas.
func newDB(t *testing.T) *database.DB {
	t.Helper()
	return pg.NewDB(t, producerMigrations(), consumerMigrations())
}

// openDB opens another pool on url (another replica of the same function).
func openDB(t *testing.T, url string) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), database.Config{URL: url, MaxConns: 16})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newChange builds the event describing version of thing subject.
func newChange(t *testing.T, subject string, version int64) cloudevents.Event {
	t.Helper()
	e, err := events.New(source, events.VehicleUpdated, subject, events.Vehicle{VehicleID: subject, Version: version, Status: "available"})
	require.NoError(t, err)
	return e
}

// change makes the state change "thing subject is at version" and records its event in the
// same transaction, as a producer does.
func change(t *testing.T, db *database.DB, subject string, version int64) cloudevents.Event {
	t.Helper()
	e := newChange(t, subject, version)
	ctx := context.Background()
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO evtest.things (id, version) VALUES ($1, $2)
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version`, subject, version); err != nil {
			return err
		}
		return events.Record(ctx, tx, producer, e)
	}))
	return e
}

func count(t *testing.T, db *database.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// waitFor polls cond until it holds or timeout passes: a bound, never an assertion on time.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// applyEffect is the consumer's handler: it decodes the payload strictly and writes the
// effect row in the inbox's transaction.
func applyEffect(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	v, err := events.DecodeData[events.Vehicle](e)
	if err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `INSERT INTO evsink.effects (event_id, subject, version) VALUES ($1, $2, $3)`, e.ID(), e.Subject(), v.Version)
	return nil, err
}

func effects(t *testing.T, db *database.DB, eventID string) int {
	t.Helper()
	return count(t, db, `SELECT count(*) FROM evsink.effects WHERE event_id = $1`, eventID)
}

// consumerServer serves the consumer's Receiver as a host does (platform.Observe in front)
// on a real HTTP server, counting the statuses it answered.
type consumerServer struct {
	*httptest.Server
	mu       sync.Mutex
	statuses map[int]int
}

func newConsumer(t *testing.T, db *database.DB, h events.Handler, opts ...events.ReceiverOption) *consumerServer {
	t.Helper()
	c := &consumerServer{statuses: map[int]int{}}
	mux := http.NewServeMux()
	mux.Handle("POST "+events.ReceivePath, events.Receiver(db, consumer, h, opts...))
	observed := platform.Observe(quiet(), mux)
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		observed.ServeHTTP(rec, r)
		c.mu.Lock()
		c.statuses[rec.status]++
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *consumerServer) sink() string { return c.URL + events.ReceivePath }

func (c *consumerServer) answered() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int]int{}
	for k, v := range c.statuses {
		out[k] = v
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// binaryRequest is e as a binary-mode CloudEvents POST to url.
func binaryRequest(t testing.TB, ctx context.Context, url string, e cloudevents.Event) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	require.NoError(t, err)
	require.NoError(t, cehttp.WriteRequest(cloudevents.WithEncodingBinary(ctx), binding.ToMessage(&e), req))
	return req
}

// post sends e in binary mode and returns the status, draining the body.
func post(t testing.TB, hc *http.Client, url string, e cloudevents.Event) (int, error) {
	t.Helper()
	resp, err := hc.Do(binaryRequest(t, context.Background(), url, e))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// recorder is a fake Publisher (the broker's edge): it records what it accepted, in order,
// and lets a test decide per call whether the broker accepts.
type recorder struct {
	mu        sync.Mutex
	attempts  []string
	published []cloudevents.Event
	// decide runs before acceptance; a non-nil error is the broker refusing.
	decide func(ctx context.Context, e cloudevents.Event, attempt int) error
}

func (r *recorder) Publish(ctx context.Context, e cloudevents.Event) error {
	r.mu.Lock()
	r.attempts = append(r.attempts, e.ID())
	n := 0
	for _, id := range r.attempts {
		if id == e.ID() {
			n++
		}
	}
	r.mu.Unlock()
	if r.decide != nil {
		if err := r.decide(ctx, e, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.published = append(r.published, e)
	r.mu.Unlock()
	return nil
}

func (r *recorder) accepted() []cloudevents.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cloudevents.Event(nil), r.published...)
}

func (r *recorder) tried() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.attempts...)
}

func ids(es []cloudevents.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID()
	}
	return out
}
