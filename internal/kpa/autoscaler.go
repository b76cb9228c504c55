package kpa

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/apis/autoscaling"
	"knative.dev/serving/pkg/autoscaler/aggregation"
	asconfig "knative.dev/serving/pkg/autoscaler/config"
	am "knative.dev/serving/pkg/autoscaler/metrics"
	"knative.dev/serving/pkg/autoscaler/scaling"
)

// Decision is one tick of the autoscaler: what Knative's decider wants and
// what the Service's replica count should be.
type Decision struct {
	// Desired is the replica count to run: the decider's wish clamped to
	// [Min, Max], and the last replica kept through the scale-to-zero grace.
	Desired int32
	// Wanted is the decider's raw DesiredPodCount (before bounds).
	Wanted int32
	// Valid is false while the decider has no data yet (Knative then changes
	// nothing); Desired is then the current count clamped to the bounds.
	Valid bool
	// Panic reports Knative's panic mode (kn.revision.panic.mode).
	Panic bool
	// Stable and PanicValue are the observed concurrency (or rps) averaged
	// over the stable and the panic window, for the whole Service.
	Stable, PanicValue float64
	// Target is the per-replica target value.
	Target float64
	// ExcessBurstCapacity is Knative's EBC (negative: the activator would
	// stay in the request path).
	ExcessBurstCapacity int32
}

// Autoscaler is one Service's KPA, driven by explicit time.
type Autoscaler struct {
	spec   Spec
	scaler scaling.UniScaler
	view   *view
	pods   *pods
	log    *zap.SugaredLogger

	stable, panic, stableRPS, panicRPS *aggregation.TimedFloat64Buckets

	zeroSince time.Time // first tick at which the decider wanted 0
}

// New returns the autoscaler of spec, in stable mode with no data.
func New(spec Spec) *Autoscaler {
	a := &Autoscaler{
		spec:      spec,
		view:      newView(),
		pods:      &pods{},
		log:       zap.NewNop().Sugar(),
		stable:    aggregation.NewTimedFloat64Buckets(spec.StableWindow, asconfig.BucketSize),
		panic:     aggregation.NewTimedFloat64Buckets(spec.PanicWindow, asconfig.BucketSize),
		stableRPS: aggregation.NewTimedFloat64Buckets(spec.StableWindow, asconfig.BucketSize),
		panicRPS:  aggregation.NewTimedFloat64Buckets(spec.PanicWindow, asconfig.BucketSize),
	}
	ds := spec.Decider
	a.scaler = scaling.New(attribute.NewSet(), meterProvider{v: a.view},
		spec.Namespace, spec.Name, metricClient{a}, a.pods, &ds)
	return a
}

// Spec returns the spec the autoscaler was built from.
func (a *Autoscaler) Spec() Spec { return a.spec }

// Record adds one scrape at t: concurrency is the average number of requests
// in flight over the last ScrapeInterval, summed over the Service's
// replicas (and requests held for a replica, as the activator reports them).
func (a *Autoscaler) Record(t time.Time, concurrency float64) {
	a.stable.Record(t, concurrency)
	a.panic.Record(t, concurrency)
}

// RecordRPS adds the requests per second seen over the last ScrapeInterval,
// for Services that scale on rps.
func (a *Autoscaler) RecordRPS(t time.Time, rps float64) {
	a.stableRPS.Record(t, rps)
	a.panicRPS.Record(t, rps)
}

// Scale runs Knative's decider at t with ready replicas and returns the
// decision.
func (a *Autoscaler) Scale(t time.Time, ready int) Decision {
	a.pods.ready = ready
	r := a.scaler.Scale(a.log, t)
	v := a.view.read()
	d := Decision{
		Wanted:              r.DesiredPodCount,
		Valid:               r.ScaleValid,
		Target:              a.spec.Decider.TargetValue,
		ExcessBurstCapacity: r.ExcessBurstCapacity,
		Panic:               v["kn.revision.panic.mode"] > 0,
	}
	metric := "concurrency"
	if a.spec.Decider.ScalingMetric == autoscaling.RPS {
		metric = "rps"
	}
	d.Stable = v["kn.revision."+metric+".stable"]
	d.PanicValue = v["kn.revision."+metric+".panic"]
	if !r.ScaleValid {
		d.Desired = applyBounds(a.spec.Min, a.spec.Max, int32(ready))
		return d
	}
	want := r.DesiredPodCount
	if want == 0 && a.spec.Min == 0 {
		if !a.spec.ScaleToZero {
			want = 1
		} else {
			if a.zeroSince.IsZero() {
				a.zeroSince = t
			}
			if ready > 0 && t.Sub(a.zeroSince) < a.spec.ScaleToZeroGrace {
				want = 1
			}
		}
	} else {
		a.zeroSince = time.Time{}
	}
	d.Desired = applyBounds(a.spec.Min, a.spec.Max, want)
	return d
}

// applyBounds is the PodAutoscaler reconciler's clamp (max 0: unbounded).
func applyBounds(lo, hi, x int32) int32 {
	if x < lo {
		return lo
	}
	if hi != 0 && x > hi {
		return hi
	}
	return x
}

// pods is the decider's pod counter: the caller's ready count.
type pods struct{ ready int }

func (p *pods) ReadyCount() (int, error)    { return p.ready, nil }
func (p *pods) NotReadyCount() (int, error) { return 0, nil }

// metricClient answers the decider from the recorded buckets, like
// Knative's MetricCollector does from scraped stats.
type metricClient struct{ a *Autoscaler }

func (m metricClient) StableAndPanicConcurrency(_ types.NamespacedName, now time.Time) (float64, float64, error) {
	return windows(m.a.stable, m.a.panic, now)
}

func (m metricClient) StableAndPanicRPS(_ types.NamespacedName, now time.Time) (float64, float64, error) {
	return windows(m.a.stableRPS, m.a.panicRPS, now)
}

func windows(stable, panic *aggregation.TimedFloat64Buckets, now time.Time) (float64, float64, error) {
	if stable.IsEmpty(now) {
		return 0, 0, am.ErrNoData
	}
	return stable.WindowAverage(now), panic.WindowAverage(now), nil
}

var _ am.MetricClient = metricClient{}
