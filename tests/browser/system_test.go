package browser_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
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
)

// logBuffer is the system's stdout: every function's log lines, printed when a test fails.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// system is `orange dev` run in this process on a free loopback port.
type system struct {
	base string // http://localhost:<port>, the address the README gives as :8080
	db   *database.DB
	logs *logBuffer
}

// freePort asks the kernel for a free loopback port. The system is started on it (rather
// than PORT=0) so that the mail's links (MAIL_LINK_BASE) name the port the browser uses.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, err := net.SplitHostPort(l.Addr().String())
	require.NoError(t, err)
	require.NoError(t, l.Close())
	return port
}

// startSystem runs host.Dev, as `orange dev` does, until the test ends.
func startSystem(t *testing.T) *system {
	t.Helper()
	reg, err := all.Registry()
	require.NoError(t, err)
	dbURL := pg.NewDatabaseURL(t)
	port := freePort(t)
	base := "http://localhost:" + port
	logs := &logBuffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := host.Env{
		Lookuper: envconfig.MapLookuper(map[string]string{
			"PORT": port, "DATABASE_URL": dbURL, "ORANGE_DATA_DIR": t.TempDir(),
			"MAIL_LINK_BASE": base, "RELAY_POLL_INTERVAL": "100ms",
		}),
		Stdout: logs,
		Ready:  func(addr string) { ready <- addr },
	}
	go func() { done <- host.Dev(ctx, reg, env) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err, "orange dev stopped with an error")
		case <-time.After(30 * time.Second):
			t.Error("orange dev did not stop")
		}
		if t.Failed() {
			t.Logf("orange dev's log (last 20 kB):\n%s", tail(logs.String(), 20<<10))
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("orange dev stopped before serving: %v\n%s", err, logs)
	case <-time.After(90 * time.Second):
		t.Fatalf("orange dev did not start serving\n%s", logs)
	}
	db, err := database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	s := &system{base: base, db: db, logs: logs}
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "orange dev never became ready")
	return s
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// aroundTheClock is every day from 00:00 to 24:00 (locations' end of day).
const aroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},` +
	`{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},` +
	`{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},` +
	`{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// openBranches opens every branch around the clock, and gives counterBranch a time zone
// where today has at least counterDay left: the counter journey books a pickup a few
// minutes ahead and hands the car over at once, which is allowed only on the pickup day
// in the branch's zone (docs/counter.md). Call it before the first booking: reservations
// keeps a branch it read for RESERVATION_BRANCH_TTL.
func (s *system) openBranches(t *testing.T, counterBranch string, counterDay time.Duration) {
	t.Helper()
	_, err := s.db.Pool.Exec(context.Background(), `UPDATE locations.locations SET opening_hours = $1::jsonb, status = 'active'`, aroundTheClock)
	require.NoError(t, err)
	zone := "Europe/Berlin"
	for _, z := range []string{"Europe/Berlin", "America/New_York", "Pacific/Honolulu", "Asia/Tokyo"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		now := time.Now().In(loc)
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
		if midnight.Sub(now) >= counterDay && now.Hour() >= 1 {
			zone = z
			break
		}
	}
	_, err = s.db.Pool.Exec(context.Background(), `UPDATE locations.locations SET time_zone = $1 WHERE code = $2`, zone, counterBranch)
	require.NoError(t, err)
}

// api calls the system's HTTP API as the holder of token ("" for none) and decodes a 2xx
// JSON answer into out; it returns the status and the raw body.
func (s *system) api(t *testing.T, method, path, token string, body, out any, header ...string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	if body != nil {
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
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode, string(raw)
}

// token is a development issuer token of demo user name (password grant, README).
func (s *system) token(t *testing.T, name string) string {
	t.Helper()
	resp, err := http.PostForm(s.base+devissuer.RealmPath+"/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {name}, "password": {name}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

// manageLinkPattern is a guest's manage-booking link in a mail (functions/notifier/guestlink.go).
var manageLinkPattern = regexp.MustCompile(`https?://[^\s"'<>]+/manage-booking\?reservation=[0-9a-f-]{36}#token=[^\s"'<>]+`)

// mailTo waits up to timeout for a mail to email whose body matches pattern and returns
// the first match, read from the development mailbox (/dev/mail) as a developer would.
func (s *system) mailTo(t *testing.T, email string, pattern *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	var found string
	deadline := time.Now().Add(timeout)
	for found == "" {
		var box struct {
			Items []struct{ ID, To, Subject string }
		}
		status, raw := s.api(t, http.MethodGet, "/dev/mail", "", nil, &box)
		require.Equal(t, http.StatusOK, status, raw)
		var subjects []string
		for _, m := range box.Items {
			if !strings.Contains(strings.ToLower(m.To), "<"+strings.ToLower(email)+">") {
				continue
			}
			subjects = append(subjects, m.Subject)
			status, body := s.api(t, http.MethodGet, "/dev/mail/"+m.ID, "", nil, nil)
			require.Equal(t, http.StatusOK, status, body)
			if match := pattern.FindString(decodeMail(body)); match != "" {
				found = match
				break
			}
		}
		if found == "" && time.Now().After(deadline) {
			t.Fatalf("no mail to %s matching %s within %s (mails to them: %q)", email, pattern, timeout, subjects)
		}
		if found == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return found
}

// decodeMail undoes quoted-printable soft line breaks and the HTML escaping of & so that a
// link reads as sent.
func decodeMail(body string) string {
	body = strings.ReplaceAll(body, "=\r\n", "")
	body = strings.ReplaceAll(body, "=\n", "")
	body = strings.ReplaceAll(body, "=3D", "=")
	return strings.ReplaceAll(body, "&amp;", "&")
}
