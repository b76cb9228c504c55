package up

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// replica is one OS process of a Service: a pod of its revision.
type replica struct {
	service string
	id      int
	cmd     *exec.Cmd
	started time.Time

	addr     string        // 127.0.0.1:PORT
	ready    atomic.Bool   // /readyz answered 200 (and the replica is not draining)
	draining atomic.Bool   // SIGTERM sent: no new requests
	inFlight atomic.Int64  // requests the proxy has on it now
	served   atomic.Int64  // requests it answered, since start
	exited   chan struct{} // closed when the process ended
	exitErr  error
	readyAt  time.Time
	mu       sync.Mutex
}

// startReplica execs bin with env and PORT set to a free loopback port it picks (as
// Knative sets PORT), then probes /readyz (fast until the first 200, then every
// probeEvery), which it reports through onReady. The address does not depend on any log
// line, so LOG_LEVEL may be anything. Its stdout and stderr go to logs, line by line. The
// process dies with `orange up` (Pdeathsig).
func startReplica(ctx context.Context, service string, id int, bin string, env []string, logs io.Writer, onReady func(*replica)) (*replica, error) {
	port, err := ports.pick()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", service, err)
	}
	r := &replica{service: service, id: id, exited: make(chan struct{}), started: time.Now(), addr: "127.0.0.1:" + port}
	r.cmd = exec.Command(bin)
	r.cmd.Env = append(slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "PORT=") }), "PORT="+port)
	r.cmd.Stderr = logs
	// Its own process group: a Ctrl-C at the terminal reaches `orange up`, which drains
	// the replicas itself; Pdeathsig: a replica never outlives a killed `orange up`.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		ports.release(port)
		return nil, err
	}
	if err := r.cmd.Start(); err != nil {
		ports.release(port)
		return nil, fmt.Errorf("start %s: %w", service, err)
	}
	go func() {
		// Line by line: the replicas of a Service share one log file.
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = logs.Write(append(sc.Bytes(), '\n'))
		}
		_, _ = io.Copy(io.Discard, stdout) // a line over 1 MiB: keep the pipe flowing
		r.exitErr = r.cmd.Wait()
		r.ready.Store(false)
		ports.release(port)
		close(r.exited)
	}()
	go r.probe(ctx, onReady)
	return r, nil
}

// ports hands out the replicas' ports: free ones the kernel picks, never one a live
// replica of this run holds (the kernel may offer a port again once its probe listener
// closed). Another program could still take a port between pick and the replica's listen:
// that replica then exits and is replaced (on a new port), as any crash.
var ports = &portSet{held: map[string]bool{}}

type portSet struct {
	mu   sync.Mutex
	held map[string]bool
}

func (s *portSet) pick() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range 100 {
		// Every interface, as the replica listens (platform.ServerConfig.Host is empty).
		l, err := net.Listen("tcp", ":0")
		if err != nil {
			return "", err
		}
		_, port, _ := net.SplitHostPort(l.Addr().String())
		_ = l.Close()
		if !s.held[port] {
			s.held[port] = true
			return port, nil
		}
	}
	return "", errors.New("no free port")
}

func (s *portSet) release(port string) {
	s.mu.Lock()
	delete(s.held, port)
	s.mu.Unlock()
}

// Addr is where the replica listens (its PORT on loopback).
func (r *replica) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// probeEvery is the readiness probe's period once a replica is ready (Knative's default
// periodSeconds is 10; a local run can afford a tighter look). Before that it polls fast,
// as Knative's queue-proxy probes aggressively at start.
const probeEvery = time.Second

// failureThreshold is the readiness probe's failureThreshold (Kubernetes' default).
const failureThreshold = 3

// probe polls /readyz: fast until the first 200, then every probeEvery, marking the
// replica ready or not, until it exits.
func (r *replica) probe(ctx context.Context, onReady func(*replica)) {
	client := &http.Client{Timeout: time.Second}
	url := "http://" + r.Addr() + "/readyz"
	wait := 5 * time.Millisecond
	failures := 0
	for {
		ok := false
		if resp, err := client.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			ok = resp.StatusCode == http.StatusOK
		}
		if ok {
			failures = 0
		} else {
			failures++
		}
		was := r.ready.Load()
		// A ready replica leaves the rotation after failureThreshold failed probes in a
		// row (Kubernetes' default, 3): one slow answer on a busy machine is not an outage.
		r.ready.Store(!r.draining.Load() && (ok || (was && failures < failureThreshold)))
		if ok && !was && !r.draining.Load() {
			r.mu.Lock()
			if r.readyAt.IsZero() {
				r.readyAt = time.Now()
			}
			r.mu.Unlock()
			wait = probeEvery
			onReady(r)
		}
		select {
		case <-time.After(wait):
		case <-r.exited:
			return
		case <-ctx.Done():
			return
		}
	}
}

// stop drains the replica: no new requests, SIGTERM (it finishes what it has, then exits
// 0), SIGKILL if it is still there after grace.
func (r *replica) stop(grace time.Duration) error {
	r.draining.Store(true)
	r.ready.Store(false)
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return nil // already gone
	}
	select {
	case <-r.exited:
		return r.exitErr
	case <-time.After(grace):
		_ = r.cmd.Process.Kill()
		<-r.exited
		return fmt.Errorf("%s-%d did not exit within %s of SIGTERM", r.service, r.id, grace)
	}
}

// alive tells whether the process still runs.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}
