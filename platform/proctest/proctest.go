// Package proctest runs the project's real binaries in tests: build once per test binary,
// exec with an environment, learn the address from the "serving" log line, poll /readyz.
package proctest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildMu sync.Mutex
	built   = map[string]string{}
	binDir  string
)

// Build compiles the main package pkg (a path the go command accepts, relative to the test's
// directory) once per test binary and returns the executable's path.
func Build(tb testing.TB, pkg string) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[pkg]; ok {
		return bin
	}
	if binDir == "" {
		removeOrphans()
		dir, err := os.MkdirTemp("", binDirPrefix+strconv.Itoa(os.Getpid())+"-")
		if err != nil {
			tb.Fatal(err)
		}
		binDir = dir
	}
	bin := filepath.Join(binDir, strings.NewReplacer("/", "_", ".", "_").Replace(pkg))
	if out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		tb.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	built[pkg] = bin
	return bin
}

// binDirPrefix names Build's folders; the test binary's pid follows it, so a folder whose
// process is gone can be told from one in use.
const binDirPrefix = "proctest-bin-"

// removeOrphans deletes the folders of test binaries that ended without Cleanup (a -timeout
// panic, a kill): each holds every function's binary, ~550 MB for cmd/orange, and a few
// such runs fill a CI disk.
func removeOrphans() {
	if _, err := os.Stat("/proc/self"); err != nil {
		return // no /proc: no way to tell a live owner from a gone one
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, dir := range dirs {
		pid, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), binDirPrefix), "-")
		if _, err := strconv.Atoi(pid); !ok || err != nil {
			continue
		}
		if _, err := os.Stat("/proc/" + pid); os.IsNotExist(err) {
			_ = os.RemoveAll(dir)
		}
	}
}

// Cleanup removes what Build made; call it from TestMain after the tests ran.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// Process is a started binary.
type Process struct {
	Cmd *exec.Cmd
	// Addr is host:port on loopback, from the process's "serving" log line.
	Addr string
	// Exited receives the result of Wait once the process ends.
	Exited chan error
}

// Start execs bin with args and extra env (added to this process's environment) and waits
// for its "serving" log line. The process is killed when the test ends, if still running.
func Start(tb testing.TB, bin string, args []string, env ...string) *Process {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Process{Cmd: cmd, Exited: make(chan error, 1)}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				addrc <- line.Addr
			}
		}
		p.Exited <- cmd.Wait()
	}()
	tb.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case addr := <-addrc:
		_, port, _ := net.SplitHostPort(addr)
		p.Addr = "127.0.0.1:" + port
	case err := <-p.Exited:
		tb.Fatalf("%s exited before serving: %v", bin, err)
	case <-time.After(60 * time.Second):
		tb.Fatalf("%s did not start serving", bin)
	}
	return p
}

// WaitReady polls /readyz until it answers 200.
func WaitReady(tb testing.TB, addr string) {
	tb.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	tb.Fatalf("%s never became ready", addr)
}

// RSSKiB reads a process's resident set size.
func RSSKiB(tb testing.TB, pid int) int {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// CPU is the user + system CPU time process pid has used so far, from /proc/<pid>/stat in
// clock ticks of 10 ms (every Linux the project runs on); 0 when unknown. Benchmarks report
// CPU per request with it: time on this shared box moves with the neighbours, CPU much less.
func CPU(pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: the fields start after its last ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// SelfCPU is the user + system CPU time this process has used so far (getrusage: exact,
// unlike CPU's ticks).
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
