package auth

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// verified remembers tokens that passed verification until they expire (at most maxAge),
// so a token presented again — a function's cached service token, the Broker's cached
// delivery token, a user's token on every hop of a booking — costs a hash and a map lookup
// instead of an RS256 verification. Only successes are kept, keyed by the token's SHA-256;
// the same bytes verify the same way until exp, and maxAge bounds how long a key the issuer
// has since withdrawn keeps working.
type verified struct {
	mu      sync.Mutex
	entries map[[32]byte]verifiedEntry
	maxAge  time.Duration
	limit   int
}

type verifiedEntry struct {
	caller platform.Caller
	until  time.Time
}

func newVerified() *verified {
	return &verified{entries: map[[32]byte]verifiedEntry{}, maxAge: 5 * time.Minute, limit: 10000}
}

func (v *verified) get(raw string, now time.Time) (platform.Caller, bool) {
	key := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[key]
	if !ok {
		return platform.Caller{}, false
	}
	if !now.Before(e.until) {
		delete(v.entries, key)
		return platform.Caller{}, false
	}
	return e.caller, true
}

// put keeps c for raw until exp (the token's expiry) or maxAge, whichever comes first.
func (v *verified) put(raw string, c platform.Caller, exp, now time.Time) {
	until := now.Add(v.maxAge)
	if exp.Before(until) {
		until = exp
	}
	if !now.Before(until) {
		return
	}
	key := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.limit {
		// A flood of distinct valid tokens: start over rather than grow (expired entries
		// first would need a scan of its own; the cache is an optimisation, not a store).
		clear(v.entries)
	}
	v.entries[key] = verifiedEntry{caller: c, until: until}
}
