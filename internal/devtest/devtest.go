// Package devtest runs the whole system as `orange dev` runs it — every function, the
// in-process broker with knative/base's Triggers, the relays, the development issuer, the
// mail folder — inside a test's own process, against a fresh database of the test's
// PostgreSQL. The end-to-end tests (erasure, traces, the call center, the browser
// journeys) start it through here, so that they all start the same system the same way
// and read its logs, its mail and its database alike.
//
// Tests that must see the real binary (signals, flags, restarts) run `orange` as a child
// process instead (platform/proctest); this package is for tests that need the system,
// not the process.
package devtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// System is one running `orange dev`.
type System struct {
	// Base is http://localhost:<port>, the address the README gives as :8080; mail links
	// (MAIL_LINK_BASE) name it too, so a test can follow them.
	Base string
	// DB is the system's database (every function's schema), for a test's setup and checks.
	DB *database.DB
	// DataDir is ORANGE_DATA_DIR: the mail folder and the invoices live under it.
	DataDir string
	// Logs is the system's stdout: every function's log lines. Its end is printed when
	// the test fails.
	Logs *LogBuffer
}

// MailDir is the folder the development mail sender writes each message to.
func (s *System) MailDir() string { return filepath.Join(s.DataDir, "mail") }

// Start runs host.Dev, as `orange dev` does, on a free loopback port until the test ends,
// and returns once /readyz answers 200. env adds to or overrides the defaults (a fresh
// database, a temporary data folder, RELAY_POLL_INTERVAL=100ms); options change the rest
// of the host's environment (e.g. a tracer).
func Start(t testing.TB, pg *pgtest.Instance, env map[string]string, options ...func(*host.Env)) *System {
	t.Helper()
	reg, err := all.Registry()
	require.NoError(t, err)
	dbURL := pg.NewDatabaseURL(t)
	port := freePort(t)
	s := &System{Base: "http://localhost:" + port, DataDir: t.TempDir(), Logs: &LogBuffer{}}
	vars := map[string]string{
		"PORT": port, "DATABASE_URL": dbURL, "ORANGE_DATA_DIR": s.DataDir,
		"MAIL_LINK_BASE": s.Base, "RELAY_POLL_INTERVAL": "100ms",
	}
	for k, v := range env {
		vars[k] = v
	}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	hostEnv := host.Env{
		Lookuper: envconfig.MapLookuper(vars),
		Stdout:   s.Logs,
		Ready:    func(addr string) { ready <- addr },
	}
	for _, o := range options {
		o(&hostEnv)
	}
	go func() { done <- host.Dev(ctx, reg, hostEnv) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "orange dev stopped with an error")
		case <-time.After(30 * time.Second):
			t.Error("orange dev did not stop")
		}
		if t.Failed() {
			t.Logf("orange dev's log (last 20 kB):\n%s", s.Logs.Tail(20<<10))
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("orange dev stopped before serving: %v\n%s", err, s.Logs.Tail(20<<10))
	case <-time.After(90 * time.Second):
		t.Fatalf("orange dev did not start serving\n%s", s.Logs.Tail(20<<10))
	}
	s.DB, err = database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(s.DB.Close)
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.Base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "orange dev never became ready")
	return s
}

// freePort asks the kernel for a free loopback port. The system is started on it (rather
// than PORT=0) so that MAIL_LINK_BASE can name the port before the system starts.
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return port
}

// API calls the system's HTTP API as the holder of token ("" for none) and decodes a 2xx
// JSON answer into out (when not nil); it returns the status and the raw body. body is
// sent as it is when it is a string or []byte ("" and nil: no body), as JSON otherwise;
// header is name, value pairs.
func (s *System) API(t testing.TB, method, path, token string, body, out any, header ...string) (int, string) {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		raw, err = json.Marshal(body)
		require.NoError(t, err)
	}
	req, err := http.NewRequest(method, s.Base+path, bytes.NewReader(raw))
	require.NoError(t, err)
	if len(raw) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(answer, out), string(answer))
	}
	return resp.StatusCode, string(answer)
}

// Token is a development issuer access token of demo user name (the password grant the
// README shows; each demo user's password is its name).
func (s *System) Token(t testing.TB, name string) string {
	t.Helper()
	return PasswordToken(t, s.Base, name)
}

// PasswordToken signs dev user name in (password grant, the dev password is the name) at the
// dev issuer served under base ("http://host:port") and returns the access token.
func PasswordToken(t testing.TB, base, name string) string {
	t.Helper()
	resp, err := http.PostForm(base+devissuer.RealmPath+"/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {name}, "password": {name}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	require.NotEmpty(t, tok.AccessToken)
	return tok.AccessToken
}

// AroundTheClock is opening hours of every day from 00:00 to 24:00 (locations' end of day).
const AroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},` +
	`{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},` +
	`{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},` +
	`{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// OpenAroundTheClock opens every branch in db (the locations schema) around the clock:
// tests book at whatever hour the clock shows, and reservations refuses a pickup or return
// outside a branch's opening hours in its time zone (docs/counter.md). Call it before the
// first booking: reservations keeps a branch it read for RESERVATION_BRANCH_TTL.
func OpenAroundTheClock(t testing.TB, db *database.DB) {
	t.Helper()
	_, err := db.Pool.Exec(context.Background(),
		`UPDATE locations.locations SET opening_hours = $1::jsonb, status = 'active'`, AroundTheClock)
	require.NoError(t, err)
}

// LogBuffer collects a system's log lines; safe for the system's many writers.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tail is the last n bytes written.
func (l *LogBuffer) Tail(n int) string {
	s := l.String()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}
