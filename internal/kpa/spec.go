// Package kpa is Knative's concurrency autoscaler (the KPA decider of
// knative.dev/serving v0.50.0) driven by explicit time, so that `orange up`
// can scale OS processes with it and the capacity model can replay a day of
// traffic through it in milliseconds.
//
// What is Knative's: the spec derivation from a Service's revision template
// (the PodAutoscaler's annotations, resources.ResolveMetricTarget,
// kpa/resources.MakeDecider, resources.MakeMetric for the stable and panic
// windows), the config-autoscaler defaults (autoscaler/config: stable window
// 60 s, panic window 10 %, panic threshold 200 %, max scale up rate 1000,
// max scale down rate 2, scale-to-zero grace 30 s …), the windowed averaging
// of the observed metric (aggregation.TimedFloat64Buckets, 1 s buckets) and
// the decision itself (scaling.New(...).Scale: stable/panic desired pods,
// panic mode, scale-down delay, activation scale, excess burst capacity).
// The decider's view (panic mode, stable/panic/target values) is read from
// the very gauges Knative reports through OpenTelemetry, not recomputed.
//
// What is ours: the metric client (fed by Record instead of scraping
// queue-proxies), the pod counter (the caller says how many replicas are
// ready), the min/max clamp (a copy of the PodAutoscaler reconciler's
// applyBounds) and a simplified scale-to-zero: when the decider wants 0 and
// min-scale allows it, the last replica stays until the decider has wanted 0
// for max(scale-to-zero-grace-period, scale-to-zero-pod-retention-period);
// the cluster's extra conditions (activator probe, SKS proxy mode, activation
// timeout) do not exist on one machine. A new Autoscaler starts in stable
// mode: Knative starts a restarted autoscaler in panic mode stamped with the
// wall clock, which a replay at simulated time cannot use.
//
// Feed Record once per ScrapeInterval (Knative scrapes every second; a
// missing second counts as zero, as in Knative) and call Scale every
// TickInterval. An Autoscaler is not safe for concurrent use.
package kpa

import (
	"errors"
	"fmt"
	"time"

	autoscalingv1alpha1 "knative.dev/serving/pkg/apis/autoscaling/v1alpha1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	asconfig "knative.dev/serving/pkg/autoscaler/config"
	"knative.dev/serving/pkg/autoscaler/config/autoscalerconfig"
	"knative.dev/serving/pkg/autoscaler/scaling"
	kparesources "knative.dev/serving/pkg/reconciler/autoscaling/kpa/resources"
	aresources "knative.dev/serving/pkg/reconciler/autoscaling/resources"

	"knative.dev/serving/pkg/apis/autoscaling"
)

const (
	// ScrapeInterval is how often Knative's collector scrapes a revision's
	// pods: Record once per interval.
	ScrapeInterval = time.Second
	// TickInterval is how often Knative's autoscaler decides: call Scale
	// once per interval.
	TickInterval = 2 * time.Second
)

// Spec is everything the decider needs about one Service, resolved the way
// Knative resolves it for the Service's revision.
type Spec struct {
	// Name and Namespace identify the Service.
	Name, Namespace string
	// Min and Max are the scale bounds (Max 0: unbounded), as
	// PodAutoscaler.ScaleBounds reads them.
	Min, Max int32
	// Decider is Knative's DeciderSpec (target = total × utilization …).
	Decider scaling.DeciderSpec
	// StableWindow and PanicWindow are the averaging windows of the metric.
	StableWindow, PanicWindow time.Duration
	// ScaleToZeroGrace is how long the decider must want 0 before the last
	// replica goes (0 when scale to zero is disabled or min > 0).
	ScaleToZeroGrace time.Duration
	// ScaleToZero reports whether the cluster config allows scaling to zero.
	ScaleToZero bool
}

// SpecFromService resolves the spec of svc's revision with Knative's
// default config-autoscaler.
func SpecFromService(svc *servingv1.Service) (Spec, error) {
	return SpecFromServiceConfig(svc, nil)
}

// SpecFromServiceConfig resolves the spec of svc's revision with a
// config-autoscaler ConfigMap's data (nil: Knative's defaults).
func SpecFromServiceConfig(svc *servingv1.Service, configData map[string]string) (Spec, error) {
	if svc == nil {
		return Spec{}, errors.New("kpa: nil service")
	}
	cfg, err := asconfig.NewConfigFromMap(configData)
	if err != nil {
		return Spec{}, fmt.Errorf("kpa: config-autoscaler: %w", err)
	}
	pa := podAutoscaler(svc)
	if c := pa.Class(); c != autoscaling.KPA {
		return Spec{}, fmt.Errorf("kpa: %s uses autoscaler class %q, only %q is modelled", svc.Name, c, autoscaling.KPA)
	}
	if m := pa.Metric(); m != autoscaling.Concurrency && m != autoscaling.RPS {
		return Spec{}, fmt.Errorf("kpa: %s scales on %q, the KPA scales on concurrency or rps", svc.Name, m)
	}
	return specFromPA(pa, cfg), nil
}

// podAutoscaler builds the PodAutoscaler Knative's revision reconciler
// would create: the template's annotations and containerConcurrency.
func podAutoscaler(svc *servingv1.Service) *autoscalingv1alpha1.PodAutoscaler {
	pa := &autoscalingv1alpha1.PodAutoscaler{}
	pa.Name, pa.Namespace = svc.Name, svc.Namespace
	pa.Annotations = map[string]string{}
	for k, v := range svc.Spec.Template.Annotations {
		pa.Annotations[k] = v
	}
	if cc := svc.Spec.Template.Spec.ContainerConcurrency; cc != nil {
		pa.Spec.ContainerConcurrency = *cc
	}
	pa.Spec.Reachability = autoscalingv1alpha1.ReachabilityReachable
	return pa
}

func specFromPA(pa *autoscalingv1alpha1.PodAutoscaler, cfg *autoscalerconfig.Config) Spec {
	d := kparesources.MakeDecider(pa, cfg)
	m := aresources.MakeMetric(pa, "", cfg)
	lo, hi := pa.ScaleBounds(cfg)
	s := Spec{
		Name: pa.Name, Namespace: pa.Namespace,
		Min: lo, Max: hi,
		Decider:      d.Spec,
		StableWindow: m.Spec.StableWindow, PanicWindow: m.Spec.PanicWindow,
		ScaleToZero: cfg.EnableScaleToZero,
	}
	if cfg.EnableScaleToZero {
		retention := cfg.ScaleToZeroPodRetentionPeriod
		if d, ok := pa.ScaleToZeroPodRetention(); ok {
			retention = d
		}
		s.ScaleToZeroGrace = max(cfg.ScaleToZeroGracePeriod, retention)
	}
	return s
}

// Target is the per-replica concurrency (or rps) the decider aims for.
func (s Spec) Target() float64 { return s.Decider.TargetValue }
