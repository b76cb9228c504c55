package admission_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuMeter measures the CPU the load generator (this process) and the server (another
// process, when its pid is known) spend over a phase: the generator shares the box's cores,
// so its cost is part of every figure.
type cpuMeter struct {
	pid         int
	start       time.Time
	gen, server time.Duration
}

func startCPU(pid int) *cpuMeter {
	return &cpuMeter{pid: pid, start: time.Now(), gen: selfCPU(), server: processCPU(pid)}
}

// stop describes the phase's CPU for requests sent.
func (m *cpuMeter) stop(requests float64) string {
	wall := time.Since(m.start)
	gen := selfCPU() - m.gen
	out := fmt.Sprintf("generator %.2f cores, %.0f µs CPU/request", gen.Seconds()/wall.Seconds(),
		float64(gen.Microseconds())/requests)
	if m.pid > 0 {
		srv := processCPU(m.pid) - m.server
		out += fmt.Sprintf("; server %.2f cores, %.0f µs CPU/request", srv.Seconds()/wall.Seconds(),
			float64(srv.Microseconds())/requests)
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		out += "; load average " + strings.Join(strings.Fields(string(load))[:3], " ")
	}
	return out
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is pid's user + system time from /proc (clock ticks of 10 ms); 0 when unknown.
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
