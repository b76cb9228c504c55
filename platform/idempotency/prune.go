package idempotency

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
)

// Pruning expired keys in every schema (cleanup-worker, docs/cleanup.md). A key past
// expires_at is never replayed again: claim takes it over as new. Deleting it only keeps the
// table small. Like the outbox prune (events.PruneOutbox), the deletes run in small batches,
// each a short transaction with a lock timeout, skipping rows a running request holds
// (database.DeleteInBatches).

// PruneBatch is how many keys one prune transaction deletes at most.
const PruneBatch = 500

// pruneSQL deletes a batch of keys that expired before $1.
const pruneSQL = `WITH picked AS MATERIALIZED (
	SELECT scope, key FROM %[1]s WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM %[1]s WHERE (scope, key) IN (SELECT scope, key FROM picked)`

// Schemas returns the schemas that have a key table, found in information_schema rather
// than listed, so a function added later is pruned too.
func Schemas(ctx context.Context, db *database.DB) ([]string, error) {
	return db.SchemasWith(ctx, "idempotency_keys", "expires_at")
}

// Prune deletes schema's keys that expired before cutoff, at most batch per transaction
// (PruneBatch when batch ≤ 0), until none is left, and returns how many. A key expiring
// exactly at cutoff stays.
func Prune(ctx context.Context, db *database.DB, schema string, cutoff time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = PruneBatch
	}
	return db.DeleteInBatches(ctx, fmt.Sprintf(pruneSQL, pgx.Identifier{schema, "idempotency_keys"}.Sanitize()), cutoff, batch)
}
