// Package idempotency makes a mutating POST safe to retry: with an Idempotency-Key header,
// the request's answer is stored and replayed byte for byte to every repetition of the same
// request; the same key with a different body answers 422, and while the first request is
// still running 409. An answer that is none — a server error, a caller gone (499), a
// "come back later" (429, Retry-After), a refusal of the request's form — frees the key for
// the retry instead (recorder.final). Keys are scoped per caller (the token's subject, or for anonymous callers
// such as guest bookings the client address the gateway decided on, platform.ClientAddress)
// and kept at least TTL. Wrap serves any handler; WrapTx (tx.go) saves Wrap's two commits for
// a handler whose effect is one transaction, committing the key with it.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/metrics"
)

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the key table; a function brings it along with its own migrations
// (database.Migrations{…, With: []database.Migrations{idempotency.Migrations()}}).
func Migrations() database.Migrations {
	return database.Migrations{FS: migrationFiles, Dir: "migrations", Track: "idempotency_migrations"}
}

// Keys stores the keys of one function's schema.
type Keys struct {
	db    *database.DB
	table string
	// TTL is how long a finished key is kept (at least 24 h by contract); Lease how long a
	// running request holds its key before a retry may take over (a crashed replica's key).
	TTL   time.Duration
	Lease time.Duration
	// keep is keepSQL for table (tx.go).
	keep string
}

// New returns the keys in schema.
func New(db *database.DB, schema string) *Keys {
	table := pgx.Identifier{schema, "idempotency_keys"}.Sanitize()
	return &Keys{db: db, table: table, TTL: 24 * time.Hour, Lease: time.Minute, keep: fmt.Sprintf(keepSQL, table)}
}

// replayedHeaders are the response headers stored with a key.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", "Retry-After"}

type stored struct {
	hash    []byte
	status  *int
	headers map[string]string
	body    []byte
	locked  bool
}

// request is a keyed request: whose key (scope), the key, and the hash of what was asked.
type request struct {
	scope, key string
	hash       []byte
}

// prepare reads a request's key and body (restoring the body for the handler); nil without
// a key. An invalid key, a body too large or unreadable are the caller's errors.
func prepare(w http.ResponseWriter, r *http.Request) (*request, error) {
	keys := r.Header.Values(Header)
	if len(keys) == 0 {
		return nil, nil
	}
	key := keys[0]
	if len(keys) > 1 {
		return nil, platform.Invalid("give the Idempotency-Key once")
	}
	// Present but empty is a client that meant to send a key and lost it on the way: run
	// without one, and a retry would do the work twice.
	if key == "" || len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		return nil, platform.Invalid("the Idempotency-Key must be 1 to 255 visible ASCII characters")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, platform.DefaultMaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, platform.Errorf(platform.KindTooLarge, "the request body exceeds %d bytes", platform.DefaultMaxBodyBytes)
	case err != nil:
		// The body did not arrive (a read timeout: the server answers 408 itself).
		return nil, platform.Invalid("the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	// The same JSON laid out otherwise (a client that pretty-prints its retry) is the same
	// request: whitespace between tokens does not count. Anything else still does.
	hashed := body
	var compact bytes.Buffer
	if json.Compact(&compact, body) == nil {
		hashed = compact.Bytes()
	}
	// Its precondition is part of the request too: a change under If-Match "1" and the same
	// change under "2" are two requests (the first one's 412 is no answer to the second).
	// Without one the hash is what it always was, so keys stored before still match.
	head := r.Method + " " + r.URL.RequestURI() + "\n"
	if cond := platform.IfMatchCondition(r); cond != "" {
		head += "If-Match: " + cond + "\n"
	}
	sum := sha256.Sum256(append([]byte(head), hashed...))
	return &request{scope: scopeOf(r), key: key, hash: sum[:]}, nil
}

// The problem codes of a key's refusals (platform.Error.Code): a client — a portal whose
// form was sent twice — tells them from the handler's own.
const (
	CodeKeyReused = "idempotency_key_reused" // 422: the key was used with another request
	CodeKeyInUse  = "idempotency_key_in_use" // 409: the key's first request is still running
)

// inUse is the answer while the key's first request runs: a conflict for now (Retry-After),
// whose retry gets the first request's answer.
func inUse() error {
	return platform.ConflictForNow("a request with this Idempotency-Key is still being processed; retry later").WithCode(CodeKeyInUse)
}

// answerStored answers a request whose key is taken by prev: 422 for another request under
// the same key, 409 while the first still runs, else the stored answer replayed.
func answerStored(w http.ResponseWriter, r *http.Request, prev stored, hash []byte) error {
	switch {
	case !bytes.Equal(prev.hash, hash):
		return (&platform.Error{Kind: platform.KindUnprocessable, Message: "this Idempotency-Key was used with a different request"}).WithCode(CodeKeyReused)
	case prev.status == nil:
		return inUse()
	}
	for h, v := range prev.headers {
		w.Header().Set(h, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	metrics.From(r.Context()).IdempotencyReplay()
	w.WriteHeader(*prev.status)
	_, err := w.Write(prev.body)
	return err
}

// Wrap makes next idempotent for requests that carry the header; others pass through. The
// key is claimed (one commit) before next runs and its answer stored (another) after: next
// may do anything, in any number of transactions, so it runs on whether or not its caller
// waits for the answer (see below). WrapTx saves both commits for a handler whose effect is
// one transaction — its commit is the key's, so a caller gone before it leaves nothing done
// and nothing kept, and WrapTx lets the request's context end the handler.
func (k *Keys) Wrap(next platform.HandlerFunc) platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		req, err := prepare(w, r)
		if err != nil || req == nil {
			if err != nil {
				return err
			}
			return next(w, r)
		}
		scope, key := req.scope, req.key
		// From the claim on, the request is its key's: it runs to its answer even when the
		// caller goes away — a lost answer is what the key is for, so the retry must find
		// the answer stored, not the work done and the key freed (a refund made twice), nor a
		// claim committed under a cancelled context and left locked for the lease. The lease
		// bounds it: past it a retry may take the key over.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), k.Lease)
		defer cancel()
		claimed, prev, err := k.claim(ctx, scope, key, req.hash)
		if err != nil {
			return err
		}
		if !claimed {
			return answerStored(w, r, prev, req.hash)
		}

		rec := &recorder{header: http.Header{}}
		kept := r.WithContext(ctx)
		if err := next(rec, kept); err != nil {
			platform.WriteError(rec, kept, err)
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		// Not an answer worth keeping: release the key so a retry runs again.
		ctx = context.WithoutCancel(ctx)
		if !rec.final() {
			_, _ = k.db.Pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE scope = $1 AND key = $2`, scope, key)
		} else if _, err := k.db.Pool.Exec(ctx, `UPDATE `+k.table+` SET status = $3, headers = $4, body = $5
				WHERE scope = $1 AND key = $2`, scope, key, rec.status, rec.storedHeaders(), rec.body.Bytes()); err != nil {
			platform.LoggerFrom(ctx).WarnContext(ctx, "idempotency: could not store the response", "error", err.Error())
		}
		return rec.send(w)
	}
}

// claim inserts the key as running, or returns what is stored under it. A running key
// whose lease has passed (its replica died) is taken over.
func (k *Keys) claim(ctx context.Context, scope, key string, hash []byte) (bool, stored, error) {
	var prev stored
	tag, err := k.db.Pool.Exec(ctx, `INSERT INTO `+k.table+` (scope, key, request_hash, locked_until, expires_at)
		VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond', now() + $5 * interval '1 millisecond')
		ON CONFLICT (scope, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, locked_until = EXCLUDED.locked_until,
			expires_at = EXCLUDED.expires_at, created_at = now()
		WHERE `+k.table+`.status IS NULL AND `+k.table+`.locked_until < now() AND `+k.table+`.request_hash = EXCLUDED.request_hash
		   OR `+k.table+`.expires_at < now()`,
		scope, key, hash, k.Lease.Milliseconds(), k.TTL.Milliseconds())
	if err != nil {
		return false, prev, err
	}
	if tag.RowsAffected() == 1 {
		return true, prev, nil
	}
	var headers []byte
	err = k.db.Pool.QueryRow(ctx, `SELECT request_hash, status, headers, body FROM `+k.table+` WHERE scope = $1 AND key = $2`,
		scope, key).Scan(&prev.hash, &prev.status, &headers, &prev.body)
	if errors.Is(err, pgx.ErrNoRows) {
		return k.claim(ctx, scope, key, hash) // deleted in between (a 5xx released it)
	}
	if err != nil {
		return false, prev, err
	}
	_ = json.Unmarshal(headers, &prev.headers)
	return false, prev, nil
}

// Purge deletes expired keys and returns how many; a scheduled sweep calls it.
func (k *Keys) Purge(ctx context.Context) (int64, error) {
	tag, err := k.db.Pool.Exec(ctx, `DELETE FROM `+k.table+` WHERE expires_at < now()`)
	return tag.RowsAffected(), err
}

// scopeOf is whose keys a request's key is among: the caller's subject, else the client's
// address as the gateway decided it. Never X-Forwarded-For or the peer alone: on Knative the
// peer of every request is the pod's queue-proxy, so all anonymous callers would share one
// scope, and X-Forwarded-For's first entry is whatever the client wrote.
func scopeOf(r *http.Request) string {
	if c := platform.CallerFrom(r.Context()); !c.Anonymous() {
		return "sub:" + c.Subject
	}
	return "anon:" + platform.ClientAddress(r)
}

// recorder captures a response to store it before sending it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

// final tells whether the recorded answer is the request's answer, to be kept under its key
// and replayed to every retry. These are not, and free the key for the retry to run again:
//   - a server error (5xx), and 499: the caller went away or its deadline passed and the
//     handler stopped — the retry of a lost answer is exactly what the key is for;
//   - an answer that tells the caller to come back (429, or any with Retry-After, such as a
//     409 "changed meanwhile, please retry"): kept, it would answer the retry it asks for;
//   - a refusal of the request's form (400, 413, 415): nothing of it was done, and a client
//     that corrects its body keeps its key.
//
// A refusal on the merits (403, 404, 409, 412, 422) is an answer, and so is every success.
func (r *recorder) final() bool {
	switch {
	case r.status >= 500, r.status == platform.StatusClientClosed, r.status == http.StatusTooManyRequests:
		return false
	case r.status == http.StatusBadRequest, r.status == http.StatusRequestEntityTooLarge, r.status == http.StatusUnsupportedMediaType:
		return false
	}
	return r.header.Get("Retry-After") == ""
}

// storedHeaders are the replayed headers of the answer, as the headers column keeps them.
func (r *recorder) storedHeaders() []byte {
	headers := map[string]string{}
	for _, h := range replayedHeaders {
		if v := r.header.Get(h); v != "" {
			headers[h] = v
		}
	}
	hj, _ := json.Marshal(headers)
	return hj
}

// send writes the recorded answer to w.
func (r *recorder) send(w http.ResponseWriter) error {
	for h, v := range r.header {
		w.Header()[h] = v
	}
	w.WriteHeader(r.status)
	_, err := w.Write(r.body.Bytes())
	return err
}
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
