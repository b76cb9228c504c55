// Package admission bounds the work one function takes on at once (issue 19, item 4). Each
// function in a process gets a Limiter in front of its handler: up to MaxInFlight requests
// run, a request beyond them waits at most MaxWait for a slot, and one that finds no slot by
// then — or finds as many others already waiting as there are slots — is answered at once
// with 503 problem+json and Retry-After. Where the bottleneck is what the function waits on
// (its pool, another function), accepted requests keep the latency of a function at its
// capacity instead of queueing behind everything that arrived, and goodput stays at
// capacity instead of collapsing once every request waits past its caller's deadline; a CPU
// saturated by the refusals themselves is another matter (docs/performance.md). On Knative the queue-proxy's containerConcurrency would do the same; none of
// our Services sets one (docs/capacity.md), and `orange dev` has no queue-proxy, so the
// function must not depend on it.
//
// Event deliveries (a CloudEvent in binary or structured mode) have a budget of their own
// and a longer wait (ADMISSION_MAX_WAIT_EVENTS), so that a flood of HTTP requests cannot
// starve the event pipeline nor a backlog of events the API. A delivery refused with 503 is retried by the Broker (and the in-process broker)
// with its backoff: nothing is lost. The header only chooses the budget: the delivery is
// still authenticated behind it. An in-process call made by a request a function admitted
// (Admitted) is served without a slot: the work was admitted at its edge, and is not refused
// half-way. Health, readiness and /metrics are served by the host
// outside every function's handler, so they never meet a limit. The decisions and the
// measured figures are in docs/performance.md.
package admission

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// Defaults for a Config left at zero.
const (
	// DefaultMaxInFlight is three times the default pool (DB_MAX_CONNS=16): every
	// connection busy, a request ready for each one freed, and as many again for the work
	// around the queries. It is far above the 3.5–5.6 in flight at which Knative's
	// autoscaler scales a pod out (the measured targets 5–8 × 70 %, docs/capacity.md), so a
	// pod sheds only when scaling out has not caught up. Accepted requests then wait about MaxInFlight / throughput: a
	// function whose requests are slow (a search at ~250 req/s) sets a lower limit.
	DefaultMaxInFlight = 48
	// FrontDoorFactor multiplies the default of a public function (the gateway, the
	// portals): their requests spend their time waiting on the functions behind them, so one
	// slow function must fill its own budget and shed, not the front door's and with it
	// every other function's traffic.
	FrontDoorFactor = 4
	// RetryAfter is what a refused caller is told to wait: one second, the least the header
	// can say, as the queue-proxy's overload answers do not say more either.
	RetryAfter = time.Second
)

// Config is how much work a function admits. It is read from the environment by the host;
// in `orange dev` every function gets the same values, each its own budget.
type Config struct {
	// MaxInFlight bounds the requests a function runs at once; 0: DefaultMaxInFlight
	// (FrontDoorFactor times that for a public function). Set it to the Service's
	// containerConcurrency when one is set, so the queue-proxy sheds first.
	MaxInFlight int `env:"ADMISSION_MAX_IN_FLIGHT, default=0"`
	// MaxInFlightEvents bounds the event deliveries a function runs at once; 0: as many as
	// MaxInFlight. (The in-process broker runs 16 deliveries per Trigger at once, and a
	// worker may have several Triggers.)
	MaxInFlightEvents int `env:"ADMISSION_MAX_IN_FLIGHT_EVENTS, default=0"`
	// MaxWait is the longest a request waits for a slot before it is refused: a burst
	// shorter than this is smoothed, a sustained overload is refused within it.
	MaxWait time.Duration `env:"ADMISSION_MAX_WAIT, default=20ms"`
	// MaxWaitEvents is the same for an event delivery: longer, as nobody waits for its answer
	// but the broker, and a refusal costs a retry after the Trigger's backoff.
	MaxWaitEvents time.Duration `env:"ADMISSION_MAX_WAIT_EVENTS, default=1s"`
	// Off turns admission control off (measurements of the collapse it prevents).
	Off bool `env:"ADMISSION_OFF, default=false"`
}

// Validate checks the settings.
func (c Config) Validate() error {
	switch {
	case c.MaxInFlight < 0:
		return fmt.Errorf("ADMISSION_MAX_IN_FLIGHT must not be negative, got %d", c.MaxInFlight)
	case c.MaxInFlightEvents < 0:
		return fmt.Errorf("ADMISSION_MAX_IN_FLIGHT_EVENTS must not be negative, got %d", c.MaxInFlightEvents)
	case c.MaxWait < 0 || c.MaxWait > 5*time.Second:
		return fmt.Errorf("ADMISSION_MAX_WAIT must be between 0 and 5s (a short wait, not a queue), got %s", c.MaxWait)
	case c.MaxWaitEvents < 0 || c.MaxWaitEvents > 10*time.Second:
		return fmt.Errorf("ADMISSION_MAX_WAIT_EVENTS must be between 0 and 10s, got %s", c.MaxWaitEvents)
	}
	return nil
}

// RefusedHeader marks a 503 as a limiter's refusal for overload, so that a caller that adapts
// its own sending (the gateway's per-function limits) tells it from another 503 — a
// function whose dependency is down. The gateway drops it from what it passes on.
const RefusedHeader = "Orange-Admission-Refused"

// Budget names the two budgets of a function, as its metrics label them.
type Budget string

// The budgets.
const (
	Requests   Budget = "requests"
	Deliveries Budget = "events"
)

// Limiter admits a function's requests. Its methods are safe for concurrent use.
type Limiter struct {
	service  string
	off      bool
	public   bool
	requests *pool
	events   *pool
	nested   atomic.Uint64
}

// New returns service's limiter. public marks a front door (FrontDoorFactor).
func New(service string, cfg Config, public bool) *Limiter {
	n := cfg.MaxInFlight
	if n == 0 {
		n = DefaultMaxInFlight
		if public {
			n *= FrontDoorFactor
		}
	}
	e := cfg.MaxInFlightEvents
	if e == 0 {
		e = n
	}
	return &Limiter{service: service, off: cfg.Off, public: public, requests: newPool(n, cfg.MaxWait), events: newPool(e, cfg.MaxWaitEvents)}
}

// workKey marks a context whose request a function's limiter (not a front door's) admitted.
type workKey struct{}

// Admitted tells whether ctx belongs to a request that a function behind the front doors
// has already admitted in this process: an in-process call it makes (vehicles-api asking
// pricing-api for prices) is part of work already admitted, and is not refused half-way.
func Admitted(ctx context.Context) bool { return ctx.Value(workKey{}) != nil }

// Wrap admits each request to next within its budget, refusing the rest with 503.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	if l.off {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if Admitted(r.Context()) {
			// Admitted at the edge of the work: refusing it here would waste what the
			// caller has done and make it fail (or retry) a request it was allowed to run.
			// The caller's own limit bounds how many of these run.
			l.nested.Add(1)
			next.ServeHTTP(w, r)
			return
		}
		p := l.requests
		if IsDelivery(r) {
			p = l.events
		}
		if !p.acquire(r) {
			l.refuse(w, r, p)
			return
		}
		defer p.release()
		if !l.public {
			// A front door's requests are not the work itself: the function behind it
			// admits them against its own budget.
			r = r.WithContext(context.WithValue(r.Context(), workKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

// IsDelivery tells whether r carries a CloudEvent (binary mode: ce-specversion; structured
// mode: its media type). It chooses a budget and grants nothing.
func IsDelivery(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.Header.Get("Ce-Specversion") != "" ||
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents"))
}

// refuse answers 503 problem+json with Retry-After. Not through platform.WriteError: that
// logs every 5xx as a failure, and a refusal is the limiter working — at 4× capacity three
// of four requests, whose log lines would cost more than their answers. The request log
// line and the metrics count them.
func (l *Limiter) refuse(w http.ResponseWriter, r *http.Request, p *pool) {
	p.rejected.Add(1)
	if !l.public {
		w.Header().Set(RefusedHeader, "1") // for the gateway; a front door answers clients
	}
	Refuse(w, r, fmt.Sprintf("%s is at its limit of %d requests in progress; retry after %d s",
		l.service, p.limit, int(RetryAfter.Seconds())))
}

// Refuse answers r 503 problem+json (type unavailable) with detail and Retry-After, without
// logging it as a failure: what a limiter says, here or in the gateway.
func Refuse(w http.ResponseWriter, r *http.Request, detail string) {
	prob := platform.ProblemFor(r, platform.Errorf(platform.KindUnavailable, "%s", detail))
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(int(RetryAfter.Seconds())))
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(prob)
}

// Stats is one budget's state and counts since the start.
type Stats struct {
	Limit    int
	InFlight int
	Waiting  int
	Admitted uint64 // at once
	Queued   uint64 // after a wait of at most MaxWait
	Rejected uint64 // answered 503
	// Nested counts in-process calls made by work another function admitted, served
	// without taking a slot (requests budget only).
	Nested uint64
}

// Stats returns the state of budget b.
func (l *Limiter) Stats(b Budget) Stats {
	p := l.requests
	if b == Deliveries {
		p = l.events
	}
	st := Stats{Limit: p.limit, InFlight: len(p.slots), Waiting: int(p.waiting.Load()),
		Admitted: p.admitted.Load(), Queued: p.queued.Load(), Rejected: p.rejected.Load()}
	if b == Requests {
		st.Nested = l.nested.Load()
	}
	return st
}

// Service is the function the limiter belongs to.
func (l *Limiter) Service() string { return l.service }

// Off tells whether admission control is off.
func (l *Limiter) Off() bool { return l.off }

// pool is one budget: a counting semaphore with a bounded number of short waits.
type pool struct {
	limit   int
	wait    time.Duration
	slots   chan struct{}
	waiting atomic.Int64

	admitted, queued, rejected atomic.Uint64
}

func newPool(n int, wait time.Duration) *pool {
	return &pool{limit: n, wait: wait, slots: make(chan struct{}, n)}
}

// acquire takes a slot, waiting at most wait (and never while as many others wait as there
// are slots: past that a wait would not end in time anyway).
func (p *pool) acquire(r *http.Request) bool {
	select {
	case p.slots <- struct{}{}:
		p.admitted.Add(1)
		return true
	default:
	}
	if p.wait <= 0 {
		return false
	}
	if p.waiting.Add(1) > int64(p.limit) {
		p.waiting.Add(-1)
		return false
	}
	defer p.waiting.Add(-1)
	t := time.NewTimer(p.wait)
	defer t.Stop()
	select {
	case p.slots <- struct{}{}:
		p.queued.Add(1)
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false // the caller left while waiting: its answer goes nowhere
	}
}

func (p *pool) release() { <-p.slots }
