package events

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
)

// Pruning the outbox and the inbox (cleanup-worker, docs/cleanup.md). Both tables grow with
// every event; neither needs its old rows: a published event is the Broker's now, and an
// inbox row only has to outlive every redelivery of its event. The deletes run in small
// batches, each its own short transaction with a lock timeout, and skip rows another
// transaction holds (the relay marking a row published): database.DeleteInBatches.

// PruneBatch is how many rows one prune transaction deletes at most.
const PruneBatch = 500

// pruneOutboxSQL deletes a batch of rows published before $1. Unpublished rows are never
// deleted, however old: the relay still owes them to the Broker.
const pruneOutboxSQL = `WITH picked AS MATERIALIZED (
	SELECT seq FROM %[1]s WHERE published_at < $1 ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM %[1]s WHERE seq IN (SELECT seq FROM picked)`

// pruneInboxSQL deletes a batch of rows received before $1.
const pruneInboxSQL = `WITH picked AS MATERIALIZED (
	SELECT source, id FROM %[1]s WHERE received_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)
DELETE FROM %[1]s WHERE (source, id) IN (SELECT source, id FROM picked)`

// OutboxSchemas returns the schemas that have an outbox, found in information_schema
// rather than listed, so a function added later is pruned too.
func OutboxSchemas(ctx context.Context, db *database.DB) ([]string, error) {
	return db.SchemasWith(ctx, "outbox", "published_at")
}

// InboxSchemas returns the schemas that have an inbox.
func InboxSchemas(ctx context.Context, db *database.DB) ([]string, error) {
	return db.SchemasWith(ctx, "inbox", "received_at")
}

// PruneOutbox deletes schema's outbox rows published before cutoff, at most batch per
// transaction (PruneBatch when batch ≤ 0), until none is left; it returns how many it
// deleted. A row published exactly at cutoff stays.
func PruneOutbox(ctx context.Context, db *database.DB, schema string, cutoff time.Time, batch int) (int64, error) {
	return db.DeleteInBatches(ctx, sprintfTable(pruneOutboxSQL, schema, "outbox"), cutoff, orDefault(batch))
}

// PruneInbox deletes schema's inbox rows received before cutoff, as PruneOutbox does. The
// cutoff must lie beyond every redelivery window (Trigger retries, a dead letter's replay):
// an event whose inbox row is gone would be applied again.
func PruneInbox(ctx context.Context, db *database.DB, schema string, cutoff time.Time, batch int) (int64, error) {
	return db.DeleteInBatches(ctx, sprintfTable(pruneInboxSQL, schema, "inbox"), cutoff, orDefault(batch))
}

func orDefault(batch int) int {
	if batch <= 0 {
		return PruneBatch
	}
	return batch
}

// sprintfTable puts schema.table, quoted, into query's %s verbs.
func sprintfTable(query, schema, table string) string {
	return fmt.Sprintf(query, pgx.Identifier{schema, table}.Sanitize())
}
