package syncworker

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// The media types of the structured and batched modes.
const (
	structuredType = "application/cloudevents+json"
	batchType      = "application/cloudevents-batch+json"
)

// MaxBatchBytes bounds a batched request; a single event is bounded by events.MaxEventBytes.
const MaxBatchBytes = 1 << 20

// PartnerSource is the source the Broker sees on partner's events: under sync-worker's
// name, so a partner can never pose as one of our functions (the EventPolicy admits this
// prefix only, with the inbound types only).
func PartnerSource(partner string) string { return ServiceName + "/partners/" + partner }

// idSpace makes the Broker id of an inbound event: UUIDv5 of (partner, source, id). The
// same event from the same partner gets the same id, whatever the producer's id looks like
// (CloudEvents ids are any string; the outbox wants a UUID), and two partners never clash.
var idSpace = uuid.MustParse("6f7a1c0e-5b1d-4c3e-9b8f-2a6d0e4c9b71")

// Accepted is the answer to good events.
type Accepted struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Events     []AcceptedEvent `json:"events"`
}

// AcceptedEvent is one event taken: the producer's source and id, and the Broker's id.
type AcceptedEvent struct {
	Source    string `json:"source"`
	ID        string `json:"id"`
	EventID   string `json:"eventId"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// partnerOf returns the partner (OAuth client id) of the request: a token with the partner
// role of a client's service account (Keycloak names it service-account-<client id>).
func partnerOf(r *http.Request) (string, error) {
	c := platform.CallerFrom(r.Context())
	id, ok := strings.CutPrefix(c.Username, "service-account-")
	if !c.Has(platform.RolePartner) || !ok || id == "" {
		return "", platform.Errorf(platform.KindForbidden, "only partners send events")
	}
	return id, nil
}

// handleInbound takes a partner's CloudEvents: all of them or none (docs/inbound-events.md).
func (s *Service) handleInbound(w http.ResponseWriter, r *http.Request) error {
	partner, err := partnerOf(r)
	if err != nil {
		return err
	}
	evs, batch, malformed, err := s.readEvents(w, r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var allowed []string
	err = s.db.Pool.QueryRow(ctx, `SELECT types FROM sync.partners WHERE client_id = $1`, partner).Scan(&allowed)
	if err != nil && !isNoRows(err) {
		return err
	}
	var invalid, forbidden []platform.FieldError
	for i, e := range evs {
		at := "event"
		if batch {
			at = fmt.Sprintf("events[%d]", i)
		}
		if reason, ok := malformed[i]; ok {
			invalid = append(invalid, platform.FieldError{Field: at, Reason: reason})
			continue
		}
		problems, deny, err := s.checkEvent(e, allowed)
		if err != nil {
			return err
		}
		for _, p := range problems {
			invalid = append(invalid, platform.FieldError{Field: at, Reason: p})
		}
		if deny != "" {
			forbidden = append(forbidden, platform.FieldError{Field: at, Reason: deny})
		}
	}
	if len(forbidden) > 0 {
		return &platform.Error{Kind: platform.KindForbidden, Message: "partner " + partner + " may not send these event types; nothing was published",
			Fields: append(forbidden, invalid...)}
	}
	if len(invalid) > 0 {
		return platform.Invalid("the events are not valid; nothing was published", invalid...)
	}
	// Two requests with the same event at once: the second's insert into sync.inbound waits
	// for the first's transaction and then finds the row, so the event is published once.
	// The rows are taken in (source, id) order, so two batches holding the same events in
	// other orders wait for each other instead of deadlocking.
	order := make([]int, len(evs))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(evs[a].Source(), evs[b].Source()), strings.Compare(evs[a].ID(), evs[b].ID()))
	})
	var out Accepted
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		out = Accepted{Events: make([]AcceptedEvent, len(evs))}
		for _, i := range order {
			a, err := s.publish(r, tx, partner, evs[i])
			if err != nil {
				return err
			}
			out.Events[i] = a
			if a.Duplicate {
				out.Duplicates++
			} else {
				out.Accepted++
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusAccepted, out)
}

// readEvents decodes the request in whichever mode it is: batched (a JSON array of
// structured events), structured, or binary. A batch's members that are no CloudEvent are
// returned by index with the reason (malformed), so the answer lists them beside the
// others' problems — it listed them alone, and a sender learnt of the rest a request later.
func (s *Service) readEvents(w http.ResponseWriter, r *http.Request) ([]cloudevents.Event, bool, map[int]string, error) {
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if media != batchType {
		if r.ContentLength > events.MaxEventBytes {
			return nil, false, nil, platform.Errorf(platform.KindTooLarge, "an event may have at most %d bytes", events.MaxEventBytes)
		}
		r.Body = http.MaxBytesReader(w, r.Body, events.MaxEventBytes)
		e, err := cloudevents.NewEventFromHTTPRequest(r)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, false, nil, platform.Errorf(platform.KindTooLarge, "an event may have at most %d bytes", events.MaxEventBytes)
			}
			return nil, false, nil, platform.Invalid("not a CloudEvent (binary or structured mode): " + sdkReason(err))
		}
		return []cloudevents.Event{*e}, false, nil, nil
	}
	if r.ContentLength > MaxBatchBytes {
		return nil, true, nil, platform.Errorf(platform.KindTooLarge, "a batch may have at most %d bytes", MaxBatchBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatchBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, true, nil, platform.Errorf(platform.KindTooLarge, "a batch may have at most %d bytes", MaxBatchBytes)
		}
		return nil, true, nil, err
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, true, nil, platform.Invalid("a batch must be a JSON array of structured CloudEvents")
	}
	switch {
	case len(raws) == 0:
		return nil, true, nil, platform.Invalid("the batch is empty")
	case len(raws) > s.cfg.MaxBatch:
		return nil, true, nil, platform.Errorf(platform.KindTooLarge, "a batch may hold at most %d events, this one holds %d", s.cfg.MaxBatch, len(raws))
	}
	evs := make([]cloudevents.Event, len(raws))
	malformed := map[int]string{}
	for i, raw := range raws {
		if err := json.Unmarshal(raw, &evs[i]); err != nil {
			malformed[i] = "not a CloudEvent: " + sdkReason(err)
		}
	}
	return evs, true, malformed, nil
}

// sdkReason is the CloudEvents SDK's reason for refusing an event, without the parser's
// position report and the excerpt of the body it quotes ("error found in #10 byte of
// ...|…|..., bigger context ..."): the sender has the body, the answer needs the reason.
func sdkReason(err error) string {
	msg, _, _ := strings.Cut(strings.TrimSpace(err.Error()), ", error found in #")
	if len(msg) > 200 {
		msg = strings.ToValidUTF8(msg[:200], "") + "…"
	}
	return msg
}

// checkEvent returns what is wrong with e (invalid) or why partner may not send it (deny).
func (s *Service) checkEvent(e cloudevents.Event, allowed []string) (invalid []string, deny string, err error) {
	if err := e.Validate(); err != nil {
		return []string{"not a valid CloudEvent: " + sdkReason(err)}, "", nil
	}
	if v := e.SpecVersion(); v != cloudevents.VersionV1 {
		// The SDK still reads 0.3; the events we publish and our schemas are 1.0's.
		return []string{"specversion: must be 1.0, not " + printable(v)}, "", nil
	}
	// The SDK reads the time with Go's parser, which takes an offset of 24 hours.
	if t := e.Time(); !t.IsZero() && !platform.OffsetWithinADay(t) {
		invalid = append(invalid, "time: the offset from UTC must lie within ±23:59")
	}
	for _, a := range [][2]string{{"id", e.ID()}, {"source", e.Source()}, {"subject", e.Subject()}} {
		if !utf8.ValidString(a[1]) || strings.ContainsFunc(a[1], func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }) {
			invalid = append(invalid, a[0]+": must be printable UTF-8")
		}
		if len(a[1]) > 256 {
			invalid = append(invalid, a[0]+": must be at most 256 bytes")
		}
	}
	if _, inbound := events.Inbound[e.Type()]; !inbound {
		return append(invalid, "type: "+printable(e.Type())+" is not an inbound event type (GET /api/events/schemas lists them)"), "", nil
	}
	if !slices.Contains(allowed, e.Type()) {
		return invalid, "type: " + e.Type() + " is not allowed for this partner", nil
	}
	if ct := e.DataContentType(); ct != "" {
		if media, _, _ := mime.ParseMediaType(ct); media != "application/json" {
			return append(invalid, "datacontenttype: must be application/json"), "", nil
		}
	}
	data := bytes.TrimSpace(e.Data())
	if len(data) == 0 {
		return append(invalid, "data: is required"), "", nil
	}
	if !utf8.Valid(data) {
		// Not storable either: PostgreSQL refused it deep in the publish, a 500.
		return append(invalid, "data: is not valid UTF-8"), "", nil
	}
	problems, err := validateInbound(e.Type(), data)
	if len(problems) == 0 && err == nil {
		// Valid by the schema, yet not storable: PostgreSQL keeps no NUL nor half a
		// surrogate pair, and the event's way to the outbox would end in a 500.
		if p := platform.BadEscape(data); p != "" {
			problems = []string{"data: a string " + p}
		}
	}
	if len(problems) == 0 && err == nil {
		problems = consumable(e.Type(), data, s.now())
	}
	return append(invalid, problems...), "", err
}

// publish records e once: its (partner, source, id) in the inbound table and, if new, the
// event in the outbox under the partner's source, the car as subject.
func (s *Service) publish(r *http.Request, tx pgx.Tx, partner string, e cloudevents.Event) (AcceptedEvent, error) {
	ctx := r.Context()
	id := uuid.NewSHA1(idSpace, []byte(partner+"\x00"+e.Source()+"\x00"+e.ID())).String()
	a := AcceptedEvent{Source: e.Source(), ID: e.ID(), EventID: id}
	tag, err := tx.Exec(ctx, `INSERT INTO sync.inbound (partner, source, id, type, event_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
		partner, e.Source(), e.ID(), e.Type(), id)
	if err != nil {
		return a, err
	}
	if tag.RowsAffected() == 0 {
		a.Duplicate = true
		return a, nil
	}
	var car struct {
		VehicleID string `json:"vehicleId"`
	}
	if err := json.Unmarshal(e.Data(), &car); err != nil {
		return a, err
	}
	out, err := events.New(PartnerSource(partner), e.Type(), car.VehicleID, json.RawMessage(bytes.TrimSpace(e.Data())))
	if err != nil {
		return a, err
	}
	out.SetID(id)
	t := e.Time()
	if t.IsZero() {
		t = s.now()
	}
	out.SetTime(t.UTC().Truncate(time.Microsecond))
	return a, events.Record(ctx, tx, Migrations.Schema, out)
}

// printable shortens s for a message.
func printable(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return fmt.Sprintf("%q", s)
}
