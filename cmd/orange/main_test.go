package main_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/pgtest"
	"github.com/orangecarrental/orange/platform/proctest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) {
	defer proctest.Cleanup()
	pgtest.Main(m, &pg)
}

func stop(t *testing.T, p *proctest.Process) {
	t.Helper()
	require.NoError(t, p.Cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.Exited:
		require.NoError(t, err, "orange dev must exit 0 on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("orange dev did not exit after SIGTERM")
	}
}

// TestDevKeepsDataAcrossRestarts is the make-run acceptance: with no DATABASE_URL, `orange
// dev` starts its own PostgreSQL under the data folder, serves the seed branches, exits 0 on
// SIGTERM, and a branch created before a restart is there after it.
func TestDevKeepsDataAcrossRestarts(t *testing.T) {
	bin := proctest.Build(t, ".")
	dataDir, err := os.MkdirTemp("", "orange-dev-test-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dataDir) })
	env := []string{"PORT=0", "DATABASE_URL=", "ORANGE_DATA_DIR=" + dataDir}

	p := proctest.Start(t, bin, []string{"dev"}, env...)
	proctest.WaitReady(t, p.Addr)
	resp, err := http.Get("http://" + p.Addr + "/api/locations")
	require.NoError(t, err)
	var list struct{ Count int }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&list))
	resp.Body.Close()
	assert.Equal(t, 5, list.Count)

	body := `{"code":"LEJ-HBF","name":"Leipzig Hauptbahnhof","address":{"street":"Willy-Brandt-Platz 5","postalCode":"04109","city":"Leipzig"}}`
	create := func(user string) int {
		req, err := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/api/locations", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.Header.Set("Authorization", "Bearer "+devToken(t, p.Addr, user))
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusUnauthorized, create(""))
	assert.Equal(t, http.StatusForbidden, create("alice"))
	require.Equal(t, http.StatusCreated, create("frank"))

	// Registering a customer puts exactly one welcome email in the local mailbox: outbox →
	// relay → in-process broker → the notification-worker Trigger of knative/base → inbox →
	// mail folder.
	reg := `{"type":"individual","firstName":"Eva","lastName":"Neu","email":"eva.neu@example.com","phone":"+49 30 1234567",
		"dateOfBirth":"1990-05-01","address":{"street":"Hauptstraße 1","postalCode":"10115","city":"Berlin","country":"DE"},"preferredLanguage":"de"}`
	resp, err = http.Post("http://"+p.Addr+"/api/customers", "application/json", strings.NewReader(reg))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Eventually(t, func() bool { return mailsTo(t, p.Addr, "eva.neu@example.com") >= 1 }, 20*time.Second, 50*time.Millisecond,
		"no welcome email arrived")
	time.Sleep(500 * time.Millisecond) // a duplicate would be sent by now
	assert.Equal(t, 1, mailsTo(t, p.Addr, "eva.neu@example.com"))
	stop(t, p)

	p = proctest.Start(t, bin, []string{"dev"}, env...)
	proctest.WaitReady(t, p.Addr)
	resp, err = http.Get("http://" + p.Addr + "/api/locations/LEJ-HBF")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the branch created before the restart is gone")
	stop(t, p)
}

// devToken gets a token the way the README shows: the password grant of the development
// issuer that `orange dev` serves (each demo user's password is its name).
func devToken(t *testing.T, addr, user string) string {
	t.Helper()
	resp, err := http.PostForm("http://"+addr+"/realms/orange-car-rental/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {user}, "password": {user}})
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

// mailsTo counts the mails in the dev mailbox addressed to email.
func mailsTo(t *testing.T, addr, email string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/dev/mail")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var box struct {
		Items []struct{ To string }
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&box))
	n := 0
	for _, m := range box.Items {
		if strings.Contains(m.To, "<"+email+">") {
			n++
		}
	}
	return n
}

func TestMigrateAppliesOnce(t *testing.T) {
	bin := proctest.Build(t, ".")
	url := pg.NewDatabaseURL(t)
	// The first run applies every schema's migrations (how many changes as they are added),
	// the second none.
	for i, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^locations: [1-9][0-9]* migration\(s\) applied$`),
		regexp.MustCompile(`(?m)^locations: 0 migration\(s\) applied$`),
	} {
		cmd := exec.Command(bin, "migrate")
		cmd.Env = append(os.Environ(), "DATABASE_URL="+url)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "run %d: %s", i, out)
		assert.Regexp(t, want, string(out), "run %d", i)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	bin := proctest.Build(t, ".")
	for _, args := range [][]string{{}, {"fly"}, {"serve"}, {"serve", "no-such-api"}, {"dev", "--port=9090"}, {"serve", "pricing-api", "extra"}} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "orange %v: %s", args, out)
		assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	}
}

// TestHelpStartsNothing: asking a command for help prints its usage and exits 0 — `orange dev
// -h` once started the whole system, a PostgreSQL included.
func TestHelpStartsNothing(t *testing.T) {
	bin := proctest.Build(t, ".")
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"-h"}, "usage: orange <command>"},
		{[]string{"dev", "-h"}, "ORANGE_DATA_DIR"},
		{[]string{"dev", "--help"}, "ORANGE_LISTEN"},
		{[]string{"serve", "-h"}, "reservations-api"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Dir = t.TempDir() // a start would leave .data here
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "orange %v: %s", tc.args, out)
		assert.Contains(t, string(out), tc.says, "orange %v", tc.args)
		entries, err := os.ReadDir(cmd.Dir)
		require.NoError(t, err)
		assert.Empty(t, entries, "orange %v wrote files: it started something", tc.args)
	}
}

// nonLoopbackIP returns an address of this machine that other machines could reach, or ""
// when it has none.
func nonLoopbackIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// devPageRequests are requests a page of another site would make to steal from `orange dev`
// by DNS rebinding: an admin's token from the known-password issuer, a cluster token for
// any service account, the mailbox, a forged event at the ingress.
func devPageRequests(t *testing.T, addr, host string) map[string]*http.Request {
	t.Helper()
	form := func(path string, v url.Values) *http.Request {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+path, strings.NewReader(v.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	get := func(path string) *http.Request {
		req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		require.NoError(t, err)
		return req
	}
	reqs := map[string]*http.Request{
		"an admin's token": form("/realms/orange-car-rental/protocol/openid-connect/token",
			url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {"ada"}, "password": {"ada"}}),
		"a cluster token": form("/dev/cluster-issuer/token",
			url.Values{"namespace": {"orange"}, "serviceAccount": {"payments-api"}, "audience": {"eventing.knative.dev/broker/orange/default"}}),
		"the mailbox":     get("/dev/mail"),
		"the broker page": get("/dev/broker"),
		"the ingress":     form("/broker/orange/default", url.Values{}),
	}
	for _, r := range reqs {
		r.Host = host
	}
	return reqs
}

// TestDevIsLocalOnly is the `orange dev` finding of issue 11: it listened on every interface,
// with a known-password issuer and an open mailbox, and answered any Host. Now it listens on
// 127.0.0.1, and its development pages refuse a foreign Host (DNS rebinding) while the API
// does not care.
func TestDevIsLocalOnly(t *testing.T) {
	bin := proctest.Build(t, ".")
	p := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir())
	proctest.WaitReady(t, p.Addr)
	_, port, err := net.SplitHostPort(p.Addr)
	require.NoError(t, err)

	if ip := nonLoopbackIP(t); ip != "" {
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip, port), 2*time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "orange dev must not be reachable from other machines at %s", ip)
	} else {
		t.Log("no non-loopback address on this machine: the listening address is not checked from outside")
	}

	for name, req := range devPageRequests(t, p.Addr, "rebind.attacker.example:"+port) {
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s through a rebound name: %s", name, body)
		assert.NotContains(t, string(body), "access_token", name)
		assert.NotContains(t, string(body), `"token"`, name)
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		for name, req := range devPageRequests(t, p.Addr, host) {
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.NotEqual(t, http.StatusForbidden, resp.StatusCode, "%s with Host %s", name, host)
		}
	}
	api, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+"/api/locations", nil)
	require.NoError(t, err)
	api.Host = "api.orange.example"
	resp, err := http.DefaultClient.Do(api)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the API is not a development page")
	stop(t, p)
}

// TestDevExposedOnPurpose: ORANGE_LISTEN=0.0.0.0 exposes `orange dev` to the network, says so
// in a warning, and lets the development pages answer other Host names.
func TestDevExposedOnPurpose(t *testing.T) {
	bin := proctest.Build(t, ".")
	cmd := exec.Command(bin, "dev")
	cmd.Env = append(os.Environ(), "PORT=0", "ORANGE_LISTEN=0.0.0.0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var warned bool
	var addr string
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for addr == "" && sc.Scan() {
		var line struct{ Level, Msg, Addr, Listen string }
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		if line.Level == "WARN" && strings.Contains(line.Msg, "ORANGE_LISTEN") && line.Listen == "0.0.0.0" {
			warned = true
		}
		if line.Msg == "serving" {
			addr = line.Addr
		}
	}
	require.NotEmpty(t, addr, "orange dev did not start serving")
	go func() { _, _ = io.Copy(io.Discard, out) }()
	assert.True(t, warned, "exposing orange dev is logged as a warning")
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	assert.True(t, net.ParseIP(host).IsUnspecified(), "listening on %s", host)
	local := "127.0.0.1:" + port
	proctest.WaitReady(t, local)
	if ip := nonLoopbackIP(t); ip != "" {
		proctest.WaitReady(t, net.JoinHostPort(ip, port))
	}
	req, err := http.NewRequest(http.MethodGet, "http://"+local+"/dev/mail", nil)
	require.NoError(t, err)
	req.Host = "devbox.lan:" + port
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "exposed on purpose, the pages answer other names")
}
