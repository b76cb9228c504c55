package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/orangecarrental/orange/events"
)

// HTTPDeliverer POSTs events in binary mode to http://<Service><Path> through rt — in
// `orange dev` the platform transport, which reaches a function in-process by its service
// name — the way Knative's dispatcher does (Prefer: reply, Kn-Namespace). A 2xx answer may
// carry a reply event; a 2xx answer with a body that is not a CloudEvent is an error, as
// Knative's broker filter treats it (502). A non-2xx answer is a *ResponseError with the
// body.
//
// With sign set, a delivery to a destination with an Audience carries
// `Authorization: Bearer <token>`, the token sign returns for the delivery's sender (see
// WithSender; the broker names the Trigger, RunPingSources the PingSource) and that
// audience — Eventing's OIDC (kncloudevents.Dispatcher.createRequest). A destination
// without audience gets no token, as in Knative. A failure to get a token, or a
// destination with an audience whose context names no sender, fails that attempt like a
// transport error (no response: retried as the delivery spec says).
func HTTPDeliverer(rt http.RoundTripper, sign TokenFunc) Deliverer {
	if rt == nil {
		rt = http.DefaultTransport
	}
	client := &http.Client{Transport: rt}
	return func(ctx context.Context, to Destination, e cloudevents.Event) (*cloudevents.Event, int, error) {
		if to.Service == "" {
			return nil, 0, fmt.Errorf("deliver to %s: not a Service", to)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+to.Service+to.Path, nil)
		if err != nil {
			return nil, 0, err
		}
		if err := cehttp.WriteRequest(binding.WithForceBinary(ctx), binding.ToMessage(&e), req); err != nil {
			return nil, 0, fmt.Errorf("encode event %s: %w", e.ID(), err)
		}
		if !noReply(ctx) {
			req.Header.Set("Prefer", "reply")
		}
		if to.Namespace != "" {
			req.Header.Set("Kn-Namespace", to.Namespace)
		}
		if sign != nil && to.Audience != "" {
			sender, namespace, ok := SenderFrom(ctx)
			if !ok {
				return nil, 0, fmt.Errorf("deliver to %s: no sender to sign for audience %q", to, to.Audience)
			}
			token, err := sign(sender, namespace, to.Audience)
			if err != nil {
				return nil, 0, fmt.Errorf("deliver to %s: token of %s for audience %q: %w", to, sender, to.Audience, err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			// Name the destination's cluster URL, as knativeerrordest does and Knative's
			// dispatcher does in its error, not the in-process address.
			var ue *url.Error
			if errors.As(err, &ue) {
				ue.URL = to.URL()
			}
			return nil, 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, events.MaxEventBytes+1))
		if err != nil {
			return nil, 0, fmt.Errorf("read response of %s: %w", to, err)
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return nil, resp.StatusCode, &ResponseError{Status: resp.StatusCode, Body: body}
		}
		msg := cehttp.NewMessage(resp.Header, io.NopCloser(bytes.NewReader(body)))
		if msg.ReadEncoding() == binding.EncodingUnknown {
			_ = msg.Finish(nil)
			if len(body) > 0 {
				return nil, resp.StatusCode, errors.New("received a non-empty response not recognized as CloudEvent; the response must be empty or a valid CloudEvent")
			}
			return nil, resp.StatusCode, nil
		}
		reply, err := binding.ToEvent(ctx, msg)
		if err == nil {
			err = reply.Validate()
		}
		if err != nil {
			return nil, resp.StatusCode, fmt.Errorf("malformed reply event: %w", err)
		}
		return reply, resp.StatusCode, nil
	}
}

// Sender is the send function RunPingSources needs: an event for a Broker sink goes
// through b.PublishAs with the subject of the sender in ctx (the PingSource; b.Publish
// when ctx names none), so the Broker's EventPolicies apply to it as a cluster's broker
// ingress applies them; one for a Service goes through deliver (anything but 2xx is an
// error, a *ResponseError when there was an answer).
func Sender(b *Broker, deliver Deliverer) func(ctx context.Context, to Destination, e cloudevents.Event) error {
	return func(ctx context.Context, to Destination, e cloudevents.Event) error {
		if to.Broker != "" {
			if sender, namespace, ok := SenderFrom(ctx); ok {
				return b.PublishAs(ctx, SenderSubject(sender, namespace), e)
			}
			return b.Publish(ctx, e)
		}
		_, status, err := deliver(ctx, to, e)
		if err == nil && (status < 200 || status > 299) {
			err = &ResponseError{Status: status}
		}
		return err
	}
}
