package pricing

import (
	"time"

	"github.com/orangecarrental/orange/platform/database"
)

// NewWithClock is New on a given clock, so tests of the time rules (pickup not in the past,
// cancelledAt defaulting to now) are exact and hand-computed dates stay valid.
func NewWithClock(db *database.DB, now func() time.Time) *Service {
	return &Service{store: &Store{db: db}, now: now}
}
