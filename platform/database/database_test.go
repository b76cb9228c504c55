package database_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// queryInt runs a query returning one integer.
func queryInt(t *testing.T, db *database.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

func exec(t *testing.T, db *database.DB, sql string) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), sql)
	require.NoError(t, err, sql)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused")
	tests := []struct {
		name      string
		fn        func(tx pgx.Tx) error
		wantErr   error
		wantPanic any
		wantRows  int
	}{
		{
			name:     "commits on nil",
			fn:       func(tx pgx.Tx) error { return insertCar(tx, 1) },
			wantRows: 1,
		},
		{
			name: "rolls back on error",
			fn: func(tx pgx.Tx) error {
				if err := insertCar(tx, 1); err != nil {
					return err
				}
				return fmt.Errorf("reserve: %w", errRefused)
			},
			wantErr: errRefused,
		},
		{
			name: "rolls back on panic, which propagates",
			fn: func(tx pgx.Tx) error {
				if err := insertCar(tx, 1); err != nil {
					return err
				}
				panic("bug in the store")
			},
			wantPanic: "bug in the store",
		},
		{
			name: "rolls back when a statement fails",
			fn: func(tx pgx.Tx) error {
				if err := insertCar(tx, 1); err != nil {
					return err
				}
				return insertCar(tx, 1) // unique violation
			},
			wantErr: errUnique,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := pg.NewDB(t)
			exec(t, db, `CREATE TABLE cars (id int PRIMARY KEY)`)
			ctx := context.Background()

			var err error
			if tc.wantPanic != nil {
				assert.PanicsWithValue(t, tc.wantPanic, func() { _ = db.InTx(ctx, tc.fn) })
			} else {
				err = db.InTx(ctx, tc.fn)
			}
			switch {
			case tc.wantErr == errUnique:
				require.Error(t, err)
				assert.True(t, database.IsCode(err, database.UniqueViolation), "err: %v", err)
			case tc.wantErr != nil:
				assert.ErrorIs(t, err, tc.wantErr)
			default:
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.wantRows, queryInt(t, db, `SELECT count(*) FROM cars`))
			assert.Zero(t, db.Pool.Stat().AcquiredConns(), "the connection goes back to the pool")
		})
	}
}

// errUnique stands for "a unique violation from PostgreSQL" in the InTx table.
var errUnique = errors.New("unique violation")

func insertCar(tx pgx.Tx, id int) error {
	_, err := tx.Exec(context.Background(), `INSERT INTO cars (id) VALUES ($1)`, id)
	return err
}

func TestInTxWithReadOnly(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	exec(t, db, `CREATE TABLE cars (id int PRIMARY KEY)`)
	err := db.InTxWith(context.Background(), pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		return insertCar(tx, 1)
	})
	require.Error(t, err)
	assert.True(t, database.IsCode(err, "25006"), "read_only_sql_transaction, got %v", err)

	var iso string
	require.NoError(t, db.InTxWith(context.Background(), pgx.TxOptions{IsoLevel: pgx.Serializable}, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SHOW transaction_isolation`).Scan(&iso)
	}))
	assert.Equal(t, "serializable", iso)
	require.NoError(t, db.InTx(context.Background(), func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SHOW transaction_isolation`).Scan(&iso)
	}))
	assert.Equal(t, "read committed", iso)
}

func TestIsCode(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t)
	exec(t, db, `
CREATE TABLE models (code text PRIMARY KEY);
CREATE TABLE cars (
	plate  text PRIMARY KEY,
	model  text NOT NULL REFERENCES models (code),
	seats  int  NOT NULL CHECK (seats > 0)
);
CREATE TABLE bookings (
	plate  text NOT NULL,
	during tstzrange NOT NULL,
	EXCLUDE USING gist (during WITH &&)
);
INSERT INTO models VALUES ('zoe');
INSERT INTO cars VALUES ('B-OC 1', 'zoe', 5);
INSERT INTO bookings VALUES ('B-OC 1', tstzrange('2030-01-01', '2030-01-05'));`)

	allCodes := []string{database.UniqueViolation, database.ExclusionViolation, database.CheckViolation, database.ForeignKeyViolation}
	tests := []struct {
		name string
		sql  string
		want string
	}{
		{name: "unique", sql: `INSERT INTO cars VALUES ('B-OC 1', 'zoe', 5)`, want: database.UniqueViolation},
		{name: "foreign key", sql: `INSERT INTO cars VALUES ('B-OC 2', 'nope', 5)`, want: database.ForeignKeyViolation},
		{name: "check", sql: `INSERT INTO cars VALUES ('B-OC 3', 'zoe', 0)`, want: database.CheckViolation},
		{name: "exclusion", sql: `INSERT INTO bookings VALUES ('B-OC 1', tstzrange('2030-01-04', '2030-01-06'))`, want: database.ExclusionViolation},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := db.Pool.Exec(context.Background(), tc.sql)
			require.Error(t, err)
			wrapped := fmt.Errorf("store: %w", err)
			for _, code := range allCodes {
				assert.Equal(t, code == tc.want, database.IsCode(err, code), "IsCode(%s) for %v", code, err)
				assert.Equal(t, code == tc.want, database.IsCode(wrapped, code), "wrapped IsCode(%s)", code)
			}
		})
	}
	assert.False(t, database.IsCode(errors.New("23505"), database.UniqueViolation), "only PostgreSQL errors carry codes")
	assert.False(t, database.IsCode(nil, database.UniqueViolation))
}

func TestOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name    string
		cfg     database.Config
		wantErr string
	}{
		{name: "no URL", cfg: database.Config{MaxConns: 1}, wantErr: "no database URL"},
		{name: "bad URL", cfg: database.Config{URL: "postgres://app:topsecret@db:badport/x", MaxConns: 1}, wantErr: "parse database URL"},
		{name: "unreachable server", cfg: database.Config{URL: "postgres://app:topsecret@127.0.0.1:1/x?sslmode=disable", MaxConns: 1, ConnectTimeout: 2 * time.Second}, wantErr: "reach database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := database.Open(ctx, tc.cfg)
			require.Error(t, err)
			assert.Nil(t, db)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "topsecret")
		})
	}

	t.Run("pool settings and ping", func(t *testing.T) {
		t.Parallel()
		url := pg.NewDatabaseURL(t)
		db, err := database.Open(ctx, database.Config{URL: url, MaxConns: 3, MinConns: 0})
		require.NoError(t, err)
		assert.EqualValues(t, 3, db.Pool.Config().MaxConns)
		require.NoError(t, db.Ping(ctx))
		db.Close()
		err = db.Ping(ctx)
		require.Error(t, err, "a closed pool is not ready")
		assert.Equal(t, "database unreachable", err.Error())
	})
}
