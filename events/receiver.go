package events

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/extensions"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// ReceivePath is where functions accept CloudEvents; Triggers name it in subscriber.uri.
const ReceivePath = "/cloudevents"

// MaxEventBytes bounds a delivered event.
const MaxEventBytes = 256 << 10

// Handler applies one event inside tx, the transaction that also records it in the inbox.
// It may return a reply event (sent back to the Broker in the 200 response) and an error:
// a Permanent one when the event can never be processed (answered 400: the Broker
// dead-letters it without retrying), any other to have it retried (answered 500).
type Handler func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error)

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// Permanent marks err as one that retrying cannot fix.
func Permanent(err error) error { return permanentError{err} }

// Permanentf is Permanent(fmt.Errorf(…)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// Receiver returns the HTTP handler of a function's ReceivePath. It answers as Knative's
// data plane expects: 2xx when done or when the event is a duplicate ((source, id) already
// in schema's inbox — recorded in the same transaction as the effect, so a redelivery
// changes nothing), 4xx for an event that can never be processed (malformed, oversize,
// wrong shape: a 5xx there would make the Broker retry forever), 5xx to be retried.
// It decodes the request itself instead of using sdk-go's receive handler, which stalls
// under concurrent load (cloudevents/sdk-go#1224).
func Receiver(db *database.DB, schema string, handle Handler, opts ...ReceiverOption) platform.HandlerFunc {
	inbox := pgx.Identifier{schema, "inbox"}.Sanitize()
	var o receiverOptions
	for _, opt := range opts {
		opt(&o)
	}
	return func(w http.ResponseWriter, r *http.Request) error {
		e, err := decode(w, r)
		if err != nil {
			return err
		}
		ctx, span := startProcess(r.Context(), *e)
		defer span.End()
		logger := platform.LoggerFrom(ctx).With(slog.String("event", e.ID()), slog.String("type", e.Type()), slog.String("source", e.Source()))
		var reply *cloudevents.Event
		duplicate, unwanted := false, false
		if o.unwanted != nil {
			unwanted, err = o.unwanted(ctx, *e)
		}
		if err == nil && !unwanted {
			err = db.InTx(ctx, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, `INSERT INTO `+inbox+` (source, id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
					e.Source(), e.ID(), e.Type())
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					duplicate = true
					return nil
				}
				if reply, err = handle(ctx, tx, *e); err != nil {
					return err
				}
				if reply != nil {
					// Checked before commit: an invalid reply must not leave the event marked done.
					if err := reply.Validate(); err != nil {
						return Permanentf("the reply to %s is not a valid CloudEvent: %v", e.ID(), err)
					}
				}
				return nil
			})
		}
		countReceived(ctx, e.Type(), err, duplicate) // metrics.go
		var perm permanentError
		if err != nil {
			markFailed(span, "not processed")
		}
		switch {
		case errors.As(err, &perm):
			logger.WarnContext(ctx, "event refused", slog.String("error", err.Error()))
			return platform.Invalid("the event cannot be processed: " + perm.Error())
		case err != nil:
			return fmt.Errorf("handle event %s (%s): %w", e.ID(), e.Type(), err)
		case unwanted:
			logger.DebugContext(ctx, "event wanted by nobody: nothing to do")
			w.WriteHeader(http.StatusAccepted)
			return nil
		case duplicate:
			markDuplicate(span)
			logger.DebugContext(ctx, "duplicate delivery ignored")
			w.WriteHeader(http.StatusOK)
			return nil
		case reply != nil:
			if _, ok := extensions.GetDistributedTracingExtension(*reply); !ok {
				SetTrace(ctx, reply) // the reply continues the trace from this consumer
			}
			return cehttp.WriteResponseWriter(ctx, binding.ToMessage(reply), http.StatusOK, w)
		default:
			w.WriteHeader(http.StatusAccepted)
			return nil
		}
	}
}

// ReceiverOption configures a Receiver.
type ReceiverOption func(*receiverOptions)

type receiverOptions struct {
	unwanted func(context.Context, cloudevents.Event) (bool, error)
}

// Unwanted lets a Receiver answer an event it has nothing to do for before its transaction:
// when unwanted reports true the event is acknowledged (202) without a transaction, an
// inbox row or the handler. For a function whose handler's effect is idempotent by itself
// and often empty — sync-worker queues an event for the partners subscribed to its type,
// usually none — that is a read instead of a writing commit. An error is the delivery's
// failure (5xx: retried).
func Unwanted(unwanted func(ctx context.Context, e cloudevents.Event) (bool, error)) ReceiverOption {
	return func(o *receiverOptions) { o.unwanted = unwanted }
}

// decode reads one CloudEvent (binary or structured mode) from r, answering 413 for an
// oversize body and 400 for anything malformed.
func decode(w http.ResponseWriter, r *http.Request) (*cloudevents.Event, error) {
	if r.ContentLength > MaxEventBytes {
		return nil, platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", MaxEventBytes)
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxEventBytes)
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", MaxEventBytes)
		}
		return nil, platform.Invalid("not a CloudEvent: " + err.Error())
	}
	if err := e.Validate(); err != nil {
		return nil, platform.Invalid("invalid CloudEvent: " + err.Error())
	}
	if err := checkStrings(e); err != nil {
		return nil, platform.Invalid("invalid CloudEvent: " + err.Error())
	}
	return e, nil
}

// checkStrings holds e's string attributes to the CloudEvents type system: Unicode without
// control characters (U+0000–U+001F, U+007F–U+009F). sdk-go lets invalid UTF-8 and NUL
// through, which PostgreSQL refuses to store: the inbox insert failed with a 500 and the
// Broker retried an event that can never be processed.
func checkStrings(e *cloudevents.Event) error {
	attrs := [][2]string{
		{"id", e.ID()}, {"source", e.Source()}, {"type", e.Type()}, {"subject", e.Subject()},
		{"datacontenttype", e.DataContentType()}, {"dataschema", e.DataSchema()},
	}
	for name, v := range e.Extensions() {
		if s, ok := v.(string); ok {
			attrs = append(attrs, [2]string{name, s})
		}
	}
	for _, a := range attrs {
		if !utf8.ValidString(a[1]) {
			return fmt.Errorf("%s is not valid UTF-8", a[0])
		}
		for _, r := range a[1] {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				return fmt.Errorf("%s holds the control character %U", a[0], r)
			}
		}
	}
	return nil
}

// DecodeData unmarshals e's data into the payload struct of its type, refusing (as a
// permanent error) data that is not the JSON of that struct — absent or null data included,
// which sdk-go's DataAs would let through as a zero payload.
func DecodeData[T any](e cloudevents.Event) (T, error) {
	var v T
	if data := bytes.TrimSpace(e.Data()); len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return v, Permanentf("%s carries no data, want a %T", e.Type(), v)
	}
	// Not sdk-go's DataAs: its error quotes the whole data, personal values and all, into
	// the refusal that is logged and kept with a dead letter.
	if err := json.Unmarshal(e.Data(), &v); err != nil {
		return v, Permanentf("data of %s is not a %T: %s", e.Type(), v, platform.JSONProblem(err))
	}
	return v, nil
}
