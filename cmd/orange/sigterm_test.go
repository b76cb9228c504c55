package main_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/proctest"
)

// TestSIGTERMUnderLoadEveryFunction is locations-api's drain test (cmd/locations-api)
// generalized to every standalone binary ko builds (cmd/<service>): each serves a steady
// load from several keep-alive clients when it gets SIGTERM. Every request it accepted is
// answered with success — the success fraction of accepted requests is 1.000 — and it exits
// 0; a request it did not accept fails to connect (connection refused), which is the
// load balancer's business, not a lost request.
func TestSIGTERMUnderLoadEveryFunction(t *testing.T) {
	t.Parallel()
	key, err := devissuer.GenerateKey()
	require.NoError(t, err)
	var issuer *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { issuer.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	issuer = devissuer.New(srv.URL+devissuer.RealmPath, key)
	token := func(user string) string {
		tok, err := issuer.TokenFor(user)
		require.NoError(t, err)
		return tok
	}
	common := func(t *testing.T) []string {
		return []string{"PORT=0", "LOG_LEVEL=info", "OIDC_ISSUER_URL=" + issuer.URL(), "DATABASE_URL=" + pg.NewDatabaseURL(t)}
	}

	for _, tc := range []struct {
		service, path, user string
		env                 func(t *testing.T) []string
	}{
		{service: "locations-api", path: "/api/locations"},
		{service: "pricing-api", path: "/api/pricing/catalogue"},
		{service: "customers-api", path: "/api/customers/" + devissuer.CustomerAlice, user: "alice"},
		{service: "vehicles-api", path: "/api/vehicles/f1ee0000-0000-4000-8000-000000000002"},
		{service: "payments-api", path: "/api/payments?reservation=" + devissuer.CustomerAlice, user: "carla"},
		{service: "reservations-api", path: "/api/reservations", user: "carla"},
		{service: "dead-letter", path: "/api/dead-letters", user: "ada"},
		{service: "cleanup-worker", path: "/api/cleanup/runs", user: "ada"},
		{service: "sync-worker", path: "/api/webhooks", user: "ada"},
		{service: "report-worker", path: "/api/reports?from=2026-11&to=2026-11", user: "frank"},
		{service: "notifications-api", path: "/api/notifications", user: "carla"},
		// Every page of the call center needs a session (a signed-out GET is a redirect to
		// sign in): the load reads the portal's readiness, served and drained alike.
		{service: "call-center-portal", path: "/readyz",
			env: func(t *testing.T) []string {
				return []string{"PORTAL_SESSION_KEYS=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
			}},
		// The public portal's guest page that asks for a manage link's token is a whole page
		// rendered without calling any API: the load reads it.
		{service: "public-portal", path: "/manage-booking?reservation=" + devissuer.CustomerAlice,
			env: func(t *testing.T) []string {
				return []string{"PORTAL_SESSION_KEYS=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
			}},
		{service: "notification-worker", path: "/dev/mail",
			env: func(t *testing.T) []string { return []string{"MAIL_MODE=folder", "MAIL_DIR=" + t.TempDir()} }},
		// The gateway forwards to a real locations-api of its own.
		{service: "api-gateway", path: "/api/locations", env: func(t *testing.T) []string {
			up := proctest.Start(t, proctest.Build(t, "../locations-api"), nil, common(t)...)
			proctest.WaitReady(t, up.Addr)
			return []string{"LOCATIONS_API_URL=http://" + up.Addr,
				"RATE_LIMIT_ADDRESS_RPS=100000", "RATE_LIMIT_ADDRESS_BURST=100000", "RATE_LIMIT_RPS=100000", "RATE_LIMIT_BURST=100000"}
		}},
	} {
		t.Run(tc.service, func(t *testing.T) {
			t.Parallel()
			bin := proctest.Build(t, "../"+tc.service)
			env := common(t)
			if tc.env != nil {
				env = append(env, tc.env(t)...)
			}
			p := proctest.Start(t, bin, nil, env...)
			proctest.WaitReady(t, p.Addr)
			var auth string
			if tc.user != "" {
				auth = "Bearer " + token(tc.user)
			}
			get := func(c *http.Client) (int, error) {
				req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+tc.path, nil)
				if err != nil {
					return 0, err
				}
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := c.Do(req)
				if err != nil {
					return 0, err
				}
				defer resp.Body.Close()
				// Read to the end, so that the connection is kept for the next request.
				_, err = io.Copy(io.Discard, resp.Body)
				return resp.StatusCode, err
			}
			code, err := get(http.DefaultClient)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code, "%s %s", tc.service, tc.path)

			// The load: each client reuses its connections (keep-alive); a GET the server
			// closed unread as idle is retried by the transport, and ends refused.
			const clients = 8
			var ok, failed, afterSignal atomic.Int64
			var signalled atomic.Bool
			var firstFailure atomic.Value
			var load sync.WaitGroup
			for range clients {
				load.Go(func() {
					c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2}}
					for {
						code, err := get(c)
						switch {
						case errors.Is(err, syscall.ECONNREFUSED):
							return // not accepted: the listener is closed
						case err != nil || code != http.StatusOK:
							failed.Add(1)
							firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, error %v", code, err))
							if err != nil {
								return
							}
						default:
							ok.Add(1)
							if signalled.Load() {
								afterSignal.Add(1)
							}
						}
					}
				})
			}
			require.Eventually(t, func() bool { return ok.Load() >= 200 }, 30*time.Second, 5*time.Millisecond, "the load did not run")
			signalled.Store(true)
			require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
			select {
			case err := <-p.Exited:
				assert.NoError(t, err, "%s must exit 0 after draining", tc.service)
			case <-time.After(30 * time.Second):
				t.Fatalf("%s did not exit after SIGTERM", tc.service)
			}
			load.Wait()
			accepted := ok.Load() + failed.Load()
			t.Logf("%s: %d accepted requests, success fraction %.3f, %d answered after SIGTERM", tc.service,
				accepted, float64(ok.Load())/float64(accepted), afterSignal.Load())
			assert.Zero(t, failed.Load(), "accepted requests that failed; the first: %v", firstFailure.Load())
		})
	}
}
