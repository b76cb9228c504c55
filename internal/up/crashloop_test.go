package up

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashLoopBackOff runs a Service whose replicas keep exiting — at start, or after
// they were ready — and checks that it is not restarted in a tight loop: the first exit is
// replaced at once, the second puts the Service in CrashLoopBackOff (10 s), which the
// snapshot, the status table and the metrics show, and no replica starts meanwhile. The
// replicas are this test binary (TestMain's standInReplica).
func TestCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	svcs, err := LoadServices("staging", []string{"locations-api"}, nil)
	require.NoError(t, err)
	for _, mode := range []string{"start", "ready"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			svc := svcs[0]
			svc.Spec.Min = 1
			env := append(os.Environ(), "UP_TEST_REPLICA="+mode)
			sc := newScaler(svc, os.Args[0], func(string) []string { return env }, io.Discard,
				slog.New(slog.DiscardHandler), time.Second, 5*time.Second)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { sc.run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })

			require.Eventually(t, func() bool {
				s := sc.snapshot()
				return s.Restarts >= 2 && s.Backoff > 0 && s.Live == 0
			}, 20*time.Second, 10*time.Millisecond, "no CrashLoopBackOff: %+v", sc.snapshot())
			s := sc.snapshot()
			assert.Equal(t, 2, s.Restarts, "the first exit is replaced at once, the second waits")
			assert.Equal(t, 2, s.ExitsInARow)
			assert.InDelta(t, crashLoopFirst.Seconds(), s.Backoff.Seconds(), 2)
			assert.Contains(t, StatusTable([]Snapshot{s}), "CrashLoopBackOff")

			u := &Up{scalers: []*scaler{sc}}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collector{u})
			assert.Equal(t, 2.0, gathered(t, reg, "orange_up_replica_exits_in_a_row"))
			assert.Greater(t, gathered(t, reg, "orange_up_crash_loop_backoff_seconds"), 0.0)

			// Backed off: a 10 s wait cannot end within a second, however busy the machine.
			time.Sleep(time.Second)
			s = sc.snapshot()
			assert.Equal(t, 2, s.Restarts, "a replica started during the back-off")
			assert.Zero(t, s.Live)
		})
	}
}

// gathered is the value of the one gauge named name in reg.
func gathered(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s", name)
	return 0
}
