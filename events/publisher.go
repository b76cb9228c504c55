package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/orangecarrental/orange/platform/tracing"
)

// Publisher hands an event to a broker and returns once the broker has accepted it (or,
// for the in-process broker, once every matching Trigger's delivery has finished). The relay
// marks an event published only after Publish returned nil. Two implementations: HTTP to a
// Knative Broker, and the in-process broker of `orange dev`.
type Publisher interface {
	Publish(ctx context.Context, e cloudevents.Event) error
}

// HTTPPublisher sends CloudEvents 1.0 in binary HTTP mode to a sink (on Knative, the Broker
// URL in K_SINK). Any answer but 2xx is an error, so the relay retries.
type HTTPPublisher struct {
	client cloudevents.Client
	sink   string
}

// NewHTTPPublisher returns a publisher to sink using hc (a pooled client when nil).
func NewHTTPPublisher(sink string, hc *http.Client) (*HTTPPublisher, error) {
	if sink == "" {
		return nil, errors.New("no sink: set K_SINK (a SinkBinding does on Knative)")
	}
	if hc == nil {
		// sdk-go's default client has no timeout: a Broker that never answers would hang.
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	opts := []cehttp.Option{cehttp.WithTarget(sink), cehttp.WithClient(*hc)}
	p, err := cloudevents.NewHTTP(opts...)
	if err != nil {
		return nil, err
	}
	c, err := cloudevents.NewClient(p, cloudevents.WithTimeNow())
	if err != nil {
		return nil, err
	}
	return &HTTPPublisher{client: c, sink: sink}, nil
}

// Publish sends e and reports whether the broker accepted it.
func (p *HTTPPublisher) Publish(ctx context.Context, e cloudevents.Event) error {
	if tp, ts := tracing.Traceparent(ctx); tp != "" {
		// The Broker's own spans (when it traces) join the relay's publish span.
		h := http.Header{"Traceparent": {tp}}
		if ts != "" {
			h.Set("Tracestate", ts)
		}
		ctx = cehttp.WithCustomHeader(ctx, h)
	}
	res := p.client.Send(cloudevents.WithEncodingBinary(ctx), e)
	if cloudevents.IsACK(res) {
		return nil
	}
	var httpResult *cehttp.Result
	if cloudevents.ResultAs(res, &httpResult) {
		return fmt.Errorf("broker %s answered %d for %s", p.sink, httpResult.StatusCode, e.ID())
	}
	return fmt.Errorf("send %s to %s: %w", e.ID(), p.sink, res)
}
