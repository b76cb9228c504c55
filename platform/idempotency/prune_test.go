package idempotency_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/idempotency"
)

// TestPruneBoundaries: a key that expired one second before the cutoff goes, one expiring
// exactly at it or a second after stays; many expired keys go in batches; the key table is
// found by looking, not by name.
func TestPruneBoundaries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pg.NewDB(t, schema)
	schemas, err := idempotency.Schemas(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, []string{"idemtest"}, schemas)

	cutoff := time.Date(2026, 11, 1, 3, 30, 0, 0, time.UTC)
	insert := func(key string, d time.Duration) {
		t.Helper()
		_, err := db.Pool.Exec(ctx, `INSERT INTO idemtest.idempotency_keys (scope, key, request_hash, status, locked_until, expires_at)
			VALUES ('sub:x', $1, '\x00', 201, $2, $2)`, key, cutoff.Add(d))
		require.NoError(t, err)
	}
	insert("outside", -time.Second)
	insert("at", 0)
	insert("inside", time.Second)
	for i := range 7 {
		insert(fmt.Sprintf("old-%d", i), -time.Duration(i+1)*time.Hour)
	}
	n, err := idempotency.Prune(ctx, db, "idemtest", cutoff, 3)
	require.NoError(t, err)
	assert.EqualValues(t, 8, n)
	rows, err := db.Pool.Query(ctx, `SELECT key FROM idemtest.idempotency_keys ORDER BY key`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"at", "inside"}, left)
	n, err = idempotency.Prune(ctx, db, "idemtest", cutoff, 3)
	require.NoError(t, err)
	assert.Zero(t, n)
}
