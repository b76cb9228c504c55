package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAlone starts the real binary as its Knative Service would run: it migrates its
// schema, prices a quote from the seed rates, refuses an anonymous policy read, and exits 0
// on SIGTERM.
func TestServesAlone(t *testing.T) {
	bin := proctest.Build(t, ".")
	issuer := startIssuer(t)
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "LOG_LEVEL=info", "OIDC_ISSUER_URL="+issuer.URL())
	proctest.WaitReady(t, p.Addr)

	// KOMPAKT for 3 days: 3 × 3999 = 11997 net, VAT 2279.43 → 2279, gross 14276.
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	body := fmt.Sprintf(`{"pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"category":"KOMPAKT"}`,
		pickup.Format(time.RFC3339), pickup.Add(72*time.Hour).Format(time.RFC3339))
	resp, err := http.Post("http://"+p.Addr+"/api/pricing/quotes", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	var q pricing.Quote
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&q))
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []int64{11997, 2279, 14276}, []int64{q.NetCents, q.VATCents, q.GrossCents})

	resp, err = http.Get("http://" + p.Addr + "/api/pricing/policies")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	resp, err = http.Get("http://" + p.Addr + "/openapi.json")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		assert.NoError(t, err, "the process must exit 0 after draining")
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit after SIGTERM")
	}
}

// TestRefusesToStartWithoutADatabase checks start-up validation names the variable at fault.
func TestRefusesToStartWithoutADatabase(t *testing.T) {
	bin := proctest.Build(t, ".")
	cmd := exec.Command(bin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "OIDC_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PORT=0", "OIDC_ISSUER_URL=http://issuer.test")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	assert.Contains(t, string(out), "DATABASE_URL")
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
