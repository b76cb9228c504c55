package main_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

// TestSIGTERMDrainsInFlightRequests starts the real binary, puts 50 creates in flight (their
// bodies half sent), sends SIGTERM, and checks that new connections are refused, that all 50
// complete with 201 once their bodies arrive, and that the process exits 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t, locations.Migrations)
	issuer, issuerEnv := startIssuer(t)
	token, err := issuer.TokenFor("frank")
	require.NoError(t, err)
	// More in flight than admission control's default admits (48): this is about the drain.
	p := proctest.Start(t, bin, nil, "PORT=0", "DATABASE_URL="+dbURL, "LOG_LEVEL=info", issuerEnv, "ADMISSION_MAX_IN_FLIGHT=64")
	proctest.WaitReady(t, p.Addr)

	const inFlight = 50
	conns := make([]net.Conn, inFlight)
	rests := make([]string, inFlight)
	for i := range conns {
		body := fmt.Sprintf(`{"code":"TST-%03d","name":"Drain test %d","address":{"street":"Teststraße 1","postalCode":"10115","city":"Berlin"}}`, i, i)
		conn, err := net.Dial("tcp", p.Addr)
		require.NoError(t, err)
		defer conn.Close()
		head := fmt.Sprintf("POST /api/locations HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", token, len(body))
		half := len(body) / 2
		_, err = io.WriteString(conn, head+body[:half])
		require.NoError(t, err)
		conns[i], rests[i] = conn, body[half:]
	}
	// Let the server read every request's headers, so each connection counts as in flight.
	time.Sleep(300 * time.Millisecond)
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))

	// New connections are refused once the listener is closed.
	var lastErr error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", p.Addr, 2*time.Second)
		if err == nil {
			c.Close()
			continue
		}
		if lastErr = err; errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
	}
	assert.ErrorIs(t, lastErr, syscall.ECONNREFUSED, "new connections must be refused after SIGTERM")

	// The in-flight requests finish normally.
	var wg sync.WaitGroup
	statuses := make([]int, inFlight)
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := io.WriteString(conn, rests[i]); err != nil {
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		assert.Equal(t, http.StatusCreated, s, "request %d", i)
	}

	select {
	case err := <-p.Exited:
		assert.NoError(t, err, "the process must exit 0 after draining")
	case <-time.After(15 * time.Second):
		t.Fatal("the process did not exit after draining")
	}
}

// TestRefusesToStartMisconfigured checks start-up validation names the variable at fault.
func TestRefusesToStartMisconfigured(t *testing.T) {
	bin := proctest.Build(t, ".")
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"PORT=0", "OIDC_ISSUER_URL=http://issuer.test"}, "DATABASE_URL"},
		{[]string{"PORT=0", "DATABASE_URL=postgres://x@127.0.0.1:1/x"}, "OIDC_ISSUER_URL"},
		{[]string{"PORT=0", "OIDC_ISSUER_URL=http://issuer.test", "OIDC_ALGORITHMS=HS256"}, "OIDC_ALGORITHMS"},
		{[]string{"PORT=0", "DATABASE_URL=postgres://x@127.0.0.1:1/x", "DB_MAX_CONNS=0"}, "DB_MAX_CONNS"},
		{[]string{"PORT=0", "DATABASE_URL=postgres://x@127.0.0.1:1/x", "HTTP_DRAIN_TIMEOUT=soon"}, "HTTP_DRAIN_TIMEOUT"},
	}
	for _, tt := range tests {
		cmd := exec.Command(bin)
		cmd.Env = append(filterEnv(filterEnv(os.Environ(), "DATABASE_URL="), "OIDC_"), tt.env...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "started with %v", tt.env)
		assert.Equal(t, 1, cmd.ProcessState.ExitCode())
		assert.Contains(t, string(out), tt.want)
	}
}

func filterEnv(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// startIssuer serves a development issuer over HTTP, as Keycloak would be, and returns it
// with the environment entry that points a function at it.
func startIssuer(tb testing.TB) (*devissuer.Issuer, string) {
	key, err := devissuer.GenerateKey()
	require.NoError(tb, err)
	var iss *devissuer.Issuer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { iss.Handler().ServeHTTP(w, r) }))
	tb.Cleanup(srv.Close)
	iss = devissuer.New(srv.URL+devissuer.RealmPath, key)
	return iss, "OIDC_ISSUER_URL=" + iss.URL()
}
