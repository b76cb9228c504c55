package events

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PersonalFields are the payload fields (JSON keys) that hold a person's data: what a
// customer.erased must remove from every stored copy of an event about that customer. A
// catalogue test holds every string field of every payload to this list or to its list of
// fields that are not personal (ids, codes, amounts), so a new field is classified when it
// is added. Personal fields sit at the top level of a payload, where ScrubOutbox finds them.
//
// A reason is personal: a cancellation's or a status change's reason is often a code
// (payment_declined), but as often what a customer or an agent typed ("Bob Schulz called from
// +49 171 …"), and no field can tell the two apart. So partners' webhooks never carry one,
// the dead-letter API masks it, and an erasure blanks it in every stored copy.
var PersonalFields = []string{"email", "firstName", "lastName", "phone", "reason"}

// EachPersonal calls fn for every personal field (PersonalFields) of the decoded JSON v, at
// any depth, with the object holding it: our payloads keep them at the top level, a
// stranger's event may nest them. A key matches in any case ("Email"): encoding/json reads
// it into the field whatever its case, so a reader of the event would take it for the
// address. fn may replace or delete the field; the walk does not descend into a personal
// field's value.
func EachPersonal(v any, fn func(obj map[string]any, key string)) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if personalField(k) != "" {
				fn(t, k)
				continue
			}
			EachPersonal(val, fn)
		}
	case []any:
		for _, val := range t {
			EachPersonal(val, fn)
		}
	}
}

// ErasedName is what an erasure writes in place of a name (customers-api's placeholder).
const ErasedName = "Erased"

// ErasedEmail is what an erasure writes in place of customerID's email address: customers-
// api's placeholder, unique and undeliverable (the reserved .invalid domain), still shaped
// like an address so a consumer that receives a scrubbed event does not refuse it.
func ErasedEmail(customerID string) string { return "erased+" + customerID + "@invalid" }

// personalField is the personal field key names in any case ("Email": "email"), or "".
func personalField(key string) string {
	for _, f := range PersonalFields {
		if strings.EqualFold(f, key) {
			return f
		}
	}
	return ""
}

// ErasedValue is what an erasure of customerID writes in place of personal field key.
func ErasedValue(key, customerID string) string {
	switch personalField(key) {
	case "email":
		return ErasedEmail(customerID)
	case "firstName", "lastName":
		return ErasedName
	case "reason":
		return ErasedReason
	}
	return ""
}

// ErasedReason is what an erasure writes in place of a reason: that there was one, and that
// it is gone.
const ErasedReason = "erased"

// PersonalFieldsOf returns the personal fields of the payload of event type typ.
func PersonalFieldsOf(typ string) []string {
	newPayload, ok := Types[typ]
	if !ok {
		return nil
	}
	t := reflect.TypeOf(newPayload()).Elem()
	if t.Kind() != reflect.Struct {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if slices.Contains(PersonalFields, name) {
			out = append(out, name)
		}
	}
	return out
}

// scrubOutboxSQL replaces the personal fields of the events about customer $1 — its own
// aggregate's (the subject) and any other naming it (data.customerId) — with the
// placeholders $2, keeping every other field and the ids. Only fields an event has are
// written, and a row already scrubbed is left alone, so a repeated erasure changes nothing.
const scrubOutboxSQL = `UPDATE %[1]s o SET data = o.data || s.fields
FROM (SELECT x.seq, jsonb_object_agg(p.key, p.value) AS fields
      FROM %[1]s x CROSS JOIN jsonb_each($2::jsonb) p
      WHERE (x.subject = $1 OR x.data->>'customerId' = $1) AND x.data ? p.key
      GROUP BY x.seq) s
WHERE o.seq = s.seq AND NOT o.data @> s.fields`

// ScrubOutbox removes customerID's personal data from the events stored in schema's outbox,
// sent or not (the outbox keeps published rows), inside tx: the erasure's transaction. Every
// function that consumes customer.erased calls it for its own schema; customers-api calls
// it in the transaction that erases the customer. It returns how many events it changed.
func ScrubOutbox(ctx context.Context, tx pgx.Tx, schema, customerID string) (int64, error) {
	placeholders := make(map[string]string, len(PersonalFields))
	for _, key := range PersonalFields {
		placeholders[key] = ErasedValue(key, customerID)
	}
	raw, err := json.Marshal(placeholders)
	if err != nil {
		return 0, err
	}
	outbox := pgx.Identifier{schema, "outbox"}.Sanitize()
	tag, err := tx.Exec(ctx, fmt.Sprintf(scrubOutboxSQL, outbox), customerID, string(raw))
	if err != nil {
		return 0, fmt.Errorf("scrub %s of customer %s: %w", outbox, customerID, err)
	}
	return tag.RowsAffected(), nil
}
