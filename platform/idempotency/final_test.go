package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// flaky answers its next request as told (once), and every other by creating an order in
// its transaction (idempotency.InTx: the request's under WrapTx, its own under Wrap).
type flaky struct {
	db   *database.DB
	mu   sync.Mutex
	next string
}

type cancelKey struct{}

func (f *flaky) create(w http.ResponseWriter, r *http.Request) error {
	f.mu.Lock()
	mode := f.next
	f.next = ""
	f.mu.Unlock()
	switch mode {
	case "caller gone":
		// The client hung up while the handler waited on the database.
		r.Context().Value(cancelKey{}).(context.CancelFunc)()
		return fmt.Errorf("insert: %w", r.Context().Err())
	case "caller gone after the effect":
		// The order is made (committed), then the client hangs up while the handler still
		// reads what it answers.
		var id int
		if err := f.db.Pool.QueryRow(r.Context(), `INSERT INTO idemtest.orders (note) VALUES ('x') RETURNING id`).Scan(&id); err != nil {
			return err
		}
		r.Context().Value(cancelKey{}).(context.CancelFunc)()
		var n int
		if err := f.db.Pool.QueryRow(r.Context(), `SELECT count(*) FROM idemtest.orders`).Scan(&n); err != nil {
			return fmt.Errorf("answer: %w", err)
		}
		return platform.WriteJSON(w, http.StatusCreated, map[string]any{"id": id})
	case "changed meanwhile":
		return platform.ConflictForNow("the order changed while it was being decided; please retry")
	case "too many":
		return platform.Errorf(platform.KindTooManyRequests, "too many orders; retry later")
	}
	var id int
	err := idempotency.InTx(r.Context(), f.db, func(tx pgx.Tx) error {
		return tx.QueryRow(r.Context(), `INSERT INTO idemtest.orders (note) VALUES ('x') RETURNING id`).Scan(&id)
	})
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusCreated, map[string]any{"id": id})
}

// postCancellable is post with a context the handler may cancel, as a client hanging up.
func postCancellable(h http.Handler, key, body string) *httptest.ResponseRecorder {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	return postIn(context.WithValue(ctx, cancelKey{}, context.CancelFunc(cancel)), h, key, body)
}

// TestAnswersThatAreNotTheAnswer: a request whose caller went away (499), one told to come
// back (429, or a 409 with Retry-After: the resource changed while it was decided) is no
// answer to keep under the key — kept, it would be replayed to the very retry it calls for,
// for the key's 24 hours. Both wrappers free the key; the retry runs and its answer is kept.
func TestAnswersThatAreNotTheAnswer(t *testing.T) {
	t.Parallel()
	wrappers := map[string]func(*idempotency.Keys, platform.HandlerFunc) platform.HandlerFunc{
		"Wrap":   (*idempotency.Keys).Wrap,
		"WrapTx": (*idempotency.Keys).WrapTx,
	}
	for name, wrap := range wrappers {
		for mode, want := range map[string]int{"caller gone": platform.StatusClientClosed, "changed meanwhile": http.StatusConflict, "too many": http.StatusTooManyRequests} {
			if name == "Wrap" && mode == "caller gone" {
				continue // Wrap runs on for a caller gone: TestWrapAnswersACallerGone
			}
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				db := pg.NewDB(t, schema)
				f := &flaky{db: db, next: mode}
				h := platform.Observe(platform.NewLogger(io.Discard, "error", "t"), wrap(idempotency.New(db, "idemtest"), f.create))
				first := postCancellable(h, "k", `{"a":1}`)
				require.Equal(t, want, first.Code, first.Body.String())
				assert.Zero(t, keyRows(t, db), "the key is free")
				retry := postCancellable(h, "k", `{"a":1}`)
				require.Equal(t, http.StatusCreated, retry.Code, retry.Body.String())
				assert.NotEqual(t, "true", retry.Header().Get("Idempotent-Replayed"))
				again := postCancellable(h, "k", `{"a":1}`)
				assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"), "the retry's answer is the answer")
				assert.Equal(t, retry.Body.String(), again.Body.String())
				assert.Equal(t, 1, count(t, db))
			})
		}
	}
}

// TestWrapAnswersACallerGone: under Wrap a handler may commit in its own transactions, so a
// caller that hangs up after the effect must not free the key: the handler runs on to its
// answer, which is kept and replayed to the retry — one order, not two (a refund was made
// twice this way: the handler's next query failed with the cancelled context, 499, key
// freed, the retry refunded again).
func TestWrapAnswersACallerGone(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, schema)
	f := &flaky{db: db, next: "caller gone after the effect"}
	h := platform.Observe(platform.NewLogger(io.Discard, "error", "t"), idempotency.New(db, "idemtest").Wrap(f.create))
	first := postCancellable(h, "k", `{"a":1}`)
	assert.Equal(t, http.StatusCreated, first.Code, first.Body.String())
	retry := postCancellable(h, "k", `{"a":1}`)
	require.Equal(t, http.StatusCreated, retry.Code, retry.Body.String())
	assert.Equal(t, "true", retry.Header().Get("Idempotent-Replayed"), "the first answer, kept")
	assert.Equal(t, 1, count(t, db), "one order")
	assert.Zero(t, lockedKeys(t, db), "no key left running")
}

// lockedKeys counts keys still marked running (no answer stored).
func lockedKeys(t *testing.T, db *database.DB) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM idemtest.idempotency_keys WHERE status IS NULL`).Scan(&n))
	return n
}

// TestIfMatchIsPartOfTheRequest: the same key with another If-Match is another request
// (422), not a replay of the first one's answer; without If-Match the request is as before.
func TestIfMatchIsPartOfTheRequest(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(*idempotency.Keys, platform.HandlerFunc) platform.HandlerFunc{
		"Wrap": (*idempotency.Keys).Wrap, "WrapTx": (*idempotency.Keys).WrapTx,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := pg.NewDB(t, schema)
			f := &flaky{db: db}
			h := platform.Observe(platform.NewLogger(io.Discard, "error", "t"), wrap(idempotency.New(db, "idemtest"), f.create))
			send := func(ifMatch string) *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"a":1}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(idempotency.Header, "k")
				if ifMatch != "" {
					req.Header.Set("If-Match", ifMatch)
				}
				req.RemoteAddr = "192.0.2.1:1234"
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			require.Equal(t, http.StatusCreated, send(`"1"`).Code)
			assert.Equal(t, "true", send(`"1"`).Header().Get("Idempotent-Replayed"))
			assert.Equal(t, "true", send(` "1" ,`).Header().Get("Idempotent-Replayed"), "the same condition written otherwise")
			assert.Equal(t, http.StatusUnprocessableEntity, send(`"2"`).Code)
			assert.Equal(t, http.StatusUnprocessableEntity, send("").Code)
			assert.Equal(t, 1, count(t, db))
		})
	}
}
