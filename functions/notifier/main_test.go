package notifier_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// worker is the notifier over a fresh database, served as hosts serve it (behind the
// authenticator a host puts in front of it, access checks included), with its mail folder
// in a temporary directory. Its sender runs only after start, so a test can look at what
// the receiver recorded first.
type worker struct {
	t       *testing.T
	db      *database.DB
	svc     *notifier.Service
	id      *authtest.Identity
	handler http.Handler
	dir     string
}

// newWorker configures the worker from env on top of test defaults (folder mode, fast
// polling and retries).
func newWorker(t *testing.T, env map[string]string) *worker {
	t.Helper()
	return newWorkerLogging(t, env, io.Discard)
}

// newWorkerLogging is newWorker logging at debug level to logs.
func newWorkerLogging(t *testing.T, env map[string]string, logs io.Writer) *worker {
	t.Helper()
	return newWorkerOn(t, pg.NewDB(t, notifier.Migrations), env, logs)
}

// newWorkerOn is a worker over db, which other workers of the test may share (without
// running their senders: they would take each other's notifications).
func newWorkerOn(t *testing.T, db *database.DB, env map[string]string, logs io.Writer) *worker {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{
		"MAIL_DIR":           dir,
		"MAIL_POLL_INTERVAL": "20ms",
		"MAIL_RETRY_BASE":    "20ms",
		"MAIL_RETRY_MAX":     "100ms",
	}
	maps.Copy(vars, env)
	var cfg notifier.Config
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(vars), &cfg))
	logger := platform.NewLogger(logs, "debug", notifier.ServiceName)
	svc, err := notifier.New(context.Background(), cfg, platform.Deps{DB: db, Logger: logger})
	require.NoError(t, err)
	id := authtest.New(t)
	return &worker{t: t, db: db, svc: svc, dir: dir, id: id,
		handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(notifier.ServiceName)))}
}

// start runs the background sender until the test ends (before its database is dropped).
func (w *worker) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.svc.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(w.t, err)
		case <-time.After(10 * time.Second):
			w.t.Error("Run did not return after its context ended")
		}
	})
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (w *worker) serve(req *http.Request) response {
	rec := httptest.NewRecorder()
	w.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// deliver POSTs e to /cloudevents in binary mode as a Knative Broker does: with the token
// of the Trigger that delivers e's type to the worker in knative/base.
func (w *worker) deliver(e cloudevents.Event) response {
	w.t.Helper()
	return w.deliverAs(w.deliveryBearer(e.Type()), e)
}

// deliverAs is deliver with the Authorization header auth ("" for none).
func (w *worker) deliverAs(auth string, e cloudevents.Event) response {
	w.t.Helper()
	ctx := context.Background()
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, nil)
	require.NoError(w.t, cehttp.WriteRequest(cloudevents.WithEncodingBinary(ctx), binding.ToMessage(&e), req))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return w.serve(req)
}

// deliveryBearer is the Authorization header of a delivery of typ to the worker by its
// Trigger.
func (w *worker) deliveryBearer(typ string) string {
	w.t.Helper()
	return w.id.DeliveryBearer(w.t, brokertest.SenderOf(w.t, notifier.ServiceName, typ), notifier.ServiceName)
}

func (w *worker) get(path string) response {
	return w.serve(httptest.NewRequest(http.MethodGet, path, nil))
}

// row is one notification as the tests look at it.
type row struct {
	ID, Type, Recipient, Language, Subject, Body, Status string
	Attempts                                             int
	LastError                                            string
	Sent                                                 bool
}

func (w *worker) notifications() []row {
	w.t.Helper()
	rows, err := w.db.Pool.Query(context.Background(), `SELECT id::text, type, recipient, language, subject, body,
	status, attempts, coalesce(last_error, ''), sent_at IS NOT NULL FROM notifier.notifications ORDER BY created_at, id`)
	require.NoError(w.t, err)
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		require.NoError(w.t, rows.Scan(&r.ID, &r.Type, &r.Recipient, &r.Language, &r.Subject, &r.Body, &r.Status, &r.Attempts, &r.LastError, &r.Sent))
		out = append(out, r)
	}
	require.NoError(w.t, rows.Err())
	return out
}

func (w *worker) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// files returns the names of the .eml files in the mail folder.
func (w *worker) files() []string {
	w.t.Helper()
	names, err := filepath.Glob(filepath.Join(w.dir, "*.eml"))
	require.NoError(w.t, err)
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

func (w *worker) readFile(name string) string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, name))
	require.NoError(w.t, err)
	return string(b)
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

// event builds a CloudEvent of typ with data, from the function that produces it.
func event(t *testing.T, typ, subject string, data any) cloudevents.Event {
	t.Helper()
	source := map[string]string{"customer": "customers-api", "reservation": "reservations-api",
		"payment": "payments-api", "invoice": "payments-api"}[strings.Split(typ, ".")[2]]
	if source == "" {
		source = "tests"
	}
	e, err := events.New(source, typ, subject, data)
	require.NoError(t, err)
	return e
}

// customer is a registered customer's payload.
func customer(lang string) events.Customer {
	return events.Customer{CustomerID: uuid.NewString(), Version: 1, Email: "erika.mustermann@example.com",
		FirstName: "Erika", LastName: "Mustermann", PreferredLanguage: lang}
}

func registered(t *testing.T, c events.Customer) cloudevents.Event {
	return event(t, events.CustomerRegistered, c.CustomerID, c)
}

// reservation is a booking of customerID: Berlin → Munich, 3 days, 1,234.56 EUR.
func reservation(customerID string) events.Reservation {
	return events.Reservation{ReservationID: "3f2a1b9c-0000-4000-8000-000000000001", Version: 2, CustomerID: customerID,
		VehicleID: uuid.NewString(), Category: "KOMPAKT", PickupLocation: "BER-HBF", ReturnLocation: "MUC-FLG",
		PickupAt: "2026-07-01T08:00:00Z", ReturnAt: "2026-07-04T08:00:00Z", Status: "confirmed",
		TotalGross: 123456, Currency: "EUR"}
}

func decodeJSON[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}
