package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform/idempotency"
)

const booking = "3f2a1b9c-0000-4000-8000-00000000bbbb"

// confirmedData are the facts the confirmation template shows.
const confirmedData = `"data":{"category":"KOMPAKT","pickupLocation":"BER-HBF","returnLocation":"MUC-FLG",
	"pickupAt":"01.07.2026, 10:00 Uhr","returnAt":"04.07.2026, 10:00 Uhr","total":"142,76 €"}`

// TestSend: an agent's templated or free-text message to a customer is recorded as one
// queued notification (202 with it) in the customer's language unless given; retried with
// its Idempotency-Key it is still one.
func TestSend(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "en", "+49 170 1234567")
	a.markSent()

	tests := []struct {
		name, body           string
		wantType, wantSubj   string
		wantInBody, wantLang string
		wantChannel          string
	}{
		{name: "template in the customer's language",
			body:     `{"customerId":"` + alice + `","template":"` + events.ReservationConfirmed + `","reservationId":"` + booking + `",` + confirmedData + `}`,
			wantType: events.ReservationConfirmed, wantSubj: "Your reservation 3F2A1B9C is confirmed", wantInBody: "Hello Alice Muster,", wantLang: "en", wantChannel: "email"},
		{name: "template in a language given",
			body:     `{"customerId":"` + alice + `","language":"de","template":"` + events.ReservationConfirmed + `","reservationId":"` + booking + `",` + confirmedData + `}`,
			wantType: events.ReservationConfirmed, wantSubj: "Ihre Reservierung 3F2A1B9C ist bestätigt", wantInBody: "Abholung: BER-HBF, 01.07.2026, 10:00 Uhr", wantLang: "de", wantChannel: "email"},
		{name: "free text by email",
			body:     `{"customerId":"` + alice + `","subject":"Your child seat","body":"Dear Ms Muster,\nthe child seat is ready."}`,
			wantType: "message", wantSubj: "Your child seat", wantInBody: "the child seat is ready.", wantLang: "en", wantChannel: "email"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "send-" + string(rune('a'+i))
			r := a.call("carla", "POST", "/api/notifications", tc.body, idempotency.Header, key)
			require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			n := decodeJSON[notifier.Notification](t, r)
			assert.Equal(t, tc.wantType, n.Type)
			assert.Equal(t, tc.wantSubj, n.Subject)
			assert.Contains(t, n.Body, tc.wantInBody)
			assert.Equal(t, tc.wantLang, n.Language)
			assert.Equal(t, tc.wantChannel, n.Channel)
			assert.Equal(t, notifier.StatusQueued, n.Status)
			assert.Equal(t, carlaSubject, n.RequestedBy)
			again := a.call("carla", "POST", "/api/notifications", tc.body, idempotency.Header, key)
			assert.Equal(t, r.body, again.body)
			assert.Equal(t, 1, a.count(`SELECT count(*) FROM notifier.notifications WHERE id = $1`, n.ID))
		})
	}
	assert.Equal(t, 1+len(tests), a.count(`SELECT count(*) FROM notifier.notifications`), "the welcome and one per send")
	byBooking := decodeJSON[page](t, a.call("alice", "GET", "/api/notifications?reservationId="+booking, ""))
	assert.Equal(t, 2, byBooking.Total, "the templated sends name the booking")
}

// TestSendSMS: an SMS needs the customer's number and their choice of SMS; with both it is
// queued to the number, without a subject.
func TestSendSMS(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "de", "+49 170 1234567")
	a.register(bob, "Bob", "de", "")
	sms := func(who string) string {
		return `{"customerId":"` + who + `","channel":"sms","body":"Ihr Wagen steht bereit."}`
	}

	r := a.call("carla", "POST", "/api/notifications", sms(bob), idempotency.Header, "no-number")
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, string(r.body), "no mobile number")
	r = a.call("carla", "POST", "/api/notifications", sms(alice), idempotency.Header, "not-chosen")
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, string(r.body), "has not chosen")
	require.Equal(t, http.StatusOK, a.call("alice", "PUT", "/api/notifications/preferences", `{"email":true,"sms":true}`).status)

	r = a.call("carla", "POST", "/api/notifications", sms(alice), idempotency.Header, "chosen")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	n := decodeJSON[notifier.Notification](t, r)
	assert.Equal(t, "sms", n.Channel)
	assert.Equal(t, "+491701234567", n.Recipient)
	assert.Empty(t, n.Subject)
	// A resend of the SMS follows her choice as it is now.
	a.markSent()
	require.Equal(t, http.StatusOK, a.call("alice", "PUT", "/api/notifications/preferences", `{"email":true,"sms":false}`).status)
	r = a.call("carla", "POST", "/api/notifications/"+n.ID+"/resend", "")
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Equal(t, http.StatusOK, a.call("alice", "PUT", "/api/notifications/preferences", `{"email":true,"sms":true}`).status)
	r = a.call("carla", "POST", "/api/notifications/"+n.ID+"/resend", "")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	assert.Equal(t, "+491701234567", decodeJSON[notifier.Notification](t, r).Recipient)
	// A template with an SMS text goes by SMS too, with the facts its SMS text shows.
	reminder := `{"customerId":"` + alice + `","channel":"sms","template":"pickup-reminder","reservationId":"` + booking + `",
		"data":{"pickupAt":"01.07.2026, 10:00 Uhr","pickupLocation":"BER-HBF","category":"KOMPAKT"}}`
	r = a.call("carla", "POST", "/api/notifications", reminder, idempotency.Header, "reminder")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	n = decodeJSON[notifier.Notification](t, r)
	assert.Equal(t, "pickup-reminder", n.Type)
	assert.Empty(t, n.Subject)
	// The SMS text, not the mail's body, made as the worker makes a reminder's: given the
	// preview's sample facts, it is the preview's text to the letter.
	preview := decodeJSON[notifier.Preview](t, a.call("carla", "GET", "/api/notifications/templates/pickup-reminder/preview?channel=sms&lang=de", ""))
	assert.Equal(t, preview.Body, n.Body)
	assert.True(t, strings.HasPrefix(n.Body, "Orange Car Rental: Erinnerung"), n.Body)
	r = a.call("carla", "POST", "/api/notifications", `{"customerId":"`+alice+`","channel":"sms","template":"`+events.InvoiceIssued+`"}`)
	assert.Equal(t, http.StatusUnprocessableEntity, r.status, "no SMS text")

	// An environment without SMS refuses at once.
	off := newAPI(t, map[string]string{"SMS_MODE": "off"})
	off.register(alice, "Alice", "de", "+49 170 1234567")
	r = off.call("carla", "POST", "/api/notifications", sms(alice), idempotency.Header, "off")
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, string(r.body), "SMS_MODE=off")
	// So does a resend of an SMS sent before the environment turned SMS off.
	var old string
	require.NoError(t, off.db.Pool.QueryRow(context.Background(), `INSERT INTO notifier.notifications
		(event_source, event_id, type, channel, customer_id, recipient, language, subject, body, status, sent_at, attempts)
		VALUES ('tests', 'before', 'message', 'sms', $1, '+491701234567', 'de', '', 'Hallo', 'sent', now(), 1)
		RETURNING id::text`, alice).Scan(&old))
	_, err := off.db.Pool.Exec(context.Background(), `INSERT INTO notifier.preferences (customer_id, email, sms) VALUES ($1, true, true)`, alice)
	require.NoError(t, err)
	before := off.count(`SELECT count(*) FROM notifier.notifications`)
	r = off.call("carla", "POST", "/api/notifications/"+old+"/resend", "")
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), "SMS_MODE=off")
	assert.Equal(t, before, off.count(`SELECT count(*) FROM notifier.notifications`), "nothing queued to fail")
}

// TestSendRefusals: bad input is a 4xx problem naming what is wrong, and writes nothing.
func TestSendRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "de", "")
	a.register(bob, "Bob", "de", "")
	const carol, carolsBooking = "c0000000-0000-4000-8000-0000000000c1", "7e5e7a00-0000-4000-8000-0000000000c1"
	a.register(carol, "Carol", "de", "")
	a.confirm(carol, carolsBooking)
	a.erase(bob)
	before := a.count(`SELECT count(*) FROM notifier.notifications`)
	long := strings.Repeat("x", 500)
	tests := []struct {
		name, user, body string
		want             int
		fields           []string // the problem's fields, when it names some
	}{
		{"a customer", "alice", `{"customerId":"` + alice + `","subject":"s","body":"b"}`, http.StatusForbidden, nil},
		{"no customer", "carla", `{"subject":"s","body":"b"}`, http.StatusBadRequest, []string{"customerId"}},
		{"unknown customer", "carla", `{"customerId":"00000000-0000-4000-8000-0000000000cc","subject":"s","body":"b"}`, http.StatusNotFound, nil},
		{"erased customer", "carla", `{"customerId":"` + bob + `","subject":"s","body":"b"}`, http.StatusConflict, nil},
		{"email without subject", "carla", `{"customerId":"` + alice + `","body":"b"}`, http.StatusBadRequest, []string{"subject"}},
		{"nothing to say", "carla", `{"customerId":"` + alice + `","subject":"s"}`, http.StatusBadRequest, []string{"body"}},
		{"a line break in the subject", "carla", `{"customerId":"` + alice + `","subject":"a\r\nBcc: x@example.com","body":"b"}`, http.StatusBadRequest, []string{"subject"}},
		{"an SMS with a subject", "carla", `{"customerId":"` + alice + `","channel":"sms","subject":"s","body":"b"}`, http.StatusBadRequest, []string{"subject"}},
		{"an SMS too long", "carla", `{"customerId":"` + alice + `","channel":"sms","body":"` + long + `"}`, http.StatusBadRequest, []string{"body"}},
		{"a channel we lack", "carla", `{"customerId":"` + alice + `","channel":"fax","subject":"s","body":"b"}`, http.StatusBadRequest, []string{"channel"}},
		{"a language we lack", "carla", `{"customerId":"` + alice + `","language":"fr","subject":"s","body":"b"}`, http.StatusBadRequest, []string{"language"}},
		{"template and text", "carla", `{"customerId":"` + alice + `","template":"` + events.PaymentRefunded + `","subject":"s","body":"b"}`, http.StatusBadRequest, []string{"template"}},
		{"unknown template", "carla", `{"customerId":"` + alice + `","template":"nope"}`, http.StatusBadRequest, []string{"template"}},
		{"data without a template", "carla", `{"customerId":"` + alice + `","subject":"s","body":"b","data":{"total":"1 €"}}`, http.StatusBadRequest, []string{"data"}},
		{"unknown field", "carla", `{"customerId":"` + alice + `","subject":"s","body":"b","cc":"x"}`, http.StatusBadRequest, []string{"cc"}},
		{"a template missing its facts", "carla", `{"customerId":"` + alice + `","template":"` + events.PaymentRefunded + `"}`, http.StatusUnprocessableEntity, []string{"data.amount", "reservationId"}},
		{"a template with a link only its event makes", "carla", `{"customerId":"` + alice + `","template":"verify-address"}`, http.StatusUnprocessableEntity, nil},
		// Alice's message filed under Carol's booking, its number in Alice's mail.
		{"another customer's booking", "carla", `{"customerId":"` + alice + `","reservationId":"` + carolsBooking + `","subject":"s","body":"b"}`, http.StatusBadRequest, []string{"reservationId"}},
		{"another such template", "carla", `{"customerId":"` + alice + `","template":"verify-again"}`, http.StatusUnprocessableEntity, nil},
		// Links are never typed by a person: an agent's "confirm at https://…" is a phishing relay.
		{"a link in the body", "carla", `{"customerId":"` + alice + `","subject":"s","body":"Please confirm your card at https://evil.example/pay"}`, http.StatusBadRequest, []string{"body"}},
		{"a bare domain in the body", "carla", `{"customerId":"` + alice + `","subject":"Action needed","body":"Your card was blocked. Confirm it at orange-rental-verify.com/card within 24 hours."}`, http.StatusBadRequest, []string{"body"}},
		{"a link in the subject", "carla", `{"customerId":"` + alice + `","subject":"see www.evil.example","body":"b"}`, http.StatusBadRequest, []string{"subject"}},
		{"a link in a template's facts", "carla", `{"customerId":"` + alice + `","template":"` + events.PaymentRefunded + `","reservationId":"7e5e7a00-0000-4000-8000-000000000001","data":{"amount":"1 € – see http://evil.example"}}`, http.StatusBadRequest, []string{"data.amount"}},
	}
	for i, tc := range tests {
		r := a.call(tc.user, "POST", "/api/notifications", tc.body, idempotency.Header, fmt.Sprintf("k-%d", i))
		assert.Equal(t, tc.want, r.status, "%s: %s", tc.name, r.body)
		if tc.fields != nil {
			assert.ElementsMatch(t, tc.fields, fieldsOf(t, r), tc.name)
		}
	}
	r := a.call("carla", "POST", "/api/notifications", `{"customerId":"`+alice+`","subject":"s","body":"b"}`, "Content-Type", "text/plain")
	assert.Equal(t, http.StatusUnsupportedMediaType, r.status)
	assert.Equal(t, before, a.count(`SELECT count(*) FROM notifier.notifications`), "nothing written")
	var p struct{ Detail string }
	_ = json.Unmarshal(a.call("carla", "POST", "/api/notifications", `{"customerId":"`+bob+`","subject":"s","body":"b"}`).body, &p)
	assert.Contains(t, p.Detail, "erased")
}
