package deadletter

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// The extensions Knative adds to a dead letter (kncloudevents; events/broker adds the same
// in `orange dev`): stored in their own columns, never replayed.
const (
	extErrorDest = "knativeerrordest"
	extErrorCode = "knativeerrorcode"
	extErrorData = "knativeerrordata"
)

// letterOf is the letter for e, dead-lettered at trigger.
func letterOf(e *cloudevents.Event, trigger string) *Letter {
	l := &Letter{Trigger: trigger, EventID: e.ID(), Source: e.Source(), Type: e.Type(), Subject: e.Subject(),
		ContentType: e.DataContentType(), Extensions: map[string]any{}}
	if t := e.Time(); !t.IsZero() {
		l.Time = &t
	}
	for k, v := range e.Extensions() {
		switch k {
		case extErrorDest:
			l.ErrorDest = stringOf(v)
		case extErrorCode:
			if code, ok := codeOf(v); ok {
				l.ErrorCode = &code
			}
		case extErrorData:
			s := stringOf(v)
			l.ErrorData = &s
		default:
			l.Extensions[k] = stringOf(v)
		}
	}
	if data := e.Data(); len(data) > 0 {
		if isJSON(data) {
			l.Data = data
		} else {
			l.DataBytes = data
		}
	}
	return l
}

// event is the letter's event as its producer sent it: id, source, type, subject, time,
// data, without Knative's error extensions.
func (l *Letter) event() cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(l.EventID)
	e.SetSource(l.Source)
	e.SetType(l.Type)
	e.SetSubject(l.Subject)
	if l.Time != nil {
		e.SetTime(*l.Time)
	} else {
		e.SetTime(l.ReceivedAt) // an outbox row needs a time; ours always carry one
	}
	_ = e.SetData(cloudevents.ApplicationJSON, []byte(l.Data))
	return e
}

// ownTypes is the prefix of our own event types. The Broker admits a replay of one from
// dead-letter only with its producer's source (EventPolicy dead-letter-replays): the
// source a Trigger delivered it with.
const ownTypes = "com.orangecarrental."

// replayableTypes are the event types a replay may send: the catalogue's own (not the
// PingSources' pings, which a PingSource sends again on its schedule anyway).
func replayableTypes() []string {
	var out []string
	for _, typ := range slices.Sorted(maps.Keys(events.Types)) {
		if strings.HasPrefix(typ, ownTypes) {
			out = append(out, typ)
		}
	}
	return out
}

// replayable refuses (409) a letter that cannot go back to the Broker: discarded, an event
// of a type that is not ours (a ping, a stranger's event), data that is not JSON, or an id
// that is not a UUID (what every event of ours has, and what an outbox holds).
func replayable(l *Letter) error {
	switch {
	case l.Status == StatusDiscarded:
		return platform.Conflict("dead letter %s was discarded", l.ID).WithCode("dead_letter_discarded")
	case !slices.Contains(replayableTypes(), l.Type):
		return platform.Conflict("dead letter %s is a %s event, not one of ours: it cannot be replayed", l.ID, l.Type).WithCode("dead_letter_not_replayable")
	case l.Data == nil:
		return platform.Conflict("dead letter %s carries no JSON data: it cannot be replayed", l.ID).WithCode("dead_letter_not_replayable")
	case !platform.ValidUUID(l.EventID):
		return platform.Conflict("dead letter %s: its event id is not a UUID: it cannot be replayed", l.ID).WithCode("dead_letter_not_replayable")
	}
	return nil
}

// stringOf is an extension's value as text (sdk-go keeps strings, URIs, integers, …).
func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// codeOf reads knativeerrorcode: an integer extension, or its text.
func codeOf(v any) (int, bool) {
	switch c := v.(type) {
	case int32:
		return int(c), true
	case int:
		return c, true
	case int64:
		return int(c), true
	}
	n, err := strconv.Atoi(stringOf(v))
	return n, err == nil
}

// isJSON tells whether data is one JSON value PostgreSQL can keep as jsonb: valid UTF-8,
// no NUL escapes nor half a surrogate pair. Anything else is kept as bytes.
func isJSON(data []byte) bool {
	return utf8.Valid(data) && json.Valid(data) && platform.BadEscape(data) == ""
}
