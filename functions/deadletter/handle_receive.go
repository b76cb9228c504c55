package deadletter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// handleDeadLetter stores one dead letter: 202 when it stored it (new, or failed again
// after a replay), 200 for a redelivery of one stored (or discarded) already; 400 for anything that is not a
// CloudEvent (the Broker then drops it: nothing here could keep it). The log names the
// letter and its event by ids (the subject is an aggregate's id), never its data or the
// subscriber's answer, which may quote anyone.
func (s *Service) handleDeadLetter(w http.ResponseWriter, r *http.Request) error {
	trigger, ok := triggerOf(platform.CallerFrom(r.Context()).Sender)
	if !ok {
		return platform.Errorf(platform.KindForbidden, "only the Triggers that dead-letter here may deliver")
	}
	e, err := decodeEvent(w, r)
	if err != nil {
		return err
	}
	l := letterOf(e, trigger)
	stored, id, err := s.store.Insert(r.Context(), l)
	if err != nil {
		return fmt.Errorf("store dead letter %s of %s: %w", e.ID(), trigger, err)
	}
	attrs := []any{slog.String("letter", id), slog.String("trigger", trigger), slog.String("event", e.ID()),
		slog.String("type", e.Type()), slog.String("source", e.Source()), slog.String("subject", e.Subject()), slog.Bool("stored", stored)}
	if l.ErrorCode != nil {
		attrs = append(attrs, slog.Int("status", *l.ErrorCode))
	}
	s.logger.WarnContext(r.Context(), "dead letter", attrs...)
	if !stored {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// decodeEvent reads one CloudEvent (binary or structured mode) of at most
// events.MaxEventBytes.
func decodeEvent(w http.ResponseWriter, r *http.Request) (*cloudevents.Event, error) {
	if r.ContentLength > events.MaxEventBytes {
		return nil, platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", events.MaxEventBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, events.MaxEventBytes)
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", events.MaxEventBytes)
		}
		// Not the error's text: it may quote the body.
		return nil, platform.Invalid("not a CloudEvent")
	}
	if err := e.Validate(); err != nil {
		return nil, platform.Invalid("invalid CloudEvent: " + err.Error())
	}
	attrs := []string{e.ID(), e.Source(), e.Type(), e.Subject(), e.DataContentType()}
	for _, v := range e.Extensions() {
		attrs = append(attrs, stringOf(v))
	}
	for _, a := range attrs {
		if !utf8.ValidString(a) || strings.ContainsRune(a, 0) {
			// PostgreSQL cannot store it; retrying would not help.
			return nil, platform.Invalid("invalid CloudEvent: an attribute is not valid text")
		}
	}
	return e, nil
}

// handleEvent applies customer.erased (the only type this function's Trigger delivers):
// the customer's personal data leaves every letter and replay kept here.
func (s *Service) handleEvent(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
	if e.Type() != events.CustomerErased {
		return nil, events.Permanentf("%s is not consumed here", e.Type())
	}
	erasure, err := events.DecodeData[events.CustomerErasure](e)
	if err != nil {
		return nil, err
	}
	if !platform.ValidUUID(erasure.CustomerID) {
		return nil, events.Permanentf("%s: customerId must be a UUID", e.Type())
	}
	return nil, s.store.Erase(ctx, tx, erasure.CustomerID)
}
