package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

const (
	service = "locations-api"
	portal  = "http://localhost:5173"
)

// seen is what the upstream function received.
type seen struct {
	Method     string
	RequestURI string
	Path       string
	RawQuery   string
	Body       string
	Header     http.Header
}

// upstream stands in for locations-api: it records each request and answers 201 with a
// header and a body of its own, so the test can tell that the answer came through.
type upstream struct {
	calls atomic.Int64
	mu    sync.Mutex
	last  seen
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.calls.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		// A function reading its body fails the way DecodeJSON does.
		platform.WriteError(w, r, platform.Errorf(platform.KindInvalid, "read body: %v", err))
		return
	}
	u.mu.Lock()
	u.last = seen{Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: string(body), Header: r.Header.Clone()}
	u.mu.Unlock()
	w.Header().Set("X-Upstream", "locations")
	w.Header().Set("Location", "/api/locations/BER")
	_ = platform.WriteJSON(w, http.StatusCreated, map[string]string{"from": "upstream"})
}

func (u *upstream) seen() seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// hang blocks until the request's context ends, like a function stuck on a lock.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// inProcess reaches service in-process, as in `orange dev`.
func inProcess(h http.Handler) *platform.Transport {
	t := platform.NewTransport(nil, nil)
	t.Mount(service, h)
	return t
}

// network reaches service at url, as on Knative (LOCATIONS_API_URL).
func network(url string) *platform.Transport {
	return platform.NewTransport(nil, func(key string) (string, bool) {
		if key == platform.ServiceURLKey(service) {
			return url, true
		}
		return "", false
	})
}

// syncBuffer collects log lines written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines with the given msg.
func (b *syncBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), "log line: %s", l)
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// harness is a gateway served the way hosts serve it.
type harness struct {
	handler http.Handler
	id      *authtest.Identity
	logs    *syncBuffer
}

// newHarness builds the gateway from its environment (defaults plus env) over transport.
func newHarness(t *testing.T, env map[string]string, transport http.RoundTripper) *harness {
	t.Helper()
	var cfg gateway.Config
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(env), &cfg))
	gw, err := gateway.New(context.Background(), cfg, platform.Deps{Transport: transport})
	require.NoError(t, err)
	id := authtest.New(t)
	logs := &syncBuffer{}
	logger := platform.NewLogger(logs, "debug", gateway.ServiceName)
	return &harness{handler: platform.Observe(logger, platform.Handler(gw, id.Verifier)), id: id, logs: logs}
}

func (h *harness) do(req *http.Request) *http.Response {
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec.Result()
}

// readProblem checks that resp is a problem+json document of kind and returns it.
func readProblem(t *testing.T, resp *http.Response, kind platform.Kind) platform.Problem {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, kind.Status(), resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p platform.Problem
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	require.Equal(t, platform.ProblemTypeBase+string(kind), p.Type)
	require.Equal(t, kind.Status(), p.Status)
	return p
}

func TestForwardsRequestsUnchanged(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		method string
		target string
		body   string
		path   string // as the upstream's router sees it
	}{
		{"the area itself", http.MethodGet, "/api/locations", "", "/api/locations"},
		{"below the area with a query", http.MethodGet, "/api/locations/BER?open=true&sort=-name&q=two%20words&q=x", "", "/api/locations/BER"},
		{"escaped characters", http.MethodGet, "/api/locations/K%C3%B6ln%2FHbf?q=%26", "", "/api/locations/Köln/Hbf"},
		// Not parseable by net/url: the function must see it to refuse it by name (ReverseProxy
		// alone would drop it and the function would answer another question).
		{"a query with ';'", http.MethodGet, "/api/locations?page=1;pageSize=5&status=active;x", "", "/api/locations"},
		{"a bad escape", http.MethodGet, "/api/locations?q=%zz", "", "/api/locations"},
		{"POST with a body", http.MethodPost, "/api/locations", `{"code":"BER","name":"Berlin"}`, "/api/locations"},
		{"PUT with a body", http.MethodPut, "/api/locations/BER", `{"name":"Berlin Hbf"}`, "/api/locations/BER"},
		{"PATCH", http.MethodPatch, "/api/locations/BER", `{"name":"x"}`, "/api/locations/BER"},
		{"DELETE", http.MethodDelete, "/api/locations/BER", "", "/api/locations/BER"},
	}
	for _, mode := range []string{"in-process", "network"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			var transport *platform.Transport
			if mode == "in-process" {
				transport = inProcess(up)
			} else {
				srv := httptest.NewServer(up)
				t.Cleanup(srv.Close)
				transport = network(srv.URL)
			}
			h := newHarness(t, nil, transport)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					req := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
					if tc.body != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					req.Header.Set("Authorization", h.id.Bearer(t, "frank"))
					req.Header.Set("Tracestate", "vendor=opaque")
					resp := h.do(req)

					body, err := io.ReadAll(resp.Body)
					require.NoError(t, err)
					require.Equal(t, http.StatusCreated, resp.StatusCode, "body: %s", body)
					assert.JSONEq(t, `{"from":"upstream"}`, string(body))
					assert.Equal(t, "locations", resp.Header.Get("X-Upstream"))
					assert.Equal(t, "/api/locations/BER", resp.Header.Get("Location"))

					got := up.seen()
					assert.Equal(t, tc.method, got.Method)
					assert.Equal(t, tc.target, got.RequestURI, "path and query reach the function as sent")
					assert.Equal(t, tc.path, got.Path)
					assert.Equal(t, req.URL.RawQuery, got.RawQuery)
					assert.Equal(t, tc.body, got.Body)
					if tc.body != "" {
						assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
					}
					// Every function verifies the token itself: it travels on unchanged.
					assert.Equal(t, req.Header.Get("Authorization"), got.Header.Get("Authorization"))
					assert.Equal(t, "vendor=opaque", got.Header.Get("Tracestate"))
				})
			}
			assert.EqualValues(t, len(cases), up.calls.Load())
		})
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		clientID string
		keep     bool // the caller's id is used end to end
	}{
		{"made by the gateway", "", false},
		{"the caller's well-formed id", "portal-4f2a.17_x", true},
		{"a malformed id is replaced", "bad id\twith spaces", false},
		{"an overlong id is replaced", strings.Repeat("a", 129), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, nil, inProcess(up))
			req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
			if tc.clientID != "" {
				req.Header.Set(platform.RequestIDHeader, tc.clientID)
			}
			resp := h.do(req)
			require.Equal(t, http.StatusCreated, resp.StatusCode)

			returned := resp.Header.Values(platform.RequestIDHeader)
			require.Len(t, returned, 1)
			id := returned[0]
			require.NotEmpty(t, id)
			if tc.keep {
				assert.Equal(t, tc.clientID, id)
			} else {
				assert.NotEqual(t, tc.clientID, id)
			}
			assert.Equal(t, id, up.seen().Header.Get(platform.RequestIDHeader), "the function sees the id the caller got")
			logged := h.logs.lines(t, "request")
			require.Len(t, logged, 1)
			assert.Equal(t, id, logged[0]["requestId"], "the gateway logs the same id")
		})
	}
}

// TestRequestIDOverTheNetwork: a networked function echoes the id it was given (its own
// Observe); the caller still gets one id, the one the gateway logged.
func TestRequestIDOverTheNetwork(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	srv := httptest.NewServer(platform.Observe(platform.NewLogger(io.Discard, "error", service), up))
	t.Cleanup(srv.Close)
	h := newHarness(t, nil, network(srv.URL))

	resp := h.do(httptest.NewRequest(http.MethodGet, "/api/locations", nil))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	ids := resp.Header.Values(platform.RequestIDHeader)
	require.NotEmpty(t, ids)
	assert.Equal(t, ids[0], up.seen().Header.Get(platform.RequestIDHeader))
	assert.Len(t, ids, 1, "X-Request-Id appears once, not once from the gateway and once from the function: %q", ids)
}

func TestTraceparent(t *testing.T) {
	t.Parallel()
	const (
		trace = "4bf92f3577b34da6a3ce929d0e0e4736"
		span  = "00f067aa0ba902b7"
	)
	cases := []struct {
		name      string
		inbound   string
		keepTrace bool
		flags     string
	}{
		{"sampled parent", "00-" + trace + "-" + span + "-01", true, "01"},
		{"unsampled parent", "00-" + trace + "-" + span + "-00", true, "00"},
		{"none", "", false, "01"},
		{"malformed", "00-" + trace + "-xyz-01", false, "01"},
		{"all-zero trace id", "00-" + strings.Repeat("0", 32) + "-" + span + "-01", false, "01"},
		{"upper-case hex", "00-" + strings.ToUpper(trace) + "-" + span + "-01", false, "01"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, nil, inProcess(up))
			req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
			if tc.inbound != "" {
				req.Header.Set("Traceparent", tc.inbound)
			}
			require.Equal(t, http.StatusCreated, h.do(req).StatusCode)

			out := up.seen().Header.Values("Traceparent")
			require.Len(t, out, 1)
			gotTrace, ok := platform.TraceID(out[0])
			require.True(t, ok, "the function gets a valid traceparent, got %q", out[0])
			parts := strings.Split(out[0], "-")
			require.Len(t, parts, 4)
			assert.NotEqual(t, span, parts[2], "the gateway's hop has a span id of its own")
			assert.Equal(t, tc.flags, parts[3])
			if tc.keepTrace {
				assert.Equal(t, trace, gotTrace, "the caller's trace continues")
			} else {
				assert.NotEqual(t, strings.ToLower(trace), gotTrace, "a fresh trace is started")
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	expired := func() string {
		c := id.Issuer.ClaimsFor(devissuer.Users[0])
		c["exp"] = time.Now().Add(-time.Hour).Unix()
		tok, err := id.Issuer.Mint(c)
		require.NoError(t, err)
		return tok
	}()
	cases := []struct {
		name          string
		env           map[string]string
		method        string
		origin        string
		requestMethod string // Access-Control-Request-Method: a preflight
		authorization string
		status        int
		kind          platform.Kind // for problem answers
		allowOrigin   string
		forwarded     bool
	}{
		{name: "preflight from a portal", method: http.MethodOptions, origin: portal, requestMethod: http.MethodPost,
			status: http.StatusNoContent, allowOrigin: portal},
		{name: "preflight from the other portal", method: http.MethodOptions, origin: "http://localhost:5174", requestMethod: http.MethodDelete,
			status: http.StatusNoContent, allowOrigin: "http://localhost:5174"},
		{name: "preflight from a stranger", method: http.MethodOptions, origin: "https://evil.example.com", requestMethod: http.MethodPost,
			status: http.StatusForbidden, kind: platform.KindForbidden},
		{name: "preflight from a portal's look-alike", method: http.MethodOptions, origin: "http://localhost:5173.evil.example.com", requestMethod: http.MethodGet,
			status: http.StatusForbidden, kind: platform.KindForbidden},
		{name: "preflight without an origin", method: http.MethodOptions, requestMethod: http.MethodGet,
			status: http.StatusForbidden, kind: platform.KindForbidden},
		{name: "simple request from a portal", method: http.MethodGet, origin: portal,
			status: http.StatusCreated, allowOrigin: portal, forwarded: true},
		{name: "simple request from a stranger is served without CORS headers", method: http.MethodGet, origin: "https://evil.example.com",
			status: http.StatusCreated, forwarded: true},
		{name: "request without an origin", method: http.MethodGet,
			status: http.StatusCreated, forwarded: true},
		{name: "invalid token from a portal: a 401 the browser can read", method: http.MethodGet, origin: portal, authorization: "Bearer garbage",
			status: http.StatusUnauthorized, kind: platform.KindUnauthorized, allowOrigin: portal},
		{name: "expired token from a portal", method: http.MethodGet, origin: portal, authorization: "Bearer " + expired,
			status: http.StatusUnauthorized, kind: platform.KindUnauthorized, allowOrigin: portal},
		{name: "configured origins replace the defaults", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://book.orange.example/"},
			method: http.MethodOptions, origin: "https://book.orange.example", requestMethod: http.MethodPut,
			status: http.StatusNoContent, allowOrigin: "https://book.orange.example"},
		{name: "configured origins drop the defaults", env: map[string]string{"CORS_ALLOWED_ORIGINS": "https://book.orange.example"},
			method: http.MethodOptions, origin: portal, requestMethod: http.MethodPut,
			status: http.StatusForbidden, kind: platform.KindForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, tc.env, inProcess(up))
			req := httptest.NewRequest(tc.method, "/api/locations/BER", nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			if tc.requestMethod != "" {
				req.Header.Set("Access-Control-Request-Method", tc.requestMethod)
				req.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
			}
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			resp := h.do(req)
			if tc.kind != "" {
				readProblem(t, resp, tc.kind)
			} else {
				require.Equal(t, tc.status, resp.StatusCode)
			}

			assert.Contains(t, resp.Header.Values("Vary"), "Origin", "caches must key on Origin")
			assert.Equal(t, tc.allowOrigin, resp.Header.Get("Access-Control-Allow-Origin"))
			assert.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), "tokens travel in headers, never cookies")
			if tc.allowOrigin != "" {
				assert.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id")
				assert.Contains(t, resp.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
			}
			if tc.status == http.StatusNoContent {
				assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), tc.requestMethod)
				allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
				assert.Contains(t, allowed, "authorization")
				assert.Contains(t, allowed, "content-type")
				assert.NotEmpty(t, resp.Header.Get("Access-Control-Max-Age"))
			}
			if tc.forwarded {
				assert.EqualValues(t, 1, up.calls.Load())
			} else {
				assert.Zero(t, up.calls.Load(), "the function is not called")
			}
		})
	}
}

func TestInvalidTokenStopsAtTheGateway(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		authorization string
		status        int
	}{
		{"garbage", "Bearer garbage", http.StatusUnauthorized},
		{"another scheme", "Basic YWxpY2U6YWxpY2U=", http.StatusUnauthorized},
		{"anonymous on a public area", "", http.StatusCreated},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, nil, inProcess(up))
			req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
			if tc.authorization != "" {
				req.Header.Set("Authorization", tc.authorization)
			}
			resp := h.do(req)
			if tc.status != http.StatusUnauthorized {
				require.Equal(t, tc.status, resp.StatusCode)
				assert.EqualValues(t, 1, up.calls.Load())
				return
			}
			readProblem(t, resp, platform.KindUnauthorized)
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			assert.Zero(t, up.calls.Load(), "the function never sees an invalid token")
		})
	}
}

// TestRateLimit: with 1 request per second and a burst of 2, the third quick request of one
// caller is refused with 429 and a Retry-After, while another caller is unaffected. The caller
// is the token's subject, else the client address — taken from X-Forwarded-For only when the
// direct peer is one of the configured trusted proxies.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	const proxies = "10.0.0.0/8,172.16.0.0/12,127.0.0.1,::1"
	type reqOpts struct {
		user   string // demo user whose token is sent; anonymous when empty
		remote string
		xff    []string
	}
	cases := []struct {
		name    string
		trusted string // TRUSTED_PROXIES
		// same returns the i-th request (0, 1, 2) of the caller who runs out.
		same  func(i int) reqOpts
		other reqOpts
	}{
		{"by subject", "", func(int) reqOpts { return reqOpts{user: "alice"} }, reqOpts{user: "bob"}},
		{"by subject, whatever the IP", "", func(i int) reqOpts {
			return reqOpts{user: "alice", remote: "203.0.113." + strconv.Itoa(10+i) + ":4000"}
		}, reqOpts{user: "bob", remote: "203.0.113.10:4000"}},
		{"a subject does not use up its IP's budget", "", func(int) reqOpts {
			return reqOpts{user: "alice", remote: "203.0.113.5:4000"}
		}, reqOpts{remote: "203.0.113.5:4000"}},
		{"anonymous by IP", "", func(i int) reqOpts {
			return reqOpts{remote: "203.0.113.5:" + strconv.Itoa(4000+i)}
		}, reqOpts{remote: "203.0.113.6:4000"}},
		{"anonymous IPv6, by /64", "", func(i int) reqOpts {
			return reqOpts{remote: "[2001:db8:0:1::" + strconv.Itoa(5+i) + "]:4000"}
		}, reqOpts{remote: "[2001:db8:0:2::5]:4000"}},
		{"an untrusted peer cannot dodge the limit with X-Forwarded-For", proxies, func(i int) reqOpts {
			return reqOpts{remote: "203.0.113.5:4000", xff: []string{"198.51.100." + strconv.Itoa(i+1)}}
		}, reqOpts{remote: "203.0.113.6:4000", xff: []string{"198.51.100.1"}}},
		{"no trusted proxies: a private peer's X-Forwarded-For is ignored", "", func(i int) reqOpts {
			return reqOpts{remote: "10.0.0.2:4000", xff: []string{"198.51.100." + strconv.Itoa(i+1)}}
		}, reqOpts{remote: "10.0.0.3:4000", xff: []string{"198.51.100.1"}}},
		{"behind a trusted proxy, by forwarded client", proxies, func(int) reqOpts {
			return reqOpts{remote: "10.0.0.2:4000", xff: []string{"198.51.100.7"}}
		}, reqOpts{remote: "10.0.0.2:4000", xff: []string{"198.51.100.8"}}},
		{"behind a trusted proxy, client-claimed hops are ignored", proxies, func(i int) reqOpts {
			return reqOpts{remote: "10.0.0.2:4000", xff: []string{"1.2.3." + strconv.Itoa(i+1) + ", 198.51.100.7"}}
		}, reqOpts{remote: "10.0.0.2:4000", xff: []string{"1.2.3.1, 198.51.100.8"}}},
		{"behind a chain of trusted proxies", proxies, func(i int) reqOpts {
			return reqOpts{remote: "127.0.0.1:4000", xff: []string{"198.51.100.7, 172.16.0." + strconv.Itoa(i+1), "10.1.1.1"}}
		}, reqOpts{remote: "127.0.0.1:4000", xff: []string{"198.51.100.8, 172.16.0.1", "10.1.1.1"}}},
		{"behind an IPv6 loopback proxy", proxies, func(int) reqOpts {
			return reqOpts{remote: "[::1]:4000", xff: []string{"2001:db8::7"}}
		}, reqOpts{remote: "[::1]:4000", xff: []string{"2001:db8:1::8"}}},
		{"a hop with a port, as some load balancers write it", proxies, func(int) reqOpts {
			return reqOpts{remote: "10.0.0.2:4000", xff: []string{"198.51.100.7:5123"}}
		}, reqOpts{remote: "10.0.0.2:4000", xff: []string{"198.51.100.8:5123"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, map[string]string{"RATE_LIMIT_RPS": "1", "RATE_LIMIT_BURST": "2", "TRUSTED_PROXIES": tc.trusted}, inProcess(up))
			build := func(o reqOpts) *http.Request {
				req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
				if o.user != "" {
					req.Header.Set("Authorization", h.id.Bearer(t, o.user))
				}
				if o.remote != "" {
					req.RemoteAddr = o.remote
				}
				for _, v := range o.xff {
					req.Header.Add("X-Forwarded-For", v)
				}
				return req
			}
			// Tokens are minted before the clock matters.
			reqs := []*http.Request{build(tc.same(0)), build(tc.same(1)), build(tc.same(2))}
			other := build(tc.other)

			require.Equal(t, http.StatusCreated, h.do(reqs[0]).StatusCode)
			require.Equal(t, http.StatusCreated, h.do(reqs[1]).StatusCode)
			limited := h.do(reqs[2])
			readProblem(t, limited, platform.KindTooManyRequests)
			retry, err := strconv.Atoi(limited.Header.Get("Retry-After"))
			require.NoError(t, err, "Retry-After %q is a number of seconds", limited.Header.Get("Retry-After"))
			assert.Positive(t, retry)
			assert.LessOrEqual(t, retry, 2)

			assert.Equal(t, http.StatusCreated, h.do(other).StatusCode, "another caller is unaffected")
			assert.EqualValues(t, 3, up.calls.Load(), "the refused request was not forwarded")
		})
	}
}

// flood sends n requests made by build as fast as the handler answers and counts the
// statuses; it returns them, how long the flood took and the last 429 answer.
func flood(h *harness, n int, build func(i int) *http.Request) (map[int]int, time.Duration, *http.Response) {
	statuses := map[int]int{}
	var limited *http.Response
	start := time.Now()
	for i := range n {
		resp := h.do(build(i))
		statuses[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp
		}
	}
	return statuses, time.Since(start), limited
}

// admitted is the most requests one address may get past the address limit in elapsed with
// the default settings (a full bucket, then the sustained rate; one token of slack).
func admitted(elapsed time.Duration) int {
	const rps, burst = 100, 200
	return burst + int(math.Ceil(elapsed.Seconds()*rps)) + 1
}

// TestGarbageTokenFloodIsLimited is the 401 flood of issue 11: 2,000 requests with garbage
// tokens from one address used to get 2,000 × 401, the limit being counted only after a
// valid token. Now the per-address limit comes first: after the burst they get 429 with
// Retry-After, and none reaches token verification or the function. Another address is
// unaffected.
func TestGarbageTokenFloodIsLimited(t *testing.T) {
	t.Parallel()
	up := &upstream{}
	h := newHarness(t, nil, inProcess(up)) // the defaults: 100/s, burst 200 per address
	garbage := []string{"Bearer garbage", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "Basic YWxpY2U6YWxpY2U=", "Bearer " + strings.Repeat("x", 4000)}
	statuses, elapsed, limited := flood(h, 2000, func(i int) *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
		req.RemoteAddr = "203.0.113.66:" + strconv.Itoa(1024+i)
		req.Header.Set("Authorization", garbage[i%len(garbage)]+strconv.Itoa(i))
		return req
	})
	t.Logf("2000 requests in %s: %v", elapsed, statuses)
	assert.Equal(t, 2000, statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests], "only 401 or 429: %v", statuses)
	assert.LessOrEqual(t, statuses[http.StatusUnauthorized], admitted(elapsed), "a 401 flood must be limited")
	assert.GreaterOrEqual(t, statuses[http.StatusTooManyRequests], 2000-admitted(elapsed))
	assert.Zero(t, up.calls.Load())
	require.NotNil(t, limited)
	readProblem(t, limited, platform.KindTooManyRequests)
	assert.NotEmpty(t, limited.Header.Get("Retry-After"))
	assert.Empty(t, limited.Header.Get("WWW-Authenticate"), "refused before the token was looked at")

	other := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
	other.RemoteAddr = "203.0.113.67:1024"
	other.Header.Set("Authorization", h.id.Bearer(t, "alice"))
	assert.Equal(t, http.StatusCreated, h.do(other).StatusCode, "another address is unaffected")
}

// TestAddressLimitIsReadableByPortals: the per-address 429 carries CORS headers, so a
// portal can read its Retry-After.
func TestAddressLimitIsReadableByPortals(t *testing.T) {
	t.Parallel()
	h := newHarness(t, map[string]string{"RATE_LIMIT_ADDRESS_RPS": "0.1", "RATE_LIMIT_ADDRESS_BURST": "1"}, inProcess(&upstream{}))
	req := func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
		r.Header.Set("Origin", portal)
		r.Header.Set("Authorization", "Bearer garbage")
		return r
	}
	readProblem(t, h.do(req()), platform.KindUnauthorized)
	limited := h.do(req())
	readProblem(t, limited, platform.KindTooManyRequests)
	assert.Equal(t, portal, limited.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, limited.Header.Get("Access-Control-Expose-Headers"), "Retry-After")
	assert.Equal(t, "10", limited.Header.Get("Retry-After"))
}

// TestAddressPaysOnlyForWhatNoTokenPaysFor: people signed in behind one address (an
// office's NAT) are each counted by their own bucket, not the address's; anonymous callers
// and bad tokens use up the address's; a signed-in caller over its own limit pays the
// address too, so a flood of one valid token is also cut before verification.
func TestAddressPaysOnlyForWhatNoTokenPaysFor(t *testing.T) {
	t.Parallel()
	const office = "203.0.113.80:4000"
	h := newHarness(t, map[string]string{"RATE_LIMIT_ADDRESS_RPS": "0.01", "RATE_LIMIT_ADDRESS_BURST": "4",
		"RATE_LIMIT_RPS": "0.01", "RATE_LIMIT_BURST": "2"}, inProcess(&upstream{}))
	req := func(user string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
		r.RemoteAddr = office
		if user != "" {
			r.Header.Set("Authorization", h.id.Bearer(t, user))
		}
		return r
	}
	// Five people, two requests each: ten requests from an address whose burst is four.
	for _, user := range []string{"alice", "bob", "carla", "frank", "ada"} {
		for range 2 {
			require.Equal(t, http.StatusCreated, h.do(req(user)).StatusCode, user)
		}
	}
	// Alice over her own limit: refused by her bucket, and those refusals cost the address.
	for range 4 {
		p := readProblem(t, h.do(req("alice")), platform.KindTooManyRequests)
		assert.Contains(t, p.Detail, "per caller")
	}
	p := readProblem(t, h.do(req("alice")), platform.KindTooManyRequests)
	assert.Contains(t, p.Detail, "per client address", "the address's burst is gone: refused before verification")
	p = readProblem(t, h.do(req("")), platform.KindTooManyRequests)
	assert.Contains(t, p.Detail, "per client address")
}

// TestSpoofedForwardedForFloodIsLimited is the X-Forwarded-For attack of issue 11: every
// private address used to be a trusted proxy, so 2,000 requests from one (a pod, a machine
// on the office network) each claiming another client in X-Forwarded-For got 2,000 × 200.
// With no trusted proxies by default the claim is ignored and the peer is limited.
func TestSpoofedForwardedForFloodIsLimited(t *testing.T) {
	t.Parallel()
	for _, peer := range []string{"10.0.0.2:4000", "192.168.1.20:4000", "127.0.0.1:4000", "[fd00::2]:4000"} {
		t.Run(peer, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, nil, inProcess(up))
			statuses, elapsed, _ := flood(h, 2000, func(i int) *http.Request {
				req := httptest.NewRequest(http.MethodGet, "/api/locations", nil)
				req.RemoteAddr = peer
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.%d.%d.%d", 18+i/65536%2, i/256%256, i%256))
				return req
			})
			t.Logf("2000 requests in %s: %v", elapsed, statuses)
			assert.LessOrEqual(t, statuses[http.StatusCreated], admitted(elapsed), "spoofed X-Forwarded-For values must not open new buckets")
			assert.GreaterOrEqual(t, statuses[http.StatusTooManyRequests], 2000-admitted(elapsed))
			assert.EqualValues(t, statuses[http.StatusCreated], up.calls.Load())
		})
	}
}

// TestClientAddressReachesFunctions: the function behind the gateway learns the client's
// address from Orange-Client-Address (and X-Forwarded-For), as the gateway decided it; a
// client cannot put its own value through, in any spelling of the header.
func TestClientAddressReachesFunctions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		trusted string
		remote  string
		xff     string
		spoof   map[string]string // headers the client sends
		want    string
	}{
		{name: "the peer", remote: "203.0.113.5:4000", want: "203.0.113.5"},
		{name: "a client's own header is dropped", remote: "203.0.113.5:4000",
			spoof: map[string]string{"Orange-Client-Address": "198.51.100.99"}, want: "203.0.113.5"},
		{name: "in lower case too", remote: "203.0.113.5:4000",
			spoof: map[string]string{"orange-client-address": "198.51.100.99"}, want: "203.0.113.5"},
		{name: "a client's X-Forwarded-For is not passed on as the client", remote: "203.0.113.5:4000", xff: "198.51.100.99",
			want: "203.0.113.5"},
		{name: "hop-by-hop trickery cannot remove it", remote: "203.0.113.5:4000",
			spoof: map[string]string{"Connection": "Orange-Client-Address", "Orange-Client-Address": "198.51.100.99"}, want: "203.0.113.5"},
		{name: "behind a trusted proxy: the right-most untrusted hop", trusted: "10.0.0.0/8", remote: "10.0.0.2:4000",
			xff: "198.51.100.99, 203.0.113.7, 10.0.0.9", spoof: map[string]string{"Orange-Client-Address": "198.51.100.99"}, want: "203.0.113.7"},
		{name: "IPv6", remote: "[2001:db8::5]:4000", want: "2001:db8::5"},
	}
	for _, mode := range []string{"in-process", "network"} {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				up := &upstream{}
				var transport *platform.Transport
				if mode == "in-process" {
					transport = inProcess(up)
				} else {
					srv := httptest.NewServer(up)
					t.Cleanup(srv.Close)
					transport = network(srv.URL)
				}
				h := newHarness(t, map[string]string{"TRUSTED_PROXIES": tc.trusted}, transport)
				req := httptest.NewRequest(http.MethodPost, "/api/locations", strings.NewReader(`{}`))
				req.RemoteAddr = tc.remote
				if tc.xff != "" {
					req.Header.Set("X-Forwarded-For", tc.xff)
				}
				for k, v := range tc.spoof {
					req.Header[k] = []string{v} // as sent, not canonicalized
				}
				req.Header.Set("Authorization", h.id.Bearer(t, "alice"))
				require.Equal(t, http.StatusCreated, h.do(req).StatusCode)

				got := up.seen().Header
				assert.Equal(t, []string{tc.want}, got.Values(platform.ClientAddressHeader))
				for k := range got {
					if strings.EqualFold(k, platform.ClientAddressHeader) {
						assert.Equal(t, platform.ClientAddressHeader, k, "no second, non-canonical copy")
					}
				}
				assert.Equal(t, tc.want, got.Get("X-Forwarded-For"), "X-Forwarded-For says what the gateway believes")
				assert.Equal(t, req.Header.Get("Authorization"), got.Get("Authorization"), "the caller's token travels unchanged")
			})
		}
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 1024
	env := map[string]string{"GATEWAY_MAX_BODY_BYTES": strconv.Itoa(limit)}
	cases := []struct {
		name    string
		size    int
		chunked bool // no Content-Length: the limit is found while streaming
		status  int
	}{
		{"at the limit", limit, false, http.StatusCreated},
		{"declared over the limit", limit + 1, false, http.StatusRequestEntityTooLarge},
		{"declared far over the limit", 10 * limit, false, http.StatusRequestEntityTooLarge},
		{"chunked within the limit", limit, true, http.StatusCreated},
		{"chunked, outgrowing the limit", 4 * limit, true, http.StatusRequestEntityTooLarge},
	}
	for _, mode := range []string{"in-process", "network"} {
		for _, tc := range cases {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				up := &upstream{}
				var transport *platform.Transport
				if mode == "in-process" {
					transport = inProcess(up)
				} else {
					srv := httptest.NewServer(up)
					t.Cleanup(srv.Close)
					transport = network(srv.URL)
				}
				h := newHarness(t, env, transport)
				body := strings.Repeat("x", tc.size)
				req := httptest.NewRequest(http.MethodPost, "/api/locations", strings.NewReader(body))
				if tc.chunked {
					req.ContentLength = -1
					req.Body = io.NopCloser(strings.NewReader(body))
				}
				resp := h.do(req)
				if tc.status == http.StatusCreated {
					require.Equal(t, http.StatusCreated, resp.StatusCode)
					assert.Equal(t, body, up.seen().Body)
					return
				}
				readProblem(t, resp, platform.KindTooLarge)
				if !tc.chunked {
					assert.Zero(t, up.calls.Load(), "an oversize body is refused before the function is called")
				}
			})
		}
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	closedPort := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		require.NoError(t, l.Close())
		return "http://" + addr
	}
	server := func(t *testing.T, h http.HandlerFunc) string {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	panics := func(http.ResponseWriter, *http.Request) { panic("boom") }
	drops := func(w http.ResponseWriter, _ *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	cases := []struct {
		name      string
		transport func(t *testing.T) *platform.Transport
		kind      platform.Kind
	}{
		{"down (nothing listens)", func(t *testing.T) *platform.Transport { return network(closedPort(t)) }, platform.KindBadGateway},
		{"misconfigured URL", func(*testing.T) *platform.Transport { return network("not a url") }, platform.KindBadGateway},
		{"panics in-process", func(*testing.T) *platform.Transport { return inProcess(http.HandlerFunc(panics)) }, platform.KindBadGateway},
		{"drops the connection", func(t *testing.T) *platform.Transport { return network(server(t, drops)) }, platform.KindBadGateway},
		{"hangs in-process", func(*testing.T) *platform.Transport { return inProcess(http.HandlerFunc(hang)) }, platform.KindGatewayTimeout},
		{"hangs over the network", func(t *testing.T) *platform.Transport { return network(server(t, hang)) }, platform.KindGatewayTimeout},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, map[string]string{"UPSTREAM_TIMEOUT": "200ms"}, tc.transport(t))
			start := time.Now()
			resp := h.do(httptest.NewRequest(http.MethodGet, "/api/locations/BER", nil))
			elapsed := time.Since(start)
			p := readProblem(t, resp, tc.kind)
			assert.Less(t, elapsed, 5*time.Second, "a failing function must not hang the gateway")
			assert.Contains(t, p.Detail, service, "the problem names the function")
			assert.NotContains(t, p.Detail, "127.0.0.1", "the cause is logged, not shown")
			assert.NotContains(t, p.Detail, "boom")
			assert.Equal(t, resp.Header.Get(platform.RequestIDHeader), p.RequestID)

			warned := h.logs.lines(t, "forward failed")
			require.Len(t, warned, 1)
			assert.Equal(t, service, warned[0]["upstream"])
		})
	}
}

// TestStalledResponseBody: a networked function that sends its headers and then stalls is
// cut off at the upstream timeout; the caller's connection ends rather than hangs.
func TestStalledResponseBody(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"items":[`))
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(up.Close)
	h := newHarness(t, map[string]string{"UPSTREAM_TIMEOUT": "200ms"}, network(up.URL))
	gw := httptest.NewServer(h.handler)
	t.Cleanup(gw.Close)

	start := time.Now()
	resp, err := gw.Client().Get(gw.URL + "/api/locations")
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	assert.Error(t, err, "the truncated body is reported to the caller")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestUnknownAreas(t *testing.T) {
	t.Parallel()
	cases := []string{"/api/nothing", "/api/nothing/x", "/api/locationsX", "/api", "/api/", "/locations", "/"}
	for _, path := range cases {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			up := &upstream{}
			h := newHarness(t, nil, inProcess(up))
			p := readProblem(t, h.do(httptest.NewRequest(http.MethodGet, path, nil)), platform.KindNotFound)
			assert.Equal(t, path, p.Instance)
			assert.Zero(t, up.calls.Load())
		})
	}
}

// TestUpstreams holds the routing table to the functions' own prefixes.
func TestUpstreams(t *testing.T) {
	t.Parallel()
	require.NotEmpty(t, gateway.Upstreams)
	prefixes := map[string]bool{}
	for _, u := range gateway.Upstreams {
		assert.True(t, strings.HasPrefix(u.Prefix, "/api/"), "prefix %q is under /api/", u.Prefix)
		assert.False(t, strings.HasSuffix(u.Prefix, "/"), "prefix %q does not end with /", u.Prefix)
		assert.False(t, prefixes[u.Prefix], "prefix %q is routed twice", u.Prefix)
		prefixes[u.Prefix] = true
		assert.NotEmpty(t, u.Service)
	}
	for p := range prefixes {
		for q := range prefixes {
			assert.False(t, p != q && strings.HasPrefix(q, p+"/"), "prefix %q shadows %q", p, q)
		}
	}

	// Each row names a function that claims the prefix, and every area a function claims
	// below /api/ has a row.
	reg, err := all.Registry()
	require.NoError(t, err)
	owner := map[string]string{}
	for _, fn := range reg.Functions() {
		if fn.Service == gateway.ServiceName {
			continue
		}
		for _, p := range fn.Prefixes {
			if strings.HasPrefix(p, "/api/") {
				owner[p] = fn.Service
			}
		}
	}
	routed := map[string]string{}
	for _, u := range gateway.Upstreams {
		routed[u.Prefix] = u.Service
	}
	assert.Equal(t, owner, routed)
}

func TestFunction(t *testing.T) {
	t.Parallel()
	fn := gateway.Function()
	assert.Equal(t, gateway.ServiceName, fn.Service)
	assert.Equal(t, "api-gateway", fn.Service)
	assert.Equal(t, []string{"/api"}, fn.Prefixes)
	assert.True(t, fn.Public)
	assert.Nil(t, fn.Migrations)

	api, err := fn.New(context.Background(), platform.Deps{
		Env:       envconfig.MapLookuper(map[string]string{}),
		Transport: inProcess(&upstream{}),
	})
	require.NoError(t, err)
	_, wraps := api.(platform.Wrapper)
	assert.True(t, wraps, "the gateway wraps token verification in CORS")

	_, err = fn.New(context.Background(), platform.Deps{
		Env:       envconfig.MapLookuper(map[string]string{"RATE_LIMIT_RPS": "0"}),
		Transport: inProcess(&upstream{}),
	})
	require.Error(t, err)
}

// TestWarnsWithoutTrustedProxiesOnKnative: behind Knative the gateway's peer is always the
// queue-proxy, so without trusted proxies every client would share one bucket; the gateway
// says so at start.
func TestWarnsWithoutTrustedProxiesOnKnative(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		warn bool
	}{
		{"on Knative without trusted proxies", map[string]string{"K_SERVICE": "api-gateway"}, true},
		{"on Knative with trusted proxies", map[string]string{"K_SERVICE": "api-gateway", "TRUSTED_PROXIES": "127.0.0.1,::1,10.244.0.0/16"}, false},
		{"not on Knative (orange dev)", map[string]string{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			_, err := gateway.Function().New(context.Background(), platform.Deps{
				Env:       envconfig.MapLookuper(tc.env),
				Transport: inProcess(&upstream{}),
				Logger:    platform.NewLogger(logs, "info", gateway.ServiceName),
			})
			require.NoError(t, err)
			logs.mu.Lock()
			out := logs.buf.String()
			logs.mu.Unlock()
			assert.Equal(t, tc.warn, strings.Contains(out, "TRUSTED_PROXIES"), "log: %s", out)
		})
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"zero body limit", map[string]string{"GATEWAY_MAX_BODY_BYTES": "0"}, "GATEWAY_MAX_BODY_BYTES"},
		{"zero rate", map[string]string{"RATE_LIMIT_RPS": "0"}, "RATE_LIMIT"},
		{"negative rate", map[string]string{"RATE_LIMIT_RPS": "-1"}, "RATE_LIMIT"},
		{"zero burst", map[string]string{"RATE_LIMIT_BURST": "0"}, "RATE_LIMIT"},
		{"zero timeout", map[string]string{"UPSTREAM_TIMEOUT": "0s"}, "UPSTREAM_TIMEOUT"},
		{"zero address rate", map[string]string{"RATE_LIMIT_ADDRESS_RPS": "0"}, "RATE_LIMIT_ADDRESS"},
		{"zero address burst", map[string]string{"RATE_LIMIT_ADDRESS_BURST": "0"}, "RATE_LIMIT_ADDRESS"},
		{"trusted proxies as networks and single addresses", map[string]string{"TRUSTED_PROXIES": "127.0.0.1, ::1, 10.244.0.0/16"}, ""},
		{"trusted proxy that is no address", map[string]string{"TRUSTED_PROXIES": "proxy.local/8"}, "TRUSTED_PROXIES"},
		{"trusted proxy given by name", map[string]string{"TRUSTED_PROXIES": "kourier.kourier-system"}, "TRUSTED_PROXIES"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var cfg gateway.Config
			err := platform.LoadConfig(context.Background(), envconfig.MapLookuper(tc.env), &cfg)
			if err == nil {
				_, err = gateway.New(context.Background(), cfg, platform.Deps{Transport: inProcess(&upstream{})})
			}
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}
