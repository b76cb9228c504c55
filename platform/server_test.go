package platform_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

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
