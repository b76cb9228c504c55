package host_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/admission"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/metrics"
)

// slowAPI is a function whose one route holds each request until release is closed.
type slowAPI struct {
	held    chan struct{}
	release chan struct{}
}

func (s *slowAPI) Routes() []platform.Route {
	return []platform.Route{{Name: "slow", Method: http.MethodGet, Path: "/api/slow", Access: platform.Public,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			s.held <- struct{}{}
			<-s.release
			w.WriteHeader(http.StatusNoContent)
			return nil
		}}}
}

// In `orange dev` each function gets its own budget in front of its handler: the request
// beyond it is a 503 with Retry-After — through the in-process transport as through the
// port — while health and the other functions still answer, and the metrics count it.
func TestMountAdmitsEachFunctionWithinItsBudget(t *testing.T) {
	t.Parallel()
	slow := &slowAPI{held: make(chan struct{}, 4), release: make(chan struct{})}
	defer close(slow.release)
	other := &slowAPI{held: make(chan struct{}, 4), release: make(chan struct{})}
	close(other.release)
	fn := func(service, prefix string, api platform.API) platform.Function {
		return platform.Function{Service: service, Prefixes: []string{prefix}, Public: true,
			New: func(context.Context, platform.Deps) (platform.API, error) { return api, nil }}
	}
	reg, err := platform.NewRegistry(fn("slow-api", "/api/slow", slow), fn("other-api", "/api/other", &routed{other, "/api/other"}))
	require.NoError(t, err)
	id := authtest.New(t)
	mreg := metrics.NewRegistry()
	m, err := host.Mount(context.Background(), reg, host.MountDeps{
		Logger: platform.NewLogger(io.Discard, "error", "test"), Auth: id.Config, KeyClient: id.KeyClient,
		Events: id.Events, EventKeyClient: id.KeyClient, CallTimeout: 5 * time.Second, Metrics: mreg,
		Admission: &admission.Config{MaxInFlight: 2},
	})
	require.NoError(t, err)
	client := &http.Client{Transport: m.Transport}
	get := func(url string) *http.Response {
		resp, err := client.Get(url)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	for range 2 {
		go func() {
			if resp, err := client.Get("http://slow-api/api/slow"); err == nil {
				_ = resp.Body.Close()
			}
		}()
		<-slow.held
	}

	resp := get("http://slow-api/api/slow")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	rec := httptest.NewRecorder()
	m.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/slow", nil))
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "through the port too")

	assert.Equal(t, http.StatusNoContent, get("http://other-api/api/other").StatusCode, "another function has its own budget")
	rec = httptest.NewRecorder()
	m.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, http.StatusOK, rec.Code, "health is never limited")

	rec = httptest.NewRecorder()
	mreg.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Contains(t, rec.Body.String(), `orange_admission_requests_total{budget="requests",function="slow-api",outcome="rejected"} 2`)
	assert.Contains(t, rec.Body.String(), `orange_admission_in_flight{budget="requests",function="slow-api"} 2`)
	assert.Contains(t, rec.Body.String(), `orange_http_requests_total{code="503",function="slow-api",method="GET",route="/api/slow"} 2`)
}

// routed serves a slowAPI's route under another path.
type routed struct {
	*slowAPI
	path string
}

func (r *routed) Routes() []platform.Route {
	rt := r.slowAPI.Routes()
	rt[0].Path = r.path
	return rt
}
