package reports_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reports"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// world is one reports database and a report-worker over it, behind the real
// authentication (people's tokens, the event platform's delivery tokens).
type world struct {
	t   *testing.T
	id  *authtest.Identity
	db  *database.DB
	svc *reports.Service
	h   http.Handler
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, id: authtest.New(t)}
	url := pg.NewDatabaseURL(t, reports.Migrations)
	db, err := database.Open(context.Background(), database.Config{URL: url, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	w.db = db
	w.svc, err = reports.New(context.Background(), reports.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	w.h = platform.Handler(w.svc, w.id.Authenticator(reports.ServiceName))
	return w
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (w *world) serve(req *http.Request) response {
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body.Bytes()}
}

// event is one delivery: its id, type, time (none when empty) and payload.
type event struct {
	id   string
	typ  string
	at   string
	data any
}

// triggerOf is report-worker's Trigger of a type (knative/base/report-worker.yaml).
func triggerOf(typ string) platform.Sender {
	name := strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental."), ".v1")
	return platform.Trigger("report-worker-" + strings.NewReplacer(".", "-", "_", "-").Replace(name))
}

// deliver posts e to the receiver as its Trigger (or the PingSource) would.
func (w *world) deliver(e event) response {
	w.t.Helper()
	body, err := json.Marshal(e.data)
	require.NoError(w.t, err)
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	source, sender := "/test/producer", triggerOf(e.typ)
	if e.typ == events.Ping {
		source, sender = "/apis/v1/namespaces/orange/pingsources/"+reports.PingSourceName, platform.PingSource(reports.PingSourceName)
	}
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": e.id, "ce-type": e.typ, "ce-source": source, "ce-time": e.at} {
		if v != "" { // an event without a time attribute has no ce-time
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", w.id.DeliveryBearer(w.t, sender, reports.ServiceName))
	return w.serve(req)
}

// get calls path as user with the Accept header accept.
func (w *world) get(user, path, accept string) response {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if user != "" {
		req.Header.Set("Authorization", w.id.Bearer(w.t, user))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return w.serve(req)
}

func (w *world) post(user, path string) response {
	req := httptest.NewRequest(http.MethodPost, path, nil)
	req.Header.Set("Authorization", w.id.Bearer(w.t, user))
	return w.serve(req)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), r.String())
	return v
}

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// dump is every row of the model's tables as JSON, to compare two models.
func (w *world) dump() string {
	w.t.Helper()
	var out []string
	for _, table := range []string{"reports.reservations", "reports.invoices", "reports.payments", "reports.vehicles"} {
		var s string
		require.NoError(w.t, w.db.Pool.QueryRow(context.Background(),
			`SELECT coalesce(string_agg(row_to_json(t)::text, E'\n' ORDER BY row_to_json(t)::text), '') FROM `+table+` t`).Scan(&s))
		out = append(out, s)
	}
	return strings.Join(out, "\n--\n")
}

// at is a UTC time written for ce-time.
func at(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC().Format(time.RFC3339)
}
