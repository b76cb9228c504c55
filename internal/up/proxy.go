package up

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// maxBody bounds a request body the proxy keeps for a retry (an event is at most 1 MiB).
const maxBody = 8 << 20

// proxy is a Service's address, as the activator and the Service's endpoints are on the
// cluster: it balances each request over the ready replicas by the power of two choices on
// their in-flight count (the activator's algorithm for Services without a hard
// containerConcurrency), holds requests while none is ready (a Service at zero: the
// activator's buffer, and it pokes the scaler), retries once on another replica a request
// that failed before any response (idempotent methods, an Idempotency-Key, or a refused
// connection), and measures the Service's concurrency for the KPA.
type proxy struct {
	service string
	rp      *httputil.ReverseProxy
	network *http.Transport

	mu       sync.Mutex
	replicas []*replica
	changed  chan struct{} // closed and replaced when a replica becomes ready

	poke      func() // asks the scaler for a replica now (a request waits at zero)
	holdLimit time.Duration

	conc     concurrency
	requests atomic.Int64
	retries  atomic.Int64
	failures atomic.Int64 // answered 502/503 by the proxy itself
}

func newProxy(service string, poke func(), holdLimit time.Duration) *proxy {
	p := &proxy{
		service:   service,
		changed:   make(chan struct{}),
		poke:      poke,
		holdLimit: holdLimit,
		network: &http.Transport{
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", service
			pr.SetXForwarded()
		},
		Transport:    roundTripper{p},
		ErrorHandler: p.fail,
	}
	return p
}

// ServeHTTP forwards one request to a replica.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.conc.add(1)
	defer p.conc.add(-1)
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			platform.WriteError(w, r, platform.Errorf(platform.KindTooLarge, "the request body exceeds %d bytes", maxBody))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.ContentLength = int64(len(body))
	}
	p.rp.ServeHTTP(w, r)
}

// errNoReplica is a request that waited holdLimit for a ready replica.
var errNoReplica = errors.New("no replica became ready")

func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	p.failures.Add(1)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		w.WriteHeader(499) // the client left; nobody reads this
		return
	}
	if errors.Is(err, errNoReplica) {
		w.Header().Set("Retry-After", "1")
		platform.WriteError(w, r, platform.Errorf(platform.KindUnavailable, "%s has no ready replica", p.service))
		return
	}
	platform.WriteError(w, r, &platform.Error{Kind: platform.KindBadGateway, Message: p.service + " did not answer", Err: err})
}

type roundTripper struct{ p *proxy }

// RoundTrip sends req to a replica, and once more to another when the first failed
// before answering and a second try cannot do a thing twice.
func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	p := t.p
	var tried *replica
	for attempt := 0; ; attempt++ {
		r, err := p.pick(req.Context(), tried)
		if err != nil {
			return nil, err
		}
		out := req
		if attempt > 0 {
			out = req.Clone(req.Context())
			if req.GetBody != nil {
				if out.Body, err = req.GetBody(); err != nil {
					return nil, err
				}
			}
		}
		out.URL.Host = r.Addr()
		r.inFlight.Add(1)
		resp, err := p.network.RoundTrip(out)
		if err == nil {
			resp.Body = &countedBody{ReadCloser: resp.Body, r: r}
			return resp, nil
		}
		r.inFlight.Add(-1)
		if errors.Is(err, syscall.ECONNREFUSED) {
			r.ready.Store(false) // gone or going: the probe decides when it is back
		}
		if attempt > 0 || req.Context().Err() != nil || !retryable(req, err) {
			return nil, err
		}
		p.retries.Add(1)
		tried = r
	}
}

// retryable tells whether a request that got no response may be sent again: nothing
// reached the replica (connection refused), or sending twice changes nothing more than
// sending once (what net/http itself retries on a reused connection).
func retryable(req *http.Request, err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get("Idempotency-Key") != ""
}

// countedBody ends a request's in-flight count on its replica when the response is read.
type countedBody struct {
	io.ReadCloser
	r    *replica
	once sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() {
		b.r.inFlight.Add(-1)
		b.r.served.Add(1)
	})
	return b.ReadCloser.Close()
}

// pick returns a ready replica other than not: the less loaded of two drawn at random
// (power of two choices). With none ready it waits, poking the scaler, up to holdLimit.
func (p *proxy) pick(ctx context.Context, not *replica) (*replica, error) {
	deadline := time.NewTimer(p.holdLimit)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		var ready []*replica
		for _, r := range p.replicas {
			if r != not && r.ready.Load() {
				ready = append(ready, r)
			}
		}
		changed := p.changed
		p.mu.Unlock()
		switch len(ready) {
		case 0:
		case 1:
			return ready[0], nil
		default:
			i := rand.IntN(len(ready))
			j := rand.IntN(len(ready) - 1)
			if j >= i {
				j++
			}
			a, b := ready[i], ready[j]
			if b.inFlight.Load() < a.inFlight.Load() {
				a = b
			}
			return a, nil
		}
		if not != nil {
			not = nil // the only one left: better it than nothing (it may be back)
			continue
		}
		p.poke()
		select {
		case <-changed:
		case <-time.After(50 * time.Millisecond): // readiness lost by a probe comes back silently
		case <-deadline.C:
			return nil, errNoReplica
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// setReplicas replaces the replica set (the scaler calls it on every change).
func (p *proxy) setReplicas(rs []*replica) {
	p.mu.Lock()
	p.replicas = rs
	p.mu.Unlock()
}

// readied wakes the requests waiting for a replica.
func (p *proxy) readied() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// concurrency integrates the number of requests in the proxy (held ones too, as the
// activator reports them) over time: take returns the average since the last take, which
// is what a queue-proxy reports per scrape.
type concurrency struct {
	mu    sync.Mutex
	clock func() time.Time // time.Now when nil (tests set it)
	n     int64
	last  time.Time
	area  float64
	since time.Time
}

func (c *concurrency) now() time.Time {
	if c.clock != nil {
		return c.clock()
	}
	return time.Now()
}

// advance adds the area since the last change. c.mu is held.
func (c *concurrency) advance(now time.Time) {
	if !c.last.IsZero() && now.After(c.last) {
		c.area += float64(c.n) * now.Sub(c.last).Seconds()
	}
	if now.After(c.last) {
		c.last = now
	}
}

func (c *concurrency) add(d int64) {
	c.mu.Lock()
	c.advance(c.now())
	c.n += d
	c.mu.Unlock()
}

// take returns the average in-flight count since the previous take and starts anew.
func (c *concurrency) take() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.advance(now)
	avg := 0.0
	if !c.since.IsZero() && now.After(c.since) {
		avg = c.area / now.Sub(c.since).Seconds()
	}
	c.area, c.since = 0, now
	return avg
}

// current is the number of requests in the proxy now.
func (c *concurrency) current() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
