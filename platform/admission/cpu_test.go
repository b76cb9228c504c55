package admission_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform/proctest"
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
	return &cpuMeter{pid: pid, start: time.Now(), gen: proctest.SelfCPU(), server: proctest.CPU(pid)}
}

// stop describes the phase's CPU for requests sent.
func (m *cpuMeter) stop(requests float64) string {
	wall := time.Since(m.start)
	gen := proctest.SelfCPU() - m.gen
	out := fmt.Sprintf("generator %.2f cores, %.0f µs CPU/request", gen.Seconds()/wall.Seconds(),
		float64(gen.Microseconds())/requests)
	if m.pid > 0 {
		srv := proctest.CPU(m.pid) - m.server
		out += fmt.Sprintf("; server %.2f cores, %.0f µs CPU/request", srv.Seconds()/wall.Seconds(),
			float64(srv.Microseconds())/requests)
	}
	if load, err := os.ReadFile("/proc/loadavg"); err == nil {
		out += "; load average " + strings.Join(strings.Fields(string(load))[:3], " ")
	}
	return out
}
