package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
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
