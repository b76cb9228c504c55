package idempotency

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// The transaction-scoped variant (issue 19). Wrap costs two commits of its own per request —
// the claim before the handler, the answer after — on top of the handler's. WrapTx costs
// none: the handler runs its transaction through InTx, which leaves it open; the wrapper
// inserts the key with the handler's answer into it and commits once. So the state change,
// its outbox row and the key with its answer are one commit: a crash before it leaves
// nothing (no key either, so a retry simply runs again), after it the retry is replayed.
//
// Two requests with the same key run side by side until one of them commits. The other
// either fails on what the first wrote (the same car booked: 409), or reaches the key's
// insert, which waits for the first's transaction and then finds the key taken; either way
// its work is rolled back and it answers what the first stored — replayed, or 422 for
// another body. If the first rolls back instead, the other goes on. Only if two answers were
// refusals made without a transaction may both be sent; the first stored is kept. A read of
// the key before the handler runs answers replays without running the handler.
//
// WrapTx is for handlers whose only effect is what they write through InTx: a handler that
// also changes something elsewhere (another function, a second pool) would do that again for
// a concurrent duplicate; use Wrap for those. Between InTx returning and the handler
// returning, the transaction (and its connection) stays open: the handler should only render.

// joinKey is the context key of a WrapTx request's pending key.
type joinKey struct{}

// joined is a WrapTx request on its way: the transaction InTx opened (nil until then, and
// again once committed or rolled back).
type joined struct {
	k   *Keys
	req *request
	tx  pgx.Tx
}

// keepSQL inserts a key with its answer; like Wrap's claim it takes over an expired key, or
// a lapsed claim of Wrap for the same request. ON CONFLICT waits for a concurrent
// transaction holding the key to end.
const keepSQL = `INSERT INTO %[1]s AS k (scope, key, request_hash, status, headers, body, locked_until, expires_at)
	VALUES ($1, $2, $3, $4, $5, $6, now(), now() + $7 * interval '1 millisecond')
	ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status,
		headers = EXCLUDED.headers, body = EXCLUDED.body, locked_until = EXCLUDED.locked_until,
		expires_at = EXCLUDED.expires_at, created_at = now()
	WHERE k.status IS NULL AND k.locked_until < now() AND k.request_hash = EXCLUDED.request_hash
	   OR k.expires_at < now()`

// WrapTx makes next idempotent like Wrap, in next's own transaction (see the notes above):
// next runs its transaction through InTx.
func (k *Keys) WrapTx(next platform.HandlerFunc) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := prepare(w, r)
		if err != nil || req == nil {
			if err != nil {
				return err
			}
			return next(w, r)
		}
		if prev, ok, err := k.lookup(r.Context(), req); err != nil || ok {
			if err != nil {
				return err
			}
			return answerStored(w, r, prev, req.hash)
		}
		j := &joined{k: k, req: req}
		defer j.rollback() // a panic in next: nothing of it is kept
		rec := &recorder{header: http.Header{}}
		if err := next(rec, r.WithContext(context.WithValue(r.Context(), joinKey{}, j))); err != nil {
			platform.WriteError(rec, r, err)
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		ctx := context.WithoutCancel(r.Context())
		if !rec.final() {
			// Not an answer worth keeping: nothing of the request is, the key neither.
			j.rollback()
			return rec.send(w)
		}
		kept, err := j.keep(ctx, rec)
		if err != nil {
			return err
		}
		if !kept {
			// Another request with the key was first: its answer is the answer.
			prev, ok, err := k.lookup(ctx, req)
			if err != nil {
				return err
			}
			if !ok {
				return inUse()
			}
			return answerStored(w, r, prev, req.hash)
		}
		return rec.send(w)
	}
}

// InTx runs fn in a transaction on db, committed when fn returns nil. Inside a WrapTx
// request with a key it is that request's transaction, left open for the wrapper to commit
// with the key and the answer. A second InTx in the same request runs in a savepoint of it.
func InTx(ctx context.Context, db *database.DB, fn func(pgx.Tx) error) error {
	j, _ := ctx.Value(joinKey{}).(*joined)
	if j == nil || j.k.db != db {
		return db.InTx(ctx, fn)
	}
	if j.tx != nil {
		return pgx.BeginFunc(ctx, j.tx, fn)
	}
	tx, err := db.Begin(ctx) // a database.Tx: what waits for its commit is woken after it
	if err != nil {
		return err
	}
	j.tx = tx
	if err := fn(tx); err != nil {
		j.rollback()
		return err
	}
	return nil
}

// keep stores the answer rec under the key — in the request's transaction and committing it
// when InTx left one open, else alone — and reports whether it did: false when the key was
// taken by another request, whose work then stands instead (this one's is rolled back).
// A failed commit is the request's failure: nothing of it was kept.
func (j *joined) keep(ctx context.Context, rec *recorder) (bool, error) {
	args := []any{j.req.scope, j.req.key, j.req.hash, rec.status, rec.storedHeaders(), rec.body.Bytes(), j.k.TTL.Milliseconds()}
	if j.tx == nil {
		tag, err := j.k.db.Pool.Exec(ctx, j.k.keep, args...)
		return tag.RowsAffected() == 1, err
	}
	tx := j.tx
	j.tx = nil
	tag, err := tx.Exec(ctx, j.k.keep, args...)
	if err != nil || tag.RowsAffected() == 0 {
		_ = tx.Rollback(ctx)
		return false, err
	}
	return true, tx.Commit(ctx)
}

// rollback ends the request's transaction, if one is open, keeping nothing.
func (j *joined) rollback() {
	if j.tx != nil {
		_ = j.tx.Rollback(context.Background())
		j.tx = nil
	}
}

// lookup returns the unexpired row of req's key, if there is one.
func (k *Keys) lookup(ctx context.Context, req *request) (stored, bool, error) {
	var prev stored
	var headers []byte
	err := k.db.Pool.QueryRow(ctx, `SELECT request_hash, status, headers, body FROM `+k.table+`
		WHERE scope = $1 AND key = $2 AND expires_at >= now()`, req.scope, req.key).Scan(&prev.hash, &prev.status, &headers, &prev.body)
	if errors.Is(err, pgx.ErrNoRows) {
		return prev, false, nil
	}
	if err != nil {
		return prev, false, err
	}
	_ = json.Unmarshal(headers, &prev.headers)
	return prev, true, nil
}
