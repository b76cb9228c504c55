package capacity

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/orangecarrental/orange/functions/fleet/fleetscale"
	"github.com/orangecarrental/orange/internal/kobuild"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgcluster"
)

// MeasureConfig bounds a measurement run.
type MeasureConfig struct {
	// Root is the module's root (the go command builds ./cmd/<service> from it).
	Root string
	// StepSeconds is each constant-rate step's length.
	StepSeconds float64
	// CPU is the core the measured replica is pinned to; the generator, PostgreSQL and the
	// replica's dependencies should run on the others (the make target runs this process
	// under `taskset -c 0`).
	CPU int
	// Only limits the run to routes of these Services (empty: all).
	Only []string
	// Log receives progress lines.
	Log io.Writer
}

// probe is one route the measurement drives.
type probe struct {
	service, name, method, path string
	body                        string
	user                        string // devissuer user whose token the request carries
	slo                         float64
	deps                        []string // Services started unpinned first, reached by <SERVICE>_URL
	env                         []string
	generateFleet               bool // the fleet database gets 10k cars and 100k bookings
}

// probes are the routes measured, one or two per user-facing Service: the route its journeys
// hit most (see Mix). Writes that need the event pipeline (a booking, a payment's
// authorization) are not among them: their cost is the booking benchmark's (make bench);
// reservations-api and payments-api are measured on the reads the lookup journey makes.
func probes(pickup, ret string) []probe {
	search := "/api/vehicles?location=GEN-07&pickup=" + pickup + "T10:00:00Z&return=" + ret + "T10:00:00Z"
	quote := fmt.Sprintf(`{"pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"category":"KOMPAKT"}`,
		pickup+"T10:00:00Z", ret+"T10:00:00Z")
	portalKeys := "PORTAL_SESSION_KEYS=" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	gw := []string{"RATE_LIMIT_ADDRESS_RPS=100000", "RATE_LIMIT_ADDRESS_BURST=100000", "RATE_LIMIT_RPS=100000", "RATE_LIMIT_BURST=100000"}
	return []probe{
		{service: "vehicles-api", name: "search", method: "GET", path: search, slo: 250, deps: []string{"pricing-api"}, generateFleet: true},
		{service: "vehicles-api", name: "get", method: "GET", path: "/api/vehicles/f1ee0000-0000-4000-8000-000000000002", slo: 100, generateFleet: true},
		{service: "pricing-api", name: "quote", method: "POST", path: "/api/pricing/quotes", body: quote, slo: 100},
		{service: "locations-api", name: "list", method: "GET", path: "/api/locations", slo: 100},
		{service: "customers-api", name: "get", method: "GET", path: "/api/customers/" + devissuer.CustomerAlice, user: "alice", slo: 100},
		{service: "reservations-api", name: "list", method: "GET", path: "/api/reservations", user: "carla", slo: 100},
		{service: "payments-api", name: "list", method: "GET", path: "/api/payments?reservation=" + devissuer.CustomerAlice, user: "carla", slo: 100},
		{service: "notifications-api", name: "list", method: "GET", path: "/api/notifications", user: "carla", slo: 100},
		{service: "api-gateway", name: "forward", method: "GET", path: "/api/locations", slo: 100, deps: []string{"locations-api"}, env: gw},
		{service: "public-portal", name: "page", method: "GET", path: "/manage-booking?reservation=" + devissuer.CustomerAlice, slo: 150, env: []string{portalKeys}},
	}
}

// Measure runs every probe's ladder and returns the figures. It starts its own PostgreSQL
// (a throwaway cluster under a temp dir), a development OIDC issuer and the binaries ko
// builds, each replica measured alone on one CPU with GOMAXPROCS=1 like the manifest's limit.
func Measure(ctx context.Context, cfg MeasureConfig) (Measured, error) {
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	m := Measured{Date: time.Now().UTC().Format(time.RFC3339), UptimeBefore: uptime()}
	tmp, err := os.MkdirTemp("", "orange-capacity-")
	if err != nil {
		return m, err
	}
	defer os.RemoveAll(tmp)
	// PostgreSQL runs as the postgres user when this process is root: it must reach the folder.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return m, err
	}

	pg, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(tmp, "pg")})
	if err != nil {
		return m, err
	}
	defer pg.Stop()

	key, err := devissuer.GenerateKey()
	if err != nil {
		return m, err
	}
	var issuer *devissuer.Issuer
	iss := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { issuer.Handler().ServeHTTP(w, r) }))
	defer iss.Close()
	issuer = devissuer.New(iss.URL+devissuer.RealmPath, key)

	pickup := time.Now().AddDate(0, 0, 30).Format("2006-01-02")
	ret := time.Now().AddDate(0, 0, 33).Format("2006-01-02")
	bins := map[string]string{}
	build := func(service string) (string, error) {
		if b, ok := bins[service]; ok {
			return b, nil
		}
		b := filepath.Join(tmp, service)
		var err error
		for try := 0; try < 2; try++ { // once more: a build cache shared with other builds can fail a build
			if err = kobuild.Build(ctx, cfg.Root, tmp, "capacity", "./cmd/"+service); err == nil {
				break
			}
		}
		if err != nil {
			return "", fmt.Errorf("build %s: %w", service, err)
		}
		bins[service] = b
		return b, nil
	}
	dbn := 0
	newDB := func() (string, error) {
		dbn++
		name := fmt.Sprintf("cap%d", dbn)
		if err := pg.CreateDatabase(ctx, name); err != nil {
			return "", err
		}
		return pg.URL(name), nil
	}
	common := func(dbURL string) []string {
		return []string{"PORT=0", "LOG_LEVEL=info", "OIDC_ISSUER_URL=" + issuer.URL(), "DATABASE_URL=" + dbURL}
	}

	steps := cfg.StepSeconds
	if steps <= 0 {
		steps = 3
	}
	// The baseline: a bare handler in a child of this binary is not available, so it runs
	// in-process on this process's CPU set; it shows the generator's ceiling, not a function's.
	base, err := bareBaseline(ctx, steps, logf)
	if err != nil {
		return m, err
	}
	m.Baseline = base

	// Every binary first: a build that fails stops the run before anything is measured.
	var todo []probe
	for _, p := range probes(pickup, ret) {
		if len(cfg.Only) > 0 && !contains(cfg.Only, p.service) {
			continue
		}
		todo = append(todo, p)
		for _, svc := range append([]string{p.service}, p.deps...) {
			if _, err := build(svc); err != nil {
				return m, err
			}
		}
	}
	for _, p := range todo {
		r, err := func() (Route, error) {
			var procs []*exec.Cmd
			defer func() {
				for _, c := range procs {
					_ = c.Process.Kill()
					_ = c.Wait()
				}
			}()
			env := []string{}
			for _, dep := range p.deps {
				bin, err := build(dep)
				if err != nil {
					return Route{}, err
				}
				dbURL, err := newDB()
				if err != nil {
					return Route{}, err
				}
				c, addr, err := start(ctx, nil, bin, append(common(dbURL), "OIDC_CLIENT_SECRET="+devissuer.ClientSecret(dep)))
				if err != nil {
					return Route{}, fmt.Errorf("%s: %w", dep, err)
				}
				procs = append(procs, c)
				env = append(env, strings.ToUpper(strings.ReplaceAll(dep, "-", "_"))+"_URL=http://"+addr)
			}
			bin, err := build(p.service)
			if err != nil {
				return Route{}, err
			}
			dbURL, err := newDB()
			if err != nil {
				return Route{}, err
			}
			issuer.AddClients(p.service)
			env = append(append(append(common(dbURL), env...), p.env...),
				"OIDC_CLIENT_SECRET="+devissuer.ClientSecret(p.service), "GOMAXPROCS=1", "GOMEMLIMIT=100MiB")
			c, addr, err := start(ctx, []string{"taskset", "-c", fmt.Sprint(cfg.CPU)}, bin, env)
			if err != nil {
				return Route{}, fmt.Errorf("%s: %w", p.service, err)
			}
			procs = append(procs, c)
			if p.generateFleet {
				if err := generateFleet(ctx, dbURL); err != nil {
					return Route{}, err
				}
			}
			var header http.Header
			if p.user != "" {
				tok, err := issuer.TokenFor(p.user)
				if err != nil {
					return Route{}, err
				}
				header = http.Header{"Authorization": {"Bearer " + tok}}
			}
			if p.body != "" {
				if header == nil {
					header = http.Header{}
				}
				header.Set("Content-Type", "application/json")
			}
			target := vegeta.Target{Method: p.method, URL: "http://" + addr + p.path, Body: []byte(p.body), Header: header}
			logf("== %s %s (SLO p99 %.0f ms)", p.service, p.name, p.slo)
			return ladder(ctx, p.service, p.name, p.method, p.path, p.slo, target, steps, c.Process.Pid, logf)
		}()
		if ctx.Err() != nil {
			return m, ctx.Err()
		}
		if err != nil {
			// One route that cannot run does not lose the others' figures.
			logf("  %s %s: %v", p.service, p.name, err)
			r = Route{Service: p.service, Name: p.name, Method: p.method, Path: strings.SplitN(p.path, "?", 2)[0], SLOp99Ms: p.slo, Error: err.Error()}
		}
		r.BaselineCapacity = base.Capacity
		m.Routes = append(m.Routes, r)
	}
	m.UptimeAfter = uptime()
	m.Setup = fmt.Sprintf("each replica: the per-Service binary (go build -trimpath -ldflags '-s -w', CGO off), "+
		"taskset -c %d, GOMAXPROCS=1, default pool (DB_MAX_CONNS=16), default admission limit; "+
		"generator (vegeta v12.13.0 as a library, open loop, latency from the intended send time), PostgreSQL "+
		"and dependencies (pricing-api for the search, locations-api behind the gateway) on the other core; "+
		"data: the demo seed, plus 10,000 cars / 100,000 bookings for vehicles-api; %.0f s per step", cfg.CPU, steps)
	return m, nil
}

// ladder steps the rate up (×1.5 from 20 req/s) until steps break the SLO or err, then
// bisects once between the last good and the first bad rate above it.
func ladder(ctx context.Context, service, name, method, path string, slo float64, target vegeta.Target, seconds float64, pid int, logf func(string, ...any)) (Route, error) {
	r := Route{Service: service, Name: name, Method: method, Path: strings.SplitN(path, "?", 2)[0], SLOp99Ms: slo}
	// warm up: connections, the pool, the plan caches.
	attack(ctx, target, 20, 1)
	good, bad := 0.0, 0.0
	cpuRate := 0.0 // the rate of the step the CPU cost is taken from
	record := func(rate float64) Step {
		before := cpuSeconds(pid)
		s := attack(ctx, target, rate, seconds)
		if used := cpuSeconds(pid) - before; pid > 0 && s.OK > 0 {
			s.CPUMsPerReq = round2(1000 * used / float64(s.OK))
		}
		r.Steps = append(r.Steps, s)
		logf("  %6.0f req/s: p50 %6.1f p99 %7.1f ms, %d errors, %.2f ms CPU/req %s", rate, s.P50Ms, s.P99Ms, s.Errors, s.CPUMsPerReq, s.FirstError)
		if s.Within(slo) && rate > good {
			good, r.Capacity, r.MeanMs, r.P99Ms = rate, rate, s.MeanMs, s.P99Ms
		}
		// The CPU cost: from the highest step without error, within the SLO or not — the
		// process's own background work (GC, timers, the pool's health checks) is spread over
		// the most requests there, as it is in a busy replica.
		if s.Errors == 0 && s.CPUMsPerReq > 0 && rate > cpuRate {
			cpuRate, r.CPUMsPerReq = rate, s.CPUMsPerReq
			if good == 0 {
				r.MeanMs = s.MeanMs
			}
		}
		return s
	}
	// A step that fails is run once more before the ladder stops: on a shared machine one
	// scheduling hiccup of another process is a p99 of its own at these sample sizes.
	// The ladder goes on past one failed rate (at 20 req/s × 2 s the p99 is the slowest of
	// 40 requests: one stall fails it); it stops at a step with errors or after two failed
	// rates in a row.
	fails := 0
	for rate := 20.0; rate <= 20000 && ctx.Err() == nil; rate = math.Round(rate * 1.5) {
		s := record(rate)
		if !s.Within(slo) && s.Errors == 0 {
			s = record(rate)
		}
		if s.Within(slo) {
			fails, bad = 0, 0
			continue
		}
		if bad == 0 {
			bad = rate
		}
		if fails++; fails >= 2 || s.Errors > 0 {
			break
		}
	}
	if bad > good && good > 0 && ctx.Err() == nil {
		record(math.Round((good + bad) / 2))
	}
	r.Concurrency = r.Capacity * r.MeanMs / 1000
	if r.CPUMsPerReq > 0 {
		r.CPUCeiling = math.Round(1000 / r.CPUMsPerReq)
		// In flight at the ceiling: Little's law with the least-loaded step's mean latency,
		// the latency a dedicated replica has below saturation (every busier step on this
		// machine adds other processes' scheduling to it).
		r.ConcurrencyAtCeiling = round2(r.CPUCeiling * unloadedMs(r.Steps) / 1000)
	}
	return r, ctx.Err()
}

// attack offers rate req/s for seconds, open loop, and measures each request's latency from
// its intended send time (start + seq/rate): a request the generator sent late because the
// server was slow counts its wait (no coordinated omission).
func attack(ctx context.Context, target vegeta.Target, rate, seconds float64) Step {
	atk := vegeta.NewAttacker(vegeta.Timeout(5*time.Second), vegeta.KeepAlive(true), vegeta.Workers(16),
		vegeta.MaxWorkers(2000), vegeta.Connections(2000), vegeta.Redirects(vegeta.NoFollow))
	period := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	res := atk.Attack(vegeta.NewStaticTargeter(target), vegeta.ConstantPacer{Freq: int(rate), Per: time.Second},
		time.Duration(seconds*float64(time.Second)), "step")
	var lat []float64
	s := Step{Rate: rate, Seconds: seconds}
	var end time.Time
	for {
		var x *vegeta.Result
		select {
		case x = <-res:
		case <-ctx.Done():
			atk.Stop()
			x = <-res
		}
		if x == nil {
			break
		}
		s.Sent++
		// vegeta's constant pacer sends hit k at (k+1)/rate after the attack began.
		intended := start.Add(time.Duration(x.Seq+1) * period)
		done := x.End()
		if done.After(end) {
			end = done
		}
		l := max(done.Sub(intended), x.Latency)
		lat = append(lat, float64(l)/float64(time.Millisecond))
		if x.Error != "" || x.Code < 200 || x.Code >= 300 {
			s.Errors++
			if s.FirstError == "" {
				s.FirstError = fmt.Sprintf("%d %s", x.Code, x.Error)
			}
			continue
		}
		s.OK++
	}
	if len(lat) == 0 {
		return s
	}
	sort.Float64s(lat)
	sum := 0.0
	for _, v := range lat {
		sum += v
	}
	s.MeanMs = round1(sum / float64(len(lat)))
	s.P50Ms = round1(lat[len(lat)/2])
	s.P99Ms = round1(lat[min(len(lat)-1, int(math.Ceil(0.99*float64(len(lat))))-1)])
	s.MaxMs = round1(lat[len(lat)-1])
	s.Achieved = math.Round(float64(s.OK) / end.Sub(start).Seconds())
	return s
}

// bareBaseline runs the ladder against a bare handler in this process.
func bareBaseline(ctx context.Context, seconds float64, logf func(string, ...any)) (Route, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	logf("== baseline: bare handler in the generator's process (SLO p99 100 ms)")
	return ladder(ctx, "baseline", "bare", "GET", "/", 100, vegeta.Target{Method: "GET", URL: srv.URL + "/"}, seconds, 0, logf)
}

// start execs bin (behind prefix, e.g. taskset) and waits for its "serving" line and /readyz.
func start(ctx context.Context, prefix []string, bin string, env []string) (*exec.Cmd, string, error) {
	args := append(append([]string{}, prefix...), bin)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if !bytes.Contains(sc.Bytes(), []byte(`"serving"`)) {
				continue // the request log (info, as the manifests run it): drained, not parsed
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				select {
				case addrc <- line.Addr:
				default:
				}
			}
		}
	}()
	var addr string
	select {
	case a := <-addrc:
		_, port, _ := net.SplitHostPort(a)
		addr = "127.0.0.1:" + port
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", errors.New("did not start serving")
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, addr, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	return nil, "", errors.New("never became ready")
}

// generateFleet fills vehicles-api's migrated database (once per database).
func generateFleet(ctx context.Context, dbURL string) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM fleet.vehicles WHERE location_code = 'GEN-07'`).Scan(&n); err != nil || n > 0 {
		return err
	}
	return fleetscale.Generate(ctx, conn, fleetscale.Vehicles, fleetscale.Branches, fleetscale.Bookings)
}

func uptime() string {
	out, err := exec.Command("uptime").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// unloadedMs is the lowest mean latency of the steps without error.
func unloadedMs(steps []Step) float64 {
	best := 0.0
	for _, s := range steps {
		if s.Errors == 0 && s.MeanMs > 0 && (best == 0 || s.MeanMs < best) {
			best = s.MeanMs
		}
	}
	return best
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// cpuSeconds is the user + system CPU time pid used so far (/proc/<pid>/stat, in clock ticks
// of 1/100 s as on every Linux the project runs on); 0 when unknown.
func cpuSeconds(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// the command name may hold spaces: the fields start after its closing parenthesis.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	var utime, stime float64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return (utime + stime) / 100
}
