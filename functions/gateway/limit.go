package gateway

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/orangecarrental/orange/platform"
)

// limiter keeps one token bucket per caller. Buckets idle for longer than they take to
// refill are dropped, so memory follows the active callers, not every caller ever seen.
type limiter struct {
	rps   rate.Limit
	burst int
	idle  time.Duration

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiter(rps float64, burst int) *limiter {
	refill := time.Duration(float64(burst) / rps * float64(time.Second))
	return &limiter{rps: rate.Limit(rps), burst: burst, idle: max(refill, time.Minute), buckets: map[string]*bucket{}}
}

// allow takes a token for key or answers 429 with the seconds until one is due.
func (l *limiter) allow(w http.ResponseWriter, key string) error {
	now := time.Now()
	l.mu.Lock()
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{lim: rate.NewLimiter(l.rps, l.burst)}
		l.buckets[key] = b
	}
	b.seen = now
	if now.Sub(l.lastSweep) > l.idle {
		for k, other := range l.buckets {
			if now.Sub(other.seen) > l.idle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	l.mu.Unlock()

	r := b.lim.ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(delay.Seconds()))))
		return platform.Errorf(platform.KindTooManyRequests, "rate limit of %g requests per second exceeded; retry later", float64(l.rps))
	}
	return nil
}
