package cleanup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/cleanup"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// world is one database holding cleanup's, reservations' and payments' schemas, the real
// reservations-api on an in-process transport (its pricing-api a fake that prices the
// no-show fee), and cleanup-worker replicas calling it with their own identity.
type world struct {
	t         *testing.T
	id        *authtest.Identity
	url       string
	db        *database.DB
	transport *platform.Transport
	reserve   http.Handler
	mailDir   string
	now       time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	// The notifier's folders as `orange dev` has them: <data>/mail and, beside it, <data>/sms.
	w := &world{t: t, id: authtest.New(t), mailDir: filepath.Join(t.TempDir(), "mail"), now: time.Now().UTC().Truncate(time.Second)}
	require.NoError(t, os.MkdirAll(w.mailDir, 0o755))
	w.url = pg.NewDatabaseURL(t, cleanup.Migrations, reservations.Migrations, payments.Migrations)
	w.db = w.open()
	w.transport = platform.NewTransport(nil, nil)
	w.transport.Mount("pricing-api", fakePricing())
	res, err := reservations.New(context.Background(), reservations.Config{},
		platform.Deps{DB: w.db, Client: platform.ForwardingClient(w.transport, w.id.ServiceTokens(reservations.ServiceName), 5*time.Second)})
	require.NoError(t, err)
	w.reserve = platform.Handler(res, w.id.Authenticator(reservations.ServiceName))
	w.transport.Mount(reservations.ServiceName, w.reserve)
	return w
}

// open is another pool on the world's database: another replica's.
func (w *world) open() *database.DB {
	db, err := database.Open(context.Background(), database.Config{URL: w.url, MaxConns: 8})
	require.NoError(w.t, err)
	w.t.Cleanup(db.Close)
	return db
}

// replica is a cleanup-worker over its own pool, its clock at w.now.
func (w *world) replica(cfg cleanup.Config) http.Handler {
	w.t.Helper()
	if cfg.MailDir == "" {
		cfg.MailDir = w.mailDir
	}
	client := platform.ForwardingClient(w.transport, w.id.ServiceTokens(cleanup.ServiceName), 5*time.Second)
	svc, err := cleanup.New(context.Background(), cfg, platform.Deps{DB: w.open(), Client: client})
	require.NoError(w.t, err)
	cleanup.SetClock(svc, func() time.Time { return w.now })
	return platform.Handler(svc, w.id.Authenticator(cleanup.ServiceName))
}

type response struct {
	status int
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func serve(h http.Handler, req *http.Request) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Body.Bytes()}
}

// ping delivers a ping of sender to h: data nil is a manual ping ({}), else the nightly
// one's data.
func (w *world) ping(h http.Handler, sender platform.Sender, eventID string, nightly bool) response {
	data := `{}`
	if nightly {
		data = `{"run":"nightly"}`
	}
	req := httptest.NewRequest(http.MethodPost, events.ReceivePath, strings.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": eventID, "ce-type": events.Ping,
		"ce-source": "/apis/v1/namespaces/orange/pingsources/" + sender.Name, "ce-time": w.now.Format(time.RFC3339)} {
		req.Header.Set(k, v)
	}
	req.Header.Set("Authorization", w.id.DeliveryBearer(w.t, sender, cleanup.ServiceName))
	return serve(h, req)
}

// nightly is the PingSource of the manifest.
var nightly = platform.PingSource(cleanup.PingSourceName)

// get calls path on h as user.
func (w *world) get(h http.Handler, user, path string) response {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if user != "" {
		req.Header.Set("Authorization", w.id.Bearer(w.t, user))
	}
	return serve(h, req)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), r.String())
	return v
}

func (w *world) exec(sql string, args ...any) {
	w.t.Helper()
	_, err := w.db.Pool.Exec(context.Background(), sql, args...)
	require.NoError(w.t, err)
}

func (w *world) count(sql string, args ...any) int {
	w.t.Helper()
	var n int
	require.NoError(w.t, w.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// dump is every row of table as JSON, to show a table untouched.
func (w *world) dump(table string) string {
	w.t.Helper()
	var s string
	require.NoError(w.t, w.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(t)::text, E'\n' ORDER BY row_to_json(t)::text), '') FROM `+table+` t`).Scan(&s))
	return s
}

func newID() string { return uuid.NewString() }

// fakePricing prices a no-show's fee as pricing's rule does at the pickup time: 100 %.
func fakePricing() http.Handler {
	r := mux.NewRouter()
	r.HandleFunc("/api/pricing/cancellation-fee", func(w http.ResponseWriter, r *http.Request) {
		var in pricingapi.FeeRequest
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(pricingapi.FeeResponse{FeePercent: 100, FeeCents: *in.TotalGrossCents, Currency: "EUR"})
	}).Methods(http.MethodPost)
	return r
}
