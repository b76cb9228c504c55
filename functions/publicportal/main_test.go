package publicportal_test

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

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/functions/publicportal"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// portalHost is where the tests' browser reaches the portal (the port of `orange dev`).
const portalHost = "portal.test"

// Seed data the tests name.
const (
	vwGolf = "f1ee0000-0000-4000-8000-000000000002" // BER-HBF KOMPAKT
	vwID3  = "f1ee0000-0000-4000-8000-000000000003" // BER-HBF KOMPAKT
)

// aroundTheClock opens every branch every day all day: the tests book at whatever hour the
// clock shows, and reservations refuses a pickup outside a branch's opening hours.
const aroundTheClock = `[{"day":"monday","opens":"00:00","closes":"24:00"},{"day":"tuesday","opens":"00:00","closes":"24:00"},` +
	`{"day":"wednesday","opens":"00:00","closes":"24:00"},{"day":"thursday","opens":"00:00","closes":"24:00"},` +
	`{"day":"friday","opens":"00:00","closes":"24:00"},{"day":"saturday","opens":"00:00","closes":"24:00"},` +
	`{"day":"sunday","opens":"00:00","closes":"24:00"}]`

// system is the portal with the real functions it calls — locations, vehicles, pricing,
// customers, reservations, payments — over one fresh database, mounted as `orange dev`
// mounts them (no broker: a booking stays pending unless a test moves it), and a browser:
// an HTTP client with a cookie jar that reaches the portal and the development issuer's
// sign-in page in-process.
type system struct {
	t       *testing.T
	db      *database.DB
	id      *authtest.Identity
	m       *host.Mounted
	browser *http.Client
}

func start(t *testing.T, env ...string) *system {
	t.Helper()
	ctx := context.Background()
	reg, err := platform.NewRegistry(locations.Function(), fleet.Function(), pricing.Function(), customers.Function(),
		reservations.Function(), payments.Function(), publicportal.Function())
	require.NoError(t, err)
	db := pg.NewDB(t, reg.Migrations()...)
	_, err = db.Pool.Exec(ctx, `UPDATE locations.locations SET opening_hours = $1::jsonb, status = 'active'`, aroundTheClock)
	require.NoError(t, err)
	id := authtest.New(t)
	for _, fn := range reg.Functions() {
		id.Issuer.AddClients(fn.Service)
	}
	id.Issuer.AddPublicClients(devissuer.PublicClient{ID: publicportal.ServiceName,
		RedirectURIs:   []string{"http://" + portalHost + "/auth/callback"},
		PostLogoutURIs: []string{"http://" + portalHost + "/"}})
	vars := map[string]string{
		"PORTAL_SANDBOX_CARDS": "true",
		"PORTAL_PUBLIC_URL":    "http://" + portalHost,
		"RESERVATION_LINK_KEY": "portal-tests-link-key-of-at-least-32-bytes",
		// Every guest of these tests books from one address.
		"RESERVATION_GUEST_HOLDS_PER_ADDRESS": "1000",
	}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	m, err := host.Mount(ctx, reg, host.MountDeps{
		DB: db, Logger: platform.NewLogger(testLog{t}, "error", "portal"), Auth: id.Config, KeyClient: id.KeyClient,
		Events: id.Events, EventKeyClient: id.KeyClient, ClientSecret: devissuer.ClientSecret, CallTimeout: 5 * time.Second,
		Env: host.Env{Lookuper: envconfig.MapLookuper(vars)},
	})
	require.NoError(t, err)
	web := platform.NewTransport(nil, nil)
	web.Mount(portalHost, platform.Observe(platform.NewLogger(testLog{t}, "error", "portal"), m.Handler))
	u, _ := url.Parse(authtest.IssuerURL)
	web.Mount(u.Hostname(), id.Issuer.Handler())
	jar, _ := cookiejar.New(nil)
	return &system{t: t, db: db, id: id, m: m, browser: &http.Client{Transport: web, Jar: jar, Timeout: 20 * time.Second}}
}

// page is an answer as the browser got it, after any redirects.
type page struct {
	status int
	url    string
	body   string
	header http.Header
}

func (s *system) do(req *http.Request) page {
	s.t.Helper()
	resp, err := s.browser.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return page{status: resp.StatusCode, url: resp.Request.URL.RequestURI(), body: string(b), header: resp.Header}
}

// get opens path (with its query) in the browser.
func (s *system) get(path string) page {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+portalHost+path, nil)
	require.NoError(s.t, err)
	req.Header.Set("Accept-Language", "en")
	return s.do(req)
}

// post submits a form to path as the page from would: with that page's CSRF token.
func (s *system) post(from page, path string, form url.Values) page {
	s.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", csrfOf(s.t, from))
	}
	req, err := http.NewRequest(http.MethodPost, "http://"+portalHost+path, strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "en")
	return s.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	require.NotNil(t, m, "the page %s has no CSRF field", p.url)
	return html.UnescapeString(m[1])
}

// signIn signs user in through the development issuer's login page, as a person would.
func (s *system) signIn(user string) {
	s.t.Helper()
	login := s.get("/auth/login?next=/my-bookings")
	require.Equal(s.t, http.StatusOK, login.status, login.body)
	action := regexp.MustCompile(`<form method="post" action="([^"]+)"`).FindStringSubmatch(login.body)
	require.NotNil(s.t, action, "no login form: %s", login.body)
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(login.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("username", user)
	form.Set("password", user)
	target, err := url.Parse(html.UnescapeString(action[1]))
	require.NoError(s.t, err)
	if target.Host == "" {
		u, _ := url.Parse(authtest.IssuerURL)
		target.Scheme, target.Host = "http", u.Host
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	p := s.do(req)
	require.Equal(s.t, http.StatusOK, p.status, p.body)
	require.Equal(s.t, "/my-bookings", p.url)
}

// trip is a search's period: pickup in 10 days at 10:00 Berlin time, for three days.
func trip() (pickup, ret string) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	d := time.Now().In(berlin).AddDate(0, 0, 10)
	start := time.Date(d.Year(), d.Month(), d.Day(), 10, 0, 0, 0, berlin)
	return start.Format("2006-01-02T15:04"), start.AddDate(0, 0, 3).Format("2006-01-02T15:04")
}

// count is the number of rows of query.
func (s *system) count(query string, args ...any) int {
	s.t.Helper()
	var n int
	require.NoError(s.t, s.db.Pool.QueryRow(context.Background(), query, args...).Scan(&n))
	return n
}

// testLog writes the functions' error logs into the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// otherBrowser is another person's browser on the same system: no cookie of this one's.
func (s *system) otherBrowser() *system {
	jar, _ := cookiejar.New(nil)
	o := *s
	o.browser = &http.Client{Transport: s.browser.Transport, Jar: jar, Timeout: s.browser.Timeout}
	return &o
}
