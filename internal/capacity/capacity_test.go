package capacity

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/orangecarrental/orange/internal/kpa"
)

// spec is a KPA spec as our manifests write it.
func spec(t *testing.T, min, max, target string) kpa.Spec {
	t.Helper()
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x-api", Namespace: "orange"}}
	svc.Spec.Template.Annotations = map[string]string{
		"autoscaling.knative.dev/class":                         "kpa.autoscaling.knative.dev",
		"autoscaling.knative.dev/metric":                        "concurrency",
		"autoscaling.knative.dev/target":                        target,
		"autoscaling.knative.dev/target-utilization-percentage": "70",
		"autoscaling.knative.dev/min-scale":                     min,
		"autoscaling.knative.dev/max-scale":                     max,
	}
	svc.Spec.Template.Spec.Containers = []corev1.Container{{Image: "x"}}
	s, err := kpa.SpecFromService(svc)
	require.NoError(t, err)
	return s
}

func TestScenarioRate(t *testing.T) {
	t.Parallel()
	day := SeedDay()
	for _, tc := range []struct {
		at   time.Duration // wall clock
		want float64       // req/min
	}{
		{hm(6, 0), 50}, {hm(9, 0), 100}, {hm(10, 30), 300}, {hm(12, 0), 500}, {hm(14, 0), 200},
		{hm(16, 0), 600}, {hm(18, 0), 1000}, {hm(23, 0), 50}, {hm(23, 59), 50},
	} {
		assert.InDelta(t, tc.want, 60*day.Rate(tc.at-day.Start), 1e-9, "at %s", tc.at)
	}
	bf := BlackFriday()
	assert.InDelta(t, 2000, bf.Rate(hm(9, 30)-bf.Start), 1e-9)
	assert.InDelta(t, 100.0/60, bf.Rate(0), 1e-9)
}

func TestMixFanOut(t *testing.T) {
	t.Parallel()
	var share float64
	for _, j := range Mix {
		share += j.Share
	}
	assert.InDelta(t, 1, share, 1e-9, "the journey shares sum to 1")
	f := FanOut()
	assert.InDelta(t, 1, f["api-gateway"], 1e-9, "every journey step passes the gateway once")
	assert.InDelta(t, 0.70+0.15+0.10, f["vehicles-api"], 1e-9)
	assert.InDelta(t, 0.15, f["reservations-api"], 1e-9)
	assert.InDelta(t, 0.70/0.95, RouteWeight("vehicles-api", "search"), 1e-9)
	assert.Zero(t, RouteWeight("nobody", "x"))
}

// One Service in a tiny synthetic world: a replica serves 100 req/s at 10 ms (5 ms idle);
// the KPA, the queue and the start delay decide what happens.
func TestReplay(t *testing.T) {
	t.Parallel()
	step := func(before, after float64, at time.Duration) Scenario {
		return Scenario{Name: "step", Duration: 10 * time.Minute,
			Points: []Point{{0, before}, {at, before}, {at + time.Second, after}}}
	}
	model := func(min, max, target string, delay time.Duration) ServiceModel {
		return ServiceModel{Service: "x-api", Spec: spec(t, min, max, target), PerReplica: 100,
			UnloadedMs: 5, AtCapacityMs: 10, SLOMs: 100, FanOut: 1, StartDelay: delay}
	}
	tests := []struct {
		name     string
		sc       Scenario
		m        ServiceModel
		initial  int
		check    func(t *testing.T, r Result)
		overSLO  bool
		maxReady int
	}{
		{name: "within capacity nothing waits and nothing scales", sc: step(50, 50, time.Minute),
			m: model("1", "5", "1", 0), initial: 1, maxReady: 1,
			check: func(t *testing.T, r Result) {
				assert.Zero(t, r.MaxQueue)
				assert.InDelta(t, 7.5, r.WorstLatencyMs, 1e-9, "half load: halfway between idle and capacity latency")
				assert.InDelta(t, 0.5, r.MeanUtilization, 1e-9)
			}},
		{name: "a step to 3× capacity with a measured target scales out in panic and drains the backlog", sc: step(50, 300, time.Minute),
			m: model("1", "10", "1", 10*time.Second), initial: 1, overSLO: true,
			check: func(t *testing.T, r Result) {
				assert.GreaterOrEqual(t, r.PeakReady, 4, "300 req/s at 70 %% of 100 per replica")
				assert.Positive(t, r.MaxQueue)
				last := r.Samples[len(r.Samples)-1]
				assert.Zero(t, last.Queue, "the backlog is served once the replicas are ready")
				assert.Less(t, last.LatencyMs, 100.0)
			}},
		{name: "target 50 for a replica that holds 1 in flight at capacity scales only once the backlog is 35 per replica", sc: step(50, 300, time.Minute),
			m: model("1", "10", "50", 10*time.Second), initial: 1, overSLO: true,
			check: func(t *testing.T, r Result) {
				assert.Greater(t, r.MaxQueue, 35.0)
				assert.Greater(t, r.WorstLatencyMs, 100.0)
			}},
		{name: "max-scale caps the replicas: the backlog grows without end", sc: step(50, 300, time.Minute),
			m: model("1", "2", "1", 0), initial: 1, overSLO: true, maxReady: 2,
			check: func(t *testing.T, r Result) {
				assert.Greater(t, r.MaxQueue, 100.0*60*8, "100 req/s over capacity for 9 minutes")
			}},
		{name: "min-scale holds replicas the demand never needs", sc: step(10, 10, time.Minute),
			m: model("4", "8", "1", 0), initial: 4, maxReady: 4,
			check: func(t *testing.T, r Result) {
				assert.InDelta(t, 10.0/400, r.PeakUtilization, 1e-9)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := Replay(tc.sc, tc.m, tc.initial)
			require.Len(t, r.Samples, int(tc.sc.Duration/SampleEvery))
			if tc.maxReady > 0 {
				assert.Equal(t, tc.maxReady, r.PeakReady)
			}
			assert.Equal(t, tc.overSLO, r.SecondsOverSLO > 0, "seconds over SLO: %d", r.SecondsOverSLO)
			tc.check(t, r)
			again := Replay(tc.sc, tc.m, tc.initial)
			assert.Equal(t, r.Samples, again.Samples, "a replay is deterministic")
		})
	}
}

func TestNeeded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rate, per, util float64
		want            int
	}{{0, 100, 0.7, 0}, {70, 100, 0.7, 1}, {71, 100, 0.7, 2}, {2000, 100, 0.7, 29}, {5, 0, 0.7, 0}} {
		assert.Equal(t, tc.want, Needed(tc.rate, tc.per, tc.util), "%v", tc)
	}
}

func TestSnapTarget(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]int{0: 1, 0.4: 1, 1.4: 1, 1.5: 2, 2.4: 2, 4: 5, 6.5: 8, 12: 10, 13: 15, 40: 50, 500: 100} {
		assert.Equal(t, want, SnapTarget(in), "in flight %v", in)
	}
}

func TestPerServiceWeighsRoutesByTheMix(t *testing.T) {
	t.Parallel()
	m := Measured{Routes: []Route{
		{Service: "vehicles-api", Name: "search", Capacity: 100, Concurrency: 2},
		{Service: "vehicles-api", Name: "get", Capacity: 1000, Concurrency: 1},
		{Service: "locations-api", Name: "list", Capacity: 0}, // failed at every step: left out
		// the CPU ceiling wins over the SLO capacity when it was measured
		{Service: "pricing-api", Name: "quote", Capacity: 50, Concurrency: 1, CPUMsPerReq: 2, CPUCeiling: 500, ConcurrencyAtCeiling: 4},
	}}
	got := m.PerService()
	require.Len(t, got, 2)
	w := RouteWeight("vehicles-api", "search")
	assert.InDelta(t, 1/(w/100+(1-w)/1000), got["vehicles-api"].PerReplica, 1e-9)
	assert.InDelta(t, w*2+(1-w)*1, got["vehicles-api"].Concurrency, 1e-9)
	assert.Equal(t, ServiceCapacity{PerReplica: 500, Concurrency: 4}, got["pricing-api"])
}

func TestReplaceBlock(t *testing.T) {
	t.Parallel()
	doc := "# x\n" + blockBegin + "\nold\n" + blockEnd + "\ntail\n"
	out, err := ReplaceBlock(doc, "new\n")
	require.NoError(t, err)
	assert.Equal(t, "# x\n"+blockBegin+"\nnew\n"+blockEnd+"\ntail\n", out)
	assert.Equal(t, "new\n", Block(out))
	_, err = ReplaceBlock("# no markers", "x")
	assert.Error(t, err)
}

// root is the module's root, from this package's directory.
var root = filepath.Join("..", "..")

// committed is the replay of the committed measurement and manifests, once per test binary.
func committed() (map[string]string, *Model, error) {
	committedOnce.Do(func() { committedFiles, committedModel, committedErr = Generate(root, MeasuredPath) })
	return committedFiles, committedModel, committedErr
}

var (
	committedOnce  sync.Once
	committedFiles map[string]string
	committedModel *Model
	committedErr   error
)

// The committed doc and charts are what a replay of the committed measurement through the
// committed production overlay gives (`make capacity-replay` regenerates them).
func TestCapacityDocMatchesReplay(t *testing.T) {
	t.Parallel()
	files, _, err := committed()
	require.NoError(t, err)
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		require.NoError(t, err, "run make capacity-replay")
		if name == DocPath {
			want, got := Block(want), Block(string(got))
			if want != got {
				t.Errorf("%s: the generated block is stale (run make capacity-replay); first difference:\n%s", name, firstDiff(got, want))
			}
			continue
		}
		if string(got) != want {
			t.Errorf("%s is stale (run make capacity-replay); first difference:\n%s", name, firstDiff(string(got), want))
		}
	}
	// Every chart has an accessible name and description.
	for name, content := range files {
		if strings.HasSuffix(name, ".svg") {
			assert.Contains(t, content, `role="img"`, name)
			assert.Contains(t, content, "<title", name)
			assert.Contains(t, content, "<desc", name)
		}
	}
}

// The production targets of the replayed Services are the derived ones: the in flight at a
// replica's measured capacity, snapped to a step (docs/capacity.md, "Derived"). A new
// measurement that moves one by a step changes the manifest with it.
func TestManifestTargetsFollowTheModel(t *testing.T) {
	t.Parallel()
	_, md, err := committed()
	require.NoError(t, err)
	for _, svc := range md.Services {
		d := md.Derived[svc]
		assert.Equal(t, float64(d.Target), d.CurrentTarget,
			"%s: autoscaling.knative.dev/target in knative/base/%s.yaml should be the derived %d", svc, svc, d.Target)
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("line %d\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
	return "(none)"
}
