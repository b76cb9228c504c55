package platform_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

// startServer binds a server on a free port and serves h until the returned cancel is called.
// wait returns Serve's result, or an error if Serve has not returned within 5 s.
func startServer(t *testing.T, cfg platform.ServerConfig, h http.Handler) (addr string, cancel context.CancelFunc, wait func() error) {
	t.Helper()
	srv, err := platform.NewServer(cfg)
	require.NoError(t, err)
	port := srv.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithCancel(platform.WithLogger(context.Background(), platform.NewLogger(io.Discard, "error", "")))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx, h) }()
	wait = sync.OnceValue(func() error {
		select {
		case err := <-errc:
			return err
		case <-time.After(5 * time.Second):
			return errServeHung
		}
	})
	t.Cleanup(func() {
		cancel()
		if err := wait(); errors.Is(err, errServeHung) {
			t.Error(err)
		}
	})
	return "127.0.0.1:" + strconv.Itoa(port), cancel, wait
}

var errServeHung = errors.New("Serve did not return within 5s")

func TestNewServerBindsEagerly(t *testing.T) {
	t.Parallel()
	srv, err := platform.NewServer(platform.ServerConfig{Port: "0", ReadHeaderTimeout: time.Second, DrainTimeout: time.Second})
	require.NoError(t, err)
	port := srv.Addr().(*net.TCPAddr).Port
	require.NotZero(t, port, "port 0 picks a real port")

	// Before Serve: the port is already bound (a connect succeeds, queued in the backlog) and
	// nobody else may take it.
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
	require.NoError(t, err)
	_ = conn.Close()
	_, err = platform.NewServer(platform.ServerConfig{Port: strconv.Itoa(port)})
	require.Error(t, err, "a second server on the same port must fail")
	assert.Contains(t, err.Error(), strconv.Itoa(port))

	// And the bound listener is the one that serves.
	ctx, cancel := context.WithCancel(platform.WithLogger(context.Background(), platform.NewLogger(io.Discard, "error", "")))
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "served")
		}))
	}()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "served", string(body))
	cancel()
	require.NoError(t, <-errc)
}

func TestNewServerBadPort(t *testing.T) {
	t.Parallel()
	_, err := platform.NewServer(platform.ServerConfig{Port: "not-a-port"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not-a-port")
}

func TestServeDrains(t *testing.T) {
	t.Parallel()
	const n = 6
	entered := make(chan struct{}, n)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		// The request context must survive the shutdown: handlers finish their work.
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "done")
	})
	addr, cancel, wait := startServer(t, platform.ServerConfig{Port: "0", ReadHeaderTimeout: time.Second, DrainTimeout: 10 * time.Second}, h)
	served := make(chan error, 1)
	go func() { served <- wait() }()

	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)
	type result struct {
		status int
		body   string
		err    error
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			resp, err := client.Get("http://" + addr + "/slow")
			if err != nil {
				results <- result{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			results <- result{status: resp.StatusCode, body: string(b), err: err}
		})
	}
	for range n {
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("requests did not reach the handler")
		}
	}

	cancel()
	// Once draining, the listener is closed: new connections are refused, while the n
	// requests are still in their handlers.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	}, 5*time.Second, 10*time.Millisecond, "new connections must be refused once draining")
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before in-flight requests finished", err)
	case <-time.After(50 * time.Millisecond):
	}

	close(release)
	wg.Wait()
	close(results)
	for r := range results {
		require.NoError(t, r.err)
		assert.Equal(t, http.StatusOK, r.status, r.body)
		assert.Equal(t, "done", r.body)
	}
	require.NoError(t, <-served, "Serve returns nil after a complete drain")
}

func TestServeDrainTimeout(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	addr, cancel, wait := startServer(t, platform.ServerConfig{Port: "0", ReadHeaderTimeout: time.Second, DrainTimeout: 150 * time.Millisecond}, h)
	go func() {
		if resp, err := (&http.Client{Transport: &http.Transport{}}).Get("http://" + addr + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	start := time.Now()
	cancel()
	err := wait()
	require.NotErrorIs(t, err, errServeHung, "Serve ignored the drain timeout")
	require.Error(t, err, "a drain that times out is reported")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 3*time.Second)
}

func TestServeReadHeaderTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		send string
	}{
		{name: "nothing sent"},
		{name: "partial request line and headers", send: "GET / HTTP/1.1\r\nHost: x\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, _, _ := startServer(t, platform.ServerConfig{Port: "0", ReadHeaderTimeout: 100 * time.Millisecond, DrainTimeout: time.Second},
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			if tc.send != "" {
				_, err = io.WriteString(conn, tc.send)
				require.NoError(t, err)
			}
			// Our own deadline is far beyond the server's: hitting it means no timeout is set.
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(3*time.Second)))
			start := time.Now()
			_, err = io.ReadAll(bufio.NewReader(conn))
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept a header-less connection open: %v", err)
			assert.Less(t, time.Since(start), 2*time.Second)
		})
	}
}

// serverFromEnv loads a ServerConfig from env (on free port 0) the way every host does, so
// that a setting the server does not know is simply not applied.
func serverFromEnv(t *testing.T, env map[string]string) platform.ServerConfig {
	t.Helper()
	full := map[string]string{"PORT": "0"}
	for k, v := range env {
		full[k] = v
	}
	var cfg platform.ServerConfig
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(full), &cfg))
	return cfg
}

// TestServeSlowBodyIs408 is the slow-body attack of issue 11: a POST whose body trickles in
// at one byte every five seconds. It used to hold its connection (and its handler) with no
// answer after 45 s; now the read timeout ends it with a 408 problem and a closed connection,
// whatever the handler makes of the failed read.
func TestServeSlowBodyIs408(t *testing.T) {
	t.Parallel()
	handlers := map[string]http.HandlerFunc{
		// A function's handler: DecodeJSON reports the failed read as a 400 of its own.
		"a JSON handler": func(w http.ResponseWriter, r *http.Request) {
			var v map[string]any
			if err := platform.DecodeJSON(w, r, &v, 0); err != nil {
				platform.WriteError(w, r, err)
				return
			}
			_ = platform.WriteJSON(w, http.StatusCreated, v)
		},
		// The gateway's proxy: a caller whose request context ended gets no answer from it.
		"a handler that answers nothing once its context ends": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
		},
	}
	for name, h := range handlers {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", name, chunked), func(t *testing.T) {
				t.Parallel()
				cfg := serverFromEnv(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "200ms", "HTTP_READ_TIMEOUT": "400ms", "HTTP_WRITE_TIMEOUT": "3s"})
				addr, _, _ := startServer(t, cfg, platform.Observe(platform.NewLogger(io.Discard, "error", ""), h))
				conn, err := net.Dial("tcp", addr)
				require.NoError(t, err)
				defer conn.Close()

				head := "POST /api/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
				if chunked {
					head += "Transfer-Encoding: chunked\r\n\r\n1\r\n{\r\n"
				} else {
					head += "Content-Length: 100\r\n\r\n{"
				}
				start := time.Now()
				_, err = io.WriteString(conn, head)
				require.NoError(t, err)
				// The rest trickles in: one byte every five seconds, until the test ends.
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					tick := time.NewTicker(5 * time.Second)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							b := " "
							if chunked {
								b = "1\r\n \r\n"
							}
							if _, err := io.WriteString(conn, b); err != nil {
								return
							}
						}
					}
				}()

				require.NoError(t, conn.SetReadDeadline(time.Now().Add(4*time.Second)))
				br := bufio.NewReader(conn)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err, "no answer to a slow body within 4 s")
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Less(t, time.Since(start), 2*time.Second, "the answer must come at the read timeout")
				require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "body: %s", body)
				assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
				assert.NotEmpty(t, resp.Header.Get(platform.RequestIDHeader), "the caller can quote the request id")
				var p platform.Problem
				require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
				assert.Equal(t, http.StatusRequestTimeout, p.Status)
				assert.Equal(t, resp.Header.Get(platform.RequestIDHeader), p.RequestID)
				assert.True(t, resp.Close, "the connection is closed after a 408")
				_, err = br.ReadByte()
				assert.ErrorIs(t, err, io.EOF, "the server closed the connection")
			})
		}
	}
}

// TestServeBodyInTimeIsServed: a body that arrives in pieces, but within the read timeout,
// is served normally.
func TestServeBodyInTimeIsServed(t *testing.T) {
	t.Parallel()
	cfg := serverFromEnv(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "500ms", "HTTP_READ_TIMEOUT": "2s", "HTTP_WRITE_TIMEOUT": "3s"})
	addr, _, _ := startServer(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := platform.DecodeJSON(w, r, &v, 0); err != nil {
			platform.WriteError(w, r, err)
			return
		}
		_ = platform.WriteJSON(w, http.StatusCreated, v)
	}))
	pr, pw := io.Pipe()
	go func() {
		for _, part := range []string{`{"a"`, `:`, `1}`} {
			time.Sleep(100 * time.Millisecond)
			_, _ = io.WriteString(pw, part)
		}
		_ = pw.Close()
	}()
	resp, err := http.Post("http://"+addr+"/", "application/json", pr)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "body: %s", body)
	assert.JSONEq(t, `{"a":1}`, string(body))
}

// TestServeClosesIdleConnections: a keep-alive connection that sends nothing after its
// answer is closed after the idle timeout (it used to stay open forever).
func TestServeClosesIdleConnections(t *testing.T) {
	t.Parallel()
	cfg := serverFromEnv(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "1s", "HTTP_READ_TIMEOUT": "1s", "HTTP_WRITE_TIMEOUT": "2s", "HTTP_IDLE_TIMEOUT": "300ms"})
	addr, _, _ := startServer(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.False(t, resp.Close, "the connection is kept alive after the answer")

	idleSince := time.Now()
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the idle connection must be closed by the server, not by our 5 s deadline")
	assert.Less(t, time.Since(idleSince), 3*time.Second)
	assert.GreaterOrEqual(t, time.Since(idleSince), 250*time.Millisecond, "not before the idle timeout")
}

// TestServeWriteTimeout: the write timeout ends a handler's answer that comes later than it
// (which is why it must exceed Knative's timeoutSeconds); an answer in time is served.
func TestServeWriteTimeout(t *testing.T) {
	t.Parallel()
	cfg := serverFromEnv(t, map[string]string{"HTTP_READ_HEADER_TIMEOUT": "100ms", "HTTP_READ_TIMEOUT": "200ms", "HTTP_WRITE_TIMEOUT": "500ms"})
	addr, _, _ := startServer(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, _ := time.ParseDuration(r.URL.Query().Get("sleep"))
		time.Sleep(d)
		_, _ = io.WriteString(w, "done")
	}))
	client := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(client.CloseIdleConnections)

	resp, err := client.Get("http://" + addr + "/?sleep=50ms")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "done", string(body))

	resp, err = client.Get("http://" + addr + "/?sleep=900ms")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.Error(t, err, "an answer after the write timeout does not reach the caller")
}

// TestNewServerHost: an empty host listens on every interface (a container); a loopback
// host on loopback only (`orange dev`).
func TestNewServerHost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		host     string
		loopback bool
	}{{"", false}, {"127.0.0.1", true}} {
		srv, err := platform.NewServer(platform.ServerConfig{Port: "0", Host: tc.host})
		require.NoError(t, err)
		ip := srv.Addr().(*net.TCPAddr).IP
		if tc.loopback {
			assert.True(t, ip.IsLoopback(), "listening on %s", ip)
		} else {
			assert.True(t, ip.IsUnspecified(), "listening on %s", ip)
		}
		require.NoError(t, srv.Close())
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		remote string
		header string
		want   string
	}{
		{"the peer", "203.0.113.5:4000", "", "203.0.113.5"},
		{"the gateway's header", "127.0.0.1:4000", "198.51.100.7", "198.51.100.7"},
		{"an IPv6 header", "127.0.0.1:4000", "2001:db8::7", "2001:db8::7"},
		{"an IPv4-mapped header", "127.0.0.1:4000", "::ffff:198.51.100.7", "198.51.100.7"},
		{"a header that is no address is ignored", "127.0.0.1:4000", "evil, 1.2.3.4", "127.0.0.1"},
		{"in-process", "in-process", "", "in-process"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, "/", nil)
			require.NoError(t, err)
			req.RemoteAddr = tc.remote
			if tc.header != "" {
				req.Header.Set(platform.ClientAddressHeader, tc.header)
			}
			assert.Equal(t, tc.want, platform.ClientAddress(req))
		})
	}
}

// TestServeRefusesBeforeAcceptWakes is the drain on a busy machine: the goroutine blocked in
// Accept has not run again since SIGTERM (here: the test holds the listener's descriptor,
// as that goroutine does), while in-flight requests are answered with "Connection: close".
// A client that then reconnects must be refused — not queued by the kernel and reset once
// the descriptor finally closes, a failure no client retries.
func TestServeRefusesBeforeAcceptWakes(t *testing.T) {
	t.Parallel()
	srv, err := platform.NewServer(platform.ServerConfig{Port: "0", ReadHeaderTimeout: time.Second, DrainTimeout: 10 * time.Second})
	require.NoError(t, err)
	addr := srv.Addr().String()
	entered, release := make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(platform.WithLogger(context.Background(), platform.NewLogger(io.Discard, "error", "")))
	defer cancel()
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(entered)
			<-release
			_, _ = io.WriteString(w, "done")
		}))
	}()
	answer := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		answer <- err
	}()
	<-entered

	raw, err := platform.ListenerOf(srv).(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	held, unhold := make(chan struct{}), make(chan struct{})
	go func() { _ = raw.Control(func(uintptr) { close(held); <-unhold }) }()
	<-held
	defer close(unhold)

	cancel()
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return errors.Is(err, syscall.ECONNREFUSED)
		}
		_ = c.Close()
		return false
	}, 5*time.Second, 10*time.Millisecond, "a draining server must refuse new connections while its descriptor is still open")

	close(release)
	require.NoError(t, <-answer, "the in-flight request is answered")
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while the listener's descriptor was held", err)
	case <-time.After(20 * time.Millisecond):
	}
}
