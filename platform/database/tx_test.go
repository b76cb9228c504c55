package database_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
)

// trips counts round trips to PostgreSQL: a statement sent alone, or a pipeline.
type trips struct{ n atomic.Int64 }

func (c *trips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *trips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *trips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *trips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *trips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// tracedCars is a fresh database with a cars table, over a pool that counts round trips.
func tracedCars(t *testing.T) (*database.DB, *trips) {
	t.Helper()
	plain := pg.NewDB(t)
	exec(t, plain, `CREATE TABLE cars (id int PRIMARY KEY)`)
	cfg, err := pgxpool.ParseConfig(plain.Pool.Config().ConnString())
	require.NoError(t, err)
	c := &trips{}
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	db := &database.DB{Pool: pool}
	t.Cleanup(db.Close)
	return db, c
}

const insertCarSQL = `INSERT INTO cars (id) VALUES ($1)`

func deferCar(tx pgx.Tx, id int) { tx.(*database.Tx).Defer(insertCarSQL, id) }

func countCars(tx pgx.Tx) (int, error) {
	var n int
	err := tx.QueryRow(context.Background(), `SELECT count(*) FROM cars`).Scan(&n)
	return n, err
}

// TestTxRoundTrips: BEGIN goes with the first statement, deferred statements with the next
// one or the COMMIT; what a transaction means is unchanged.
func TestTxRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fn        func(tx pgx.Tx) error
		wantTrips int64
		wantRows  int
	}{
		{name: "nothing sent, nothing to commit", fn: func(pgx.Tx) error { return nil }},
		{name: "begin with the first statement", fn: func(tx pgx.Tx) error { return insertCar(tx, 1) },
			wantTrips: 2, wantRows: 1},
		{name: "deferred rows with the commit", fn: func(tx pgx.Tx) error {
			deferCar(tx, 1)
			deferCar(tx, 2)
			return nil
		}, wantTrips: 1, wantRows: 2},
		{name: "a deferred row goes with the next statement, which sees it", fn: func(tx pgx.Tx) error {
			deferCar(tx, 1)
			n, err := countCars(tx)
			if err == nil && n != 1 {
				return errors.New("the deferred row is not seen")
			}
			return err
		}, wantTrips: 2, wantRows: 1},
		{name: "a batch after begin", fn: func(tx pgx.Tx) error {
			var b pgx.Batch
			b.Queue(insertCarSQL, 1)
			b.Queue(insertCarSQL, 2)
			return tx.SendBatch(context.Background(), &b).Close()
		}, wantTrips: 2, wantRows: 2},
		{name: "an Exec without arguments may hold several statements", fn: func(tx pgx.Tx) error {
			_, err := tx.Exec(context.Background(), `INSERT INTO cars VALUES (1); INSERT INTO cars VALUES (2)`)
			return err
		}, wantTrips: 3, wantRows: 2},
		{name: "a savepoint rolled back drops what it deferred", fn: func(tx pgx.Tx) error {
			deferCar(tx, 1)
			err := pgx.BeginFunc(context.Background(), tx, func(sp pgx.Tx) error {
				deferCar(sp, 2)
				return errors.New("refused")
			})
			if err == nil {
				return errors.New("the savepoint's error was lost")
			}
			deferCar(tx, 3)
			return nil
		}, wantTrips: 3, wantRows: 2},
		{name: "a savepoint released keeps its rows", fn: func(tx pgx.Tx) error {
			return pgx.BeginFunc(context.Background(), tx, func(sp pgx.Tx) error {
				deferCar(sp, 1)
				return insertCar(sp, 2)
			})
		}, wantTrips: 4, wantRows: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, c := tracedCars(t)
			require.NoError(t, db.InTx(context.Background(), tc.fn))
			assert.Equal(t, tc.wantTrips, c.n.Load(), "round trips")
			assert.Equal(t, tc.wantRows, queryInt(t, db, `SELECT count(*) FROM cars`))
			assert.Zero(t, db.Pool.Stat().AcquiredConns(), "the connection goes back to the pool")
		})
	}
}

// TestTxDeferredFailure: a deferred statement that fails fails the statement or the commit
// it went with, and nothing of the transaction is kept.
func TestTxDeferredFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := tracedCars(t)
	exec(t, db, `INSERT INTO cars VALUES (7)`)

	err := db.InTx(ctx, func(tx pgx.Tx) error {
		if err := insertCar(tx, 1); err != nil {
			return err
		}
		deferCar(tx, 7) // taken: fails with the commit
		return nil
	})
	assert.True(t, database.IsCode(err, database.UniqueViolation), "the commit fails with the deferred row's error, got %v", err)

	err = db.InTx(ctx, func(tx pgx.Tx) error {
		deferCar(tx, 2)
		deferCar(tx, 7)
		_, err := countCars(tx)
		return err
	})
	assert.True(t, database.IsCode(err, database.UniqueViolation), "the next statement fails with it, got %v", err)

	assert.Equal(t, 1, queryInt(t, db, `SELECT count(*) FROM cars`), "only the row from before")
	assert.Zero(t, db.Pool.Stat().AcquiredConns())
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error { return insertCar(tx, 3) }), "the pool's connections still work")
}

// TestTxCommitWith: the last statement and the COMMIT in one round trip; when the statement
// fails, the transaction is rolled back and its error returned.
func TestTxCommitWith(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, c := tracedCars(t)

	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	deferCar(tx, 1)
	tag, err := tx.CommitWith(ctx, insertCarSQL, 2)
	require.NoError(t, err)
	assert.EqualValues(t, 1, tag.RowsAffected())
	assert.EqualValues(t, 1, c.n.Load(), "begin, the deferred row, the statement and the commit: one round trip")
	assert.ErrorIs(t, tx.Rollback(ctx), pgx.ErrTxClosed)
	_, err = tx.Exec(ctx, insertCarSQL, 9)
	assert.ErrorIs(t, err, pgx.ErrTxClosed)

	tx, err = db.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, insertCar(tx, 3))
	_, err = tx.CommitWith(ctx, `SELECT 1 / (count(*) - count(*)) FROM cars WHERE id > $1`, 0)
	assert.True(t, database.IsCode(err, "22012"), "the statement's own error, got %v", err)
	assert.ErrorIs(t, tx.Rollback(ctx), pgx.ErrTxClosed, "rolled back already")

	assert.Equal(t, 2, queryInt(t, db, `SELECT count(*) FROM cars`), "the first transaction's rows only")
	assert.Zero(t, db.Pool.Stat().AcquiredConns())
}
