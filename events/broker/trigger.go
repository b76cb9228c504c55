package broker

import (
	"math"
	"net/http"
	"time"
)

// Trigger is a Knative Trigger as the in-process broker runs it.
type Trigger struct {
	Name      string
	Namespace string
	// Broker names the Broker (same namespace) the Trigger reads from.
	Broker string
	// File is the manifest the Trigger came from, for messages.
	File string
	// Filter is spec.filter.attributes (nil when absent); Filters is spec.filters, which
	// wins over Filter when it is not empty.
	Filter  map[string]string
	Filters []Filter
	// Subscriber is spec.subscriber.
	Subscriber Destination
	// Delivery is spec.delivery, or the Broker's when the Trigger has none.
	Delivery Delivery
}

// String names the Trigger as namespace/name.
func (t *Trigger) String() string { return t.Namespace + "/" + t.Name }

// Destination is where an event goes: a Knative Service (by name, plus a request path) or,
// for a PingSource sink, a Broker.
type Destination struct {
	Namespace string
	// Service is the Knative Service's name; in `orange dev` also the host name the
	// platform transport reaches the function by.
	Service string
	// Broker is set instead of Service when the destination is a Broker.
	Broker string
	// Path is the request path (and query) from the destination's uri; empty without
	// one: Knative posts to the Service's root URL then.
	Path string
	// Audience is the destination's `audience` (duckv1.Destination): the OIDC audience the
	// sender's token is addressed to. Empty: deliveries carry no token, as Knative attaches
	// none to a destination without one (Knative Serving publishes no audience for a
	// Service, so the manifests name it).
	Audience string
}

// URL is the destination's cluster address, as Knative resolves it (the Service's
// status.address.url plus the uri): http://<service>.<namespace>.svc.cluster.local<path>.
// Dead-letter events carry it in knativeerrordest.
func (d Destination) URL() string {
	host := d.Service
	if d.Broker != "" {
		host = "broker-ingress.knative-eventing.svc.cluster.local/" + d.Namespace + "/" + d.Broker
		return "http://" + host
	}
	if d.Namespace != "" {
		host += "." + d.Namespace + ".svc.cluster.local"
	}
	return "http://" + host + d.Path
}

// String is the destination for logs: service/path or broker:name.
func (d Destination) String() string {
	if d.Broker != "" {
		return "broker:" + d.Broker
	}
	return d.Service + d.Path
}

// BackoffPolicy is linear or exponential.
type BackoffPolicy string

// The backoff policies of a delivery spec.
const (
	BackoffLinear      BackoffPolicy = "linear"
	BackoffExponential BackoffPolicy = "exponential"
)

// Delivery is a delivery spec (retry, backoff, per-attempt timeout, dead-letter sink).
type Delivery struct {
	// Retry is how many times a failed delivery is retried (attempts = 1 + Retry).
	Retry         int
	BackoffPolicy BackoffPolicy
	BackoffDelay  time.Duration
	// Timeout bounds each attempt; 0 means none.
	Timeout time.Duration
	// DeadLetterSink receives what could not be delivered; nil drops it.
	DeadLetterSink *Destination
}

// Backoff is the wait before retry n (1 for the first retry), as Knative computes it
// (kncloudevents.RetryConfigFromDeliverySpec, called by go-retryablehttp with attempt
// number n-1): delay·2^(n-1) exponential, delay·(n-1) linear, 0 without both a policy and
// a delay.
func (d Delivery) Backoff(n int) time.Duration {
	i := n - 1
	switch d.BackoffPolicy {
	case BackoffExponential:
		return d.BackoffDelay * time.Duration(math.Exp2(float64(i)))
	case BackoffLinear:
		return d.BackoffDelay * time.Duration(i)
	}
	return 0
}

// Schedule lists the waits before each retry: Backoff(1) … Backoff(Retry).
func (d Delivery) Schedule() []time.Duration {
	out := make([]time.Duration, d.Retry)
	for n := 1; n <= d.Retry; n++ {
		out[n-1] = d.Backoff(n)
	}
	return out
}

// MaxDuration is the longest one delivery can take: every attempt to its timeout, the
// backoffs between them, then the same again for the dead-letter sink. 0 means unbounded
// (no timeout).
func (d Delivery) MaxDuration() time.Duration {
	if d.Timeout <= 0 {
		return 0
	}
	total := time.Duration(d.Retry+1) * d.Timeout
	for _, wait := range d.Schedule() {
		total += wait
	}
	if d.DeadLetterSink != nil {
		total *= 2
	}
	return total
}

// retryable reports whether a failed attempt is tried again (kncloudevents.SelectiveRetry):
// no response at all, 5xx, 404, 408, 409 and 429.
func retryable(status int) bool {
	switch {
	case status <= 0, status >= 500:
		return true
	}
	switch status {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return false
}
