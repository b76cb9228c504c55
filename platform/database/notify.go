package database

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Waking whoever waits for a commit, without pg_notify in the committing transaction
// (issue 19). A NOTIFY takes PostgreSQL's cluster-wide notify-queue lock at commit and holds
// it through the commit's WAL flush, so every transaction that notified committed one after
// the other: no group commit, +25–50 % bookings measured without it. Instead:
//
//   - the transaction DB.InTx and DB.Begin hand out (*Tx) runs hooks after it committed;
//     events.Record asks it to Notify after commit;
//   - DB.Notify wakes this process's subscribers to the channel at once (the relay normally
//     runs in the writer's process) and, unless one of them leads — acts on every such
//     notification itself (a relay holding its schema's lock) — sends the notification to
//     PostgreSQL for other processes, outside any writer's transaction and coalesced: at
//     most one per channel and payload per NotifyWindow, and always one after the last
//     request, so no commit's notification is lost to the coalescing;
//   - whoever waits polls as well (notifications are hints), which covers a crash between a
//     commit and its notification, and a notification sent while nobody listened.

// NotifyWindow is the least time between two notifications DB.Notify sends to PostgreSQL for
// one channel and payload; a variable so tests can change it.
var NotifyWindow = 20 * time.Millisecond

// Tx is a transaction of the pool that can run work after it commits (AfterCommit). Its
// savepoints (Begin) share the hooks: they run when the outermost transaction commits, and
// are dropped when it rolls back.
type Tx struct {
	pgx.Tx
	db     *DB
	hooks  *txHooks
	nested bool
}

type txHooks struct {
	fns   []func()
	notes map[[2]string]bool
}

// Begin starts a transaction on the pool whose commit runs its AfterCommit hooks.
func (db *DB) Begin(ctx context.Context) (*Tx, error) { return db.BeginTx(ctx, pgx.TxOptions{}) }

// BeginTx is Begin with options.
func (db *DB) BeginTx(ctx context.Context, opts pgx.TxOptions) (*Tx, error) {
	tx, err := db.Pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, db: db, hooks: &txHooks{}}, nil
}

// Begin starts a savepoint sharing t's hooks.
func (t *Tx) Begin(ctx context.Context) (pgx.Tx, error) {
	inner, err := t.Tx.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: inner, db: t.db, hooks: t.hooks, nested: true}, nil
}

// Commit commits and, for the outermost transaction, then runs the hooks. A failed commit
// (or one whose outcome is unknown) runs none: the pollers find what did commit.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.Tx.Commit(ctx); err != nil {
		return err
	}
	if !t.nested {
		fns := t.hooks.fns
		*t.hooks = txHooks{}
		for _, fn := range fns {
			fn()
		}
	}
	return nil
}

// Rollback rolls back; for the outermost transaction its hooks are dropped. (A savepoint's
// hooks stay: at worst a spurious wake-up.)
func (t *Tx) Rollback(ctx context.Context) error {
	err := t.Tx.Rollback(ctx)
	if !t.nested {
		*t.hooks = txHooks{}
	}
	return err
}

// AfterCommit runs fn once the outermost transaction committed (not if it rolls back).
func (t *Tx) AfterCommit(fn func()) { t.hooks.fns = append(t.hooks.fns, fn) }

// NotifyAfterCommit calls DB.Notify(channel, payload) once the transaction committed; asked
// twice in one transaction, it notifies once.
func (t *Tx) NotifyAfterCommit(channel, payload string) {
	key := [2]string{channel, payload}
	if t.hooks.notes[key] {
		return
	}
	if t.hooks.notes == nil {
		t.hooks.notes = map[[2]string]bool{}
	}
	t.hooks.notes[key] = true
	t.AfterCommit(func() { t.db.Notify(channel, payload) })
}

// runTx runs fn in tx as pgx.BeginTxFunc does: committed when fn returns nil, rolled back
// otherwise (and when fn panics).
func runTx(ctx context.Context, tx *Tx, fn func(pgx.Tx) error) (err error) {
	defer func() {
		if rbErr := tx.Rollback(ctx); rbErr != nil && !errors.Is(rbErr, pgx.ErrTxClosed) {
			err = rbErr
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// Notify tells whoever waits on channel with payload that something committed: this
// process's subscribers at once, and — unless one of them leads (Subscription.Lead) — other
// processes through PostgreSQL, coalesced (see above). It never blocks on the database.
func (db *DB) Notify(channel, payload string) {
	db.sessMu.Lock()
	s := db.sess
	db.sessMu.Unlock()
	if s != nil && s.dispatch(channel, payload) {
		return
	}
	db.notes.request(db, channel, payload)
}

// notifier coalesces DB.Notify's notifications to PostgreSQL.
type notifier struct {
	mu      sync.Mutex
	pending map[[2]string]*bool // channel and payload → asked again while sending
}

func (n *notifier) request(db *DB, channel, payload string) {
	key := [2]string{channel, payload}
	n.mu.Lock()
	if again, busy := n.pending[key]; busy {
		*again = true
		n.mu.Unlock()
		return
	}
	if n.pending == nil {
		n.pending = map[[2]string]*bool{}
	}
	again := new(bool)
	n.pending[key] = again
	n.mu.Unlock()
	go n.send(db, key, again)
}

// send notifies, waits NotifyWindow, and notifies again while requests came meanwhile: each
// request is followed by a notification sent after it.
func (n *notifier) send(db *DB, key [2]string, again *bool) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), sessionStatement)
		// Autocommit on the background pool: its own tiny transaction, nobody's commit waits.
		_, err := db.Background().Exec(ctx, `SELECT pg_notify($1, $2)`, key[0], key[1])
		cancel()
		if err != nil && db.Logger != nil {
			db.Logger.Debug("notify failed; the listeners poll", slog.String("channel", key[0]), slog.String("error", err.Error()))
		}
		time.Sleep(NotifyWindow)
		n.mu.Lock()
		if !*again {
			delete(n.pending, key)
			n.mu.Unlock()
			return
		}
		*again = false
		n.mu.Unlock()
	}
}
