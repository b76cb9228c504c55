// Package contract is the contract suite of the event seam, which has two implementations:
// the in-process broker of `orange dev` (events/broker) and a Knative Broker delivering
// over HTTP. Its tests drive one consumer — a real events.Receiver with its inbox over real
// PostgreSQL — through both, from the same Trigger manifest, and require the same
// observable outcome of every scenario either way: the effects and inbox rows, the attempts
// the consumer saw and what it answered, what reached the dead-letter sink and with which
// knativeerrorcode, and the final state of a version-ordered read model.
//
// The Knative side is Knative's own dispatcher (knative.dev/eventing/pkg/kncloudevents, as
// the broker filter drives it) posting binary-mode CloudEvents over loopback HTTP with the
// retry config Knative builds from the Trigger's delivery spec, and dead-lettering to a
// sink that is a real HTTP server too. Knative is imported by the tests only.
//
// The package holds no code besides this comment.
package contract
