package main_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAloneOnAnEmptyDatabase starts the real binary on an empty database, as a first
// deployment would: it migrates (schema, outbox, demo customers), becomes ready, serves the
// API with its access rules, and exits 0 on SIGTERM.
func TestServesAloneOnAnEmptyDatabase(t *testing.T) {
	bin := proctest.Build(t, ".")
	issuer := startIssuer(t)
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "LOG_LEVEL=info", "OIDC_ISSUER_URL="+issuer.URL())
	proctest.WaitReady(t, p.Addr)

	call := func(user, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+p.Addr+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if user != "" {
			tok, err := issuer.TokenFor(user)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var v map[string]any
		require.NoError(t, json.Unmarshal(raw, &v), string(raw))
		return resp.StatusCode, v
	}

	status, alice := call("alice", http.MethodGet, "/api/customers/"+devissuer.CustomerAlice, "")
	require.Equal(t, http.StatusOK, status, alice)
	assert.Equal(t, "alice@example.com", alice["email"])
	assert.Equal(t, "en", alice["preferredLanguage"])
	status, _ = call("bob", http.MethodGet, "/api/customers/"+devissuer.CustomerAlice, "")
	assert.Equal(t, http.StatusNotFound, status)
	status, _ = call("", http.MethodGet, "/api/customers/"+devissuer.CustomerAlice, "")
	assert.Equal(t, http.StatusUnauthorized, status)

	status, created := call("", http.MethodPost, "/api/customers", `{"firstName":"Jana","lastName":"Vogel","email":"jana.vogel@example.de",
		"phone":"+49 341 1234567","dateOfBirth":"1993-02-11","address":{"street":"Markt 1","postalCode":"04109","city":"Leipzig"}}`)
	require.Equal(t, http.StatusCreated, status, created)
	status, found := call("carla", http.MethodGet, "/api/customers?email=JANA.VOGEL@example.de", "")
	require.Equal(t, http.StatusOK, status, found)
	assert.EqualValues(t, 1, found["total"])

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		assert.NoError(t, err, "the process must exit 0 after draining")
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit after SIGTERM")
	}
}

// startIssuer serves a development issuer over HTTP, as Keycloak would be.
func startIssuer(tb testing.TB) *devissuer.Issuer {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return iss
}
