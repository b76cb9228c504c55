package fleet

import "time"

// CandidatesSQL and CandidatesArgs let the scale test EXPLAIN the very statement a search
// runs, with the very arguments it binds.
var (
	CandidatesSQL  = candidatesSQL
	CandidatesArgs = candidatesArgs
)

// SetClock makes s read the time from now: the price cache's expiry (and the search's "not
// in the past") without waiting.
func SetClock(s *Service, now func() time.Time) { s.now = now }

// PriceCacheLen is how many (branch, period) price sets s keeps.
func PriceCacheLen(s *Service) int { return s.prices.len() }
