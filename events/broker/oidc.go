package broker

import (
	"context"

	"github.com/orangecarrental/orange/platform"
)

// TokenFunc returns the OIDC token (a JWT) that sender — a Trigger or PingSource of
// namespace — presents to a destination whose audience is audience: on a cluster, the token
// of the sender's own service account that Eventing's OIDC token provider fetches; in
// `orange dev`, one the development issuer signs. See HTTPDeliverer.
type TokenFunc func(sender platform.Sender, namespace, audience string) (string, error)

// SenderSubject is the OIDC subject of sender's tokens in namespace,
// system:serviceaccount:<namespace>:<sender's service account> — what an EventPolicy names
// in `from.sub` and what PublishAs takes.
func SenderSubject(sender platform.Sender, namespace string) string {
	return serviceAccountPrefix + namespace + ":" + sender.ServiceAccount()
}

// serviceAccountPrefix starts the subject of every Kubernetes service account's token.
const serviceAccountPrefix = "system:serviceaccount:"

// sendInfo is what a delivery's context tells the Deliverer about it: who sends it and
// whether it may ask for a reply. The broker keeps one per Trigger and purpose, so an
// attempt costs one context value, not one per fact.
type sendInfo struct {
	sender    platform.Sender
	namespace string
	noReply   bool // the dead-letter sink's deliveries don't send Prefer: reply
}

type sendInfoKey struct{}

func withSendInfo(ctx context.Context, info *sendInfo) context.Context {
	return context.WithValue(ctx, sendInfoKey{}, info)
}

func sendInfoFrom(ctx context.Context) *sendInfo {
	info, _ := ctx.Value(sendInfoKey{}).(*sendInfo)
	return info
}

// WithSender returns ctx naming the sender of the deliveries made with it: the Trigger or
// PingSource (of namespace) whose identity HTTPDeliverer signs them with. The broker sets
// it for every delivery of a Trigger (subscriber and dead-letter sink) and RunPingSources
// for every fire; a caller of a Deliverer of its own sets it the same way.
func WithSender(ctx context.Context, sender platform.Sender, namespace string) context.Context {
	return withSendInfo(ctx, &sendInfo{sender: sender, namespace: namespace})
}

// SenderFrom returns the sender WithSender (or the broker) put in ctx; ok is false when
// there is none.
func SenderFrom(ctx context.Context) (sender platform.Sender, namespace string, ok bool) {
	info := sendInfoFrom(ctx)
	if info == nil || info.sender.Name == "" {
		return platform.Sender{}, "", false
	}
	return info.sender, info.namespace, true
}

// noReply reports whether the delivery of ctx must not ask for a reply (the dead-letter
// sink's, as Knative sends Prefer: reply to subscribers only).
func noReply(ctx context.Context) bool {
	info := sendInfoFrom(ctx)
	return info != nil && info.noReply
}
