// Package tracing sets up OpenTelemetry traces for a process: one TracerProvider per function
// (service.name is the function's Knative Service name, also inside `orange dev`, where every
// function's provider shares one exporter), the W3C tracecontext propagator, a sampler from
// OTEL_TRACES_SAMPLER, and an OTLP/HTTP exporter when OTEL_TRACES_EXPORTER or an OTLP endpoint
// asks for one. Without either, tracing is off: spans get ids (so traceparent headers, event
// extensions and log lines still correlate) but record and export nothing. docs/tracing.md
// says what is traced and why.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
	"go.opentelemetry.io/otel/trace"
)

// Scope is the instrumentation scope of every span the platform makes.
const Scope = "github.com/orangecarrental/orange"

// Namespace is the service.namespace of every function's resource.
const Namespace = "orange-car-rental"

// Propagator is the one context propagation format: W3C traceparent and tracestate, on HTTP
// headers and in the CloudEvents distributed-tracing extension alike.
var Propagator = propagation.TraceContext{}

// Config is what the standard OpenTelemetry environment variables say about traces. Only the
// OTLP/HTTP protocol is built in.
type Config struct {
	// Exporter is "otlp" or "none"; empty: otlp when an endpoint is set, else none.
	Exporter string `env:"OTEL_TRACES_EXPORTER"`
	// Endpoint is the collector's base URL; traces go to <Endpoint>/v1/traces.
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// TracesEndpoint, when set, is the full URL traces go to.
	TracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// Protocol must be http/protobuf (the default) when set.
	Protocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	// Headers are sent with every export: key=value pairs separated by commas.
	Headers string `env:"OTEL_EXPORTER_OTLP_HEADERS"`
	// Sampler is one of always_on, always_off, traceidratio, parentbased_always_on,
	// parentbased_always_off, parentbased_traceidratio; SamplerArg the ratio (default 1).
	Sampler    string `env:"OTEL_TRACES_SAMPLER, default=parentbased_always_on"`
	SamplerArg string `env:"OTEL_TRACES_SAMPLER_ARG"`
	// ServiceName overrides the function's service name (a Service alone only).
	ServiceName string `env:"OTEL_SERVICE_NAME"`
}

// exporter is the exporter the configuration asks for: "otlp" or "none".
func (c Config) exporter() (string, error) {
	switch strings.ToLower(strings.TrimSpace(c.Exporter)) {
	case "":
		if c.Endpoint != "" || c.TracesEndpoint != "" {
			return "otlp", nil
		}
		return "none", nil
	case "none":
		return "none", nil
	case "otlp":
		return "otlp", nil
	default:
		return "", fmt.Errorf("OTEL_TRACES_EXPORTER=%q: only otlp and none are supported", c.Exporter)
	}
}

// tracesURL is where the OTLP exporter posts.
func (c Config) tracesURL() (string, error) {
	raw := c.TracesEndpoint
	name := "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	if raw == "" {
		if c.Endpoint == "" {
			return "", errors.New("OTEL_TRACES_EXPORTER=otlp needs OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
		}
		raw, name = strings.TrimSuffix(c.Endpoint, "/")+"/v1/traces", "OTEL_EXPORTER_OTLP_ENDPOINT"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s must be an http(s) URL, got %q", name, raw)
	}
	return raw, nil
}

// headers parses OTEL_EXPORTER_OTLP_HEADERS (values URL-encoded, as the specification says).
func (c Config) headers() (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(c.Headers, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, errors.New("OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas")
		}
		if dv, err := url.QueryUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		out[strings.TrimSpace(k)] = v
	}
	return out, nil
}

// sampler builds the configured sampler.
func (c Config) sampler() (sdktrace.Sampler, error) {
	ratio := 1.0
	if c.SamplerArg != "" {
		r, err := strconv.ParseFloat(c.SamplerArg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got %q", c.SamplerArg)
		}
		ratio = r
	}
	switch strings.ToLower(strings.TrimSpace(c.Sampler)) {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	default:
		return nil, fmt.Errorf("OTEL_TRACES_SAMPLER=%q is not a known sampler", c.Sampler)
	}
}

// Tracing hands out the TracerProviders of a process's functions, all exporting through one
// span processor. The zero value and nil are off.
type Tracing struct {
	processor sdktrace.SpanProcessor // nil: off
	sampler   sdktrace.Sampler
	name      string // OTEL_SERVICE_NAME, overriding the function's name

	mu        sync.Mutex
	providers map[string]*sdktrace.TracerProvider
}

// New returns the tracing cfg asks for: off (Off providers, nothing exported) unless an
// exporter is configured.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	which, err := cfg.exporter()
	if err != nil {
		return nil, err
	}
	sampler, err := cfg.sampler()
	if err != nil {
		return nil, err
	}
	if which == "none" {
		return &Tracing{}, nil
	}
	if p := strings.ToLower(cfg.Protocol); p != "" && p != "http/protobuf" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%q: only http/protobuf is built in", cfg.Protocol)
	}
	endpoint, err := cfg.tracesURL()
	if err != nil {
		return nil, err
	}
	headers, err := cfg.headers()
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint), otlptracehttp.WithHeaders(headers))
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	t := NewWithProcessor(sdktrace.NewBatchSpanProcessor(exp), sampler)
	t.name = cfg.ServiceName
	return t, nil
}

// NewWithProcessor returns tracing that hands every function's spans to sp (tests: a
// SimpleSpanProcessor over tracetest's in-memory exporter), sampled by sampler
// (parent-based always-on when nil).
func NewWithProcessor(sp sdktrace.SpanProcessor, sampler sdktrace.Sampler) *Tracing {
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	return &Tracing{processor: sp, sampler: sampler, providers: map[string]*sdktrace.TracerProvider{}}
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.processor != nil }

// Provider returns the TracerProvider of service (its spans carry service.name = service,
// or OTEL_SERVICE_NAME when set), the same one on every call; Off when tracing is off.
func (t *Tracing) Provider(service string) trace.TracerProvider {
	if !t.Enabled() {
		return Off
	}
	if t.name != "" {
		service = t.name
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if p, ok := t.providers[service]; ok {
		return p
	}
	res := resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName(service), semconv.ServiceNamespace(Namespace), attribute.String("telemetry.sdk.language", "go"))
	p := sdktrace.NewTracerProvider(
		sdktrace.WithResource(res),
		sdktrace.WithSampler(t.sampler),
		sdktrace.WithSpanProcessor(shared{t.processor}),
	)
	t.providers[service] = p
	return p
}

// Shutdown ends every provider and flushes the exporter, bounded by ctx: the host calls it
// after the server has drained, so the last requests' spans leave too.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	t.mu.Lock()
	var errs []error
	for _, p := range t.providers {
		errs = append(errs, p.Shutdown(ctx))
	}
	t.mu.Unlock()
	errs = append(errs, t.processor.Shutdown(ctx))
	return errors.Join(errs...)
}

// ForceFlush exports every ended span now (tests read the exporter after it).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	return t.processor.ForceFlush(ctx)
}

// shared is the one processor as each provider sees it: a provider's Shutdown must not shut
// it for the others; Tracing.Shutdown does, once.
type shared struct{ sdktrace.SpanProcessor }

func (shared) Shutdown(context.Context) error { return nil }
