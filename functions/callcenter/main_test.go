package callcenter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
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
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// logBuffer is the system's stdout, printed when a test fails.
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
	s := l.b.String()
	if len(s) > 16<<10 {
		s = s[len(s)-16<<10:]
	}
	return s
}

// system is the whole of `orange dev` in this process: the portal and every function it
// calls, the development issuer (with its login page), the in-process broker.
type system struct {
	base string
	db   *database.DB
	logs *logBuffer
}

// counterBranch is the branch the tests hand cars over at; its time zone is set so that
// "today" there has hours left (a handover is allowed on the pickup day only).
const counterBranch = "HAM-HBF"

func startSystem(t *testing.T) *system {
	t.Helper()
	reg, err := all.Registry()
	require.NoError(t, err)
	dbURL := pg.NewDatabaseURL(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	require.NoError(t, l.Close())
	logs := &logBuffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env := host.Env{
		Lookuper: envconfig.MapLookuper(map[string]string{
			"PORT": port, "DATABASE_URL": dbURL, "ORANGE_DATA_DIR": t.TempDir(), "RELAY_POLL_INTERVAL": "100ms",
			"PORTAL_SANDBOX_CARDS": "true", "RESERVATION_BRANCH_TTL": "1s",
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
			t.Logf("orange dev's log (its end):\n%s", logs)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("orange dev stopped before serving: %v\n%s", err, logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("orange dev did not start serving\n%s", logs)
	}
	db, err := database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	s := &system{base: "http://localhost:" + port, db: db, logs: logs}
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 100*time.Millisecond, "orange dev never became ready")
	s.openBranches(t)
	return s
}

// aroundTheClock is every day from 00:00 to 24:00.
const aroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},` +
	`{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},` +
	`{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},` +
	`{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// counterZone is a zone where today has at least three hours left and began an hour ago
// or more: a booking picked up in a few minutes is today's there, and so is its handover.
func counterZone(t *testing.T) string {
	for _, z := range []string{"Europe/Berlin", "America/New_York", "Pacific/Honolulu", "Asia/Tokyo", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		now := time.Now().In(loc)
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
		if midnight.Sub(now) >= 3*time.Hour && now.Hour() >= 1 {
			return z
		}
	}
	t.Fatal("no zone has three hours of today left")
	return ""
}

// openBranches opens every branch around the clock (bookings are made at whatever hour the
// clock shows) and puts counterBranch in counterZone.
func (s *system) openBranches(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	_, err := s.db.Pool.Exec(ctx, `UPDATE locations.locations SET opening_hours = $1::jsonb, status = 'active'`, aroundTheClock)
	require.NoError(t, err)
	_, err = s.db.Pool.Exec(ctx, `UPDATE locations.locations SET time_zone = $1 WHERE code = $2`, counterZone(t), counterBranch)
	require.NoError(t, err)
}

// api calls the JSON API as the holder of token and decodes a 2xx answer into out.
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
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode, string(raw)
}

// token is a development issuer token of demo user name (password grant).
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

// browser is a signed-in user of the portal: a cookie jar, as a browser keeps it.
type browser struct {
	t    *testing.T
	s    *system
	c    *http.Client
	csrf string
}

// page is one answer of the portal.
type page struct {
	Status int
	Body   string
	URL    string
	Header http.Header
}

// signIn signs user in to the call center the way a browser does: the portal sends it to
// the issuer's login page, the form is posted with the user's password, the issuer sends
// it back with a code, and the portal keeps the session in its cookie.
func (s *system) signIn(t *testing.T, user string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	b := &browser{t: t, s: s, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
	login := b.get("/call-center/")
	require.Equal(t, http.StatusOK, login.Status, "the issuer's login page: %s", login.Body)
	action := attr(t, login.Body, `<form method="post" action="`)
	form := url.Values{"username": {user}, "password": {user}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(login.Body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	u, err := url.Parse(login.URL)
	require.NoError(t, err)
	target, err := u.Parse(action)
	require.NoError(t, err)
	resp, err := b.c.PostForm(target.String(), form)
	require.NoError(t, err)
	home := b.read(resp)
	require.Equal(t, http.StatusOK, home.Status, "after signing in: %s", home.Body)
	require.Contains(t, home.URL, "/call-center/")
	b.csrf = attr(t, home.Body, `name="csrf" value="`)
	return b
}

// attr is the text after prefix up to the next quote (a form's action, a token's value).
func attr(t *testing.T, body, prefix string) string {
	t.Helper()
	i := strings.Index(body, prefix)
	require.GreaterOrEqual(t, i, 0, "no %q in the page:\n%s", prefix, body)
	rest := body[i+len(prefix):]
	return html.UnescapeString(rest[:strings.IndexByte(rest, '"')])
}

func (b *browser) read(resp *http.Response) page {
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return page{Status: resp.StatusCode, Body: string(raw), URL: resp.Request.URL.String(), Header: resp.Header}
}

// get opens path (redirects followed).
func (b *browser) get(path string) page {
	b.t.Helper()
	resp, err := b.c.Get(b.s.base + path)
	require.NoError(b.t, err)
	return b.read(resp)
}

// post sends a form from one of the portal's pages: the session's CSRF token and a
// same-origin browser's headers.
func (b *browser) post(path string, form url.Values) page {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.s.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	return b.read(resp)
}

// hidden is the value of a hidden input of a page ("" when none).
func hidden(body, name string) string {
	m := regexp.MustCompile(`<input type="hidden" name="` + regexp.QuoteMeta(name) + `" value="([^"]*)">`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}
