// Package metrics is the Prometheus side of every Orange Car Rental process: one registry per
// process (Go runtime and process collectors included), the RED middleware that counts and
// times each request by its route template, the per-function bundle the event receiver,
// idempotency keys, the payment provider and the notification sender record into, and the
// pgx pool collector. The outbox and broker collectors live next to what they measure
// (events, events/broker) and register here.
//
// Labels: series a function makes carry function="<Knative Service>" (a const label per
// function, so `orange dev`, which runs all of them in one process and one registry, and a
// Service alone on Knative expose the same series); process-wide series (go_*, process_*,
// the pool, the broker's Triggers) carry none. Every label value comes from a bounded set:
// route templates, HTTP methods folded to the standard ones, status codes, catalogued event
// types, fixed outcome words. Nothing personal ever becomes a label. The names, the port
// Knative scrapes and the dashboards are in docs/observability.md.
package metrics
