// Package pgtest gives tests real PostgreSQL: one server per test binary (a private cluster
// started from the installed binaries, or the server at DATABASE_URL when set), a template
// database per migration set, and a fresh database per test cloned from that template, so
// tests run in parallel without seeing each other's rows.
//
// Use it from TestMain:
//
//	var pg *pgtest.Instance
//
//	func TestMain(m *testing.M) { pgtest.Main(m, &pg) }
//
// and in a test: db := pg.NewDB(t, locations.Migrations).
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgcluster"
	"github.com/orangecarrental/orange/platform/proctest"
)

// Instance is a PostgreSQL server tests may create databases on.
type Instance struct {
	adminURL *url.URL
	cluster  *pgcluster.Cluster
	dataDir  string

	mu        sync.Mutex
	templates map[string]string
}

// databases numbers the databases NewDB creates in this process.
var databases atomic.Int64

// Main starts an instance, stores it in *inst, runs the tests and stops the instance. It
// returns rather than exiting — the testing package exits with m.Run's status when TestMain
// returns — so the caller's defers (proctest.Cleanup removes half a gigabyte of binaries) run.
func Main(m *testing.M, inst **Instance) {
	i, err := Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		os.Exit(1)
	}
	*inst = i
	m.Run()
	if err := i.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
}

// Start uses DATABASE_URL when set (its role needs CREATEDB), else a private cluster in a
// temporary folder the server user can reach.
func Start(ctx context.Context) (*Instance, error) {
	i := &Instance{templates: map[string]string{}}
	if raw := os.Getenv("DATABASE_URL"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL: %w", err)
		}
		i.adminURL = u
		return i, nil
	}
	dir, err := os.MkdirTemp("", "orange-pgtest-")
	if err != nil {
		return nil, err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	i.cluster, i.dataDir = c, dir
	i.adminURL, _ = url.Parse(c.URL("postgres"))
	return i, nil
}

// StartDurable is Start with fsync and synchronous commit on in the private cluster, as
// production runs: for benchmarks of commit-bound paths (issue 19's booking), whose figures
// the throwaway clusters' fsync=off would hide. With DATABASE_URL it is Start: that server
// keeps its own settings.
func StartDurable(ctx context.Context) (*Instance, error) {
	if os.Getenv("DATABASE_URL") != "" {
		return Start(ctx)
	}
	dir, err := os.MkdirTemp("", "orange-pgtest-durable-")
	if err != nil {
		return nil, err
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{DataDir: dir, Durable: true})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	i := &Instance{templates: map[string]string{}, cluster: c, dataDir: dir}
	i.adminURL, _ = url.Parse(c.URL("postgres"))
	return i, nil
}

// Close stops the private cluster and removes its files.
func (i *Instance) Close() error {
	if i.cluster == nil {
		return nil
	}
	err := i.cluster.Stop()
	_ = os.RemoveAll(i.dataDir)
	return err
}

// URL is the connection URL of database name on the instance's server.
func (i *Instance) URL(name string) string {
	u := *i.adminURL
	u.Path = "/" + name
	return u.String()
}

func (i *Instance) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, i.adminURL.String())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// template returns the name of a database holding exactly the given migrations, creating it
// on first use. Templates are keyed by the schemas they hold.
func (i *Instance) template(ctx context.Context, sets []database.Migrations) (string, error) {
	h := sha256.New()
	var hashSet func(s database.Migrations)
	hashSet = func(s database.Migrations) {
		fmt.Fprintln(h, s.Schema, s.Track)
		_ = fs.WalkDir(s.FS, ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				body, _ := fs.ReadFile(s.FS, path)
				fmt.Fprintln(h, path, len(body))
				h.Write(body)
			}
			return nil
		})
		for _, w := range s.With {
			hashSet(w)
		}
	}
	for _, s := range sets {
		hashSet(s)
	}
	key := hex.EncodeToString(h.Sum(nil))[:12]
	i.mu.Lock()
	defer i.mu.Unlock()
	if name, ok := i.templates[key]; ok {
		return name, nil
	}
	name := fmt.Sprintf("tmpl_%s_%d_%d", key, os.Getpid(), time.Now().UnixNano()%1e6)
	if err := i.exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create template: %w", err)
	}
	db, err := database.Open(ctx, database.Config{URL: i.URL(name), MaxConns: 2})
	if err != nil {
		return "", err
	}
	defer db.Close()
	for _, s := range sets {
		if _, err := db.Migrate(ctx, s); err != nil {
			return "", err
		}
	}
	i.templates[key] = name
	return name, nil
}

// NewDB returns a pool on a fresh database with the given migrations applied, dropped when
// the test ends.
func (i *Instance) NewDB(t testing.TB, sets ...database.Migrations) *database.DB {
	t.Helper()
	url := i.NewDatabaseURL(t, sets...)
	db, err := database.Open(context.Background(), database.Config{URL: url, MaxConns: 16})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(db.Close)
	return db
}

// NewDatabaseURL is NewDB for tests that hand the URL to another process.
func (i *Instance) NewDatabaseURL(t testing.TB, sets ...database.Migrations) string {
	t.Helper()
	ctx := context.Background()
	tmpl, err := i.template(ctx, sets)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// The counter is the package's, not the instance's: with DATABASE_URL two instances of one
	// test binary (StartDurable beside Main's) share one server.
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), databases.Add(1))
	// Cloning needs the template free of sessions; the lock keeps two clones from racing.
	i.mu.Lock()
	err = i.exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl))
	i.mu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		_ = i.exec(context.Background(), fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	})
	return i.URL(name)
}

// ServerCPU is the CPU time the server's processes now running have used so far — every
// backend and background process pg_stat_activity lists (the WAL writer and checkpointer
// included), read from /proc, so only for a server on this machine (0 otherwise). Take it
// before and after a round, with the pools of the round already open: a backend that exits
// within the round is missed.
func (i *Instance) ServerCPU(ctx context.Context) time.Duration {
	conn, err := pgx.Connect(ctx, i.adminURL.String())
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid()`)
	if err != nil {
		return 0
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0
	}
	var sum time.Duration
	for _, pid := range pids {
		sum += proctest.CPU(int(pid))
	}
	return sum
}

// CPU is the CPU time this process (proctest.SelfCPU) and the server (ServerCPU) have used
// so far: a benchmark takes it before and after a round for the CPU per request on both
// sides of the connection.
func (i *Instance) CPU(ctx context.Context) (self, server time.Duration) {
	return proctest.SelfCPU(), i.ServerCPU(ctx)
}
