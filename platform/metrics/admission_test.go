package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/metrics"
)

func TestAdmissionCollector(t *testing.T) {
	t.Parallel()
	vehicles := admission.New("vehicles-api", admission.Config{MaxInFlight: 1}, false)
	off := admission.New("pricing-api", admission.Config{Off: true}, false)
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewAdmissionCollector(vehicles, off))

	release := make(chan struct{})
	started := make(chan struct{})
	h := vehicles.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/vehicles", nil))
	}()
	<-started
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/vehicles", nil)) // refused

	want := `
# HELP orange_admission_in_flight Requests a function runs now, by budget.
# TYPE orange_admission_in_flight gauge
orange_admission_in_flight{budget="events",function="vehicles-api"} 0
orange_admission_in_flight{budget="requests",function="vehicles-api"} 1
# HELP orange_admission_requests_total Requests that met a function's admission control, by budget and outcome: admitted (at once), queued (after a short wait), rejected (answered 503 with Retry-After).
# TYPE orange_admission_requests_total counter
orange_admission_requests_total{budget="events",function="vehicles-api",outcome="admitted"} 0
orange_admission_requests_total{budget="events",function="vehicles-api",outcome="queued"} 0
orange_admission_requests_total{budget="events",function="vehicles-api",outcome="rejected"} 0
orange_admission_requests_total{budget="requests",function="vehicles-api",outcome="admitted"} 1
orange_admission_requests_total{budget="requests",function="vehicles-api",outcome="queued"} 0
orange_admission_requests_total{budget="requests",function="vehicles-api",outcome="rejected"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"orange_admission_in_flight", "orange_admission_requests_total"))
	close(release)
	<-done

	mfs, err := reg.Gather()
	require.NoError(t, err)
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
	for _, name := range []string{"orange_admission_limit", "orange_admission_in_flight", "orange_admission_waiting", "orange_admission_requests_total"} {
		assert.Contains(t, reg.Names(), name)
	}
}
