package all_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// The callers of the matrix. Customer A owns the fixtures; customer B must not see them.
var callers = []string{"anonymous", "customerA", "customerB", "agent", "fleet", "admin", "service"}

// demoUser maps a caller to the development issuer's demo user.
var demoUser = map[string]string{
	"customerA": "alice", "customerB": "bob", "agent": "carla", "fleet": "frank", "admin": "ada", "service": "service",
}

// forwards marks the gateway's forwarding routes: their answer is whatever the function
// behind them answers, which the rows of that function's routes pin down.
const forwards = -1

// row is the expected policy of one route, written out by hand: it is not read from the route
// tables it checks. Statuses are per caller, in the order of callers.
type row struct {
	path   string // concrete path to call (fixtures filled in)
	body   func(seq int) string
	expect [7]int
}

func everyone(status int) [7]int {
	return [7]int{status, status, status, status, status, status, status}
}

func locationBody(seq int) string {
	return fmt.Sprintf(`{"code":"TST-%03d","name":"Matrix %d","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"}}`, seq, seq)
}

func detailsBody(int) string {
	return `{"name":"Berlin Hauptbahnhof","address":{"street":"Europaplatz 1","postalCode":"10557","city":"Berlin"}}`
}

func statusBody(int) string { return `{"status":"active"}` }

// fleetOnly: branches are maintained by fleet managers (and admins).
var fleetOnly = func(ok int) [7]int { return [7]int{401, 403, 403, 403, ok, ok, 403} }

// expected is keyed by "<service> <operation>".
var expected = map[string]row{
	"api-gateway forward:locations-api":   {expect: everyone(forwards)},
	"api-gateway forward:locations-api/*": {expect: everyone(forwards)},

	"locations-api getOpenAPI":           {path: "/openapi.json", expect: everyone(200)},
	"locations-api getLocationsOpenAPI":  {path: "/api/locations/openapi.json", expect: everyone(200)},
	"locations-api listLocations":        {path: "/api/locations", expect: everyone(200)},
	"locations-api getLocation":          {path: "/api/locations/BER-HBF", expect: everyone(200)},
	"locations-api createLocation":       {path: "/api/locations", body: locationBody, expect: fleetOnly(201)},
	"locations-api updateLocation":       {path: "/api/locations/BER-HBF", body: detailsBody, expect: fleetOnly(200)},
	"locations-api changeLocationStatus": {path: "/api/locations/BER-HBF/status", body: statusBody, expect: fleetOnly(200)},
}

// TestAuthorizationMatrix calls every route of every function as every kind of caller and
// compares the status with the policy above. Routes under /api/ are called through the
// gateway, the way the public reaches them, and directly at the function, the way a
// cluster-local caller could (no function may rely on the gateway having checked); both
// must answer the same. A route without a row — a new route someone forgot to classify —
// fails the test, and so does a row for a route that no longer exists.
func TestAuthorizationMatrix(t *testing.T) {
	ctx := context.Background()
	reg, err := all.Registry()
	require.NoError(t, err)
	db := pg.NewDB(t, reg.Migrations()...)
	id := authtest.New(t)
	m, err := host.Mount(ctx, reg, host.MountDeps{
		DB:          db,
		Logger:      platform.NewLogger(io.Discard, "error", "authz"),
		Auth:        id.Config,
		KeyClient:   id.KeyClient,
		CallTimeout: 5 * time.Second,
		Env:         host.Env{Lookuper: envconfig.MapLookuper(nil)},
	})
	require.NoError(t, err)
	public := platform.Observe(platform.NewLogger(io.Discard, "error", "authz"), m.Handler)

	tokens := map[string]string{}
	for caller, user := range demoUser {
		tokens[caller] = id.Bearer(t, user)
	}

	var seq atomic.Int64
	// call sends one request as caller: to the public handler (through the gateway) when
	// service is empty, else straight to service through the transport, as another function
	// in the cluster would.
	call := func(method, path string, r row, caller, service string) int {
		target := path
		if service != "" {
			target = "http://" + service + path
		}
		var body io.Reader
		if r.body != nil {
			body = strings.NewReader(r.body(int(seq.Add(1))))
		}
		req := httptest.NewRequest(method, target, body)
		if r.body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if tok := tokens[caller]; tok != "" {
			req.Header.Set("Authorization", tok)
		}
		if service == "" {
			rec := httptest.NewRecorder()
			public.ServeHTTP(rec, req)
			return rec.Code
		}
		req.RequestURI = ""
		resp, err := m.Transport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	seen := map[string]bool{}
	services := make([]string, 0, len(m.APIs))
	for svc := range m.APIs {
		services = append(services, svc)
	}
	sort.Strings(services)
	for _, svc := range services {
		for _, rt := range m.APIs[svc].Routes() {
			key := svc + " " + rt.Name
			seen[key] = true
			r, ok := expected[key]
			if !assert.True(t, ok, "route %s %s of %s has no row in the expected policy: add one", rt.Method, rt.Path, svc) {
				continue
			}
			if r.expect[0] == forwards {
				continue
			}
			require.True(t, matches(rt.Path, r.path), "row %q calls %s, which is not route %s", key, r.path, rt.Path)
			for i, caller := range callers {
				want := r.expect[i]
				got := call(rt.Method, r.path, r, caller, svc)
				assert.Equal(t, want, got, "%s %s as %s (direct to %s)", rt.Method, r.path, caller, svc)
				if strings.HasPrefix(r.path, "/api/") {
					got := call(rt.Method, r.path, r, caller, "")
					assert.Equal(t, want, got, "%s %s as %s (through the gateway)", rt.Method, r.path, caller)
				}
			}
		}
	}
	for key := range expected {
		assert.True(t, seen[key], "the expected policy has a row for %q, which no function serves", key)
	}
}

// matches reports whether path is an instance of the gorilla/mux template tmpl.
func matches(tmpl, path string) bool {
	want, got := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		variable := strings.HasPrefix(want[i], "{") && strings.HasSuffix(want[i], "}")
		if !(variable && got[i] != "" || want[i] == got[i]) {
			return false
		}
	}
	return true
}

// TestGatewayKnowsEveryFunction holds the gateway's forwarding table to the functions' own
// prefixes: every non-public function's prefix is forwarded to that function.
func TestGatewayKnowsEveryFunction(t *testing.T) {
	reg, err := all.Registry()
	require.NoError(t, err)
	var want, got []string
	for _, fn := range reg.Functions() {
		if fn.Public {
			continue
		}
		for _, p := range fn.Prefixes {
			want = append(want, p+" → "+fn.Service)
		}
	}
	for _, u := range gateway.Upstreams {
		got = append(got, u.Prefix+" → "+u.Service)
	}
	sort.Strings(want)
	sort.Strings(got)
	assert.Equal(t, want, got)
}
