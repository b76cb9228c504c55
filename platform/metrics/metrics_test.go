package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/metrics"
)

// anonymous lets every request through as an anonymous caller.
type anonymous struct{}

func (anonymous) Authenticate(context.Context, *http.Request) (platform.Caller, error) {
	return platform.Caller{}, nil
}

func ok(w http.ResponseWriter, _ *http.Request) error {
	return platform.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
}

var table = []platform.Route{
	{Name: "list", Method: http.MethodGet, Path: "/api/things", Access: platform.Public, Handler: ok},
	{Name: "create", Method: http.MethodPost, Path: "/api/things", Access: platform.Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
		return platform.Invalid("no")
	}},
	{Name: "get", Method: http.MethodGet, Path: "/api/things/{id}", Access: platform.Public, Handler: ok},
	{Name: "cancel", Method: http.MethodPost, Path: "/api/things/{id}/cancel", Access: platform.Public, Handler: ok},
	{Name: "forward", Path: "/api/other/", Prefix: true, Access: platform.Public, Handler: ok},
	{Name: "mail", Method: http.MethodGet, Path: "/dev/mail", Prefix: true, Access: platform.Public, Handler: ok},
	{Name: "root", Method: http.MethodPost, Path: "/", Access: platform.Public, Handler: ok},
	{Name: "panics", Method: http.MethodGet, Path: "/api/panics", Access: platform.Public, Handler: func(http.ResponseWriter, *http.Request) error {
		panic("boom")
	}},
}

func TestInstrumentLabelsByRouteTemplate(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	f := reg.Function("things-api")
	h := metrics.Instrument(f, table, platform.Handler(platform.RouteTable(table), anonymous{}))

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/api/things", 200},
		{"GET", "/api/things/1", 200},
		{"GET", "/api/things/2", 200},
		{"GET", "/api/things/3", 200},
		{"POST", "/api/things/3/cancel", 200},
		{"POST", "/api/things", 400},
		{"DELETE", "/api/things/3", 405},
		{"GET", "/api/things/3/nope", 404},
		{"GET", "/elsewhere/entirely", 404},
		{"PROPFIND", "/api/other/x/y", 200},
		{"GET", "/dev/mail/123", 200},
		{"POST", "/", 200},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		require.Equal(t, tc.status, rec.Code, "%s %s", tc.method, tc.path)
	}
	assert.Panics(t, func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/panics", nil)) })

	want := `
# HELP orange_http_requests_total HTTP requests answered, by route template, method and status code.
# TYPE orange_http_requests_total counter
orange_http_requests_total{code="200",function="things-api",method="GET",route="/api/things"} 1
orange_http_requests_total{code="200",function="things-api",method="GET",route="/api/things/{id}"} 3
orange_http_requests_total{code="200",function="things-api",method="GET",route="/dev/mail/*"} 1
orange_http_requests_total{code="200",function="things-api",method="OTHER",route="/api/other/*"} 1
orange_http_requests_total{code="200",function="things-api",method="POST",route="/"} 1
orange_http_requests_total{code="200",function="things-api",method="POST",route="/api/things/{id}/cancel"} 1
orange_http_requests_total{code="400",function="things-api",method="POST",route="/api/things"} 1
orange_http_requests_total{code="404",function="things-api",method="GET",route="unmatched"} 2
orange_http_requests_total{code="405",function="things-api",method="DELETE",route="/api/things/{id}"} 1
orange_http_requests_total{code="500",function="things-api",method="GET",route="/api/panics"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "orange_http_requests_total"))
	// Nothing in flight once every request is answered.
	assert.Equal(t, 0.0, gaugeSum(t, reg, "orange_http_requests_in_flight"))
	n, err := testutil.GatherAndCount(reg, "orange_http_request_duration_seconds")
	require.NoError(t, err)
	// Every route with a method has its histogram from the start (zero until called); the
	// unmatched GET, the 405 DELETE and the forwarded PROPFIND add theirs.
	assert.Equal(t, 7+3, n, "one histogram per route template and method")
}

// gaugeSum is the sum of every series of a gauge family.
func gaugeSum(t *testing.T, reg *metrics.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestInFlightWhileHandling(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	f := reg.Function("slow-api")
	entered, release := make(chan struct{}), make(chan struct{})
	routes := []platform.Route{{Name: "slow", Method: "GET", Path: "/slow/{id}", Access: platform.Public,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			// The bundle is in the request's context for what the handler records.
			if metrics.From(r.Context()) != f {
				t.Error("the function's bundle is not in the request context")
			}
			entered <- struct{}{}
			<-release
			return nil
		}}}
	h := metrics.Instrument(f, routes, platform.Handler(platform.RouteTable(routes), anonymous{}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow/1", nil))
	}()
	<-entered
	assert.Equal(t, 1.0, gaugeSum(t, reg, "orange_http_requests_in_flight"))
	close(release)
	<-done
	assert.Equal(t, 0.0, gaugeSum(t, reg, "orange_http_requests_in_flight"))
}

// TestEverySeriesPassesPromlint exercises every series of a function's bundle and lints
// what the registry then exposes (the Go and process collectors included).
func TestEverySeriesPassesPromlint(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	f := reg.Function("payments-api")
	h := metrics.Instrument(f, table, platform.Handler(platform.RouteTable(table), anonymous{}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/things/1", nil))
	f.EventReceived("com.orangecarrental.reservation.created.v1", metrics.EventProcessed)
	f.EventReceived("com.orangecarrental.reservation.created.v1", metrics.EventDuplicate)
	f.IdempotencyReplay()
	f.ProviderCall("sandbox", "authorize", "ok", 3*time.Millisecond)
	f.NotificationSent("email", metrics.MessageSent)
	reg.MustRegister(metrics.NewPoolCollector(nil))

	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	for _, name := range []string{"orange_events_received_total", "orange_idempotency_replays_total",
		"orange_payment_provider_calls_total", "orange_payment_provider_call_duration_seconds",
		"orange_notifications_sent_total", "orange_db_pool_connections", "go_goroutines", "process_cpu_seconds_total"} {
		assert.Contains(t, reg.Names(), name)
	}
}

func TestNilFunctionRecordsNothing(t *testing.T) {
	t.Parallel()
	var f *metrics.Function
	f.EventReceived("x", "y")
	f.IdempotencyReplay()
	f.ProviderCall("a", "b", "c", time.Second)
	f.NotificationSent("email", "sent")
	assert.Nil(t, metrics.From(context.Background()))
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	assert.NotNil(t, metrics.Instrument(nil, table, h))
}

func TestOneBundlePerFunction(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	assert.Same(t, reg.Function("a"), reg.Function("a"))
	assert.NotSame(t, reg.Function("a"), reg.Function("b"))
}

// TestCountsUnderConcurrency: requests racing on one route with several methods and status
// codes (its series are added while others are counted) are each counted once.
func TestCountsUnderConcurrency(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	routes := []platform.Route{{Name: "any", Path: "/api/echo", Access: platform.Public,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			code, err := strconv.Atoi(r.URL.Query().Get("code"))
			if err != nil {
				return err
			}
			w.WriteHeader(code)
			return nil
		}}}
	h := metrics.Instrument(reg.Function("echo-api"), routes, platform.Handler(platform.RouteTable(routes), anonymous{}))
	codes := []int{200, 201, 404, 409, 503}
	methods := []string{http.MethodGet, http.MethodPost}
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				code, method := codes[(w+i)%len(codes)], methods[i%len(methods)]
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/api/echo?code="+strconv.Itoa(code), nil))
			}
		}()
	}
	wg.Wait()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var total float64
	series := 0
	for _, mf := range mfs {
		if mf.GetName() == "orange_http_requests_total" {
			for _, m := range mf.Metric {
				total += m.GetCounter().GetValue()
				series++
			}
		}
	}
	assert.Equal(t, float64(workers*each), total)
	assert.Equal(t, len(codes)*len(methods), series, "one series per method and code")
}
