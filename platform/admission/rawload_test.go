package admission_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// rawLoad is a cheap load generator for BenchmarkOverloadURL: a fixed set of keep-alive
// connections, each writing one pre-built GET and reading its answer, fed send times by a
// schedule. It shares the box with the server, and net/http's client cost 80–160 µs of CPU
// per request there — at 4× a search's capacity about as much as the server had for the
// searches — and closed a connection for every timeout, so that the next request paid a
// dial and the server an accept. Here a request costs a write and a read or two. Latency counts
// from the scheduled send, so a request that waits for a free connection is late, as in an
// open loop it should be; an answer later than deadline counts as no answer (0) but the
// connection is kept, as a proxy with keep-alive would.
type rawLoad struct {
	addr     string
	request  []byte
	deadline time.Duration
}

func newRawLoad(rawURL string) (*rawLoad, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: overload-bench\r\n\r\n"
	return &rawLoad{addr: host, request: []byte(req), deadline: time.Second}, nil
}

// worker sends a request for each time next gives (when it was due), until next has none.
func (l *rawLoad) worker(next func() (time.Time, bool), r *result) {
	var conn net.Conn
	var br *bufio.Reader
	defer func() {
		if conn != nil {
			_ = conn.Close()
		}
	}()
	for due, ok := next(); ok; due, ok = next() {
		code := l.roundTrip(&conn, &br)
		took := time.Since(due)
		if code > 0 && took > l.deadline {
			code = 0 // answered, but after the caller's deadline: no goodput
		}
		r.add(code, took)
	}
}

// roundTrip sends one request on *conn (dialling when there is none) and returns the
// answer's status, or -1 when the connection failed (it is then dropped).
func (l *rawLoad) roundTrip(conn *net.Conn, br **bufio.Reader) int {
	if *conn == nil {
		c, err := net.DialTimeout("tcp", l.addr, l.deadline)
		if err != nil {
			return -1
		}
		*conn, *br = c, bufio.NewReaderSize(c, 16<<10)
	}
	fail := func() int { _ = (*conn).Close(); *conn = nil; return -1 }
	// A server that never answers must not hold the generator: ten deadlines at most.
	_ = (*conn).SetDeadline(time.Now().Add(10 * l.deadline))
	if _, err := (*conn).Write(l.request); err != nil {
		return fail()
	}
	resp, err := http.ReadResponse(*br, nil)
	if err != nil {
		return fail()
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		_ = (*conn).Close()
		*conn = nil
	}
	return resp.StatusCode
}

// openLoop sends rate requests a second for d over conns connections, and waits for the
// last answer.
func (l *rawLoad) openLoop(rate float64, d time.Duration, conns int) *result {
	r := &result{codes: map[int]int{}}
	sends := make(chan time.Time, int(rate*d.Seconds())+1)
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			l.worker(func() (time.Time, bool) { t, ok := <-sends; return t, ok }, r)
		})
	}
	start := time.Now()
	sent := 0
	for now := start; now.Sub(start) < d; now = time.Now() {
		for due := int(rate * now.Sub(start).Seconds()); sent < due; sent++ {
			sends <- start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
		}
		time.Sleep(time.Millisecond)
	}
	r.took = time.Since(start)
	r.offered = float64(sent) / r.took.Seconds()
	close(sends)
	wg.Wait()
	return r
}

// closedLoop runs n connections back to back for d.
func (l *rawLoad) closedLoop(n int, d time.Duration) *result {
	r := &result{codes: map[int]int{}}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			l.worker(func() (time.Time, bool) { return time.Now(), ctx.Err() == nil }, r)
		})
	}
	wg.Wait()
	r.took = d
	return r
}
