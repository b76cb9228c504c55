package database

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A transaction in fewer round trips (issue 19). Each round trip to PostgreSQL costs both
// sides a write, a read and a wake-up — on the booking's path about as much CPU as the
// statements themselves. pgx's own transaction sends BEGIN alone and waits for it, and so
// COMMIT; a booking also sent its outbox row and its idempotency key one by one. Tx keeps
// pgx's meaning and pipelines what needs no answer of its own:
//
//   - BEGIN is sent with the transaction's first statement, in one pipeline (a Batch);
//   - Defer queues a statement whose result nobody reads (an outbox row): it is sent with
//     the next statement, or with COMMIT, and its failure is that statement's or the
//     commit's failure — the transaction is aborted either way, as if it had failed at once;
//   - CommitWith sends a last statement and COMMIT in one pipeline.
//
// A pipeline's statements run one after the other, each with its own snapshot, as if sent
// alone. A statement that failed makes PostgreSQL skip the rest of the pipeline (the COMMIT
// too) and leaves the transaction aborted: Commit then rolls it back and returns the error.
// Statements that pgx would not send in a pipeline — an Exec without arguments (pgx sends
// those over the simple protocol, which allows several statements in one string), a query
// with pgx options among its arguments, COPY — are sent alone after what is pending.

// Tx is a transaction of the pool (see above) that can run work after it commits
// (AfterCommit). Its savepoints (Begin) share the hooks: they run when the outermost
// transaction commits, and are dropped when it rolls back.
type Tx struct {
	db        *DB
	st        *txState
	savepoint string // "" for the outermost transaction
	closed    bool
}

// txState is what a transaction and its savepoints share.
type txState struct {
	conn       *pgxpool.Conn
	begin      string             // the BEGIN statement, until it is sent
	pending    []*pgx.QueuedQuery // Defer's statements not sent yet
	hooks      txHooks
	savepoints int // savepoints begun: their names
}

type txHooks struct {
	fns   []func()
	notes map[[2]string]bool
}

var _ pgx.Tx = (*Tx)(nil)

// Begin starts a transaction on the pool whose commit runs its AfterCommit hooks.
func (db *DB) Begin(ctx context.Context) (*Tx, error) { return db.BeginTx(ctx, pgx.TxOptions{}) }

// BeginTx is Begin with options. It takes a connection from the pool; BEGIN goes with the
// first statement.
func (db *DB) BeginTx(ctx context.Context, opts pgx.TxOptions) (*Tx, error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return &Tx{db: db, st: &txState{conn: conn, begin: beginSQL(opts)}}, nil
}

// beginSQL is the BEGIN statement opts ask for, as pgx builds it.
func beginSQL(opts pgx.TxOptions) string {
	if opts.BeginQuery != "" {
		return opts.BeginQuery
	}
	var b strings.Builder
	b.WriteString("begin")
	if opts.IsoLevel != "" {
		b.WriteString(" isolation level " + string(opts.IsoLevel))
	}
	if opts.AccessMode != "" {
		b.WriteString(" " + string(opts.AccessMode))
	}
	if opts.DeferrableMode != "" {
		b.WriteString(" " + string(opts.DeferrableMode))
	}
	return b.String()
}

// take returns what must be sent before the next statement — the BEGIN, then the deferred
// statements — and forgets it: once sent, it is the transaction's whatever the outcome.
func (s *txState) take() []*pgx.QueuedQuery {
	if s.begin == "" && len(s.pending) == 0 {
		return nil
	}
	var q []*pgx.QueuedQuery
	if s.begin != "" {
		q = append(q, &pgx.QueuedQuery{SQL: s.begin})
		s.begin = ""
	}
	q = append(q, s.pending...)
	s.pending = nil
	return q
}

// withOptions reports whether args begin with pgx's query options (an execution mode, a
// rewriter such as NamedArgs, result formats): pgx reads those only in a statement sent
// alone.
func withOptions(args []any) bool {
	if len(args) == 0 {
		return false
	}
	switch args[0].(type) {
	case pgx.QueryExecMode, pgx.QueryRewriter, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID:
		return true
	}
	return false
}

// send sends prefix then tail in one pipeline and reads prefix's results; on their failure
// the results are closed and the error returned.
func (t *Tx) send(ctx context.Context, prefix []*pgx.QueuedQuery, tail ...*pgx.QueuedQuery) (pgx.BatchResults, error) {
	br := t.st.conn.SendBatch(ctx, &pgx.Batch{QueuedQueries: append(prefix, tail...)})
	for range prefix {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// flush sends what is pending alone.
func (t *Tx) flush(ctx context.Context) error {
	prefix := t.st.take()
	if prefix == nil {
		return nil
	}
	br, err := t.send(ctx, prefix)
	if err != nil {
		return err
	}
	return br.Close()
}

func (t *Tx) usable() error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	return nil
}

// Defer queues a statement whose result nobody reads, to be sent with the next statement or
// the commit (see above). Its failure fails that statement or the commit.
func (t *Tx) Defer(sql string, args ...any) {
	t.st.pending = append(t.st.pending, &pgx.QueuedQuery{SQL: sql, Arguments: args})
}

// Exec runs sql, sending what is pending with it.
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.usable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if len(args) == 0 || withOptions(args) {
		// pgx sends an Exec without arguments over the simple protocol, which allows several
		// statements in one string (a pipeline does not).
		if err := t.flush(ctx); err != nil {
			return pgconn.CommandTag{}, err
		}
		return t.st.conn.Exec(ctx, sql, args...)
	}
	return t.exec(ctx, sql, args...)
}

// Query runs sql, sending what is pending with it.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if withOptions(args) {
		if err := t.flush(ctx); err != nil {
			return nil, err
		}
		return t.st.conn.Query(ctx, sql, args...)
	}
	prefix := t.st.take()
	if prefix == nil {
		return t.st.conn.Query(ctx, sql, args...)
	}
	br, err := t.send(ctx, prefix, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// batchRows are a query's rows read from a pipeline, which is closed with them.
type batchRows struct {
	pgx.Rows
	br     pgx.BatchResults
	closed bool
	err    error
}

func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *batchRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	r.Rows.Close()
	if err := r.br.Close(); err != nil && r.Rows.Err() == nil {
		r.err = err
	}
}

func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// QueryRow runs sql, sending what is pending with it.
func (t *Tx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := t.Query(ctx, sql, args...)
	return &row{rows: rows, err: err}
}

// row is QueryRow's answer, read as pgx reads its own: the first row, ErrNoRows if none.
type row struct {
	rows pgx.Rows
	err  error
}

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	r.rows.Close()
	return r.rows.Err()
}

// SendBatch sends b, after what is pending, in one pipeline.
func (t *Tx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := t.usable(); err != nil {
		return failedBatch{err}
	}
	prefix := t.st.take()
	if prefix == nil {
		return t.st.conn.SendBatch(ctx, b)
	}
	br, err := t.send(ctx, prefix, b.QueuedQueries...)
	if err != nil {
		return failedBatch{err}
	}
	return br
}

// failedBatch answers every result of a batch that was not sent with why.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return &row{err: f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

// CopyFrom sends what is pending, then the COPY.
func (t *Tx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.usable(); err != nil {
		return 0, err
	}
	if err := t.flush(ctx); err != nil {
		return 0, err
	}
	return t.st.conn.CopyFrom(ctx, table, columns, src)
}

// Prepare sends what is pending, then prepares sql.
func (t *Tx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.st.conn.Conn().Prepare(ctx, name, sql)
}

// LargeObjects are not supported: nothing here stores any.
func (t *Tx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Conn is the transaction's connection.
func (t *Tx) Conn() *pgx.Conn { return t.st.conn.Conn() }

// Begin starts a savepoint sharing t's connection and hooks; what is pending is sent with it.
func (t *Tx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	t.st.savepoints++
	name := fmt.Sprintf("sp_%d", t.st.savepoints)
	if _, err := t.exec(ctx, "savepoint "+name); err != nil {
		return nil, err
	}
	return &Tx{db: t.db, st: t.st, savepoint: name}, nil
}

// exec runs sql after what is pending, in one pipeline (alone when nothing is).
func (t *Tx) exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	prefix := t.st.take()
	if prefix == nil {
		return t.st.conn.Exec(ctx, sql, args...)
	}
	br, err := t.send(ctx, prefix, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// Commit commits — with what is pending, in one pipeline — and, for the outermost
// transaction, then runs the hooks. A failed commit (or one whose outcome is unknown) runs
// none: the pollers find what did commit.
func (t *Tx) Commit(ctx context.Context) error {
	_, err := t.CommitWith(ctx, "")
	return err
}

// CommitWith runs sql with args (none: "") and commits, with what is pending, in one
// pipeline, and returns sql's command tag. If sql fails, nothing is committed: the
// transaction is rolled back and sql's error returned.
func (t *Tx) CommitWith(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := t.usable(); err != nil {
		return pgconn.CommandTag{}, err
	}
	if t.savepoint != "" {
		var tag pgconn.CommandTag
		var err error
		if sql != "" {
			tag, err = t.Exec(ctx, sql, args...)
		}
		if err == nil {
			_, err = t.exec(ctx, "release savepoint "+t.savepoint)
		}
		if err != nil {
			_ = t.Rollback(ctx)
			return tag, err
		}
		t.closed = true
		return tag, nil
	}
	if t.st.begin != "" && len(t.st.pending) == 0 && sql == "" {
		t.end() // nothing was sent: nothing to commit
		t.runHooks()
		return pgconn.CommandTag{}, nil
	}
	prefix := t.st.take()
	var tail []*pgx.QueuedQuery
	if sql != "" {
		tail = append(tail, &pgx.QueuedQuery{SQL: sql, Arguments: args})
	}
	tail = append(tail, &pgx.QueuedQuery{SQL: "commit"})
	tag, err := t.commitPipeline(ctx, prefix, tail, sql != "")
	if err != nil {
		_ = t.Rollback(ctx)
		return tag, err
	}
	t.end()
	t.runHooks()
	return tag, nil
}

// commitPipeline sends prefix and tail (a statement, when withSQL, then COMMIT) and returns
// the statement's tag. A COMMIT PostgreSQL answers ROLLBACK (the transaction had failed) is
// pgx.ErrTxCommitRollback, as pgx's own Commit says it.
func (t *Tx) commitPipeline(ctx context.Context, prefix, tail []*pgx.QueuedQuery, withSQL bool) (pgconn.CommandTag, error) {
	br, err := t.send(ctx, prefix, tail...)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	var tag pgconn.CommandTag
	if withSQL {
		if tag, err = br.Exec(); err != nil {
			_ = br.Close()
			return tag, err
		}
	}
	commit, err := br.Exec()
	cerr := br.Close()
	switch {
	case err != nil:
		return tag, err
	case commit.String() == "ROLLBACK":
		return tag, pgx.ErrTxCommitRollback
	case commit.String() == "COMMIT":
		// Committed, whatever Close says: the server answers COMMIT once the commit is
		// durable, and only then reads the pipeline's Sync — where a server shutting down
		// ends the session (FATAL). That error is the connection's (the pool drops it), not
		// the transaction's: reporting it would tell a client its booking failed when it
		// was made (TestFaultPostgresRestartedUnderLoad).
		return tag, nil
	}
	return tag, cerr
}

func (t *Tx) runHooks() {
	fns := t.st.hooks.fns
	t.st.hooks = txHooks{}
	for _, fn := range fns {
		fn()
	}
}

// end closes the outermost transaction and gives its connection back (the pool drops a
// connection left inside a transaction or broken).
func (t *Tx) end() {
	t.closed = true
	t.st.pending, t.st.begin = nil, ""
	t.st.conn.Release()
}

// Rollback rolls back; for the outermost transaction its hooks are dropped. (A savepoint's
// hooks stay: at worst a spurious wake-up.) Once committed or rolled back, it is
// pgx.ErrTxClosed.
func (t *Tx) Rollback(ctx context.Context) error {
	if t.closed {
		return pgx.ErrTxClosed
	}
	if t.savepoint != "" {
		// What a savepoint deferred is dropped with it: every statement before it was sent
		// with the savepoint itself.
		t.st.pending = nil
		_, err := t.st.conn.Exec(ctx, "rollback to savepoint "+t.savepoint)
		t.closed = true
		return err
	}
	t.st.hooks = txHooks{}
	if t.st.begin != "" {
		t.end() // nothing was sent
		return nil
	}
	t.st.pending = nil
	_, err := t.st.conn.Exec(ctx, "rollback")
	if err != nil {
		// The connection's state is unknown: it must not go back to the pool.
		_ = t.st.conn.Conn().Close(context.WithoutCancel(ctx))
	}
	t.end()
	return err
}
