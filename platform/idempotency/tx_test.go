package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// txOrders creates one row per execution in its transaction (idempotency.InTx), as a
// WrapTx handler does; the body "refuse" is refused without a transaction, "fail" fails
// after the row is written.
type txOrders struct {
	db    *database.DB
	runs  atomic.Int64
	delay time.Duration
}

func (o *txOrders) create(w http.ResponseWriter, r *http.Request) error {
	o.runs.Add(1)
	body, _ := io.ReadAll(r.Body)
	if string(body) == "refuse" {
		return platform.Conflict("refused")
	}
	if string(body) == "malformed" {
		return platform.Invalid("malformed")
	}
	var id int
	err := idempotency.InTx(r.Context(), o.db, func(tx pgx.Tx) error {
		time.Sleep(o.delay)
		return tx.QueryRow(r.Context(), `INSERT INTO idemtest.orders (note) VALUES ($1) RETURNING id`, string(body)).Scan(&id)
	})
	if err != nil {
		return err
	}
	if string(body) == "fail" {
		return fmt.Errorf("rendering on fire")
	}
	w.Header().Set("Location", fmt.Sprintf("/orders/%d", id))
	return platform.WriteJSON(w, http.StatusCreated, map[string]any{"id": id, "at": time.Now().UnixNano()})
}

func setupTx(t *testing.T, delay time.Duration) (*txOrders, http.Handler, *database.DB) {
	db := pg.NewDB(t, schema)
	o := &txOrders{db: db, delay: delay}
	keys := idempotency.New(db, "idemtest")
	return o, platform.Observe(platform.NewLogger(io.Discard, "error", "t"), keys.WrapTx(o.create)), db
}

func keyRows(t *testing.T, db *database.DB) int {
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM idemtest.idempotency_keys`).Scan(&n))
	return n
}

// TestWrapTx runs the contract Wrap keeps, for the transaction-scoped variant.
func TestWrapTx(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(t *testing.T, o *txOrders, h http.Handler, db *database.DB)
	}{
		{"replays the first answer byte for byte", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			first := post(h, "k", `{"a":1}`)
			require.Equal(t, http.StatusCreated, first.Code)
			again := post(h, "k", `{"a":1}`)
			assert.Equal(t, first.Body.String(), again.Body.String())
			assert.Equal(t, first.Header().Get("Location"), again.Header().Get("Location"))
			assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
			assert.EqualValues(t, 1, o.runs.Load(), "a replay does not run the handler")
			assert.Equal(t, 1, count(t, db))
			assert.Equal(t, http.StatusUnprocessableEntity, post(h, "k", `{"a":2}`).Code)
			assert.Equal(t, 1, count(t, db))
		}},
		{"a server error keeps nothing, the key neither", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			assert.Equal(t, http.StatusInternalServerError, post(h, "k", `fail`).Code)
			assert.Zero(t, count(t, db), "the row written before the failure is rolled back")
			assert.Zero(t, keyRows(t, db))
			assert.Equal(t, http.StatusInternalServerError, post(h, "k", `fail`).Code, "a retry runs again")
			assert.EqualValues(t, 2, o.runs.Load())
		}},
		{"a refusal without a transaction is kept", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			first := post(h, "k", `refuse`)
			require.Equal(t, http.StatusConflict, first.Code)
			again := post(h, "k", `refuse`)
			assert.Equal(t, first.Body.String(), again.Body.String())
			assert.Equal(t, "true", again.Header().Get("Idempotent-Replayed"))
			assert.EqualValues(t, 1, o.runs.Load())
		}},
		{"a request refused for its form keeps the key free for the corrected one", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			assert.Equal(t, http.StatusBadRequest, post(h, "k", `malformed`).Code)
			assert.Zero(t, keyRows(t, db))
			again := post(h, "k", `{"fixed":true}`)
			require.Equal(t, http.StatusCreated, again.Code, "not 422: the key was not used")
			assert.NotEqual(t, "true", again.Header().Get("Idempotent-Replayed"))
			assert.Equal(t, 1, count(t, db))
		}},
		{"without a key every request runs", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			post(h, "", `{}`)
			post(h, "", `{}`)
			assert.Equal(t, 2, count(t, db))
			assert.Zero(t, keyRows(t, db))
		}},
		{"an expired key is taken over", func(t *testing.T, o *txOrders, h http.Handler, db *database.DB) {
			require.Equal(t, http.StatusCreated, post(h, "k", `{}`).Code)
			_, err := db.Pool.Exec(context.Background(), `UPDATE idemtest.idempotency_keys SET expires_at = now() - interval '1 second'`)
			require.NoError(t, err)
			again := post(h, "k", `{}`)
			assert.Equal(t, http.StatusCreated, again.Code)
			assert.NotEqual(t, "true", again.Header().Get("Idempotent-Replayed"))
			assert.Equal(t, 2, count(t, db))
			assert.Equal(t, 1, keyRows(t, db))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, h, db := setupTx(t, 0)
			tt.run(t, o, h, db)
		})
	}
}

// TestWrapTxConcurrentSameKeyCommitsOnce: 30 identical requests at once may all run, but one
// commits; every other is rolled back and answers its answer (or 409 while it runs). The
// same key with other bodies at once: one commits, the others are 422.
func TestWrapTxConcurrentSameKeyCommitsOnce(t *testing.T) {
	t.Parallel()
	for _, sameBody := range []bool{true, false} {
		t.Run(fmt.Sprintf("same body %v", sameBody), func(t *testing.T) {
			t.Parallel()
			_, h, db := setupTx(t, 50*time.Millisecond)
			const n = 30
			codes, bodies := make([]int, n), make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					body := `{"same":true}`
					if !sameBody {
						body = fmt.Sprintf(`{"n":%d}`, i)
					}
					rec := post(h, "k", body)
					codes[i], bodies[i] = rec.Code, rec.Body.String()
				}()
			}
			close(start)
			wg.Wait()
			assert.Equal(t, 1, count(t, db), "one request committed")
			created := map[string]bool{}
			for i, c := range codes {
				switch {
				case c == http.StatusCreated:
					created[bodies[i]] = true
				case sameBody:
					assert.Equal(t, http.StatusConflict, c, bodies[i])
				default:
					assert.Contains(t, []int{http.StatusUnprocessableEntity, http.StatusConflict}, c, bodies[i])
				}
			}
			assert.Len(t, created, 1, "every 201 is the one committed answer")
		})
	}
}
