package platform_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/platform"
)

// fleetRoutes is a small function API exercising what responses can vary in: statuses,
// headers set by handlers, sniffed content types, empty and large bodies, errors.
func fleetRoutes() []platform.Route {
	getCar := func(w http.ResponseWriter, r *http.Request) error {
		id := platform.PathVar(r, "id")
		if id != "1" {
			return platform.NotFound("no car %s", id)
		}
		w.Header().Set("ETag", `"v7"`)
		w.Header().Set("X-Fleet-Region", "north")
		w.Header().Set("Cache-Control", "max-age=60")
		return platform.WriteJSON(w, http.StatusOK, map[string]any{"id": id, "model": "Zoe", "seats": 5})
	}
	return []platform.Route{
		{Name: "getCar", Method: http.MethodGet, Path: "/api/cars/{id}", Access: platform.Public, Handler: getCar},
		{Name: "headCar", Method: http.MethodHead, Path: "/api/cars/{id}", Access: platform.Public, Handler: getCar},
		{Name: "createCar", Access: platform.Public, Method: http.MethodPost, Path: "/api/cars", Handler: func(w http.ResponseWriter, r *http.Request) error {
			var in struct {
				Model string `json:"model"`
			}
			if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
				return err
			}
			if in.Model == "" {
				return platform.Invalid("model is required", platform.FieldError{Field: "model", Reason: "required"})
			}
			w.Header().Set("Location", "/api/cars/2")
			return platform.WriteJSON(w, http.StatusCreated, map[string]string{"id": "2", "model": in.Model})
		}},
		{Name: "deleteCar", Access: platform.Public, Method: http.MethodDelete, Path: "/api/cars/{id}", Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("X-Deleted", platform.PathVar(r, "id"))
			w.WriteHeader(http.StatusNoContent)
			return nil
		}},
		{Name: "report", Access: platform.Public, Method: http.MethodGet, Path: "/api/report", Handler: func(w http.ResponseWriter, r *http.Request) error {
			// No Content-Type: both sides sniff it.
			_, err := io.WriteString(w, "<html><body>fleet report for "+r.URL.Query().Get("day")+"</body></html>")
			return err
		}},
		{Name: "export", Access: platform.Public, Method: http.MethodGet, Path: "/api/export", Handler: func(w http.ResponseWriter, r *http.Request) error {
			// Larger than net/http's pre-chunking buffer, written in one piece.
			w.Header().Set("Content-Type", "text/csv")
			_, err := io.WriteString(w, strings.Repeat("car,model\n", 1000))
			return err
		}},
		{Name: "boom", Access: platform.Public, Method: http.MethodGet, Path: "/api/boom", Handler: func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("query cars: %w", errors.New("SELECT secret FROM cars"))
		}},
		{Name: "retireCar", Method: http.MethodPost, Path: "/api/cars/{id}/retire", Access: platform.Allow(platform.RoleFleet), Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}},
		{Name: "echoHost", Access: platform.Public, Method: http.MethodGet, Path: "/api/echo", Handler: func(w http.ResponseWriter, r *http.Request) error {
			return platform.WriteJSON(w, http.StatusOK, map[string]string{
				"method": r.Method,
				"path":   r.URL.Path,
				"query":  r.URL.RawQuery,
				"custom": r.Header.Get("X-Custom"),
			})
		}},
	}
}

// fleetHandler is the function as it is mounted in every host: routes behind Observe.
func fleetHandler() http.Handler {
	return platform.Observe(platform.NewLogger(io.Discard, "error", "fleet-api"), platform.NewRouter(fleetRoutes()))
}

// lookupFor answers <SERVICE>_URL for one service.
func lookupFor(service, url string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		if key == platform.ServiceURLKey(service) {
			return url, true
		}
		return "", false
	}
}

// transports returns the two ways of reaching fleet-api: mounted in-process, and over the
// network to an httptest server found through FLEET_API_URL.
func transports(t *testing.T, h http.Handler) map[string]*platform.Transport {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	network := platform.NewTransport(nil, lookupFor("fleet-api", srv.URL))
	local := platform.NewTransport(nil, nil)
	local.Mount("fleet-api", h)
	return map[string]*platform.Transport{"in-process": local, "network": network}
}

type captured struct {
	status        int
	header        http.Header
	body          string
	contentLength int64
}

func call(t *testing.T, client *http.Client, method, url, contentType, body string, header http.Header) captured {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	h := resp.Header.Clone()
	h.Del("Date") // the only header allowed to differ
	return captured{status: resp.StatusCode, header: h, body: string(b), contentLength: resp.ContentLength}
}

// TestTransportContract: a call gives the same response whether the callee runs in this
// process or behind a socket.
func TestTransportContract(t *testing.T) {
	t.Parallel()
	clients := map[string]*http.Client{}
	for name, tr := range transports(t, fleetHandler()) {
		clients[name] = &http.Client{Transport: tr}
	}
	rid := http.Header{platform.RequestIDHeader: {"contract-1"}, "X-Custom": {"yes"}}
	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		wantStatus  int
		// knownDiff marks a known divergence of the in-process transport in Content-Length
		// (reported, not yet fixed in transport.go). The case still compares everything else,
		// and fails once the divergence is gone, so that the marker gets removed.
		knownDiff string
	}{
		{name: "get with custom headers and etag", method: http.MethodGet, path: "/api/cars/1", wantStatus: 200},
		{name: "head", method: http.MethodHead, path: "/api/cars/1", wantStatus: 200},
		{name: "head of a missing car", method: http.MethodHead, path: "/api/cars/9", wantStatus: 404},
		{name: "create with location", method: http.MethodPost, path: "/api/cars", contentType: "application/json", body: `{"model":"Twingo"}`, wantStatus: 201},
		{name: "delete no content", method: http.MethodDelete, path: "/api/cars/1", wantStatus: 204},
		{name: "sniffed content type", method: http.MethodGet, path: "/api/report?day=mon", wantStatus: 200},
		{name: "large body", method: http.MethodGet, path: "/api/export", wantStatus: 200, knownDiff: "bodies over 2 KiB: net/http streams them chunked, in-process sets Content-Length"},
		{name: "query and request headers reach the handler", method: http.MethodGet, path: "/api/echo?a=1&b=x%20y", wantStatus: 200},
		{name: "404 problem from a handler", method: http.MethodGet, path: "/api/cars/9", wantStatus: 404},
		{name: "404 problem for an unknown path", method: http.MethodGet, path: "/api/nothing", wantStatus: 404},
		{name: "405 problem", method: http.MethodPut, path: "/api/cars/1", contentType: "application/json", body: `{}`, wantStatus: 405},
		{name: "415 problem", method: http.MethodPost, path: "/api/cars", contentType: "text/plain", body: `model=Twingo`, wantStatus: 415},
		{name: "400 problem with fields", method: http.MethodPost, path: "/api/cars", contentType: "application/json", body: `{"model":""}`, wantStatus: 400},
		{name: "401 problem for an anonymous caller", method: http.MethodPost, path: "/api/cars/1/retire", wantStatus: 401},
		{name: "500 problem from an internal error", method: http.MethodGet, path: "/api/boom", wantStatus: 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := "http://fleet-api" + tc.path
			local := call(t, clients["in-process"], tc.method, url, tc.contentType, tc.body, rid)
			network := call(t, clients["network"], tc.method, url, tc.contentType, tc.body, rid)

			require.Equal(t, tc.wantStatus, network.status, "network body: %s", network.body)
			assert.Equal(t, network.status, local.status, "status")
			assert.Equal(t, network.body, local.body, "body")
			if tc.knownDiff != "" {
				assert.NotEqual(t, network.contentLength, local.contentLength,
					"the known divergence (%s) is gone: remove knownDiff from this case", tc.knownDiff)
				network.header.Del("Content-Length")
				local.header.Del("Content-Length")
				assert.Equal(t, network.header, local.header, "headers other than Content-Length")
				return
			}
			assert.Equal(t, network.header, local.header, "headers")
			assert.Equal(t, network.contentLength, local.contentLength, "Response.ContentLength")
			assert.Equal(t, "contract-1", local.header.Get(platform.RequestIDHeader))
			if tc.wantStatus >= 400 {
				assert.Equal(t, "application/problem+json", local.header.Get("Content-Type"))
			}
			if tc.wantStatus == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, HEAD, DELETE", local.header.Get("Allow"), "a 405 names what the path takes")
			}
			assert.NotContains(t, local.body, "SELECT")
		})
	}
}

func TestTransportMountedServiceNeedsNoNetwork(t *testing.T) {
	t.Parallel()
	// A network transport that fails every call proves the mounted service never uses it.
	tr := platform.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("network used")
	}), nil)
	tr.Mount("fleet-api", fleetHandler())
	got := call(t, &http.Client{Transport: tr}, http.MethodGet, "http://fleet-api/api/cars/1", "", "", nil)
	assert.Equal(t, http.StatusOK, got.status)

	_, err := (&http.Client{Transport: tr}).Get("http://other-api/x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "network used", "unmounted services go over the network")
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportServiceURL(t *testing.T) {
	t.Parallel()
	var gotPath, gotHost atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath.Store(r.URL.Path)
		gotHost.Store(r.Host)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		base     string
		wantPath string
	}{
		{name: "bare URL", base: srv.URL, wantPath: "/api/cars/1"},
		{name: "URL with a path prefix", base: srv.URL + "/fleet/", wantPath: "/fleet/api/cars/1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := platform.NewTransport(nil, lookupFor("fleet-api", tc.base))
			resp, err := (&http.Client{Transport: tr}).Get("http://fleet-api/api/cars/1")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.wantPath, gotPath.Load())
			assert.Equal(t, strings.TrimPrefix(srv.URL, "http://"), gotHost.Load(), "the Host is the service URL's")
		})
	}
}

func TestServiceURLKey(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "LOCATIONS_API_URL", platform.ServiceURLKey("locations-api"))
	assert.Equal(t, "PRICING_URL", platform.ServiceURLKey("pricing"))
}

func TestTransportInvalidServiceURL(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"fleet:8080", "/just/a/path", "http://%zz", "not a url"} {
		t.Run(raw, func(t *testing.T) {
			t.Parallel()
			tr := platform.NewTransport(nil, lookupFor("fleet-api", raw))
			_, err := (&http.Client{Transport: tr}).Get("http://fleet-api/api/cars/1")
			require.Error(t, err)
			assert.Contains(t, err.Error(), "FLEET_API_URL")
		})
	}
}

func TestTransportCancelledContext(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) })
	for name, tr := range transports(t, h) {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://fleet-api/api/cars/1", nil)
			require.NoError(t, err)
			_, err = (&http.Client{Transport: tr}).Do(req)
			require.Error(t, err)
			assert.ErrorIs(t, err, context.Canceled)
		})
	}
	assert.Zero(t, calls.Load(), "a cancelled call must not reach the handler")
}

func TestTransportClientTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler func(release <-chan struct{}) http.HandlerFunc
	}{
		{
			name: "handler that honours its context",
			handler: func(release <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}
			},
		},
		{
			name: "handler that ignores its context",
			handler: func(release <-chan struct{}) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					<-release
					_, _ = io.WriteString(w, "too late")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			trs := transports(t, tc.handler(release))
			t.Cleanup(func() { close(release) }) // before the servers close: they wait for handlers
			for name, tr := range trs {
				t.Run(name, func(t *testing.T) {
					client := platform.ForwardingClient(tr, nil, 100*time.Millisecond)
					start := time.Now()
					resp, err := client.Get("http://fleet-api/slow")
					if err == nil {
						resp.Body.Close()
					}
					require.Error(t, err, "a call that timed out must not look like a success")
					var ne net.Error
					require.ErrorAs(t, err, &ne)
					assert.True(t, ne.Timeout(), "err: %v", err)
					assert.Less(t, time.Since(start), 2*time.Second, "the caller is not held by the callee")
				})
			}
		})
	}
}

func TestTransportEscapedPanic(t *testing.T) {
	t.Parallel()
	// No Observe in front: the panic leaves the handler. Over the network net/http drops the
	// connection; in-process the caller must get an error too, not a crash or a response.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("unguarded") })
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // net/http logs the recovered panic
	srv.Start()
	t.Cleanup(srv.Close)
	local := platform.NewTransport(nil, nil)
	local.Mount("fleet-api", h)
	trs := map[string]*platform.Transport{"in-process": local, "network": platform.NewTransport(nil, lookupFor("fleet-api", srv.URL))}
	for name, tr := range trs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			resp, err := (&http.Client{Transport: tr}).Get("http://fleet-api/x")
			if err == nil {
				resp.Body.Close()
			}
			require.Error(t, err)
		})
	}
}

// TestForwardingClient: a function calling another while serving a request passes on the
// request id and trace context, and authenticates as itself — never with the caller's token.
func TestForwardingClient(t *testing.T) {
	t.Parallel()
	// downstream echoes the headers that matter.
	downstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = platform.WriteJSON(w, http.StatusOK, map[string]string{
			"requestId":     r.Header.Get(platform.RequestIDHeader),
			"authorization": r.Header.Get("Authorization"),
			"traceparent":   r.Header.Get("Traceparent"),
			"tracestate":    r.Header.Get("Tracestate"),
			"cookie":        r.Header.Get("Cookie"),
		})
	})
	const trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name     string
		inbound  http.Header
		outgoing http.Header // headers the calling handler sets itself
		// want maps echoed names to values; "$id" is the upstream's request id.
		want map[string]string
	}{
		{
			name:    "inbound headers are carried",
			inbound: http.Header{platform.RequestIDHeader: {"rid-7"}, "Authorization": {"Bearer caller"}, "Traceparent": {trace}, "Tracestate": {"k=v"}, "Cookie": {"s=1"}},
			want:    map[string]string{"requestId": "rid-7", "authorization": "Bearer own", "traceparent": trace, "tracestate": "k=v", "cookie": ""},
		},
		{
			name:    "a made request id is carried",
			inbound: http.Header{"Authorization": {"Bearer caller"}},
			want:    map[string]string{"requestId": "$id", "authorization": "Bearer own"},
		},
		{
			name:    "a replaced invalid request id is carried, not the invalid one",
			inbound: http.Header{platform.RequestIDHeader: {"bad id with spaces"}},
			want:    map[string]string{"requestId": "$id"},
		},
		{
			name:     "headers the call sets itself win",
			inbound:  http.Header{platform.RequestIDHeader: {"rid-8"}, "Authorization": {"Bearer caller"}},
			outgoing: http.Header{"Authorization": {"Bearer service"}},
			want:     map[string]string{"requestId": "rid-8", "authorization": "Bearer service"},
		},
	}
	for name, tr := range transports(t, downstream) {
		client := platform.ForwardingClient(tr, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "own"}), 5*time.Second)
		// upstream serves a request by calling fleet-api and returning what it saw.
		upstream := platform.Observe(platform.NewLogger(io.Discard, "error", "up"), platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
			req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://fleet-api/echo", nil)
			if err != nil {
				return err
			}
			if a := r.Header.Get("X-Test-Outgoing-Authorization"); a != "" {
				req.Header.Set("Authorization", a)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			w.Header().Set("Content-Type", "application/json")
			_, err = io.Copy(w, resp.Body)
			return err
		}))
		for _, tc := range tests {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				req := httptest.NewRequest(http.MethodGet, "/up", nil)
				for k, v := range tc.inbound {
					req.Header[k] = v
				}
				if a := tc.outgoing.Get("Authorization"); a != "" {
					req.Header.Set("X-Test-Outgoing-Authorization", a)
				}
				rec := httptest.NewRecorder()
				upstream.ServeHTTP(rec, req)
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
				var seen map[string]string
				require.NoError(t, jsonUnmarshal(rec.Body.Bytes(), &seen))
				upstreamID := rec.Header().Get(platform.RequestIDHeader)
				for k, v := range tc.want {
					if v == "$id" {
						v = upstreamID
					}
					if strings.EqualFold(k, "traceparent") && v != "" {
						// The trace continues as a child span: same trace id and flags, new span id.
						wantTrace, _ := platform.TraceID(v)
						gotTrace, ok := platform.TraceID(seen[k])
						assert.True(t, ok, "downstream traceparent %q is malformed", seen[k])
						assert.Equal(t, wantTrace, gotTrace, "downstream trace id")
						assert.NotEqual(t, v, seen[k], "downstream traceparent must carry a new span id")
						continue
					}
					assert.Equal(t, v, seen[k], "downstream %s", k)
				}
			})
		}
	}
}

func TestForwardingClientWithoutInbound(t *testing.T) {
	t.Parallel()
	var seen http.Header
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen = r.Header.Clone()
		return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	tests := []struct {
		name   string
		ctx    context.Context
		wantID string
	}{
		{name: "plain context adds nothing", ctx: context.Background()},
		{name: "request id alone is carried", ctx: platform.WithRequestID(context.Background(), "job-1"), wantID: "job-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(tc.ctx, http.MethodGet, "http://fleet-api/x", nil)
			require.NoError(t, err)
			resp, err := platform.ForwardingClient(tr, nil, time.Second).Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.wantID, seen.Get(platform.RequestIDHeader))
			assert.Empty(t, seen.Get("Authorization"))
			assert.Empty(t, req.Header.Get(platform.RequestIDHeader), "the caller's request is not modified")
		})
	}
}

// TestForwardingClientTokenFailure: a function whose service token cannot be had makes no
// call at all rather than an anonymous one.
func TestForwardingClientTokenFailure(t *testing.T) {
	t.Parallel()
	called := false
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		called = true
		return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	client := platform.ForwardingClient(tr, failingTokens{}, time.Second)
	_, err := client.Post("http://fleet-api/x", "application/json", strings.NewReader("{}"))
	require.ErrorContains(t, err, "issuer down")
	assert.False(t, called)
}

type failingTokens struct{}

func (failingTokens) Token() (*oauth2.Token, error) { return nil, errors.New("issuer down") }
