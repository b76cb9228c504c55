package gateway

import (
	"context"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// limiter keeps one token bucket per key: a bucket holds up to burst tokens, refills at rps
// tokens a second, and each request takes one. Buckets idle for longer than they take to
// refill are dropped, so memory follows the active callers, not every caller ever seen.
type limiter struct {
	rps   float64
	burst float64
	idle  time.Duration
	what  string // whose limit, for the 429's message

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time // when tokens was last brought up to date
}

func newLimiter(rps float64, burst int, what string) *limiter {
	refill := time.Duration(float64(burst) / rps * float64(time.Second))
	return &limiter{rps: rps, burst: float64(burst), idle: max(refill, time.Minute), what: what, buckets: map[string]*bucket{}}
}

// fill brings key's bucket up to now, making it (full) when new; called with l.mu held.
func (l *limiter) fill(key string, now time.Time) *bucket {
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(l.burst, b.tokens+elapsed.Seconds()*l.rps)
		b.last = now
	}
	if now.Sub(l.lastSweep) > l.idle {
		for k, other := range l.buckets {
			if now.Sub(other.last) > l.idle {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	return b
}

// allow takes a token from key's bucket, or answers 429 with the seconds until one is due.
func (l *limiter) allow(w http.ResponseWriter, key string) error {
	now := time.Now()
	l.mu.Lock()
	b := l.fill(key, now)
	ok := b.tokens >= 1
	if ok {
		b.tokens--
	}
	wait := time.Duration((1 - b.tokens) / l.rps * float64(time.Second))
	l.mu.Unlock()
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return platform.Errorf(platform.KindTooManyRequests, "rate limit of %g requests per second %s exceeded; retry later", l.rps, l.what)
	}
	return nil
}

// refund gives key's bucket back the token a request took.
func (l *limiter) refund(key string) {
	now := time.Now()
	l.mu.Lock()
	b := l.fill(key, now)
	b.tokens = min(l.burst, b.tokens+1)
	l.mu.Unlock()
}

type clientKey struct{}

// client is the address the gateway decided a request comes from.
type client struct {
	addr netip.Addr // invalid when the peer address is not an IP address
	raw  string     // the peer's host as given, when addr is invalid
	// paid is the limiter the request took a token from for its address; the token goes back
	// when a signed-in caller's own bucket admits the request (see refund).
	paid *limiter
}

// String is the address passed to functions and logged.
func (c client) String() string {
	if c.addr.IsValid() {
		return c.addr.String()
	}
	return c.raw
}

// bucket is what the limits count against: the address, and for IPv6 its /64 — the block a
// single subscriber is routinely given, which would otherwise hold 2^64 fresh buckets.
func (c client) bucket() string {
	if c.addr.Is6() {
		p, _ := c.addr.WithZone("").Prefix(64)
		return p.String()
	}
	return c.String()
}

// clientFrom returns the client the gateway decided on for r (see limitAddresses).
func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

// limitAddresses decides the client's address, drops any Orange-Client-Address a client sent
// (only the gateway's own reaches functions), and takes a token from the address's bucket
// before anything else is done with the request — the token is not even parsed yet.
func (g *Gateway) limitAddresses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k := range r.Header {
			if strings.EqualFold(k, platform.ClientAddressHeader) {
				delete(r.Header, k) // any spelling: a header map built in-process is not canonical
			}
		}
		c := g.clientAddr(r)
		if err := g.addresses.allow(w, c.bucket()); err != nil {
			platform.WriteError(w, r, err)
			return
		}
		c.paid = g.addresses
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey{}, c)))
	})
}

// refund gives the address its token back once a signed-in caller's own bucket has admitted
// the request: the address pays for anonymous callers and for tokens that do not verify,
// while people behind one address (an office's NAT) are each counted by their own bucket. A
// signed-in caller over its own limit keeps paying, so a flood of one valid token is cut
// before verification too once the address's burst is gone.
func refund(r *http.Request) {
	if c := clientFrom(r.Context()); c.paid != nil && !platform.CallerFrom(r.Context()).Anonymous() {
		c.paid.refund(c.bucket())
	}
}

// callerKey is what the per-caller limit counts against: the token's subject, else the
// client's address.
func callerKey(r *http.Request) string {
	if c := platform.CallerFrom(r.Context()); !c.Anonymous() {
		return "sub:" + c.Subject
	}
	return "ip:" + clientFrom(r.Context()).bucket()
}

// clientAddr is the client's address as far as the trusted proxies tell
// (platform.TrustedProxies.ClientAddr); with none trusted (the default) X-Forwarded-For is
// never read.
func (g *Gateway) clientAddr(r *http.Request) client {
	addr, raw, ok := g.trusted.ClientAddr(r)
	if !ok {
		return client{raw: raw}
	}
	return client{addr: addr}
}
