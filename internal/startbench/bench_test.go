package startbench_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/orangecarrental/orange/internal/kobuild"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/proctest"
)

// root is the module's root, seen from this package's directory (where go test runs it).
const root = "../.."

// BenchmarkStartToReady reports, for the bare server and then every function, the time from
// exec to the first 200 on /readyz and the resident set once the process has been idle for a
// moment (idle-RSS-MiB). Each start of a function is paired with a start of the bare server
// right after it, so that a neighbour's burst on this shared box lands on both: start/bare
// is the median of the pairs' ratios, what the gate judges. Run with a fixed count:
// -benchtime 5x.
func BenchmarkStartToReady(b *testing.B) {
	services := functions(b)
	bins := build(b, services)
	issuerURL := startIssuer(b)
	bare, bareEnv := filepath.Join(bins, "bare"), environment(b, "bare", issuerURL)
	for _, svc := range append([]string{"bare"}, services...) {
		env := environment(b, svc, issuerURL)
		migrated := false
		b.Run(svc, func(b *testing.B) {
			bin := filepath.Join(bins, svc)
			if !migrated { // the schema exists before the timed starts (package doc)
				stop(start(b, bin, env))
				migrated = true
			}
			var rssKiB int
			var toServing, toReady, bareReady, ratios []float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				p := proctest.Start(b, bin, nil, env...)
				toServing = append(toServing, ms(time.Since(t0)))
				proctest.WaitReady(b, p.Addr)
				toReady = append(toReady, ms(time.Since(t0)))
				b.StopTimer()
				if i == 0 {
					// Start-up garbage and the first pool connections settle; a pod waits
					// longer than this before its first request, not less.
					time.Sleep(500 * time.Millisecond)
					rssKiB = proctest.RSSKiB(b, p.Cmd.Process.Pid)
				}
				stop(p)
				t1 := time.Now()
				stop(start(b, bare, bareEnv))
				bareReady = append(bareReady, ms(time.Since(t1)))
				ratios = append(ratios, toReady[i]/bareReady[i])
				b.StartTimer()
			}
			b.ReportMetric(float64(rssKiB)/1024, "idle-RSS-MiB")
			// Medians, which one start delayed by a neighbour does not move as it moves
			// ns/op (the mean); serving-ms is until the "serving" log line (configuration,
			// pool, migrations checked, the function built), the rest is the first /readyz.
			b.ReportMetric(median(toReady), "ready-ms")
			b.ReportMetric(median(toServing), "serving-ms")
			b.ReportMetric(median(bareReady), "bare-ready-ms")
			b.ReportMetric(median(ratios), "start/bare")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// start execs bin and returns once its /readyz answers 200.
func start(b *testing.B, bin string, env []string) *proctest.Process {
	p := proctest.Start(b, bin, nil, env...)
	proctest.WaitReady(b, p.Addr)
	return p
}

// stop ends p as Knative does (SIGTERM) and waits for it.
func stop(p *proctest.Process) {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Exited:
	case <-time.After(30 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.Exited
	}
}

// functions are the Knative Services of cmd/: every directory but the developer's CLI.
func functions(b *testing.B) []string {
	entries, err := os.ReadDir(filepath.Join(root, "cmd"))
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "orange" {
			out = append(out, e.Name())
		}
	}
	return out
}

// build compiles every function and the bare server in one go build as ko builds the images
// (internal/kobuild), into a temporary directory.
func build(b *testing.B, services []string) string {
	dir := b.TempDir()
	pkgs := []string{"./internal/startbench/testdata/bare"}
	for _, s := range services {
		pkgs = append(pkgs, "./cmd/"+s)
	}
	if err := kobuild.Build(context.Background(), root, dir, "bench", pkgs...); err != nil {
		b.Fatal(err)
	}
	return dir
}

// environment is what svc needs to start as on Knative, the way cmd/orange's SIGTERM test
// starts every function: its own database, the issuer, and the settings that have no
// default (the portals' session keys, the mail folder).
func environment(b *testing.B, svc, issuerURL string) []string {
	if svc == "bare" {
		return []string{"PORT=0"}
	}
	env := []string{"PORT=0", "LOG_LEVEL=info", "OIDC_ISSUER_URL=" + issuerURL, "DATABASE_URL=" + pg.NewDatabaseURL(b)}
	switch svc {
	case "call-center-portal", "public-portal":
		env = append(env, "PORTAL_SESSION_KEYS="+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	case "notification-worker":
		env = append(env, "MAIL_MODE=folder", "MAIL_DIR="+b.TempDir())
	}
	return env
}

// startIssuer serves a development issuer over HTTP, as Keycloak would be.
func startIssuer(b *testing.B) string {
	key, err := devissuer.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	b.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return iss.URL()
}
