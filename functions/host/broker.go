package host

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
)

// BrokerIngressPath is where `orange dev` accepts events for its broker, shaped like a
// Knative Broker's ingress path (/<namespace>/<broker>); `orange emit` sends there.
const BrokerIngressPath = "/broker/orange/default"

// startBroker runs the in-process broker with the Triggers and PingSources of
// knative/base — the very files production applies — delivering through the in-process
// transport, and serves its ingress, its dev page and its metrics on m's port.
func startBroker(bg *background, m *Mounted, logger *slog.Logger) (*broker.Broker, error) {
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	if err != nil {
		return nil, err
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	if err != nil {
		return nil, err
	}
	// On the cluster the dead-letter sink is Knative's event_display; here it logs alike.
	m.Transport.Mount("dead-letter", broker.EventDisplay(logger.With(slog.String("service", "dead-letter"))))
	deliver := broker.HTTPDeliverer(m.Transport)
	b := broker.New(triggers, deliver, broker.Options{Logger: logger.With(slog.String("component", "broker"))})
	bg.goRun("broker", b.Run)
	if len(pings) > 0 {
		bg.goRun("pingsources", func(ctx context.Context) error {
			return broker.RunPingSources(ctx, pings, broker.Sender(b, deliver), nil)
		})
	}
	m.Mux.Handle("POST "+BrokerIngressPath, platform.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return ingress(b, w, r)
	}))
	m.Mux.Handle("GET /dev/broker", b.DevHandler())
	m.Mux.Handle("GET /metrics", b.MetricsHandler())
	logger.Info("in-process broker", slog.Int("triggers", len(triggers)), slog.Int("pingSources", len(pings)))
	return b, nil
}

// ingress accepts one CloudEvent like a Broker's ingress and answers once every matching
// Trigger's delivery has finished.
func ingress(b *broker.Broker, w http.ResponseWriter, r *http.Request) error {
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
	if err := b.Publish(r.Context(), *e); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}
