package pgtest

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
)

// Snapshot fingerprints every table of the given schemas — its row count and a hash of its
// whole content — so a test can show that something (a refused request, a forged event)
// changed nothing: an UPDATE shows as well as an INSERT. Tables are found through
// information_schema, so a table added later is covered without touching the tests.
func Snapshot(tb testing.TB, db *database.DB, schemas ...string) map[string]string {
	tb.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, schema := range schemas {
		rows, err := db.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
		if err != nil {
			tb.Fatalf("pgtest: list tables of %s: %v", schema, err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatalf("pgtest: list tables of %s: %v", schema, err)
		}
		if len(tables) == 0 {
			tb.Fatalf("pgtest: schema %s has no tables", schema)
		}
		for _, table := range tables {
			var n int64
			var sum *string
			name := pgx.Identifier{schema, table}.Sanitize()
			if err := db.Pool.QueryRow(ctx, `SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM `+name+` t`).Scan(&n, &sum); err != nil {
				tb.Fatalf("pgtest: fingerprint %s: %v", name, err)
			}
			fp := fmt.Sprint(n)
			if sum != nil {
				fp += " " + *sum
			}
			out[schema+"."+table] = fp
		}
	}
	return out
}
