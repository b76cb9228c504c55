package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

var schema = database.Migrations{
	Schema: "idemtest",
	FS:     fstest.MapFS{"m/0001_orders.sql": {Data: []byte(`CREATE TABLE orders (id serial PRIMARY KEY, note text NOT NULL);`)}},
	Dir:    "m",
	With:   []database.Migrations{idempotency.Migrations()},
}

// orders is a handler that creates one row per execution, optionally slowly or failing.
type orders struct {
	db      *database.DB
	runs    atomic.Int64
	delay   time.Duration
	failing atomic.Bool
}

func (o *orders) create(w http.ResponseWriter, r *http.Request) error {
	o.runs.Add(1)
	body, _ := io.ReadAll(r.Body)
	time.Sleep(o.delay)
	if o.failing.Load() {
		return fmt.Errorf("database on fire")
	}
	var id int
	if err := o.db.Pool.QueryRow(r.Context(), `INSERT INTO idemtest.orders (note) VALUES ($1) RETURNING id`, string(body)).Scan(&id); err != nil {
		return err
	}
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", id))
	return platform.WriteJSON(w, http.StatusCreated, map[string]any{"id": id, "at": time.Now().UnixNano()})
}

func setup(t *testing.T, delay time.Duration) (*orders, http.Handler, *database.DB) {
	db := pg.NewDB(t, schema)
	o := &orders{db: db, delay: delay}
	keys := idempotency.New(db, "idemtest")
	return o, platform.Observe(platform.NewLogger(io.Discard, "error", "t"), keys.Wrap(o.create)), db
}

func post(h http.Handler, key, body string) *httptest.ResponseRecorder {
	return postIn(context.Background(), h, key, body)
}

// postIn is post with the request's context ctx.
func postIn(ctx context.Context, h http.Handler, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set(idempotency.Header, key)
	}
	req.RemoteAddr = "192.0.2.1:1234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func count(t *testing.T, db *database.DB) int {
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM idemtest.orders`).Scan(&n))
	return n
}

func TestReplaysTheFirstResponseByteForByte(t *testing.T) {
	t.Parallel()
	o, h, db := setup(t, 0)
	first := post(h, "k-1", `{"a":1}`)
	require.Equal(t, http.StatusCreated, first.Code)
	again := post(h, "k-1", `{"a":1}`)
	assert.Equal(t, first.Code, again.Code)
	assert.Equal(t, first.Body.String(), again.Body.String())
	assert.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assert.EqualValues(t, 1, o.runs.Load())
	assert.Equal(t, 1, count(t, db))

	// Without a key, every request runs.
	post(h, "", `{"a":1}`)
	assert.Equal(t, 2, count(t, db))
}

func TestSameKeyDifferentBodyIs422(t *testing.T) {
	t.Parallel()
	_, h, db := setup(t, 0)
	require.Equal(t, http.StatusCreated, post(h, "k-2", `{"a":1}`).Code)
	rec := post(h, "k-2", `{"a":2}`)
	assert.Equal(t, http.StatusUnprocessableEntity, rec.Code)
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	assert.Equal(t, 1, count(t, db))
	// The same JSON pretty-printed is the same request: replayed, not 422.
	again := post(h, "k-2", "{\n  \"a\": 1\n}\n")
	assert.Equal(t, http.StatusCreated, again.Code, again.Body.String())
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, 1, count(t, db))
}

func TestConcurrentSameKeyRunsOnce(t *testing.T) {
	t.Parallel()
	o, h, db := setup(t, 100*time.Millisecond)
	const n = 50
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = post(h, "k-3", `{"same":true}`).Code }()
	}
	wg.Wait()
	assert.EqualValues(t, 1, o.runs.Load())
	assert.Equal(t, 1, count(t, db))
	for _, c := range codes {
		assert.Contains(t, []int{http.StatusCreated, http.StatusConflict}, c)
	}
}

func TestServerErrorReleasesTheKey(t *testing.T) {
	t.Parallel()
	o, h, db := setup(t, 0)
	o.failing.Store(true)
	assert.Equal(t, http.StatusInternalServerError, post(h, "k-4", `{}`).Code)
	o.failing.Store(false)
	assert.Equal(t, http.StatusCreated, post(h, "k-4", `{}`).Code, "a retry after a 5xx runs again")
	assert.Equal(t, 1, count(t, db))
}

func TestKeysAreScopedPerCaller(t *testing.T) {
	t.Parallel()
	_, h, db := setup(t, 0)
	require.Equal(t, http.StatusCreated, post(h, "shared", `{}`).Code)
	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{}`))
	req.Header.Set(idempotency.Header, "shared")
	req.RemoteAddr = "198.51.100.7:999"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.NotEqual(t, "true", rec.Header().Get("Idempotent-Replayed"))
	assert.Equal(t, 2, count(t, db))
}

func TestInvalidKeyAndPurge(t *testing.T) {
	t.Parallel()
	_, h, db := setup(t, 0)
	assert.Equal(t, http.StatusBadRequest, post(h, strings.Repeat("x", 256), `{}`).Code)
	assert.Equal(t, http.StatusBadRequest, post(h, "has space", `{}`).Code)
	// Present but empty, or given twice: not "no key", which would do a retry's work again.
	for _, keys := range [][]string{{""}, {"a", "b"}} {
		req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header[idempotency.Header] = keys
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusBadRequest, rec.Code, "%q: %s", keys, rec.Body)
	}
	assert.Equal(t, 0, count(t, db))

	require.Equal(t, http.StatusCreated, post(h, "old", `{}`).Code)
	_, err := db.Pool.Exec(context.Background(), `UPDATE idemtest.idempotency_keys SET expires_at = now() - interval '1 second'`)
	require.NoError(t, err)
	n, err := idempotency.New(db, "idemtest").Purge(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
}

// anonymous posts like a guest reaching a function on Knative through the gateway: the peer
// is the pod's queue-proxy, X-Forwarded-For names the gateway's own peer (what it used to
// send), and client is the address the gateway decided on.
func anonymous(h http.Handler, key, body, client string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(idempotency.Header, key)
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	if client != "" {
		req.Header.Set(platform.ClientAddressHeader, client)
	}
	req.RemoteAddr = "127.0.0.1:51234"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestAnonymousCallersDoNotShareAScope is the shared-scope finding of issue 11: on Knative
// every anonymous caller arrived from the queue-proxy with the same X-Forwarded-For, so all
// shared one scope — a second guest using the same Idempotency-Key and body got the first
// guest's booking replayed. Scopes now follow the gateway's client address.
func TestAnonymousCallersDoNotShareAScope(t *testing.T) {
	t.Parallel()
	o, h, db := setup(t, 0)
	first := anonymous(h, "guest-booking-1", `{"car":"any"}`, "203.0.113.10")
	require.Equal(t, http.StatusCreated, first.Code)

	other := anonymous(h, "guest-booking-1", `{"car":"any"}`, "198.51.100.20")
	assert.Equal(t, http.StatusCreated, other.Code)
	assert.NotEqual(t, "true", other.Header().Get("Idempotent-Replayed"), "another guest must not get the first guest's answer")
	assert.NotEqual(t, first.Body.String(), other.Body.String())
	assert.EqualValues(t, 2, o.runs.Load())
	assert.Equal(t, 2, count(t, db))

	again := anonymous(h, "guest-booking-1", `{"car":"any"}`, "203.0.113.10")
	assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"), "the same guest's retry is still replayed")
	assert.Equal(t, first.Body.String(), again.Body.String())
	assert.Equal(t, 2, count(t, db))
}

// TestForwardedForCannotEnterAnotherScope: X-Forwarded-For is whatever a client writes; a
// caller naming another's address in it must not land in that caller's scope (and get its
// stored answer).
func TestForwardedForCannotEnterAnotherScope(t *testing.T) {
	t.Parallel()
	_, h, db := setup(t, 0)
	victim := post(h, "victims-key", `{"a":1}`) // from 192.0.2.1
	require.Equal(t, http.StatusCreated, victim.Code)

	req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"a":1}`))
	req.Header.Set(idempotency.Header, "victims-key")
	req.Header.Set("X-Forwarded-For", "192.0.2.1")
	req.RemoteAddr = "203.0.113.9:4000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	assert.NotEqual(t, "true", rec.Header().Get("Idempotent-Replayed"))
	assert.NotEqual(t, victim.Body.String(), rec.Body.String())
	assert.Equal(t, 2, count(t, db))
}
