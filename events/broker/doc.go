// Package broker is the in-process Knative Broker of `orange dev`: it reads the very
// Trigger, Broker, PingSource and EventPolicy manifests the cluster applies
// (knative.Manifests, base/),
// routes every published CloudEvent through one bounded queue per Trigger, and delivers it
// to the Trigger's subscriber with the Trigger's delivery spec — retries, backoff, timeout,
// dead-letter sink — the way Knative Eventing v0.50 does. PingSources fire in-process on
// their cron schedule. Deliveries carry their sender's OIDC token, and the ingress
// (PublishAs) enforces the Broker's EventPolicies.
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
// OIDC tokens (Eventing's authentication-oidc feature; pkg/broker/filter/filter_handler.go
// send, pkg/kncloudevents/event_dispatcher.go createRequest, pkg/adapter/mtping):
//   - A destination's `audience` (Trigger spec.subscriber, spec.delivery.deadLetterSink of a
//     Trigger or Broker, PingSource spec.sink) is Destination.Audience. A Trigger that
//     takes the Broker's dead-letter sink takes its audience too.
//   - With a TokenFunc, HTTPDeliverer sends `Authorization: Bearer <token>` for the
//     delivery's sender and the destination's audience. The sender is the Trigger for its
//     subscriber deliveries and for its dead-letter deliveries alike (Knative's broker
//     filter sends both with the Trigger's OIDC identity), the PingSource for its fires.
//     It travels in the context (WithSender, SenderFrom); its subject is
//     system:serviceaccount:<namespace>:<the service account Knative creates for it>
//     (SenderSubject).
//   - A destination without audience gets no token, as Knative attaches none.
//
// EventPolicies (eventing.knative.dev/v1alpha1; pkg/auth/event_policy.go, verifier.go):
//   - The policies that apply to a Broker are those of its namespace whose `to` names it
//     (group, kind and name compared case-insensitively) or is empty, in name order.
//   - The first applying policy with a `from.sub` matching the sender's subject — equal
//     ignoring case, or a prefix when it ends in `*` (case-sensitive) — decides by its
//     `filters` (allowed unless they fail; none: allowed). No matching subject: refused.
//   - No applying policy: the default authorization mode, allow-same-namespace — only
//     subjects system:serviceaccount:<the Broker's namespace>:….
//   - Loading refuses what the webhook refuses (ref and selector, ref and sub, an empty
//     sub, `*` before the end of a sub, the filter errors of a Trigger) plus what the
//     in-process broker cannot enforce: `to.selector`, a `to` that is not a Broker, and
//     `from.ref`, whose service accounts only the cluster resolves — name the subject.
//   - PublishAs is the ingress: it takes the subject of an already verified token (the
//     caller checks the token and its audience: 401) and refuses what the policies do not
//     allow with a *PolicyError (403), delivering nothing. As(subject) is the Publisher of
//     an in-process outbox relay. A PingSource whose sink is the Broker publishes as
//     itself through PublishAs (Sender), and a refusal is not retried, as the ping adapter
//     does not retry a 403.
//   - Replies are checked as on a cluster, where the broker filter forwards a reply to the
//     ingress with the replying Trigger's OIDC identity: the Trigger's subject must be
//     allowed to send the reply. A refused reply fails the delivery like the ingress's 403:
//     the original event goes to the dead-letter sink with knativeerrorcode 403 (or is
//     dropped without one), and the reply goes nowhere.
//   - Publish is not checked: it is the broker's trusted internal path.
//
// Queues (durable.go; docs/events.md): with Options.DB — as `orange dev` runs it — each
// Trigger's queue is its rows in the broker's own table (schema broker, Migrations), one row
// per event per matching Trigger, written by Publish in one INSERT (shared with the publishes
// arriving meanwhile: group commit) before it returns, so an accepted event survives a crash. Each Trigger's workers claim its rows with SKIP LOCKED and
// a renewed lease, run its delivery spec and delete the row; a slow or failing subscriber
// holds only its own Trigger's workers. Rows of a crashed process are delivered again when
// their leases run out (at-least-once), a Trigger at MaxQueued rows makes Publish wait
// (ErrQueueFull when its context ends), and a reply is queued before its original event is
// settled. Without Options.DB the queues live in memory and Publish returns only after every
// matching Trigger finished (the outbox is then the durable part).
//
// What differs from a cluster: a dead-letter sink that cannot be reached keeps the event
// (durable queues: retried later; in memory: Publish fails so the relay publishes again)
// where a cluster would lose it; in-memory replies are not durable once the original
// delivery finished; the knativebrokerttl and knativearrivaltime extensions are not
// added to delivered events. On tokens and policies: a token is asked for on every attempt,
// and a TokenFunc error fails that attempt like a transport error, retried per the delivery
// spec (Knative's dispatcher gets one token per delivery before its retries and, failing,
// goes straight to the dead-letter sink); a refused reply's knativeerrordest is the
// Broker's ingress URL (a cluster names the broker filter's reply path); with
// Options.Policies nil nothing is authorized, as with authentication-oidc off; the default
// authorization mode is always allow-same-namespace (deny-all and allow-all are not read
// from config-features); EventPolicies of other namespaces, and their status, are ignored.
package broker
