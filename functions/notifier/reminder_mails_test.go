package notifier_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
)

// TestNewMailsInGermanAndEnglish: the hold-expired, no-show, booking-changed and pickup
// reminder mails, in each language, with the facts they must show.
func TestNewMailsInGermanAndEnglish(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	// The payload's booking (reservation()): pickup 2026-07-01 08:00 UTC, 10:00 in Berlin.
	end := func(status string, fee int64) func(string) events.Reservation {
		return func(customerID string) events.Reservation {
			r := reservation(customerID)
			// Its own booking (the reference stays 3F2A1B9C): a booking's events apply once.
			r.ReservationID = r.ReservationID[:24] + uuid.NewString()[24:]
			r.Status, r.FeeCents = status, fee
			return r
		}
	}
	tests := []struct {
		name, lang, typ string
		data            func(customerID string) events.Reservation
		wantSubject     string
		wantBody        []string
		notInBody       []string
	}{
		{name: "expired de", lang: "de", typ: events.ReservationExpired, data: end("expired", 0),
			wantSubject: "Ihre Reservierung 3F2A1B9C ist verfallen",
			wantBody:    []string{"Guten Tag Erika Mustermann,", "(BER-HBF,\n01.07.2026, 10:00 Uhr)", "nicht rechtzeitig bestätigt", "berechnet wird\nnichts"}},
		{name: "expired en", lang: "en", typ: events.ReservationExpired, data: end("expired", 0),
			wantSubject: "Your reservation 3F2A1B9C has expired",
			wantBody:    []string{"Hello Erika Mustermann,", "(BER-HBF,\n1 Jul 2026, 10:00)", "not confirmed in time", "nothing is charged"}},
		{name: "no-show with fee de", lang: "de", typ: events.ReservationNoShow, data: end("no_show", 12345),
			wantSubject: "Nicht abgeholt: Reservierung 3F2A1B9C",
			wantBody:    []string{"nicht abgeholt", "Gebühr von 123,45 €", "Rechnung folgt"}},
		{name: "no-show without fee en", lang: "en", typ: events.ReservationNoShow, data: end("no_show", 0),
			wantSubject: "Not picked up: reservation 3F2A1B9C",
			wantBody:    []string{"was not picked up", "No fee is charged."}, notInBody: []string{"invoice"}},
		{name: "changed de", lang: "de", typ: events.ReservationChanged, data: end("confirmed", 0),
			wantSubject: "Ihre Reservierung 3F2A1B9C wurde geändert",
			wantBody: []string{"Abholung: BER-HBF, 01.07.2026, 10:00 Uhr\n", "Rückgabe: MUC-FLG, 04.07.2026, 10:00 Uhr\n",
				"Gesamtpreis: 1.234,56 €", "nicht veranlasst"},
			notInBody: []string{"bisher"}},
		{name: "changed en", lang: "en", typ: events.ReservationChanged, data: end("confirmed", 0),
			wantSubject: "Your reservation 3F2A1B9C has changed",
			wantBody:    []string{"Pick-up: BER-HBF, 1 Jul 2026, 10:00\n", "Total: €1,234.56", "did not make this change"},
			notInBody:   []string{"(was"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := customer(tt.lang)
			require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
			e := event(t, tt.typ, c.CustomerID, tt.data(c.CustomerID))
			r := w.deliver(e)
			require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			var got row
			require.NoError(t, w.db.Pool.QueryRow(context.Background(),
				`SELECT language, subject, body FROM notifier.notifications WHERE event_id = $1`, e.ID()).
				Scan(&got.Language, &got.Subject, &got.Body))
			assert.Equal(t, tt.lang, got.Language)
			assert.Equal(t, tt.wantSubject, got.Subject)
			for _, want := range tt.wantBody {
				assert.Contains(t, got.Body, want)
			}
			for _, not := range tt.notInBody {
				assert.NotContains(t, got.Body, not)
			}
			assert.NotContains(t, got.Body, "<no value>")
		})
	}
}

// TestPickupReminderMailInGermanAndEnglish: the reminder's subject and body per language.
func TestPickupReminderMailInGermanAndEnglish(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	pickup := time.Now().Add(20 * time.Hour).UTC().Truncate(time.Minute)
	tests := []struct {
		lang        string
		wantSubject string
		wantBody    []string
	}{
		{"de", "Erinnerung: Abholung am " + pickup.In(berlin).Format("02.01.2006, 15:04") + " Uhr",
			[]string{"Guten Tag Erika Mustermann,", "Fahrzeugklasse: KOMPAKT", "Führerschein und Ihren Ausweis"}},
		{"en", "Reminder: pick-up on " + pickup.In(berlin).Format("2 Jan 2006, 15:04"),
			[]string{"Hello Erika Mustermann,", "Vehicle category: KOMPAKT", "driving licence and an ID document"}},
	}
	for _, tt := range tests {
		c := customer(tt.lang)
		require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
		res := reminderBooking(c.CustomerID, 2, pickup)
		w.deliverOK(events.ReservationConfirmed, res)
		require.Equal(t, 1, w.sweep())
		mails := w.notificationsOf(res.ReservationID, "pickup-reminder")
		require.Len(t, mails, 1)
		assert.Equal(t, tt.wantSubject, mails[0].Subject, tt.lang)
		assert.Contains(t, mails[0].Body, res.ReservationID)
		for _, want := range tt.wantBody {
			assert.Contains(t, mails[0].Body, want, tt.lang)
		}
		assert.False(t, strings.Contains(mails[0].Body, "<no value>"))
	}
}
