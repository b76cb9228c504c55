package kpa

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

func service(cc int64, annotations map[string]string) *servingv1.Service {
	a := map[string]string{
		"autoscaling.knative.dev/class":  "kpa.autoscaling.knative.dev",
		"autoscaling.knative.dev/metric": "concurrency",
	}
	for k, v := range annotations {
		a[k] = v
	}
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "locations-api", Namespace: "orange"}}
	svc.Spec.Template.Annotations = a
	if cc > 0 {
		svc.Spec.Template.Spec.ContainerConcurrency = &cc
	}
	svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: "x"}}
	return svc
}

// ours is the annotation set our manifests use (target 50, 70 %).
func ours(extra map[string]string) map[string]string {
	a := map[string]string{
		"autoscaling.knative.dev/target":                        "50",
		"autoscaling.knative.dev/target-utilization-percentage": "70",
	}
	for k, v := range extra {
		a[k] = v
	}
	return a
}

func TestSpecFromService(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		svc                  *servingv1.Service
		target, total        float64
		min, max             int32
		stable, panic, grace time.Duration
		threshold, maxUpRate float64
	}{
		{"our manifests: target 50 at 70 %", service(0, ours(map[string]string{
			"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "6"})),
			35, 50, 2, 6, 60 * time.Second, 6 * time.Second, 30 * time.Second, 2, 1000},
		{"Knative's defaults: total 100 at 70 %, unbounded", service(0, nil),
			70, 100, 0, 0, 60 * time.Second, 6 * time.Second, 30 * time.Second, 2, 1000},
		{"containerConcurrency caps the soft target", service(10, ours(nil)),
			7, 10, 0, 0, 60 * time.Second, 6 * time.Second, 30 * time.Second, 2, 1000},
		{"window and panic annotations", service(0, ours(map[string]string{
			"autoscaling.knative.dev/window":                             "6s",
			"autoscaling.knative.dev/panic-window-percentage":            "50",
			"autoscaling.knative.dev/panic-threshold-percentage":         "150",
			"autoscaling.knative.dev/scale-to-zero-pod-retention-period": "45s"})),
			35, 50, 0, 0, 6 * time.Second, 3 * time.Second, 45 * time.Second, 1.5, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := SpecFromService(tc.svc)
			require.NoError(t, err)
			require.InDelta(t, tc.target, s.Target(), 1e-9)
			require.InDelta(t, tc.total, s.Decider.TotalValue, 1e-9)
			require.Equal(t, tc.min, s.Min)
			require.Equal(t, tc.max, s.Max)
			require.Equal(t, tc.stable, s.StableWindow)
			require.Equal(t, tc.panic, s.PanicWindow)
			require.Equal(t, tc.grace, s.ScaleToZeroGrace)
			require.InDelta(t, tc.threshold, s.Decider.PanicThreshold, 1e-9)
			require.InDelta(t, tc.maxUpRate, s.Decider.MaxScaleUpRate, 1e-9)
		})
	}
}

func TestSpecFromServiceRejects(t *testing.T) {
	t.Parallel()
	for name, a := range map[string]map[string]string{
		"hpa class":  {"autoscaling.knative.dev/class": "hpa.autoscaling.knative.dev", "autoscaling.knative.dev/metric": "cpu"},
		"cpu metric": {"autoscaling.knative.dev/metric": "cpu"},
	} {
		_, err := SpecFromService(service(0, a))
		require.Error(t, err, name)
	}
	_, err := SpecFromServiceConfig(service(0, nil), map[string]string{"stable-window": "bogus"})
	require.Error(t, err)
}

// sim drives an autoscaler like `orange up` does: Record every second,
// Scale every two, and replicas become ready at once (no start latency).
type sim struct {
	a     *Autoscaler
	now   time.Time
	ready int
	last  Decision
	trace []Decision
}

func newSim(t *testing.T, annotations map[string]string, ready int) *sim {
	t.Helper()
	s, err := SpecFromService(service(0, ours(annotations)))
	require.NoError(t, err)
	return &sim{a: New(s), now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), ready: ready}
}

// run feeds concurrency c for d.
func (s *sim) run(d time.Duration, c float64) Decision {
	for end := s.now.Add(d); s.now.Before(end); {
		s.now = s.now.Add(ScrapeInterval)
		s.a.Record(s.now, c)
		if s.now.Unix()%int64(TickInterval/time.Second) == 0 {
			s.last = s.a.Scale(s.now, s.ready)
			s.trace = append(s.trace, s.last)
			if s.last.Valid {
				s.ready = int(s.last.Desired)
			}
		}
	}
	return s.last
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	bounds := func(lo, hi string) map[string]string {
		return map[string]string{"autoscaling.knative.dev/min-scale": lo, "autoscaling.knative.dev/max-scale": hi}
	}
	tests := []struct {
		name        string
		annotations map[string]string
		ready       int
		steps       []struct {
			d time.Duration
			c float64
		}
		desired int32
		panic   bool
	}{
		{
			// desired = ceil(observed / (target × utilization)) = ceil(100/35)
			name: "steady load: ceil(observed / (target × utilization))", annotations: bounds("1", "20"), ready: 3,
			steps: steps(90*time.Second, 100), desired: 3,
		},
		{
			name: "steady load below one replica's target keeps min", annotations: bounds("2", "6"), ready: 2,
			steps: steps(90*time.Second, 20), desired: 2,
		},
		{
			// Capped at 6 while wanting 29, the decider stays in panic.
			name: "max-scale caps the decider", annotations: bounds("2", "6"), ready: 2,
			steps: steps(90*time.Second, 1000), desired: 6, panic: true,
		},
		{
			// 2 replicas, 400 in flight over the 6 s panic window: ceil(400/35) = 12 ≥ 2 × 2 → panic, jump to 12.
			name: "a burst over twice the capacity panics and scales at once", annotations: bounds("2", "20"), ready: 2,
			steps: append(steps(60*time.Second, 50), steps(6*time.Second, 400)...), desired: 12, panic: true,
		},
		{
			// Panic mode never scales down: 30 s after the burst the count holds.
			name: "panic mode does not scale down", annotations: bounds("2", "20"), ready: 2,
			steps:   append(append(steps(60*time.Second, 50), steps(6*time.Second, 400)...), steps(30*time.Second, 50)...),
			desired: 12, panic: true,
		},
		{
			// After the stable window without a surge, panic ends and the stable average rules.
			name: "scale down after the stable window", annotations: bounds("2", "20"), ready: 2,
			steps:   append(append(steps(60*time.Second, 50), steps(6*time.Second, 400)...), steps(130*time.Second, 50)...),
			desired: 2, panic: false,
		},
		{
			name: "idle Service with min 0 scales to zero after window and grace", annotations: bounds("0", "2"), ready: 1,
			steps: append(steps(10*time.Second, 10), steps(100*time.Second, 0)...), desired: 0,
		},
		{
			// The decider wants 0 once the window is empty (~60 s); the 30 s grace keeps one.
			name: "the last replica stays through the grace period", annotations: bounds("0", "2"), ready: 1,
			steps: append(steps(10*time.Second, 10), steps(75*time.Second, 0)...), desired: 1,
		},
		{
			name: "a request for a Service at zero asks for one replica", annotations: bounds("0", "2"), ready: 0,
			steps: steps(2*time.Second, 1), desired: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSim(t, tc.annotations, tc.ready)
			for _, st := range tc.steps {
				s.run(st.d, st.c)
			}
			require.True(t, s.last.Valid)
			require.Equal(t, tc.desired, s.last.Desired, "last decision %+v", s.last)
			require.Equal(t, tc.panic, s.last.Panic, "last decision %+v", s.last)
		})
	}
}

func steps(d time.Duration, c float64) []struct {
	d time.Duration
	c float64
} {
	return []struct {
		d time.Duration
		c float64
	}{{d, c}}
}

func TestNoDataKeepsTheCurrentCount(t *testing.T) {
	t.Parallel()
	s := newSim(t, map[string]string{"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "6"}, 4)
	d := s.a.Scale(s.now, 4)
	require.False(t, d.Valid)
	require.Equal(t, int32(4), d.Desired)
	d = s.a.Scale(s.now, 9)
	require.Equal(t, int32(6), d.Desired, "bounds still apply")
}

// A load step is answered within the stable window even without panic:
// the stable average reaches the new level over the window.
func TestStableScaleUpWithinWindow(t *testing.T) {
	t.Parallel()
	s := newSim(t, map[string]string{"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "10",
		"autoscaling.knative.dev/window": "6s"}, 2)
	s.run(12*time.Second, 10)
	require.Equal(t, int32(2), s.last.Desired)
	// 100 in flight needs ceil(100/35) = 3 replicas: 1.5 × the 2 ready,
	// below the panic threshold (2×), so the stable window decides.
	var reached time.Duration
	for i := 0; i < 10 && reached == 0; i++ {
		s.run(TickInterval, 100)
		if s.last.Desired == 3 {
			reached = time.Duration(i+1) * TickInterval
		}
	}
	require.NotZero(t, reached, "no scale-up within 20 s of a 6 s window")
	require.LessOrEqual(t, reached, 6*time.Second)
	require.False(t, s.last.Panic)
	require.InDelta(t, 100, s.last.Stable, 1e-6)
	require.InDelta(t, 35, s.last.Target, 1e-9)
	require.False(t, math.IsNaN(s.last.PanicValue))
}

// A day replays in far less than a second: 43,200 ticks.
func BenchmarkReplayDay(b *testing.B) {
	spec, err := SpecFromService(service(0, ours(map[string]string{"autoscaling.knative.dev/min-scale": "2", "autoscaling.knative.dev/max-scale": "20"})))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		a := New(spec)
		now, ready := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC), 2
		for i := 0; i < 86400; i++ {
			now = now.Add(time.Second)
			a.Record(now, 50+40*math.Sin(float64(i)/3600))
			if i%2 == 1 {
				ready = int(a.Scale(now, ready).Desired)
			}
		}
	}
}
