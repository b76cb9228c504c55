package events_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/pgtest"
)

// notPersonal are the payload fields that hold no person's data: ids (a customer id stays
// after an erasure: invoices and bookings refer to it), codes, states, times and amounts.
// paymentToken and paymentMethodId name a card at the provider or at payments-api, never
// the card itself; verificationToken is a single-use credential customers-api voids (not
// data about the person); kind is an invoice's or a customer's kind. (reason is personal:
// a person may have typed it.)
var notPersonal = []string{
	"completedAt",
	"customerId", "kind", "preferredLanguage", "status", "verificationToken",
	"code", "name", "city", // a branch's
	"vehicleId", "category", "locationCode", "licensePlate",
	"reservationId", "pickupLocation", "returnLocation", "pickupAt", "returnAt", "currency", "paymentToken", "paymentMethodId",
	"paymentId", "invoiceId", "number",
	"description", "per", // a price line's: pricing's price-list text, never free text of a person
	"month", "frozenAt", // report.frozen's: a period and a time
	// The inbound vehicle facts: times, a severity code, and a garage's note about the car
	// (never about a person, as the schema says; description is listed above).
	"readAt", "reportedAt", "completedAt", "severity", "note",
}

// TestEveryPayloadFieldIsClassified: every text field of every payload is either personal
// (an erasure scrubs it from every stored copy) or listed above as not personal, so a field
// added to a payload is classified when it is added. Personal fields sit at the top level,
// where ScrubOutbox finds them.
func TestEveryPayloadFieldIsClassified(t *testing.T) {
	t.Parallel()
	var walk func(typ string, t reflect.Type, depth int)
	walk = func(typ string, rt reflect.Type, depth int) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct {
			return
		}
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			personal := slices.Contains(events.PersonalFields, name)
			switch {
			case personal && depth > 0:
				t.Errorf("%s: personal field %s is nested; ScrubOutbox scrubs the top level only", typ, name)
			case f.Type.Kind() == reflect.String && !personal && !slices.Contains(notPersonal, name):
				t.Errorf("%s: field %s is not classified: add it to events.PersonalFields (an erasure scrubs it) or to notPersonal here", typ, name)
			}
			walk(typ, f.Type, depth+1)
		}
	}
	for typ, newPayload := range events.Types {
		walk(typ, reflect.TypeOf(newPayload()), 0)
	}
	assert.Subset(t, events.PersonalFieldsOf(events.CustomerRegistered), []string{"email", "firstName", "lastName"})
	assert.Equal(t, []string{"reason"}, events.PersonalFieldsOf(events.ReservationCreated), "a reason a person may have typed; nothing else")
	assert.Empty(t, events.PersonalFieldsOf(events.CustomerErased), "the erasure names the customer by id only")
}

// TestScrubOutboxRemovesPersonalData: the events about an erased customer — their own
// (subject) and others naming them (customerId) — lose their personal fields, sent or not;
// ids and everything else stay; other customers' events are untouched; a repeat changes
// nothing.
func TestScrubOutboxRemovesPersonalData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	erased, other := uuid.NewString(), uuid.NewString()
	customer := func(id string, version int64) events.Customer {
		return events.Customer{CustomerID: id, Version: version, Email: "zelda.quist@example.org",
			FirstName: "Zelda", LastName: "Quist", PreferredLanguage: "en"}
	}
	// A payload of tomorrow that copies the address into a booking (a guest booking's mail).
	guest := map[string]any{"reservationId": uuid.NewString(), "customerId": erased, "version": 1,
		"email": "zelda.quist@example.org", "status": "pending"}
	recorded := []struct{ typ, subject string }{}
	require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
		for _, e := range []struct {
			typ, subject string
			data         any
		}{
			{events.CustomerRegistered, erased, customer(erased, 1)},
			{events.CustomerUpdated, erased, customer(erased, 2)},
			{events.ReservationCreated, guest["reservationId"].(string), guest},
			{events.ReservationConfirmed, uuid.NewString(), events.Reservation{ReservationID: "r", CustomerID: erased, Status: "confirmed"}},
			{events.CustomerRegistered, other, customer(other, 1)},
		} {
			recorded = append(recorded, struct{ typ, subject string }{e.typ, e.subject})
			if err := events.Emit(ctx, tx, producer, source, e.typ, e.subject, e.data); err != nil {
				return err
			}
		}
		return nil
	}))
	// The relay sent the first one already: published rows are copies too.
	_, err := db.Pool.Exec(ctx, `UPDATE evtest.outbox SET published_at = now() WHERE seq = (SELECT min(seq) FROM evtest.outbox)`)
	require.NoError(t, err)

	scrub := func() int64 {
		var n int64
		require.NoError(t, db.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			n, err = events.ScrubOutbox(ctx, tx, producer, erased)
			return err
		}))
		return n
	}
	assert.Equal(t, int64(3), scrub(), "the registration, the update and the guest booking")

	rows := outboxRows(t, ctx, db.Pool)
	require.Len(t, rows, len(recorded))
	for i, r := range rows {
		assert.Equal(t, recorded[i].typ, r.typ)
		assert.Equal(t, recorded[i].subject, r.subject, "ids stay")
		var data map[string]any
		require.NoError(t, json.Unmarshal(r.data, &data))
		if data["customerId"] == other {
			assert.Equal(t, "zelda.quist@example.org", data["email"], "another customer's events are not touched")
			continue
		}
		assert.NotContains(t, string(r.data), "zelda", "event %d", i)
		assert.NotContains(t, string(r.data), "Quist", "event %d", i)
		assert.Equal(t, erased, data["customerId"])
		if _, ok := data["email"]; ok {
			assert.Equal(t, events.ErasedEmail(erased), data["email"])
		}
		if _, ok := data["firstName"]; ok {
			assert.Equal(t, events.ErasedName, data["firstName"])
			assert.Equal(t, events.ErasedName, data["lastName"])
			assert.Equal(t, "en", data["preferredLanguage"], "what is not personal stays")
		}
		_, hasPhone := data["phone"]
		assert.False(t, hasPhone, "a field the event did not have is not added")
	}
	assert.Equal(t, "pending", decodeField(t, rows[2].data, "status"))

	before := pgtest.Snapshot(t, db, producer)
	assert.Zero(t, scrub(), "a repeated erasure changes nothing")
	assert.Equal(t, before, pgtest.Snapshot(t, db, producer))
}

func decodeField(t *testing.T, data []byte, key string) any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m[key]
}

// TestEachPersonalInAnyCase: "Email" is read into the address by encoding/json, so a dead
// letter showed it unredacted; every personal key is found whatever its case.
func TestEachPersonalInAnyCase(t *testing.T) {
	t.Parallel()
	var v any
	require.NoError(t, json.Unmarshal([]byte(`{"Email":"a@example.com","FIRSTNAME":"Ada","contact":{"Phone":"+49 30 1"},"emailVerified":true}`), &v))
	var found []string
	events.EachPersonal(v, func(_ map[string]any, key string) { found = append(found, key) })
	assert.ElementsMatch(t, []string{"Email", "FIRSTNAME", "Phone"}, found)
	assert.Equal(t, events.ErasedEmail("c"), events.ErasedValue("Email", "c"))
	assert.Equal(t, events.ErasedName, events.ErasedValue("FIRSTNAME", "c"))
}
