package up_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/internal/devtest"
	"github.com/orangecarrental/orange/internal/up"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	if mode := os.Getenv("UP_TEST_REPLICA"); mode != "" {
		standInReplica(mode) // this binary is a replica of crashloop_test.go
	}
	code := func() int {
		var err error
		if pg, err = pgtest.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
			return 1
		}
		defer func() {
			if err := pg.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "pgtest:", err)
			}
		}()
		defer func() {
			if built.dir != "" {
				_ = os.RemoveAll(built.dir)
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

// wholeOverlay tells whether TestUpWholeOverlay runs: `make test` and `make up-test` set
// ORANGE_UP_TEST=overlay. A plain `go test ./...` skips it: 15 binaries to build (~26 s on a
// warm cache), then the whole platform.
func wholeOverlay() bool { return os.Getenv("ORANGE_UP_TEST") == "overlay" }

// subset is what TestUpSpreadsReplacesAndScales runs.
var subset = []string{"api-gateway", "locations-api", "dead-letter"}

// built holds the binaries, built once for every test of the run (one go build: the
// whole overlay's when TestUpWholeOverlay runs, else the subset's).
var built struct {
	once sync.Once
	dir  string
	err  error
}

func binaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		names := subset
		if wholeOverlay() {
			svcs, err := up.LoadServices("staging", nil, nil)
			if err != nil {
				built.err = err
				return
			}
			names = nil
			for _, s := range svcs {
				names = append(names, s.Name)
			}
		}
		if built.dir, built.err = os.MkdirTemp("", "orange-up-bin-"); built.err != nil {
			return
		}
		start := time.Now()
		built.err = up.Build(context.Background(), "../..", built.dir, names)
		t.Logf("built %d binaries in %s", len(names), time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, built.err)
	return built.dir
}

// standInReplica is a function that fails: "start" exits at once, as a function whose
// configuration is wrong (notification-worker with MAIL_MODE=smtp and no SMTP_HOST);
// "ready" serves /readyz on PORT and exits 200 ms after it was first ready, as one that
// fails at its first request or job.
func standInReplica(mode string) {
	if mode == "start" {
		fmt.Fprintln(os.Stderr, `{"level":"ERROR","msg":"configuration","error":"SMTP_HOST is required when MAIL_MODE=smtp"}`)
		os.Exit(1)
	}
	ready := make(chan struct{}, 1)
	http.HandleFunc("GET /readyz", func(http.ResponseWriter, *http.Request) {
		select {
		case ready <- struct{}{}:
		default:
		}
	})
	go func() { _ = http.ListenAndServe(":"+os.Getenv("PORT"), nil) }()
	select {
	case <-ready:
		time.Sleep(200 * time.Millisecond)
	case <-time.After(30 * time.Second):
	}
	os.Exit(2)
}

// TestUpSpreadsReplacesAndScales is issue 18's acceptance of `orange up` on a small set
// (api-gateway in front of locations-api, staging's min-scale 2 each): requests through the
// gateway spread evenly over both Services' replicas; a locations-api replica killed
// (SIGKILL) under load is replaced and the clients see no failure; a load step makes
// Knative's KPA add locations-api replicas within its window. To keep the test short the
// revision templates get a 6 s stable window and a target of 10 (7 in flight per replica
// at 70 %) instead of the manifests' 60 s and 50: the decider is the same code.
func TestUpSpreadsReplacesAndScales(t *testing.T) {
	t.Parallel()
	bin := binaries(t)
	start := time.Now()

	ctx, cancel := context.WithCancel(t.Context())
	dbURL := pg.NewDatabaseURL(t)
	u, err := up.Start(ctx, up.Config{
		BinDir:   bin,
		Overlay:  "staging",
		Services: subset,
		Annotations: map[string]string{
			"autoscaling.knative.dev/window": "6s",
			"autoscaling.knative.dev/target": "10",
		},
		Addr:        "127.0.0.1:0",
		DatabaseURL: dbURL,
		DataDir:     t.TempDir(),
		DBMaxConns:  4,
		DrainGrace:  10 * time.Second,
		ServiceEnv: map[string]map[string]string{"api-gateway": {"RATE_LIMIT_ADDRESS_RPS": "100000",
			"RATE_LIMIT_ADDRESS_BURST": "100000", "RATE_LIMIT_RPS": "100000", "RATE_LIMIT_BURST": "100000"}},
	})
	require.NoError(t, err)
	t.Logf("platform up (database, migrations, issuers, broker) %s after start", time.Since(start).Round(time.Millisecond))
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		done := make(chan error, 1)
		go func() { done <- u.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("orange up did not drain within 20 s")
		}
	}
	t.Cleanup(stop)

	snap := func(service string) up.Snapshot {
		s, ok := u.Snapshot(service)
		require.True(t, ok)
		return s
	}
	require.Eventually(t, func() bool { return snap("api-gateway").Ready == 2 && snap("locations-api").Ready == 2 },
		20*time.Second, 20*time.Millisecond, "min-scale replicas not ready")
	t.Logf("min-scale replicas ready %s after start", time.Since(start).Round(time.Millisecond))

	l := newLoad(t, "http://"+u.Addr()+"/api/locations")

	// Spread: a light load (below one replica's target) over the two replicas of each.
	l.set(4)
	time.Sleep(2 * time.Second)
	for _, svc := range []string{"api-gateway", "locations-api"} {
		s := snap(svc)
		var total int64
		for _, r := range s.Replicas {
			total += r.Served
		}
		require.Greater(t, total, int64(50), "%s served too little to judge", svc)
		for _, r := range s.Replicas {
			share := float64(r.Served) / float64(total)
			t.Logf("%s replica %d: %d of %d requests (%.0f %%)", svc, r.ID, r.Served, total, 100*share)
			// Least-loaded of two favours the faster replica a little on a busy machine.
			assert.InDelta(t, 0.5, share, 0.25, "%s replica %d does not get a fair share", svc, r.ID)
		}
	}

	// A replica killed mid-load is replaced; the proxy retries what it had in flight.
	victim := snap("locations-api").Replicas[0]
	killed := time.Now()
	require.NoError(t, syscall.Kill(victim.PID, syscall.SIGKILL))
	require.Eventually(t, func() bool {
		s := snap("locations-api")
		return s.Restarts == 1 && s.Ready == 2
	}, 15*time.Second, 5*time.Millisecond, "the killed replica was not replaced")
	t.Logf("killed replica %d replaced, ready again after %s; proxy retries: %d", victim.ID,
		time.Since(killed).Round(time.Millisecond), snap("locations-api").Retries)
	time.Sleep(500 * time.Millisecond)
	failed, first := l.failures()
	assert.Zero(t, failed, "clients saw failures through a replica's death; the first: %s", first)

	// A load step: many more requests in flight than 2 × 7; the KPA adds replicas. How many
	// are in flight must not depend on how fast this machine answers a list (a busy box
	// answers slower, a quiet one faster than 40 clients can fill): the test holds a lock
	// every list query waits for, as a slow database would, so all 40 pile up in flight
	// until the KPA has decided.
	slow, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer slow.Close(context.Background())
	lock, err := slow.Begin(ctx)
	require.NoError(t, err)
	_, err = lock.Exec(ctx, `LOCK TABLE locations.locations IN ACCESS EXCLUSIVE MODE`)
	require.NoError(t, err)
	stepped := time.Now()
	l.set(40)
	scaled := assert.Eventually(t, func() bool { return snap("locations-api").Desired > 2 }, 30*time.Second, 10*time.Millisecond,
		"the KPA added no locations-api replica; last decision %+v", snap("locations-api").Decision)
	require.NoError(t, lock.Rollback(context.Background()))
	require.True(t, scaled)
	s := snap("locations-api")
	t.Logf("load step: KPA wants %d locations-api replicas after %s (panic %v, stable %.1f, panic-window %.1f in flight, target %.0f)",
		s.Desired, time.Since(stepped).Round(time.Millisecond), s.Decision.Panic, s.Decision.Stable, s.Decision.PanicValue, s.Decision.Target)
	require.Eventually(t, func() bool { return snap("locations-api").Ready > 2 }, 15*time.Second, 10*time.Millisecond)
	t.Logf("load step: %d ready after %s", snap("locations-api").Ready, time.Since(stepped).Round(time.Millisecond))
	l.set(0)
	failed, first = l.failures()
	assert.Zero(t, failed, "clients saw failures; the first: %s", first)
	t.Logf("requests: %d ok", l.ok.Load())

	// dead-letter has min-scale 0 in staging: nothing runs until a request comes, which
	// the proxy holds while one replica starts (the activator's part), then answers.
	require.Zero(t, snap("dead-letter").Live)
	cold := time.Now()
	resp, err := http.Get(u.ServiceURL("dead-letter") + "/api/dead-letters")
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the replica's own answer to a request without token")
	assert.Equal(t, 1, snap("dead-letter").Ready)
	t.Logf("dead-letter from zero: answered after %s", time.Since(cold).Round(time.Millisecond))

	// A Service the subset leaves out answers, through the gateway, a 503 naming it —
	// not a cluster-local name that resolves nowhere.
	resp, err = http.Get("http://" + u.Addr() + "/api/vehicles/00000000-0000-4000-8000-000000000001")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	assert.Contains(t, string(body), "vehicles-api does not run in this orange up")
	stop()
}

// TestLoadServicesProduction reads every Service of the production overlay (the acceptance
// test reads staging's) with the KPA's view of its revision: the bounds are the scale
// table's, the target the manifest's at 70 %.
func TestLoadServicesProduction(t *testing.T) {
	t.Parallel()
	for overlay, want := range map[string][2]int32{"production": {2, 6}} {
		svcs, err := up.LoadServices(overlay, nil, nil)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(svcs), 15, overlay)
		for _, s := range svcs {
			require.NotEmpty(t, s.Env, "%s %s: no literal env", overlay, s.Name)
			if s.Name == "locations-api" {
				assert.Equal(t, want, [2]int32{s.Spec.Min, s.Spec.Max}, overlay)
				// target × 70 % (the capacity model may change the target itself).
				assert.InDelta(t, 0.7*s.Spec.Decider.TotalValue, s.Spec.Target(), 1e-9)
			}
		}
	}
	_, err := up.LoadServices("production", []string{"no-such-service"}, nil)
	require.Error(t, err)
}

// load runs n closed-loop clients against url, adjustable while it runs.
type load struct {
	t      *testing.T
	url    string
	mu     sync.Mutex
	stops  []chan struct{}
	wg     sync.WaitGroup
	ok     atomic.Int64
	failed atomic.Int64
	first  atomic.Value
	client *http.Client
}

func newLoad(t *testing.T, url string) *load {
	l := &load{t: t, url: url, client: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	t.Cleanup(func() { l.set(0) })
	return l
}

func (l *load) set(n int) {
	l.mu.Lock()
	for len(l.stops) < n {
		stop := make(chan struct{})
		l.stops = append(l.stops, stop)
		l.wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				l.one()
			}
		})
	}
	for len(l.stops) > n {
		close(l.stops[len(l.stops)-1])
		l.stops = l.stops[:len(l.stops)-1]
	}
	l.mu.Unlock()
	if n == 0 {
		l.wg.Wait()
	}
}

func (l *load) one() {
	resp, err := l.client.Get(l.url)
	if err != nil {
		l.fail(err.Error())
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		l.fail(resp.Status)
		return
	}
	l.ok.Add(1)
}

func (l *load) fail(what string) {
	l.failed.Add(1)
	l.first.CompareAndSwap(nil, what)
}

func (l *load) failures() (int64, any) { return l.failed.Load(), l.first.Load() }

// TestUpWholeOverlay is the staging overlay as `orange up` runs it by default: every
// Knative Service comes up with its min-scale replicas ready, and one request through the
// gateway to each public API (the gateway's upstream table) is answered by that API's own
// replicas — those at zero started by the request. `make test` and `make up-test` run it
// (ORANGE_UP_TEST=overlay), with the other tests of the package sharing the one build.
func TestUpWholeOverlay(t *testing.T) {
	if !wholeOverlay() {
		t.Skip("ORANGE_UP_TEST=overlay (make up-test) runs the whole staging overlay")
	}
	t.Parallel()
	bin := binaries(t)
	start := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	u, err := up.Start(ctx, up.Config{
		BinDir:      bin,
		Overlay:     "staging",
		Addr:        "127.0.0.1:0",
		DatabaseURL: pg.NewDatabaseURL(t),
		DataDir:     t.TempDir(),
		DBMaxConns:  2,
		DrainGrace:  10 * time.Second,
	})
	require.NoError(t, err)
	t.Cleanup(func() {
		cancel()
		done := make(chan error, 1)
		go func() { done <- u.Wait() }()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("orange up did not drain within 30 s")
		}
	})

	snaps := u.Snapshots()
	require.GreaterOrEqual(t, len(snaps), 15)
	require.Eventually(t, func() bool {
		for _, s := range u.Snapshots() {
			if s.Ready < int(s.Min) {
				return false
			}
		}
		return true
	}, 60*time.Second, 50*time.Millisecond, "not every Service has its min-scale replicas ready: %v", brief(u.Snapshots()))
	processes := 0
	for _, s := range u.Snapshots() {
		processes += s.Live
		assert.Zero(t, s.Restarts, "%s: replicas exited", s.Service)
	}
	t.Logf("%d Services, %d processes ready %s after start", len(snaps), processes, time.Since(start).Round(time.Millisecond))

	token := devtest.PasswordToken(t, "http://"+u.Addr(), "ada")
	client := &http.Client{Timeout: 70 * time.Second} // a Service at zero starts first
	seen := map[string]bool{}
	for _, area := range gateway.Upstreams {
		if seen[area.Service] {
			continue
		}
		seen[area.Service] = true
		before, _ := u.Snapshot(area.Service)
		req, err := http.NewRequest(http.MethodGet, "http://"+u.Addr()+area.Prefix, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		sent := time.Now()
		resp, err := client.Do(req)
		require.NoError(t, err, area.Prefix)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		after, _ := u.Snapshot(area.Service)
		t.Logf("GET %s → %s by %s (%d ready of min %d) in %s", area.Prefix, resp.Status, area.Service, after.Ready, after.Min,
			time.Since(sent).Round(time.Millisecond))
		// The API's own answer (a 405 for a POST-only area is one), not the gateway's or
		// a proxy's 502/503/504.
		assert.Less(t, resp.StatusCode, 500, "GET %s", area.Prefix)
		assert.Greater(t, after.Requests, before.Requests, "GET %s did not reach %s", area.Prefix, area.Service)
	}
	// The Services no public API reaches and at zero (the workers): a probe through their
	// address starts one each, which must come up with the local environment (a manifest's
	// MAIL_MODE=smtp once made notification-worker crash-loop here).
	for _, s := range u.Snapshots() {
		if s.Ready > 0 {
			continue
		}
		resp, err := client.Get(u.ServiceURL(s.Service) + "/readyz")
		require.NoError(t, err, s.Service)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s from zero", s.Service)
		t.Logf("%s from zero: %s", s.Service, resp.Status)
	}
	for _, s := range u.Snapshots() {
		assert.Zero(t, s.Restarts, "%s: replicas exited", s.Service)
		assert.Zero(t, s.ProxyFailures, "%s: its proxy answered itself", s.Service)
	}
	t.Logf("after: %s", brief(u.Snapshots()))
}

// brief is each Service's ready/min, for a failure message.
func brief(snaps []up.Snapshot) string {
	var b strings.Builder
	for _, s := range snaps {
		fmt.Fprintf(&b, "%s %d/%d restarts %d; ", s.Service, s.Ready, s.Min, s.Restarts)
	}
	return b.String()
}
