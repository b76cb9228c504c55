package all_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/database"
)

// aroundTheClock is every day from 00:00 to 24:00 (locations' end of day).
const aroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},` +
	`{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},` +
	`{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},` +
	`{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// openAroundTheClock opens every branch in db (the locations schema) around the clock:
// these tests book at whatever hour the clock shows, and reservations refuses a pickup or
// return outside a branch's opening hours (docs/counter.md). Call it before the first
// booking: reservations keeps a branch it read for RESERVATION_BRANCH_TTL.
func openAroundTheClock(t *testing.T, db *database.DB) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(), `UPDATE locations.locations SET opening_hours = $1::jsonb, status = 'active'`, aroundTheClock)
	require.NoError(t, err)
}
