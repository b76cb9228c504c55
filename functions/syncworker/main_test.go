package syncworker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/syncworker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// worker is sync-worker over a fresh database, served as a host serves it.
type worker struct {
	t       *testing.T
	db      *database.DB
	svc     *syncworker.Service
	id      *authtest.Identity
	handler http.Handler
	admin   string
}

// testConfig: loopback allowed (the receivers are httptest servers), fast retries.
func testConfig() syncworker.Config {
	return syncworker.Config{AllowLoopback: true, Concurrency: 4, Timeout: 2 * time.Second, MaxAttempts: 5,
		RetryBase: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond, DisableAfter: 50, Poll: 20 * time.Millisecond,
		MaxBatch: 3, SeedPartners: []string{"dev-garage"}}
}

func newWorker(t *testing.T, cfg syncworker.Config) *worker {
	t.Helper()
	db := pg.NewDB(t, syncworker.Migrations)
	svc, err := syncworker.New(context.Background(), cfg, platform.Deps{DB: db})
	require.NoError(t, err)
	id := authtest.New(t)
	return &worker{t: t, db: db, svc: svc, id: id, admin: id.Bearer(t, "ada"),
		handler: platform.Handler(svc, id.Authenticator(syncworker.ServiceName))}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

func (w *worker) do(method, path, auth, contentType string, body []byte, header ...string) response {
	w.t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	w.handler.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return response{status: rec.Code, header: rec.Header(), body: b}
}

func (w *worker) admin_(method, path string, v any) response {
	w.t.Helper()
	var body []byte
	ct := ""
	if v != nil {
		body, _ = json.Marshal(v)
		ct = "application/json"
	}
	return w.do(method, path, w.admin, ct, body)
}

// deliver sends e to /cloudevents as its Trigger would.
func (w *worker) deliver(e cloudevents.Event) response {
	w.t.Helper()
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, nil)
	require.NoError(w.t, cehttp.WriteRequest(cloudevents.WithEncodingBinary(context.Background()), binding.ToMessage(&e), req))
	req.Header.Set("Authorization", w.id.DeliveryBearer(w.t, platform.Trigger(syncworker.TriggerName(e.Type())), syncworker.ServiceName))
	rec := httptest.NewRecorder()
	w.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, body: rec.Body.Bytes()}
}

// confirmed is a reservation.confirmed event about a booking, with personal fields in it.
func confirmed(t *testing.T) cloudevents.Event {
	t.Helper()
	e, err := events.New("reservations-api", events.ReservationConfirmed, uuid.NewString(), map[string]any{
		"reservationId": "r-1", "customerId": "c-1", "email": "alice@example.com", "firstName": "Alice", "lastName": "A", "phone": "+49 30 1", "version": 2,
		"reason": "Alice Adler called from +49 30 3", // typed by an agent: personal too
		// Nested too (none of our payloads does, a producer might): still not for partners.
		"driver": map[string]any{"email": "bob@example.com", "phone": "+49 30 2", "licence": "B"}, "totalGross": 12345678901234567,
	})
	require.NoError(t, err)
	return e
}

// subscribe creates a subscription to url for reservation.confirmed and returns its id and secret.
func (w *worker) subscribe(url string) (id, secret string) {
	w.t.Helper()
	r := w.admin_(http.MethodPost, syncworker.WebhooksPrefix, map[string]any{"url": url, "types": []string{events.ReservationConfirmed}})
	require.Equal(w.t, http.StatusCreated, r.status, string(r.body))
	v := r.json(w.t)
	return v["id"].(string), v["secret"].(string)
}

// sendUntil runs the sender until done reports true or 5 s pass.
func (w *worker) sendUntil(done func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !done() {
		require.True(w.t, time.Now().Before(deadline), "the sender did not get there in time")
		w.svc.SendDue(context.Background())
		time.Sleep(10 * time.Millisecond)
	}
}
