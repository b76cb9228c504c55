// Package broker is the in-process Knative Broker of `orange dev`: it reads the very
// Trigger, Broker and PingSource manifests the cluster applies (knative.Manifests, base/),
// routes every published CloudEvent through one bounded queue per Trigger, and delivers it
// to the Trigger's subscriber with the Trigger's delivery spec — retries, backoff, timeout,
// dead-letter sink — the way Knative Eventing v0.50 does. PingSources fire in-process on
// their cron schedule.
//
// It parses the YAML with its own small structs and imports neither Knative's Go packages
// nor Kubernetes', so the service binaries stay small; the tests hold every semantic rule to
// Knative's own implementation as an oracle.
//
// # Semantics, and the Knative source they follow
//
// Filters (pkg/broker/filter/filter_handler.go filterEvent, pkg/eventfilter/...):
//   - A Trigger with a non-empty `filters` list is filtered by it alone; `filter.attributes`
//     is then ignored. Otherwise `filter.attributes` applies; no filter passes everything.
//   - Filters evaluate to pass, fail or "no filter"; only fail keeps an event from a
//     Trigger. `all`/`any` of several filters answer the last child's result unless one
//     short-circuits (fail for all, pass for any); `not` of "no filter" is "no filter".
//   - `filter.attributes`: every key must be present; a value must equal it exactly; an
//     empty value means "any non-empty value".
//   - exact/prefix/suffix compare the attribute's string form; a missing extension fails.
//   - Attributes are read as the cluster's filter reads them, i.e. after the event crossed
//     HTTP in binary mode: extensions as their canonical strings, time as RFC 3339 in UTC.
//   - Loading rejects what Knative's webhook rejects (several dialects in one filter,
//     attribute names not matching ^[a-z][a-z0-9]*$) plus what it cannot run (cesql,
//     unknown dialects) and an exact/prefix/suffix with an empty value (Knative silently
//     drops such a filter, which then matches everything — almost certainly a typo).
//
// Delivery (pkg/kncloudevents/retries.go, event_dispatcher.go; go-retryablehttp):
//   - 2xx is done. Retried: transport errors, timeouts, 5xx, 404, 408, 409 and 429
//     (SelectiveRetry); any other status (other 4xx, 1xx, 3xx) goes to the dead-letter sink
//     at once.
//   - The wait before retry n (n = 1…retry) is backoffDelay·2^(n-1) for exponential and
//     backoffDelay·(n-1) for linear — retryablehttp numbers the first retry 0, so a linear
//     policy retries the first time without waiting. Without both backoffPolicy and
//     backoffDelay there is no wait at all.
//   - timeout bounds each attempt.
//   - The dead-letter event is the original event plus knativeerrordest (the subscriber's
//     URL, http://<service>.<namespace>.svc.cluster.local<path>), knativeerrorcode (the
//     last status; 500 for a transport error or timeout) and knativeerrordata (the base64
//     of the last response body, or of "dispatch error: <error>", cut to 1024 characters).
//     The dead-letter sink gets the same retry spec.
//   - A Trigger without `delivery` inherits the Broker's whole delivery spec; a Trigger with
//     its own keeps its retry/backoff/timeout and falls back to the Broker's dead-letter
//     sink only when it names none (reconciler/broker/trigger/trigger.go and
//     reconciler/subscription/subscription.go: the Trigger's Subscription takes the Broker
//     channel's dead-letter sink).
//   - A reply event in a 2xx response is published back into the Broker asynchronously,
//     with a hop budget of 255 like the broker ingress's knativebrokerttl.
//
// A subscriber without `uri` gets the event at its root path, as on the cluster; the
// Triggers of this project name `uri: /cloudevents` (events.ReceivePath).
//
// What differs from a cluster: the queues live in memory (the outbox is the durable part:
// Publish returns only after every matching Trigger finished, so the relay marks an event
// published only then); a dead-letter sink that cannot be reached makes Publish fail so the
// relay publishes again (a cluster would lose the event); replies are not durable once the
// original delivery finished; the knativebrokerttl and knativearrivaltime extensions are not
// added to delivered events.
package broker
