package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	// then costs map reads, not the vectors' hashing of label values under a lock.
	byRoute := make([]*routeSeries, len(m.routes)+1)
	for i := range byRoute {
		label := Unmatched
		if i < len(m.routes) {
			label = m.routes[i].label
		}
		byRoute[i] = &routeSeries{f: f, label: label, inFlight: f.inFlight.WithLabelValues(label)}
		if i < len(m.routes) && m.routes[i].method != "" {
			byRoute[i].observer(m.routes[i].method) // on the dashboard from the start, at 0
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s := byRoute[m.match(r.Method, r.URL.Path)]
		method := foldMethod(r.Method)
		s.inFlight.Inc()
		rec := &codeRecorder{ResponseWriter: w}
		defer func() {
			s.inFlight.Dec()
			code := rec.code
			if code == 0 {
				// A handler that panicked is answered 500 by the server's recovery.
				code = http.StatusOK
				if v := recover(); v != nil {
					s.counter(method, http.StatusInternalServerError).Inc()
					panic(v)
				}
			}
			s.observer(method).Observe(time.Since(start).Seconds())
			s.counter(method, code).Inc()
		}()
		next.ServeHTTP(rec, r.WithContext(With(r.Context(), f)))
	})
}

// routeSeries are one route's series, resolved on first use per method and status code.
type routeSeries struct {
	f         *Function
	label     string
	inFlight  prometheus.Gauge
	durations sync.Map // method → prometheus.Observer
	counters  sync.Map // seriesKey → prometheus.Counter
}

type seriesKey struct {
	method string
	code   int
}

func (s *routeSeries) observer(method string) prometheus.Observer {
	if o, ok := s.durations.Load(method); ok {
		return o.(prometheus.Observer)
	}
	o := s.f.duration.WithLabelValues(s.label, method)
	s.durations.Store(method, o)
	return o
}

func (s *routeSeries) counter(method string, code int) prometheus.Counter {
	k := seriesKey{method, code}
	if c, ok := s.counters.Load(k); ok {
		return c.(prometheus.Counter)
	}
	c := s.f.requests.WithLabelValues(s.label, method, strconv.Itoa(code))
	s.counters.Store(k, c)
	return c
}

// foldMethod bounds the method label to the standard methods.
func foldMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
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
