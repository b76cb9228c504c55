package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/orangecarrental/orange/platform"
)

// Unmatched is the route label of a request no route of the table matches (a 404 before
// any handler ran): raw paths never become labels.
const Unmatched = "unmatched"

// Instrument wraps a function's handler (platform.Handler of its API) with the RED series
// of f, labelled by the template of the route in routes the request matches, and puts f into
// each request's context (From).
//
// The route is found here, before the router, by a matcher built from the same table: the
// router stays as it is, and a request refused before routing (an invalid token's 401) is
// still counted under its route. Templates match as gorilla/mux matches them: a {name}
// segment matches one non-empty segment, a Prefix route everything below its path; the
// first route of the table that matches the path and method wins.
func Instrument(f *Function, routes []platform.Route, next http.Handler) http.Handler {
	if f == nil {
		return next
	}
	m := newMatcher(routes)
	// Each route's series are resolved once per method and status code and kept: a request
	// then costs an array read and a scan of the few codes its route has answered, not the
	// vectors' hashing of label values under a lock.
	byRoute := make([]*routeSeries, len(m.routes)+1)
	for i := range byRoute {
		label := Unmatched
		if i < len(m.routes) {
			label = m.routes[i].label
		}
		byRoute[i] = &routeSeries{f: f, label: label, inFlight: f.inFlight.WithLabelValues(label)}
		if i < len(m.routes) && m.routes[i].method != "" {
			byRoute[i].series(methodIndex(m.routes[i].method)) // on the dashboard from the start, at 0
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s := byRoute[m.match(r.Method, r.URL.Path)]
		ms := s.series(methodIndex(r.Method))
		s.inFlight.Inc()
		// The status recorder and the context carrying f are one allocation.
		rec := &recorder{codeRecorder: codeRecorder{ResponseWriter: w}, ctx: fnContext{Context: r.Context(), f: f}}
		defer func() {
			s.inFlight.Dec()
			code := rec.code
			if code == 0 {
				// A handler that panicked is answered 500 by the server's recovery.
				code = http.StatusOK
				if v := recover(); v != nil {
					ms.counter(http.StatusInternalServerError).Inc()
					panic(v)
				}
			}
			ms.duration.Observe(time.Since(start).Seconds())
			ms.counter(code).Inc()
		}()
		next.ServeHTTP(&rec.codeRecorder, r.WithContext(&rec.ctx))
	})
}

// recorder is a request's status recorder and the context that carries its function's
// bundle (what With would add), allocated together.
type recorder struct {
	codeRecorder
	ctx fnContext
}

// fnContext is a context carrying f under With's key.
type fnContext struct {
	context.Context
	f *Function
}

func (c *fnContext) Value(k any) any {
	if k == (functionKey{}) {
		return c.f
	}
	return c.Context.Value(k)
}

// methods are the method label's values (foldMethod), indexed by methodIndex.
var methods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, "OTHER"}

// methodIndex is the index in methods of m's label: the standard methods, the rest OTHER.
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodOptions:
		return 6
	}
	return 7
}

// routeSeries are one route's series, resolved on first use per method and status code.
type routeSeries struct {
	f        *Function
	label    string
	inFlight prometheus.Gauge
	mu       sync.Mutex // taken only to add a method or a status code
	methods  [len(methods)]atomic.Pointer[methodSeries]
}

// methodSeries are a route's series of one method: its duration histogram and its request
// counters by status code, a copy-on-write list (a route answers a handful of codes).
type methodSeries struct {
	s        *routeSeries
	method   string
	duration prometheus.Observer
	codes    atomic.Pointer[[]codeCounter]
}

type codeCounter struct {
	code    int
	counter prometheus.Counter
}

func (s *routeSeries) series(method int) *methodSeries {
	if ms := s.methods[method].Load(); ms != nil {
		return ms
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ms := s.methods[method].Load(); ms != nil {
		return ms
	}
	ms := &methodSeries{s: s, method: methods[method], duration: s.f.duration.WithLabelValues(s.label, methods[method])}
	ms.codes.Store(&[]codeCounter{})
	s.methods[method].Store(ms)
	return ms
}

func (ms *methodSeries) counter(code int) prometheus.Counter {
	for _, c := range *ms.codes.Load() {
		if c.code == code {
			return c.counter
		}
	}
	ms.s.mu.Lock()
	defer ms.s.mu.Unlock()
	old := *ms.codes.Load()
	for _, c := range old {
		if c.code == code {
			return c.counter
		}
	}
	c := ms.s.f.requests.WithLabelValues(ms.s.label, ms.method, strconv.Itoa(code))
	codes := append(old[:len(old):len(old)], codeCounter{code, c})
	ms.codes.Store(&codes)
	return c
}

// codeRecorder remembers the status code a handler wrote.
type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) {
	if c.code == 0 && code >= 200 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *codeRecorder) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (c *codeRecorder) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// matcher finds a request's route in a route table.
type matcher struct {
	routes []template
}

type template struct {
	label  string
	method string
	segs   []string // literal segments; "" for a {name} variable
	prefix bool
}

func newMatcher(routes []platform.Route) *matcher {
	m := &matcher{}
	for _, rt := range routes {
		t := template{label: rt.Path, method: rt.Method, prefix: rt.Prefix}
		if rt.Prefix {
			t.label = strings.TrimSuffix(rt.Path, "/") + "/*"
		}
		for _, s := range strings.Split(strings.TrimPrefix(rt.Path, "/"), "/") {
			if rt.Path == "/" {
				break // the root: no segment (matches() below)
			}
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				s = ""
			}
			t.segs = append(t.segs, s)
		}
		m.routes = append(m.routes, t)
	}
	return m
}

// match returns the index of the route of path and method, len(routes) for none. A path
// that matches a route of another method only takes that route's label (its 405 is counted
// under the route it missed).
func (m *matcher) match(method, path string) int {
	found := len(m.routes)
	for i := range m.routes {
		t := &m.routes[i]
		if !t.matches(path) {
			continue
		}
		if t.method == "" || t.method == method {
			return i
		}
		if found == len(m.routes) {
			found = i
		}
	}
	return found
}

func (t *template) matches(path string) bool {
	if len(path) == 0 || path[0] != '/' {
		return false
	}
	if len(t.segs) == 0 {
		return path == "/" || t.prefix
	}
	rest := path[1:]
	for n, seg := range t.segs {
		last := n == len(t.segs)-1
		if t.prefix && last && seg == "" {
			// A prefix ending in "/": everything below it, the empty rest included.
			return true
		}
		part, after, more := strings.Cut(rest, "/")
		switch {
		case seg == "" && part == "":
			return false
		case seg != "" && part != seg:
			if t.prefix && last {
				return strings.HasPrefix(part, seg)
			}
			return false
		}
		if last {
			if t.prefix {
				return true
			}
			return !more
		}
		if !more {
			return false
		}
		rest = after
	}
	return false
}
