package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"

	"github.com/orangecarrental/orange/platform/admission"
)

// Adaptive per-upstream limits (docs/performance.md, "Overload"): the gateway counts the
// requests it has forwarded to each function and not yet seen answered, and refuses a
// request to a function at its limit with 503 before anything else is done with it — no
// token verified, nothing forwarded. Each limit adapts to what the function says (AIMD, as
// TCP's congestion window): it starts at GATEWAY_UPSTREAM_MAX_IN_FLIGHT, so nothing is
// refused here until the function itself refuses; a function's admission refusal (503 with
// admission.RefusedHeader) or the gateway's own 504 for it brings the limit down to a
// tenth below what was in flight then (by half at most), once per window (only requests sent after
// the last decrease count, so one burst of refusals is one signal); every other answer raises
// it by 1/limit, one slot per limit's worth of answers, probing for capacity the function
// gained (a pod more, a query faster). The gateway thus stops spending its own budget and CPU
// on a function that is saturated, and refuses its excess for the price of a map lookup.
const (
	// minUpstreamLimit keeps a few requests going to a function whose every answer was a
	// refusal, so that the gateway notices when it recovers.
	minUpstreamLimit = 4
	// upstreamBackoff is the multiplicative decrease.
	upstreamBackoff = 0.9
)

// upstreams holds one adaptive limit per function behind the gateway.
type upstreams struct {
	max    float64
	byName map[string]*upstreamLimit
}

func newUpstreams(maxInFlight int) *upstreams {
	u := &upstreams{max: float64(maxInFlight), byName: map[string]*upstreamLimit{}}
	for _, up := range Upstreams {
		if u.byName[up.Service] == nil {
			u.byName[up.Service] = &upstreamLimit{service: up.Service, max: u.max, limit: u.max}
		}
	}
	return u
}

// of returns the limit of the function path is forwarded to (nil: none, the gateway's own).
func (u *upstreams) of(path string) *upstreamLimit {
	for _, up := range Upstreams {
		if rest, ok := strings.CutPrefix(path, up.Prefix); ok && (rest == "" || rest[0] == '/') {
			return u.byName[up.Service]
		}
	}
	return nil
}

// upstreamLimit is one function's adaptive limit.
type upstreamLimit struct {
	service string
	max     float64

	mu        sync.Mutex
	limit     float64
	inFlight  int
	sent      uint64 // requests let through so far: each one's number
	decreased uint64 // sent when the limit last went down
	refused   uint64 // requests the gateway refused itself
}

// slot is one request let through to a function; forward notes what became of it.
type slot struct {
	seq       uint64
	forwarded bool // it reached the forward (and was not answered by the gateway itself first)
	overload  bool // the function refused it (503 + Retry-After) or did not answer in time (504)
}

type slotKey struct{}

// acquire lets a request through, or tells that the function is at its limit.
func (l *upstreamLimit) acquire() (*slot, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if float64(l.inFlight) >= math.Floor(l.limit) {
		l.refused++
		return nil, false
	}
	l.inFlight++
	l.sent++
	return &slot{seq: l.sent}, true
}

// release ends s and adapts the limit to its outcome. A request the gateway answered
// itself (401, 429, 413…) says nothing about the function.
func (l *upstreamLimit) release(s *slot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inFlight := l.inFlight
	l.inFlight--
	switch {
	case !s.forwarded:
	case s.overload:
		if s.seq > l.decreased { // one decrease per window
			// To 0.9 × what the function held when it refused, but by half at most: a
			// lone 504 at low traffic must not clamp the limit for thousands of answers.
			l.limit = max(minUpstreamLimit, min(l.limit, max(float64(inFlight), l.limit/2))*upstreamBackoff)
			l.decreased = l.sent
		}
	default:
		l.limit = min(l.max, l.limit+1/l.limit)
	}
}

// Limit is the current limit, rounded down as acquire applies it.
func (l *upstreamLimit) Limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int(math.Floor(l.limit))
}

// limitUpstreams refuses a request to a function at its limit at once, and holds a slot
// of it while the request is served otherwise.
func (g *Gateway) limitUpstreams(next http.Handler) http.Handler {
	if g.upstreams == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := g.upstreams.of(r.URL.Path)
		if l == nil || r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		s, ok := l.acquire()
		if !ok {
			admission.Refuse(w, r, fmt.Sprintf("%s is busy: the gateway holds as many requests to it as it "+
				"answers; retry after %d s", l.service, int(admission.RetryAfter.Seconds())))
			return
		}
		defer l.release(s)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, s)))
	})
}

// slotOf is the request's slot (nil when its path has no limit or limits are off).
func slotOf(ctx context.Context) *slot {
	s, _ := ctx.Value(slotKey{}).(*slot)
	return s
}

// overloaded tells whether a function's answer is its admission control's refusal; another
// 503 (its own dependency down) says nothing about how much it can take.
func overloaded(res *http.Response) bool {
	return res.StatusCode == http.StatusServiceUnavailable && res.Header.Get(admission.RefusedHeader) != ""
}
