package kpa

import (
	"context"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.opentelemetry.io/otel/metric/noop"
)

// view reads the decider's own gauges (kn.revision.panic.mode,
// kn.revision.concurrency.stable …) that Knative's autoscaler reports through
// an OpenTelemetry MeterProvider: a meter that keeps the callback and an
// observer that captures the values by instrument name, so the panic flag
// we report is Knative's, not a recomputation.
type view struct {
	callback metric.Callback
	values   map[string]float64
}

func newView() *view { return &view{values: map[string]float64{}} }

// read runs Knative's callback and returns the gauge values by name.
func (v *view) read() map[string]float64 {
	if v.callback != nil {
		_ = v.callback(context.Background(), observer{v: v})
	}
	return v.values
}

type meterProvider struct {
	noop.MeterProvider
	v *view
}

func (p meterProvider) Meter(string, ...metric.MeterOption) metric.Meter { return meter{v: p.v} }

type meter struct {
	noop.Meter
	v *view
}

type int64Gauge struct {
	noop.Int64ObservableGauge
	name string
}

type float64Gauge struct {
	noop.Float64ObservableGauge
	name string
}

func (meter) Int64ObservableGauge(name string, _ ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	return int64Gauge{name: name}, nil
}

func (meter) Float64ObservableGauge(name string, _ ...metric.Float64ObservableGaugeOption) (metric.Float64ObservableGauge, error) {
	return float64Gauge{name: name}, nil
}

func (m meter) RegisterCallback(cb metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.v.callback = cb
	return noop.Registration{}, nil
}

type observer struct {
	embedded.Observer
	v *view
}

func (o observer) ObserveFloat64(obs metric.Float64Observable, value float64, _ ...metric.ObserveOption) {
	if g, ok := obs.(float64Gauge); ok {
		o.v.values[g.name] = value
	}
}

func (o observer) ObserveInt64(obs metric.Int64Observable, value int64, _ ...metric.ObserveOption) {
	if g, ok := obs.(int64Gauge); ok {
		o.v.values[g.name] = float64(value)
	}
}
