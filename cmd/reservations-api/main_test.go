package main_test

import (
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

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestServesAlone starts the real binary: it becomes ready, serves its document and takes a
// PingSource's event at /cloudevents, and exits 0 on SIGTERM.
func TestServesAlone(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t, reservations.Migrations)
	issuerEnv := startIssuer(t)
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+dbURL, "LOG_LEVEL=info", issuerEnv, "RESERVATION_HOLD=10m")
	proctest.WaitReady(t, p.Addr)

	resp, err := http.Get("http://" + p.Addr + "/api/reservations/openapi.json")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	req, err := http.NewRequest(http.MethodPost, "http://"+p.Addr+events.ReceivePath, strings.NewReader(`{}`))
	require.NoError(t, err)
	for k, v := range map[string]string{"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "ping-1",
		"ce-source": "/apis/v1/namespaces/orange/pingsources/reservations-sweep", "ce-type": events.Ping} {
		req.Header.Set(k, v)
	}
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)

	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		assert.NoError(t, err)
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit")
	}
}

// TestRefusesToStartMisconfigured checks start-up validation names the variable at fault.
func TestRefusesToStartMisconfigured(t *testing.T) {
	bin := proctest.Build(t, ".")
	base := []string{"PORT=0", "DATABASE_URL=" + pg.NewDatabaseURL(t, reservations.Migrations), startIssuer(t)}
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{append(base, "RESERVATION_HOLD=1s"), "RESERVATION_HOLD"},
		{append(base, "RESERVATION_HOLD=soon"), "RESERVATION_HOLD"},
		{append(base, "RESERVATION_CALL_TIMEOUT=0s"), "RESERVATION_CALL_TIMEOUT"},
	} {
		cmd := exec.Command(bin)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "OIDC_") && !strings.HasPrefix(kv, "RESERVATION_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, tt.env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "started with %v", tt.env)
		assert.Contains(t, string(out), tt.want)
	}
}

func startIssuer(tb testing.TB) string {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return "OIDC_ISSUER_URL=" + iss.URL()
}
