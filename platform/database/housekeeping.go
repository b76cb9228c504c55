package database

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Housekeeping (cleanup-worker, docs/cleanup.md) deletes and moves old rows in the
// functions' tables while they serve: in small batches, each its own short transaction that
// gives up rather than waits long for a lock (a migration's, say) and so never queues a
// function's writes behind itself. The prunes of the outbox, the inbox, the idempotency keys
// and reservations' archive share these.

// HousekeepingLockTimeout is how long a housekeeping transaction waits for a lock before it
// fails (PostgreSQL's lock_timeout).
const HousekeepingLockTimeout = "2s"

// InShortTx is InTx with lock_timeout HousekeepingLockTimeout.
func (db *DB) InShortTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+HousekeepingLockTimeout+`'`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// DeleteInBatches runs deleteSQL — a DELETE of at most $2 rows older than $1, skipping rows
// other transactions hold (FOR UPDATE SKIP LOCKED) — once per InShortTx until one deletes
// fewer than batch rows (1 when batch ≤ 0), and returns how many rows it deleted in all,
// also when it stops on an error or the end of ctx.
func (db *DB) DeleteInBatches(ctx context.Context, deleteSQL string, cutoff time.Time, batch int) (int64, error) {
	batch = max(batch, 1)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int64
		err := db.InShortTx(ctx, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, deleteSQL, cutoff, batch)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
	}
}

// SchemasWith returns, in order, the schemas that have a table named table with a column
// named column: housekeeping finds every function's outbox, inbox or key table by looking
// rather than by a list, so a function added later is included.
func (db *DB) SchemasWith(ctx context.Context, table, column string) ([]string, error) {
	rows, err := db.Pool.Query(ctx, `SELECT table_schema FROM information_schema.columns
WHERE table_name = $1 AND column_name = $2 ORDER BY table_schema`, table, column)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
