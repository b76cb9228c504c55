package up

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/orangecarrental/orange/platform"
)

// Config is how `orange up` runs.
type Config struct {
	// Root is the module's root, where cmd/<service> is built from (when BinDir is empty).
	Root string
	// BinDir holds prebuilt cmd/<service> binaries; empty: build them into a folder of
	// DataDir (with ko's flags).
	BinDir string
	// Overlay is the knative/overlays folder whose min/max-scale and targets apply.
	Overlay string
	// Services limits the run to these Knative Services (empty: every one).
	Services []string
	// Annotations are set on every revision template before the KPA reads it.
	Annotations map[string]string
	// Addr is the public port: the public functions (gateway, portals) and the platform's
	// pages (issuers, broker ingress, /metrics).
	Addr string
	// DatabaseURL is the PostgreSQL all functions share; empty: `orange dev`'s private
	// cluster under DataDir.
	DatabaseURL string
	// DataDir holds the private cluster, the issuers' keys, mail, logs and Broker tokens.
	DataDir string
	// Env is added to every replica's environment (after the manifest's and ours: -env
	// NAME=VALUE); ServiceEnv to one Service's, after Env (-env service:NAME=VALUE).
	Env        map[string]string
	ServiceEnv map[string]map[string]string
	// DBMaxConns caps each replica's pool (the manifests' 16 × every replica would pass
	// the private cluster's max_connections of 300).
	DBMaxConns int
	// HoldLimit is how long a request waits for a ready replica (the activator's timeout).
	HoldLimit time.Duration
	// DrainGrace is how long a replica has after SIGTERM before SIGKILL (terminationGracePeriodSeconds).
	DrainGrace time.Duration
	// StatusEvery is the period of the status table on Stdout (0: none).
	StatusEvery time.Duration
	Stdout      io.Writer
	Logger      *slog.Logger
}

func (c *Config) defaults() {
	if c.Overlay == "" {
		c.Overlay = "staging"
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = ".data"
	}
	if c.DBMaxConns == 0 {
		c.DBMaxConns = 8
	}
	if c.HoldLimit == 0 {
		c.HoldLimit = 60 * time.Second
	}
	if c.DrainGrace == 0 {
		c.DrainGrace = 45 * time.Second // the functions drain within HTTP_DRAIN_TIMEOUT (30 s)
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
}

// Up is a running `orange up`.
type Up struct {
	cfg     Config
	addr    string
	scalers []*scaler
	plat    *platformPieces
	srvs    []*http.Server
	done    chan struct{}
	logs    []io.Closer
}

// Start builds (unless cfg.BinDir) and starts every Service's proxy and min-scale replicas
// and the platform, and returns once the public port listens; the replicas become ready
// on their own (Ready, Snapshots). It runs until ctx ends, then drains everything.
func Start(ctx context.Context, cfg Config) (*Up, error) {
	cfg.defaults()
	logger := cfg.Logger
	every, err := LoadServices(cfg.Overlay, nil, cfg.Annotations)
	if err != nil {
		return nil, err
	}
	services, err := selectServices(cfg.Overlay, every, cfg.Services)
	if err != nil {
		return nil, err
	}
	for svc := range cfg.ServiceEnv {
		if !slices.ContainsFunc(services, func(s Service) bool { return s.Name == svc }) {
			return nil, fmt.Errorf("-env %s:…: %s does not run here (overlay %s, -services)", svc, svc, cfg.Overlay)
		}
	}
	reg, err := registry()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
	}
	if cfg.BinDir == "" {
		cfg.BinDir = filepath.Join(cfg.DataDir, "up", "bin")
		logger.Info("building", slog.Any("services", names), slog.String("dir", cfg.BinDir))
		if err := Build(ctx, cfg.Root, cfg.BinDir, names); err != nil {
			return nil, err
		}
	}
	u := &Up{cfg: cfg, done: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			u.close()
		}
	}()

	pub, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(pub.Addr().String())
	u.addr = "127.0.0.1:" + port
	origin := "http://" + u.addr

	// One loopback port per Service: its proxy, the URL every other function calls it by.
	urls := map[string]string{}
	listeners := map[string]net.Listener{}
	for _, n := range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = pub.Close()
			return nil, err
		}
		listeners[n] = l
		urls[platform.ServiceURLKey(n)] = "http://" + l.Addr().String()
	}
	// The overlay's other Services (a -services subset): one stand-in that answers 503
	// naming the Service, rather than a cluster-local name that resolves nowhere.
	var absent []string
	for _, svc := range every {
		if !slices.Contains(names, svc.Name) {
			absent = append(absent, svc.Name)
		}
	}
	if len(absent) > 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			_ = pub.Close()
			return nil, err
		}
		srv := &http.Server{Handler: notRunning{}, ReadHeaderTimeout: 10 * time.Second}
		u.srvs = append(u.srvs, srv)
		go func() { _ = srv.Serve(l) }()
		for _, n := range absent {
			urls[platform.ServiceURLKey(n)] = "http://" + l.Addr().String() + "/" + n
		}
	}
	transport := platform.NewTransport(nil, func(k string) (string, bool) { v, ok := urls[k]; return v, ok })
	plat, err := startPlatform(ctx, cfg, reg, names, origin, port, transport, logger)
	if err != nil {
		_ = pub.Close()
		return nil, err
	}
	u.plat = plat

	logDir := filepath.Join(cfg.DataDir, "up", "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	for _, s := range services {
		f, err := os.OpenFile(filepath.Join(logDir, s.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		u.logs = append(u.logs, f)
		env := u.envFor(s, urls)
		sc := newScaler(s, filepath.Join(cfg.BinDir, s.Name), func(string) []string { return env }, &lockedWriter{w: f}, logger, cfg.HoldLimit, cfg.DrainGrace)
		sc.url = urls[platform.ServiceURLKey(s.Name)]
		u.scalers = append(u.scalers, sc)
		srv := &http.Server{Handler: sc.proxy, ReadHeaderTimeout: 10 * time.Second}
		u.srvs = append(u.srvs, srv)
		go func() { _ = srv.Serve(listeners[s.Name]) }()
	}

	mreg := prometheus.NewRegistry()
	mreg.MustRegister(collector{u}, plat.broker.Collector())
	plat.mux.Handle("GET /metrics", promhttp.HandlerFor(mreg, promhttp.HandlerOpts{}))
	// The public functions' prefixes, and any function's /dev/ pages (the mailbox), as
	// `orange dev` serves them on its port.
	for _, fn := range reg.Functions() {
		sc := u.scaler(fn.Service)
		if sc == nil {
			continue
		}
		for _, p := range fn.Prefixes {
			switch {
			case p == platform.RootPrefix && fn.Public:
				plat.mux.Handle("/", sc.proxy)
			case fn.Public || strings.HasPrefix(p, "/dev/"):
				plat.mux.Handle(p, sc.proxy)
				plat.mux.Handle(p+"/", sc.proxy)
			}
		}
	}
	srv := &http.Server{Handler: plat.mux, ReadHeaderTimeout: 10 * time.Second}
	u.srvs = append(u.srvs, srv)
	go func() { _ = srv.Serve(pub) }()
	logger.Info("orange up", slog.String("addr", origin), slog.String("overlay", cfg.Overlay),
		slog.Any("services", names), slog.String("logs", logDir))

	var wg sync.WaitGroup
	for _, sc := range u.scalers {
		wg.Go(func() { sc.run(ctx) })
	}
	if cfg.StatusEvery > 0 {
		wg.Go(func() { u.printStatus(ctx) })
	}
	go func() {
		wg.Wait()
		u.close()
		close(u.done)
	}()
	ok = true
	return u, nil
}

// Run is Start, then the wait until ctx ends and everything drained.
func Run(ctx context.Context, cfg Config) error {
	u, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	return u.Wait()
}

// Wait blocks until the run ended (its context) and every replica drained.
func (u *Up) Wait() error {
	<-u.done
	return nil
}

// Addr is the public port's address (127.0.0.1:port).
func (u *Up) Addr() string { return u.addr }

// ServiceURL is the address of a Service's proxy, what the other functions call it by
// (<SERVICE>_URL); "" for a Service not running here.
func (u *Up) ServiceURL(service string) string {
	if s := u.scaler(service); s != nil {
		return s.url
	}
	return ""
}

// Snapshots are every Service's state now.
func (u *Up) Snapshots() []Snapshot {
	var out []Snapshot
	for _, s := range u.scalers {
		out = append(out, s.snapshot())
	}
	return out
}

// Snapshot is one Service's state now.
func (u *Up) Snapshot(service string) (Snapshot, bool) {
	if s := u.scaler(service); s != nil {
		return s.snapshot(), true
	}
	return Snapshot{}, false
}

func (u *Up) scaler(name string) *scaler {
	for _, s := range u.scalers {
		if s.svc.Name == name {
			return s
		}
	}
	return nil
}

func (u *Up) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range u.srvs {
		_ = s.Shutdown(ctx)
	}
	if u.plat != nil {
		u.plat.stop()
	}
	for _, l := range u.logs {
		_ = l.Close()
	}
}

// envFor is the environment of s's containers (replicaEnv) in this run.
func (u *Up) envFor(s Service, urls map[string]string) []string {
	host := map[string]string{}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			host[k] = v
		}
	}
	local := map[string]string{
		"OIDC_CLIENT_SECRET": devClientSecret(s.Name),
		"BROKER_TOKEN_FILE":  filepath.Join(u.plat.tokens, s.Name),
	}
	return replicaEnv(s, host, u.plat.env, urls, local, u.cfg.DBMaxConns, u.cfg.Env, u.cfg.ServiceEnv[s.Name])
}

// replicaEnv is the environment of s's replicas, by layers, each overriding the ones before:
//
//  1. host: a few of `orange up`'s own variables (PATH, HOME, TMPDIR, LANG, TZ), nothing else;
//  2. the manifest's literal values — but none that names the cluster (a value with
//     ".svc.cluster.local": on this machine it resolves nowhere);
//  3. what `orange up` decides for the local machine, as `orange dev` does: platform (the
//     issuers, the Broker, the database, mail to a folder …), then urls (every Service of
//     the overlay: its proxy, or the stand-in that says it does not run), then local (the
//     Service's own client secret and Broker token file), and DB_MAX_CONNS capped at
//     maxConns — so a manifest's MAIL_MODE=smtp, say, never reaches a replica;
//  4. the -env flags: all (every Service), then service (this one): the operator's choice
//     wins over everything, e.g. MAIL_MODE=smtp with SMTP_HOST for a real mail server.
//
// PORT is not here: each replica gets its own (startReplica). Nor K_SERVICE: with it a
// function serves /metrics on Knative's fixed 9095, which only one process per machine can
// have; without, on its serving port.
func replicaEnv(s Service, host, platform, urls, local map[string]string, maxConns int, all, service map[string]string) []string {
	env := maps.Clone(host)
	for k, v := range s.Env {
		if !strings.Contains(v, ".svc.cluster.local") {
			env[k] = v
		}
	}
	for _, m := range []map[string]string{platform, urls, local} {
		maps.Copy(env, m)
	}
	if n, err := strconv.Atoi(env["DB_MAX_CONNS"]); err != nil || n > maxConns {
		env["DB_MAX_CONNS"] = strconv.Itoa(maxConns)
	}
	maps.Copy(env, all)
	maps.Copy(env, service)
	delete(env, "PORT")
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// lockedWriter lets the replicas of a Service share its log file line by line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// printStatus writes the status table every cfg.StatusEvery.
func (u *Up) printStatus(ctx context.Context) {
	t := time.NewTicker(u.cfg.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprint(u.cfg.Stdout, StatusTable(u.recentSnapshots()))
		}
	}
}

// recentSnapshots are Snapshots with each replica's requests since the previous call.
func (u *Up) recentSnapshots() []Snapshot {
	snaps := u.Snapshots()
	for i, sc := range u.scalers {
		sc.mu.Lock()
		seen := map[int]int64{}
		for j, r := range snaps[i].Replicas {
			snaps[i].Replicas[j].Recent = r.Served - sc.lastShare[r.ID]
			seen[r.ID] = r.Served
		}
		sc.lastShare = seen // replicas gone are forgotten
		sc.mu.Unlock()
	}
	return snaps
}

// StatusTable renders snapshots: per Service its replicas ready/desired, bounds, panic
// mode, observed concurrency against the target, restarts, a CrashLoopBackOff, and each
// replica's share of the requests since the previous table.
func StatusTable(snaps []Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-20s %7s %7s %5s %7s %9s %8s %8s  %s\n", time.Now().Format(time.TimeOnly),
		"SERVICE", "READY", "MIN/MAX", "PANIC", "INFLT", "STABLE/T", "REQS", "RESTART", "SHARE PER REPLICA (requests since last table)")
	for _, s := range snaps {
		var total int64
		for _, r := range s.Replicas {
			total += r.Recent
		}
		var shares []string
		for _, r := range s.Replicas {
			mark := ""
			switch {
			case r.Draining:
				mark = " draining"
			case !r.Ready:
				mark = " starting"
			}
			share := 0.0
			if total > 0 {
				share = 100 * float64(r.Recent) / float64(total)
			}
			shares = append(shares, fmt.Sprintf("#%d %d (%.0f%%)%s", r.ID, r.Recent, share, mark))
		}
		if s.Backoff > 0 {
			// The kubelet's word for it, as `kubectl get pods` shows it.
			shares = append([]string{fmt.Sprintf("CrashLoopBackOff %s (%d exits in a row; log: %s.log)",
				s.Backoff.Round(time.Second), s.ExitsInARow, s.Service)}, shares...)
		}
		panic := ""
		if s.Decision.Panic {
			panic = "yes"
		}
		fmt.Fprintf(&b, "%-20s %3d/%-3d %3d/%-3d %5s %7d %4.1f/%-4.0f %8d %8d  %s\n", s.Service, s.Ready, s.Desired, s.Min, s.Max,
			panic, s.InFlight, s.Decision.Stable, s.Decision.Target, s.Requests, s.Restarts, strings.Join(shares, ", "))
	}
	return b.String()
}

// notRunning stands in for the Services a -services subset leaves out: their URL is
// /<service> here, and every request gets a 503 that names it.
type notRunning struct{}

func (notRunning) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svc, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	platform.WriteError(w, r, platform.Errorf(platform.KindUnavailable,
		"%s does not run in this orange up (-services leaves it out)", svc))
}
