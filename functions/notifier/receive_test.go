package notifier_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
)

func TestWelcomeMailOncePerEventUnderRedelivery(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	e := registered(t, c)

	// Knative delivers at least once: the same event three times.
	var statuses []int
	for range 3 {
		statuses = append(statuses, w.deliver(e).status)
	}
	assert.Equal(t, []int{http.StatusAccepted, http.StatusOK, http.StatusOK}, statuses)
	rows := w.notifications()
	require.Len(t, rows, 1)
	assert.Equal(t, "pending", rows[0].Status)
	assert.Equal(t, events.CustomerRegistered, rows[0].Type)
	assert.Equal(t, c.Email, rows[0].Recipient)
	assert.Empty(t, w.files(), "nothing is sent before the sender runs")

	w.start()
	waitFor(t, 5*time.Second, "the welcome mail", func() bool { return len(w.files()) == 1 })
	waitFor(t, 5*time.Second, "the notification marked sent", func() bool { return w.notifications()[0].Status == "sent" })
	assert.Equal(t, http.StatusOK, w.deliver(e).status, "a fourth delivery, after sending")
	time.Sleep(100 * time.Millisecond) // several poll intervals
	require.Equal(t, []string{rows[0].ID + ".eml"}, w.files())
	require.Len(t, w.notifications(), 1)
	got := w.notifications()[0]
	assert.Equal(t, 1, got.Attempts)
	assert.True(t, got.Sent)

	msg, err := mail.ReadMessage(strings.NewReader(w.readFile(rows[0].ID + ".eml")))
	require.NoError(t, err)
	to, err := mail.ParseAddress(msg.Header.Get("To"))
	require.NoError(t, err)
	assert.Equal(t, mail.Address{Name: "Erika Mustermann", Address: c.Email}, *to)
	assert.Equal(t, "Willkommen bei Orange Car Rental", msg.Header.Get("Subject"))
	assert.Equal(t, "de", msg.Header.Get("Content-Language"))
	assert.Equal(t, "<"+rows[0].ID+"@orangecarrental.com>", msg.Header.Get("Message-ID"))
	from, err := mail.ParseAddress(msg.Header.Get("From"))
	require.NoError(t, err)
	assert.Equal(t, mail.Address{Name: "Orange Car Rental", Address: "noreply@orangecarrental.com"}, *from)
}

func TestConcurrentRedeliveriesMakeOneNotification(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	e := registered(t, customer("en"))
	const n = 8
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { statuses <- w.deliver(e).status })
	}
	wg.Wait()
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: n - 1}, counts)
	assert.Len(t, w.notifications(), 1)
}

// TestMailFollowsPreferredLanguage renders every mail the worker sends in both languages
// (and the fallbacks) through the receiver.
func TestMailFollowsPreferredLanguage(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	res := func(c events.Customer) any { return reservation(c.CustomerID) }
	cancelled := func(fee int64) func(events.Customer) any {
		return func(c events.Customer) any {
			r := reservation(c.CustomerID)
			r.Status, r.FeeCents, r.Reason = "cancelled", fee, ""
			return r
		}
	}
	payment := func(c events.Customer) any {
		return events.Payment{PaymentID: uuid.NewString(), Version: 1, ReservationID: reservation("").ReservationID,
			CustomerID: c.CustomerID, AmountCents: 123456, Currency: "EUR", Status: "captured"}
	}
	invoice := func(c events.Customer) any {
		return events.Invoice{InvoiceID: uuid.NewString(), Version: 1, Number: "OCR-2026-000001",
			ReservationID: reservation("").ReservationID, CustomerID: c.CustomerID,
			NetCents: 100000, VatCents: 19000, GrossCents: 119000, Currency: "EUR"}
	}
	tests := []struct {
		name, lang, typ string
		data            func(events.Customer) any // nil: the welcome mail of customer.registered
		wantLang        string
		wantSubject     string
		wantBody        []string
		wantNot         []string
	}{
		{name: "welcome de", lang: "de", typ: events.CustomerRegistered, wantLang: "de",
			wantSubject: "Willkommen bei Orange Car Rental", wantBody: []string{"Guten Tag Erika Mustermann,", "herzlich willkommen"}},
		{name: "welcome en", lang: "en", typ: events.CustomerRegistered, wantLang: "en",
			wantSubject: "Welcome to Orange Car Rental", wantBody: []string{"Hello Erika Mustermann,", "welcome to Orange Car Rental"}},
		{name: "no preference is German", lang: "", typ: events.CustomerRegistered, wantLang: "de", wantSubject: "Willkommen bei Orange Car Rental"},
		{name: "EN is English", lang: "EN", typ: events.CustomerRegistered, wantLang: "en", wantSubject: "Welcome to Orange Car Rental"},
		{name: "en-GB is English", lang: "en-GB", typ: events.CustomerRegistered, wantLang: "en", wantSubject: "Welcome to Orange Car Rental"},
		{name: "other languages get German", lang: "fr", typ: events.CustomerRegistered, wantLang: "de", wantSubject: "Willkommen bei Orange Car Rental"},
		{name: "confirmed de", lang: "de", typ: events.ReservationConfirmed, data: res, wantLang: "de",
			wantSubject: "Ihre Reservierung 3F2A1B9C ist bestätigt",
			wantBody:    []string{"Gesamtpreis: 1.234,56 €", "Abholung: BER-HBF, 01.07.2026, 10:00 Uhr", "Rückgabe: MUC-FLG, 04.07.2026, 10:00 Uhr", "Führerschein"}},
		{name: "confirmed en", lang: "en", typ: events.ReservationConfirmed, data: res, wantLang: "en",
			wantSubject: "Your reservation 3F2A1B9C is confirmed",
			wantBody:    []string{"Total: €1,234.56", "Pick-up: BER-HBF, 1 Jul 2026, 10:00", "driving licence"}},
		{name: "cancelled with fee de", lang: "de", typ: events.ReservationCancelled, data: cancelled(5000), wantLang: "de",
			wantSubject: "Ihre Reservierung 3F2A1B9C ist storniert", wantBody: []string{"Gebühr von 50,00 €"}},
		{name: "cancelled free en", lang: "en", typ: events.ReservationCancelled, data: cancelled(0), wantLang: "en",
			wantSubject: "Your reservation 3F2A1B9C is cancelled", wantBody: []string{"free of charge"}},
		// A reason is quoted on one line; one with a link is not quoted at all (an event from
		// before reservations-api refused them): a typed link in our mail is a phishing relay.
		{name: "cancelled with a reason on lines", lang: "en", typ: events.ReservationCancelled, data: func(c events.Customer) any {
			r := cancelled(0)(c).(events.Reservation)
			r.Reason = "Car\n\ndamaged"
			return r
		}, wantLang: "en", wantSubject: "Your reservation 3F2A1B9C is cancelled", wantBody: []string{"Reason: Car damaged\n"}},
		{name: "cancelled with a link in the reason", lang: "de", typ: events.ReservationCancelled, data: func(c events.Customer) any {
			r := cancelled(0)(c).(events.Reservation)
			r.Reason = "Karte gesperrt, bestätigen unter https://evil.example/pay"
			return r
		}, wantLang: "de", wantSubject: "Ihre Reservierung 3F2A1B9C ist storniert", wantNot: []string{"evil.example", "Grund:"}},
		{name: "completed de", lang: "de", typ: events.ReservationCompleted, data: res, wantLang: "de",
			wantSubject: "Danke für Ihre Fahrt – Reservierung 3F2A1B9C", wantBody: []string{"MUC-FLG am 04.07.2026, 10:00 Uhr"}},
		{name: "completed en", lang: "en", typ: events.ReservationCompleted, data: res, wantLang: "en",
			wantSubject: "Thank you for driving with us – reservation 3F2A1B9C"},
		// Returned a day early: the mail names the return made, not the one booked.
		{name: "completed early de", lang: "de", typ: events.ReservationCompleted, data: func(c events.Customer) any {
			r := res(c).(events.Reservation)
			r.CompletedAt = "2026-07-03T08:30:00Z"
			return r
		}, wantLang: "de", wantSubject: "Danke für Ihre Fahrt – Reservierung 3F2A1B9C", wantBody: []string{"MUC-FLG am 03.07.2026, 10:30 Uhr"}},
		{name: "captured de", lang: "de", typ: events.PaymentCaptured, data: payment, wantLang: "de", wantSubject: "Zahlung über 1.234,56 € erhalten"},
		{name: "captured en", lang: "en", typ: events.PaymentCaptured, data: payment, wantLang: "en", wantSubject: "Payment of €1,234.56 received"},
		{name: "charged en", lang: "en", typ: events.PaymentCharged, data: payment, wantLang: "en", wantSubject: "Additional charge of €1,234.56"},
		{name: "charged de", lang: "de", typ: events.PaymentCharged, data: payment, wantLang: "de", wantSubject: "Nachbelastung über 1.234,56 €"},
		{name: "refunded de", lang: "de", typ: events.PaymentRefunded, data: payment, wantLang: "de", wantSubject: "Erstattung über 1.234,56 €"},
		{name: "refunded en", lang: "en", typ: events.PaymentRefunded, data: payment, wantLang: "en", wantSubject: "Refund of €1,234.56"},
		{name: "invoice de", lang: "de", typ: events.InvoiceIssued, data: invoice, wantLang: "de",
			wantSubject: "Ihre Rechnung OCR-2026-000001", wantBody: []string{"Nettobetrag: 1.000,00 €", "MwSt. 19 %: 190,00 €", "Gesamtbetrag: 1.190,00 €"}},
		{name: "invoice en", lang: "en", typ: events.InvoiceIssued, data: invoice, wantLang: "en",
			wantSubject: "Your invoice OCR-2026-000001", wantBody: []string{"Net amount: €1,000.00", "VAT 19%: €190.00", "Total: €1,190.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := customer(tt.lang)
			reg := registered(t, c)
			require.Equal(t, http.StatusAccepted, w.deliver(reg).status)
			e := reg
			if tt.data != nil {
				e = event(t, tt.typ, c.CustomerID, tt.data(c))
				r := w.deliver(e)
				require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			}
			var got row
			require.NoError(t, w.db.Pool.QueryRow(context.Background(),
				`SELECT type, language, subject, body FROM notifier.notifications WHERE event_id = $1`, e.ID()).
				Scan(&got.Type, &got.Language, &got.Subject, &got.Body))
			assert.Equal(t, tt.typ, got.Type)
			assert.Equal(t, tt.wantLang, got.Language)
			assert.Equal(t, tt.wantSubject, got.Subject)
			for _, want := range tt.wantBody {
				assert.Contains(t, got.Body, want)
			}
			for _, not := range tt.wantNot {
				assert.NotContains(t, got.Body, not)
			}
			assert.NotContains(t, got.Body, "<no value>")
		})
	}
}

func TestMailForAnUnknownCustomerIsRetried(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("en")
	confirmed := event(t, events.ReservationConfirmed, reservation(c.CustomerID).ReservationID, reservation(c.CustomerID))

	// The confirmation overtakes the registration: retryable, and nothing is recorded.
	r := w.deliver(confirmed)
	require.Equal(t, http.StatusInternalServerError, r.status, string(r.body))
	assert.NotContains(t, string(r.body), c.CustomerID, "5xx details are logged, not sent")
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.inbox`))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications`))

	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed).status, "the Broker's retry")
	require.Equal(t, http.StatusOK, w.deliver(confirmed).status, "a duplicate of the retry")
	rows := w.notifications()
	require.Len(t, rows, 2)
	assert.Equal(t, events.ReservationConfirmed, rows[1].Type)
	assert.Equal(t, "Your reservation 3F2A1B9C is confirmed", rows[1].Subject)
}

func TestCustomerEventsApplyOnlyWhenNewer(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	version := func(c events.Customer, v int64, email, lang string) events.Customer {
		c.Version, c.Email, c.PreferredLanguage = v, email, lang
		return c
	}
	tests := []struct {
		name      string
		sequence  func(c events.Customer) []cloudevents.Event
		wantEmail string
		wantLang  string
		wantVer   int64
	}{
		{"v3 then v2: v3 wins", func(c events.Customer) []cloudevents.Event {
			return []cloudevents.Event{
				registered(t, version(c, 1, "a@example.com", "de")),
				event(t, events.CustomerUpdated, c.CustomerID, version(c, 3, "c@example.com", "en")),
				event(t, events.CustomerUpdated, c.CustomerID, version(c, 2, "b@example.com", "de")),
			}
		}, "c@example.com", "en", 3},
		{"update before registration", func(c events.Customer) []cloudevents.Event {
			return []cloudevents.Event{
				event(t, events.CustomerUpdated, c.CustomerID, version(c, 2, "b@example.com", "en")),
				registered(t, version(c, 1, "a@example.com", "de")),
			}
		}, "b@example.com", "en", 2},
		{"in order", func(c events.Customer) []cloudevents.Event {
			return []cloudevents.Event{
				registered(t, version(c, 1, "a@example.com", "de")),
				event(t, events.CustomerUpdated, c.CustomerID, version(c, 2, "b@example.com", "de")),
			}
		}, "b@example.com", "de", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := customer("de")
			for _, e := range tt.sequence(c) {
				require.Equal(t, http.StatusAccepted, w.deliver(e).status)
			}
			var email, lang string
			var v int64
			require.NoError(t, w.db.Pool.QueryRow(context.Background(),
				`SELECT email, language, version FROM notifier.recipients WHERE customer_id = $1`, c.CustomerID).Scan(&email, &lang, &v))
			assert.Equal(t, tt.wantEmail, email)
			assert.Equal(t, tt.wantLang, lang)
			assert.Equal(t, tt.wantVer, v)

			// Later mail goes to the newest address, in the newest language.
			confirmed := event(t, events.ReservationConfirmed, c.CustomerID, reservation(c.CustomerID))
			require.Equal(t, http.StatusAccepted, w.deliver(confirmed).status)
			assert.Equal(t, 1, w.count(`SELECT count(*) FROM notifier.notifications WHERE event_id = $1 AND recipient = $2 AND language = $3`,
				confirmed.ID(), tt.wantEmail, tt.wantLang))
		})
	}
}

func TestErasureRemovesPersonalData(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	c := customer("de")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationConfirmed, c.CustomerID, reservation(c.CustomerID))).status)
	require.Len(t, w.notifications(), 2)

	erased := event(t, events.CustomerErased, c.CustomerID, events.CustomerErasure{CustomerID: c.CustomerID, Version: 4})
	require.Equal(t, http.StatusAccepted, w.deliver(erased).status)
	// Events that arrive late change nothing: an older update, a newer one, a reservation.
	late := c
	late.Version = 3
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, late)).status)
	late.Version = 9
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.CustomerUpdated, c.CustomerID, late)).status)
	require.Equal(t, http.StatusAccepted, w.deliver(event(t, events.ReservationCompleted, c.CustomerID, reservation(c.CustomerID))).status)

	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.recipients
		WHERE email IS NOT NULL OR first_name IS NOT NULL OR last_name IS NOT NULL OR erased_at IS NULL`))
	assert.Equal(t, 1, w.count(`SELECT count(*) FROM notifier.recipients WHERE customer_id = $1 AND version = 4`, c.CustomerID))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications
		WHERE recipient <> '' OR recipient_name <> '' OR body <> '' OR status <> 'failed'`))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications n WHERE n::text LIKE '%Mustermann%' OR n::text LIKE '%erika%'`))
	assert.Len(t, w.notifications(), 2, "no mail after the erasure")

	w.start()
	time.Sleep(100 * time.Millisecond) // several poll intervals
	assert.Empty(t, w.files(), "mail pending at the erasure is not sent")
}

func TestRefusesEventsItCannotProcess(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	id := uuid.NewString()
	withData := func(typ, data string) func() *http.Request {
		return func() *http.Request {
			e := event(t, typ, id, nil)
			require.NoError(t, e.SetData(cloudevents.ApplicationJSON, []byte(data)))
			req := httptest.NewRequest(http.MethodPost, "/cloudevents", strings.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": e.ID(), "ce-source": e.Source(), "ce-type": typ} {
				req.Header.Set(k, v)
			}
			// Delivered by the worker's Trigger for the type; a type no Trigger delivers
			// to the worker by one of its Triggers all the same (the receiver admits its
			// Triggers for any type, and must refuse what it cannot process).
			sender := typ
			if !slices.Contains(notifier.Consumes, typ) {
				sender = events.CustomerRegistered
			}
			req.Header.Set("Authorization", w.deliveryBearer(sender))
			return req
		}
	}
	tests := []struct {
		name    string
		request func() *http.Request
	}{
		{"wrong shape", withData(events.CustomerRegistered, `{"customerId": 42, "email": "a@example.com"}`)},
		{"not JSON", withData(events.CustomerRegistered, `{"customerId": `)},
		{"customer id not a UUID", withData(events.CustomerRegistered, `{"customerId": "c-1", "version": 1, "email": "a@example.com"}`)},
		{"no mail address", withData(events.CustomerRegistered, `{"customerId": "`+id+`", "version": 1, "email": "not an address"}`)},
		{"address with a display name", withData(events.CustomerUpdated, `{"customerId": "`+id+`", "version": 1, "email": "Eve <eve@example.com>"}`)},
		{"erasure without a customer", withData(events.CustomerErased, `{"version": 2}`)},
		{"reservation without a customer", withData(events.ReservationConfirmed, `{"reservationId": "r-1"}`)},
		{"reservation without an id", withData(events.ReservationCancelled, `{"customerId": "`+id+`"}`)},
		{"invoice without a number", withData(events.InvoiceIssued, `{"customerId": "`+id+`", "grossCents": 100}`)},
		{"payment data as an array", withData(events.PaymentCaptured, `[1, 2]`)},
		{"a type it does not consume", withData(events.VehicleMoved, `{"vehicleId": "`+id+`", "version": 1}`)},
		{"missing ce-id", func() *http.Request {
			req := withData(events.CustomerRegistered, `{}`)()
			req.Header.Del("ce-id")
			return req
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.serve(tt.request())
			assert.Equal(t, http.StatusBadRequest, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		})
	}
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.inbox`))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.recipients`))
	assert.Zero(t, w.count(`SELECT count(*) FROM notifier.notifications`))
}

func TestConsumesEveryTypeItHandles(t *testing.T) {
	t.Parallel()
	for _, typ := range notifier.Consumes {
		_, known := events.Types[typ]
		assert.True(t, known, "%s is not in the events catalogue", typ)
	}
}
