package callcenter_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/internal/devtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// system is the whole of `orange dev` in this process (internal/devtest): the portal and
// every function it calls, the development issuer (with its login page), the in-process
// broker.
type system struct{ *devtest.System }

// counterBranch is the branch the tests hand cars over at; its time zone is set so that
// "today" there has hours left (a handover is allowed on the pickup day only).
const counterBranch = "HAM-HBF"

func startSystem(t *testing.T) *system {
	t.Helper()
	s := &system{devtest.Start(t, pg, map[string]string{"PORTAL_SANDBOX_CARDS": "true", "RESERVATION_BRANCH_TTL": "1s"})}
	s.openBranches(t)
	return s
}

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
	devtest.OpenAroundTheClock(t, s.DB)
	_, err := s.DB.Pool.Exec(context.Background(), `UPDATE locations.locations SET time_zone = $1 WHERE code = $2`, counterZone(t), counterBranch)
	require.NoError(t, err)
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
	resp, err := b.c.Get(b.s.Base + path)
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
	req, err := http.NewRequest(http.MethodPost, b.s.Base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.Base)
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
