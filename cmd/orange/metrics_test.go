package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// series is one scrape of /metrics: the value of each series by name and labels.
type series map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, base string) series {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return mfs
}

// sum adds up the series of name whose labels include want (a histogram: its count).
func (s series) sum(name string, want map[string]string) float64 {
	var total float64
	mf := s[name]
	if mf == nil {
		return 0
	}
next:
	for _, m := range mf.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total
}

func (s series) histogramSum(name string) float64 {
	var total float64
	for _, m := range s[name].GetMetric() {
		total += m.GetHistogram().GetSampleSum()
	}
	return total
}

// TestMetricsAfterABooking is issue 17's metrics acceptance: a scripted booking through the
// gateway of a real `orange dev` — tokenize a card, book, repeat the booking with the same
// Idempotency-Key, read the reservation until payments confirmed it — and /metrics shows
// exactly those requests under their route templates at the gateway and at
// reservations-api, the provider calls, the events each side received, the database
// pool, every outbox drained and the broker's deliveries with their lag; everything it
// exposes passes promlint; and `orange status` reports the same system.
func TestMetricsAfterABooking(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := startFlowDev(t, bin, dbURL, t.TempDir())
	s := newFlowSystem(t, dev.Addr, openFlowDB(t, dbURL))
	car := s.take(t, "KOMPAKT")
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)

	before := scrapeMetrics(t, s.base)
	pm := s.tokenizeCard(t, s.alice, "4242424242424242")
	body, err := json.Marshal(map[string]any{"vehicleId": car.ID, "pickupLocation": car.LocationCode,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": pickup.Add(48 * time.Hour).Format(time.RFC3339), "paymentMethodId": pm})
	require.NoError(t, err)
	book := func() (int, http.Header, flowReservation) {
		req, err := http.NewRequest(http.MethodPost, s.base+"/api/reservations", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.alice)
		req.Header.Set("Idempotency-Key", "metrics-acceptance-1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var res flowReservation
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusCreated {
			require.NoError(t, json.Unmarshal(raw, &res))
		}
		return resp.StatusCode, resp.Header, res
	}
	status, _, res := book()
	require.Equal(t, http.StatusCreated, status)
	status, header, again := book()
	require.Equal(t, http.StatusCreated, status)
	require.Equal(t, "true", header.Get("Idempotent-Replayed"))
	require.Equal(t, res.ID, again.ID)
	gets := 0
	for deadline := time.Now().Add(30 * time.Second); ; {
		gets++
		if s.reservation(t, s.alice, res.ID).Status == "confirmed" {
			break
		}
		require.True(t, time.Now().Before(deadline), "payments did not confirm the booking")
		time.Sleep(100 * time.Millisecond)
	}
	// The relays have handed every event on once each outbox is empty.
	var after series
	require.Eventually(t, func() bool {
		after = scrapeMetrics(t, s.base)
		return after.sum("orange_outbox_backlog_events", nil) == 0 &&
			after.sum("orange_broker_queue_depth", nil) == 0 && after.sum("orange_broker_in_flight", nil) == 0
	}, 20*time.Second, 100*time.Millisecond, "outboxes and queues drain")

	delta := func(name string, labels map[string]string) float64 {
		return after.sum(name, labels) - before.sum(name, labels)
	}
	type L = map[string]string
	// Requests: exactly what this test sent, at the gateway and at the function behind it.
	for _, tc := range []struct {
		labels L
		want   float64
	}{
		{L{"function": "api-gateway", "route": "/api/payments/*", "method": "POST", "code": "201"}, 1},
		{L{"function": "api-gateway", "route": "/api/reservations", "method": "POST", "code": "201"}, 2},
		{L{"function": "api-gateway", "route": "/api/reservations/*", "method": "GET", "code": "200"}, float64(gets)},
		{L{"function": "reservations-api", "route": "/api/reservations", "method": "POST", "code": "201"}, 2},
		{L{"function": "payments-api", "route": "/api/payments/methods", "method": "POST", "code": "201"}, 1},
	} {
		assert.Equal(t, tc.want, delta("orange_http_requests_total", tc.labels), "requests %v", tc.labels)
	}
	assert.GreaterOrEqual(t, delta("orange_http_requests_total", L{"function": "reservations-api", "route": "/api/reservations/{id}", "method": "GET", "code": "200"}),
		float64(gets), "every GET the gateway forwarded (and any other function's)")
	assert.Equal(t, 2.0, delta("orange_http_request_duration_seconds", L{"function": "api-gateway", "route": "/api/reservations", "method": "POST"}))
	assert.Equal(t, 0.0, after.sum("orange_http_requests_in_flight", L{"function": "reservations-api"}))
	assert.Equal(t, 1.0, delta("orange_idempotency_replays_total", L{"function": "reservations-api"}))
	// The provider: one tokenization, one authorization, both fine.
	assert.Equal(t, 1.0, delta("orange_payment_provider_calls_total", L{"function": "payments-api", "operation": "tokenize", "outcome": "ok"}))
	assert.Equal(t, 1.0, delta("orange_payment_provider_calls_total", L{"function": "payments-api", "operation": "authorize", "outcome": "ok"}))
	// Events: reservations-api took payments' authorization once; payments took the booking.
	assert.Equal(t, 1.0, delta("orange_events_received_total", L{"function": "reservations-api",
		"type": "com.orangecarrental.payment.authorized.v1", "outcome": "processed"}))
	assert.GreaterOrEqual(t, delta("orange_events_received_total", L{"function": "payments-api", "outcome": "processed"}), 1.0)
	// The database pool worked and is bounded.
	assert.Greater(t, delta("orange_db_pool_acquires_total", nil), 10.0)
	assert.Greater(t, after.sum("orange_db_pool_max_connections", nil), 0.0)
	assert.Greater(t, after.sum("orange_db_pool_connections", L{"state": "idle"}), 0.0)
	// Outboxes: every schema with one is there, drained.
	assert.Contains(t, outboxSchemas(after), "reservations")
	assert.Contains(t, outboxSchemas(after), "payments")
	assert.Equal(t, 0.0, after.sum("orange_outbox_oldest_unpublished_age_seconds", nil))
	// The broker delivered the booking's events (created, payment authorized, confirmed, …)
	// with a lag of seconds at most.
	delivered := delta("orange_broker_delivered_total", nil)
	assert.GreaterOrEqual(t, delivered, 3.0)
	lagged := delta("orange_broker_delivery_lag_seconds", nil)
	assert.Equal(t, delivered, lagged, "one lag observation per delivery")
	if lagged > 0 {
		mean := (after.histogramSum("orange_broker_delivery_lag_seconds") - before.histogramSum("orange_broker_delivery_lag_seconds")) / lagged
		assert.Less(t, mean, 10.0, "mean delivery lag in seconds")
	}
	assert.Equal(t, 0.0, delta("orange_broker_dead_lettered_total", nil))
	assert.Greater(t, after.sum("go_goroutines", nil), 10.0)
	assert.Greater(t, after.sum("process_resident_memory_bytes", nil), 1e6)

	var mfs []*dto.MetricFamily
	for _, mf := range after {
		mfs = append(mfs, mf)
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint over everything `orange dev` exposes")
	t.Logf("%d families, %d series of ours", len(after), countOurs(after))

	// `orange status` reads the same system.
	out, err := exec.Command(bin, "status", "-url", s.base, "-user", "ada").CombinedOutput()
	require.NoError(t, err, string(out))
	for _, want := range []string{s.base + ": ready", "reservations-api", "OUTBOX", "reservations", "TRIGGER", "DEAD LETTERS"} {
		assert.Contains(t, string(out), want)
	}
	t.Logf("orange status:\n%s", out)

	t.Run("status from a cluster's Prometheus", func(t *testing.T) { statusFederated(t, bin) })
}

// federated is what Prometheus' /federate answers for a cluster: each series once per pod,
// with the target labels the PodMonitor adds, and up per target.
const federated = `# TYPE orange_http_requests_total untyped
orange_http_requests_total{code="200",function="reservations-api",method="GET",route="/api/reservations/{id}",pod="r-1"} 40
orange_http_requests_total{code="200",function="reservations-api",method="GET",route="/api/reservations/{id}",pod="r-2"} 60
orange_http_requests_total{code="503",function="reservations-api",method="POST",route="/api/reservations",pod="r-2"} 5
orange_http_requests_total{code="200",function="api-gateway",method="GET",route="/api/reservations/*",pod="g-1"} 100
# TYPE orange_outbox_backlog_events untyped
orange_outbox_backlog_events{function="reservations-api",schema="reservations",pod="r-1"} 7
orange_outbox_backlog_events{function="reservations-api",schema="reservations",pod="r-2"} 7
# TYPE orange_outbox_oldest_unpublished_age_seconds untyped
orange_outbox_oldest_unpublished_age_seconds{function="reservations-api",schema="reservations",pod="r-1"} 95
orange_outbox_oldest_unpublished_age_seconds{function="reservations-api",schema="reservations",pod="r-2"} 96
# TYPE up untyped
up{function="reservations-api",pod="r-1",endpoint="user-port"} 1
up{function="reservations-api",pod="r-1",endpoint="http-usermetric"} 1
up{function="reservations-api",pod="r-2"} 1
up{function="reservations-api",pod="r-3"} 0
up{function="api-gateway",pod="g-1"} 1
`

// statusFederated: on a cluster `orange status` reads the functions' series from Prometheus'
// federation: requests added up over pods, a backlog every replica reads the same counted
// once, readiness per function from up; and it fails when the gateway is not ready.
func statusFederated(t *testing.T, bin string) {
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			if !ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			_, _ = io.WriteString(w, `{"status":"ready"}`)
		case "/federate":
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = io.WriteString(w, federated)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	status := func() (string, error) {
		out, err := exec.Command(bin, "status", "-url", srv.URL, "-metrics", srv.URL+"/federate?match[]=%7B__name__%3D~%22orange_.*%7Cup%22%7D").CombinedOutput()
		return string(out), err
	}
	out, err := status()
	require.NoError(t, err, out)
	lines := strings.Split(out, "\n")
	row := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
				return f
			}
		}
		t.Fatalf("no row %s in:\n%s", prefix, out)
		return nil
	}
	assert.Equal(t, []string{"reservations-api", "2/3", "pods", "105", "5", "0", "0", "0", "0", "0"}, row("reservations-api"))
	assert.Equal(t, []string{"api-gateway", "1/1", "pods", "100", "0", "0", "0", "0", "0", "0"}, row("api-gateway"))
	assert.Equal(t, []string{"reservations", "7", "1m36s", "0"}, row("reservations"))
	assert.Contains(t, out, "listing them takes an admin", "no token: no dead letters, and it says why")

	ready.Store(false)
	out, err = status()
	assert.Error(t, err, "not ready: a non-zero exit")
	assert.Contains(t, out, "not ready")
}

func outboxSchemas(s series) []string {
	var out []string
	for _, m := range s["orange_outbox_backlog_events"].GetMetric() {
		for _, l := range m.Label {
			if l.GetName() == "schema" {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

func countOurs(s series) int {
	n := 0
	for name, mf := range s {
		if strings.HasPrefix(name, "orange_") {
			n += len(mf.Metric)
		}
	}
	return n
}
