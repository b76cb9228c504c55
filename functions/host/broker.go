package host

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
)

// BrokerIngressPath is where `orange dev` accepts events for its broker, shaped like a
// Knative Broker's ingress path (/<namespace>/<broker>); `orange emit` sends there.
const BrokerIngressPath = "/broker/orange/default"

// BrokerService is the service name of the in-process broker's spans.
const BrokerService = "broker"

// startBroker runs the in-process broker with the Triggers, PingSources and EventPolicies of
// knative/base — the very files production applies; dead letters go, as every delivery
// does, through the transport to the Service the sink names (dead-letter, a function of the
// registry) — with its queues durable in db's
// `broker` schema (migrated beforehand: broker.Migrations), delivering through the
// in-process transport with tokens of the development cluster issuer (each Trigger and
// PingSource signs as its own OIDC identity, for the subscriber's audience), and serves its
// ingress and its dev page on m's port (its series: Broker.Collector, in Dev's registry).
func startBroker(bg *background, m *Mounted, db *database.DB, logger *slog.Logger) (*broker.Broker, error) {
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	if err != nil {
		return nil, err
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	if err != nil {
		return nil, err
	}
	policies, err := broker.LoadEventPolicies(knative.Manifests, "base")
	if err != nil {
		return nil, err
	}
	sign := func(sender platform.Sender, namespace, audience string) (string, error) {
		return m.Cluster.Token(devissuer.Subject(namespace, sender.ServiceAccount()), audience)
	}
	deliver := broker.HTTPDeliverer(m.Transport, sign)
	b := broker.New(triggers, deliver, broker.Options{
		Logger:   logger.With(slog.String("component", "broker")),
		DB:       db,
		Policies: broker.NewPolicies(policies, m.Namespace, auth.DefaultBroker),
		Tracer:   bg.tracing.Provider(BrokerService),
	})
	bg.goRun("broker", b.Run)
	if len(pings) > 0 {
		bg.goRun("pingsources", func(ctx context.Context) error {
			return broker.RunPingSources(ctx, pings, broker.Sender(b, deliver), nil)
		})
	}
	ingressAuth := m.Deliveries.ForAudience(auth.BrokerAudience(m.Namespace, auth.DefaultBroker))
	m.Mux.Handle("POST "+BrokerIngressPath, platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return ingress(b, ingressAuth, w, r)
	}))
	m.Mux.Handle("GET /dev/broker", b.DevHandler())
	logger.Info("in-process broker", slog.Int("triggers", len(triggers)), slog.Int("pingSources", len(pings)),
		slog.Int("eventPolicies", len(policies)))
	return b, nil
}

// ingressWait bounds how long the ingress waits for room in a full queue before it
// answers 503 (the sender retries, as a relay does).
const ingressWait = 5 * time.Second

// ingress accepts one CloudEvent like a Broker's ingress with Eventing's OIDC: the sender's
// token must be addressed to the Broker (401 otherwise), and the EventPolicies must let
// its identity send the event's type (403 otherwise, nothing delivered). It answers 202
// once the event is queued durably for every matching Trigger, before any delivery; 503
// when a matching Trigger's queue stayed full for the request's lifetime.
func ingress(b *broker.Broker, verifier *auth.DeliveryVerifier, w http.ResponseWriter, r *http.Request) error {
	sender, err := verifier.AuthenticateDelivery(r.Context(), r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="broker"`)
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, events.MaxEventBytes)
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", events.MaxEventBytes)
		}
		return platform.Invalid("not a CloudEvent: " + err.Error())
	}
	if err := e.Validate(); err != nil {
		return platform.Invalid("invalid CloudEvent: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(r.Context(), ingressWait)
	defer cancel()
	if err := b.PublishAs(ctx, sender.Subject, *e); err != nil {
		var refused *broker.PolicyError
		if errors.As(err, &refused) {
			return &platform.Error{Kind: platform.KindForbidden, Message: refused.Error(), Err: err}
		}
		if errors.Is(err, broker.ErrQueueFull) {
			return &platform.Error{Kind: platform.KindUnavailable, Message: "a Trigger's queue is full; send again later", Err: err}
		}
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
