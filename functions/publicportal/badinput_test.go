package publicportal_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadInputShowsTheFieldsErrorAndKeepsWhatWasTyped sends every form something wrong: the
// page comes back 4xx with the error next to the field (the input marked aria-invalid and
// pointing at its message), what was typed still in the form, and nothing booked.
func TestBadInputShowsTheFieldsErrorAndKeepsWhatWasTyped(t *testing.T) {
	s := start(t)
	pickup, ret := trip()
	search := func(mod func(url.Values)) string {
		q := url.Values{"location": {"BER-HBF"}, "pickup": {pickup}, "return": {ret}}
		mod(q)
		return "/search?" + q.Encode()
	}
	gets := []struct {
		name, path, field, kept string
	}{
		{"pickup not a time", search(func(q url.Values) { q.Set("pickup", "tomorrow-ish") }), "pickup", "tomorrow-ish"},
		{"return before pickup", search(func(q url.Values) { q.Set("return", "2001-01-01T10:00") }), "return", "2001-01-01T10:00"},
		{"pickup in the past", search(func(q url.Values) { q.Set("pickup", "2001-01-01T10:00") }), "pickup", "2001-01-01T10:00"},
		// Berlin's clocks skip 02:00–02:59 on March's last Sunday: the search moved it to 03:30 unsaid.
		{"a time the clocks skip", search(func(q url.Values) { q.Set("pickup", skippedInBerlin()) }), "pickup", skippedInBerlin()},
		{"no branch", search(func(q url.Values) { q.Set("location", "XXX-999") }), "location", ""},
		{"seats out of range", search(func(q url.Values) { q.Set("minSeats", "12") }), "minSeats", "12"},
		{"price not euros", search(func(q url.Values) { q.Set("maxDailyGross", "cheap") }), "maxDailyGross", "cheap"},
		{"unknown category", search(func(q url.Values) { q.Set("category", "SPACESHIP") }), "category", ""},
		{"too many child seats", "/vehicles/" + vwGolf + "?location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret) + "&extra-CHILD_SEAT=7", "extra-CHILD_SEAT", "7"},
	}
	for _, tc := range gets {
		t.Run(tc.name, func(t *testing.T) {
			p := s.get(tc.path)
			assert.Equal(t, http.StatusBadRequest, p.status, p.body)
			assert.Contains(t, p.body, `-error"`, "a field's error is shown")
			assert.Regexp(t, `id="`+tc.field+`"[^>]*aria-invalid="true"|name="`+tc.field+`"[^>]*aria-invalid="true"`, p.body)
			if tc.kept != "" {
				assert.Contains(t, p.body, `value="`+html.EscapeString(tc.kept)+`"`, "what was typed is kept")
			}
		})
	}

	// A car asked for at a branch it does not stand at was shown and priced there, and
	// refused only at the booking's last step (in English).
	elsewhere := s.get("/vehicles/" + vwGolf + "?location=MUC-FLG&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret))
	assert.Equal(t, http.StatusBadRequest, elsewhere.status, elsewhere.body)
	assert.Contains(t, elsewhere.body, `<p class="field-error">This car stands at the Berlin Hauptbahnhof branch`)
	assert.NotContains(t, elsewhere.body, `id="quote-total"`, "not priced there")

	// The booking form: a guest who leaves fields out, or gives no card.
	book := s.get("/book?vehicle=" + vwGolf + "&location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret))
	require.Equal(t, http.StatusOK, book.status, book.body)
	form := guestForm(pickup, ret)
	posts := []struct {
		name   string
		mod    func(url.Values)
		field  string
		kept   string
		status int
	}{
		{"no last name", func(f url.Values) { f.Set("lastName", "") }, "lastName", "Gina", http.StatusBadRequest},
		{"no card", func(f url.Values) { f.Del("sandboxCard") }, "card", "Gast", http.StatusBadRequest},
		{"a forged payment method", func(f url.Values) { f.Del("sandboxCard"); f.Set("paymentMethodId", "4242424242424242") }, "card", "Gast", http.StatusBadRequest},
		{"email refused by customers-api", func(f url.Values) { f.Set("email", "not-an-email") }, "email", "not-an-email", http.StatusBadRequest},
		{"date of birth refused", func(f url.Values) { f.Set("dateOfBirth", "31.02.1990") }, "dateOfBirth", "31.02.1990", http.StatusBadRequest},
		{"an account's email: sign in", func(f url.Values) { f.Set("email", "alice@example.com") }, "email", "alice@example.com", http.StatusConflict},
	}
	for _, tc := range posts {
		t.Run("book: "+tc.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range form {
				f[k] = append([]string(nil), v...)
			}
			tc.mod(f)
			p := s.post(book, "/book", f)
			assert.Equal(t, tc.status, p.status, p.body)
			assert.Contains(t, p.body, `id="`+tc.field+`-error"`)
			assert.Contains(t, p.body, `value="`+html.EscapeString(tc.kept)+`"`)
			assert.NotContains(t, p.body, "4242424242424242", "no card number comes back")
			assert.Contains(t, p.body, `id="booking-total"`, "the summary keeps its price")
		})
	}

	// An option refused on the way (an extra beyond its maximum, carried here as a hidden
	// field): the booking page says so and shows no price — it showed neither the error nor a
	// price with the option, only one without it.
	tooMany := s.get("/book?vehicle=" + vwGolf + "&location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret) + "&extra-CHILD_SEAT=7")
	assert.Equal(t, http.StatusBadRequest, tooMany.status, tooMany.body)
	assert.Contains(t, tooMany.body, `<p class="field-error">CHILD_SEAT: `)
	f := guestForm(pickup, ret)
	f.Set("extra-CHILD_SEAT", "7")
	posted := s.post(book, "/book", f)
	assert.Equal(t, http.StatusBadRequest, posted.status, posted.body)
	assert.Contains(t, posted.body, `<p class="field-error">CHILD_SEAT: `)
	assert.NotContains(t, posted.body, `id="booking-total"`, "no price without the option asked for")

	// On a German page the guest's details are told wrong in German: customers-api's
	// reasons are English, and a German page showed them as they came.
	f = guestForm(pickup, ret)
	f.Set("phone", "call me")
	german := s.post(book, "/book?lang=de", f)
	assert.Equal(t, http.StatusBadRequest, german.status, german.body)
	assert.Contains(t, german.body, `<p class="field-error" id="phone-error">Bitte eine Telefonnummer`)
	assert.NotContains(t, german.body, "must be a phone number")
	// And customers-api's rules refusing the guest (a 20-year-old), worded by their code.
	f = guestForm(pickup, ret)
	f.Set("dateOfBirth", time.Now().AddDate(-20, 0, 0).Format(time.DateOnly))
	f.Set("licenceIssued", time.Now().AddDate(-3, 0, 0).Format(time.DateOnly))
	young := s.post(book, "/book?lang=de", f)
	assert.Equal(t, http.StatusBadRequest, young.status, young.body)
	assert.Contains(t, young.body, "Fahrerinnen und Fahrer müssen am Abholtag mindestens 21 Jahre alt sein.")
	assert.NotContains(t, young.body, "drivers must be 21")
	// Pricing's names of the options and lines are English: a German page has its own.
	car := s.get("/vehicles/" + vwGolf + "?location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret) + "&lang=de")
	require.Equal(t, http.StatusOK, car.status, car.body)
	for _, want := range []string{"Nur Haftpflicht (inklusive)", "Navigationsgerät", "Tagespreis × 3"} {
		assert.Contains(t, car.body, want)
	}
	assert.NotContains(t, car.body, "Liability only")
	s.get("/?lang=en") // back to English for what follows

	assert.Zero(t, s.count(`SELECT count(*) FROM reservations.reservations`), "nothing was booked")
	assert.Zero(t, s.count(`SELECT count(*) FROM customers.customers WHERE email = 'gina.gast@example.com'`), "no guest was registered")

	// Last: another function's conflict is worded by its problem code on a German page: the car
	// taken by another guest meanwhile (reservations-api's 409 "vehicle_booked").
	first := s.otherBrowser()
	firstBook := first.get("/book?vehicle=" + vwGolf + "&location=BER-HBF&pickup=" + url.QueryEscape(pickup) + "&return=" + url.QueryEscape(ret))
	require.Equal(t, http.StatusOK, firstBook.status, firstBook.body)
	f = guestForm(pickup, ret)
	f.Set("email", "erste.gast@example.com")
	booked := first.post(firstBook, "/book", f)
	require.Equal(t, http.StatusOK, booked.status, booked.body)
	taken := s.post(book, "/book?lang=de", guestForm(pickup, ret))
	assert.Equal(t, http.StatusConflict, taken.status, taken.body)
	assert.Contains(t, taken.body, "Dieses Fahrzeug ist für den Zeitraum nicht mehr frei.")
	assert.NotContains(t, taken.body, "already booked")
	assert.Equal(t, 1, s.count(`SELECT count(*) FROM reservations.reservations`), "the first guest's booking only")
}

// skippedInBerlin is 02:30 on the next last Sunday of March, a wall-clock time Berlin skips.
func skippedInBerlin() string {
	for y := time.Now().Year(); ; y++ {
		d := time.Date(y, time.March, 31, 2, 30, 0, 0, time.UTC)
		for d.Weekday() != time.Sunday {
			d = d.AddDate(0, 0, -1)
		}
		if d.After(time.Now().AddDate(0, 0, 1)) {
			return d.Format("2006-01-02T15:04")
		}
	}
}

// guestForm is a guest's complete booking form (without JavaScript: a sandbox test card).
func guestForm(pickup, ret string) url.Values {
	return url.Values{
		"vehicle": {vwGolf}, "location": {"BER-HBF"}, "pickup": {pickup}, "return": {ret},
		"firstName": {"Gina"}, "lastName": {"Gast"}, "email": {"gina.gast@example.com"}, "phone": {"+49 30 1234567"},
		"dateOfBirth": {"1990-04-01"}, "street": {"Invalidenstraße 1"}, "postalCode": {"10115"}, "city": {"Berlin"}, "country": {"DE"},
		"licenceNumber": {"B072RRE2I55"}, "licenceCountry": {"DE"}, "licenceIssued": {"2010-05-01"}, "licenceExpires": {"2033-05-01"},
		"sandboxCard": {"tok_success"},
	}
}

// A pickup when the branch is closed is told in the page's language with that day's hours,
// before vehicles-api refuses it in English.
func TestClosedBranchSaidInThePagesLanguage(t *testing.T) {
	s := start(t)
	_, err := s.db.Pool.Exec(context.Background(), `UPDATE locations.locations SET opening_hours =
		'[{"day":"monday","opens":"08:00","closes":"18:00"},{"day":"tuesday","opens":"08:00","closes":"18:00"},
		  {"day":"wednesday","opens":"08:00","closes":"18:00"},{"day":"thursday","opens":"08:00","closes":"18:00"},
		  {"day":"friday","opens":"08:00","closes":"18:00"}]'::jsonb WHERE code = 'BER-HBF'`)
	require.NoError(t, err)
	day := time.Now().AddDate(0, 0, 10)
	for day.Weekday() != time.Sunday {
		day = day.AddDate(0, 0, 1)
	}
	q := url.Values{"location": {"BER-HBF"}, "pickup": {day.Format("2006-01-02") + "T10:00"}, "return": {day.AddDate(0, 0, 2).Format("2006-01-02") + "T10:00"}}
	for lang, want := range map[string]string{
		"de": "Die Filiale ist zu dieser Zeit geschlossen. Öffnungszeiten am Sonntag: ganztägig geschlossen.",
		"en": "The branch is closed then. Opening hours on Sunday: closed all day.",
	} {
		q.Set("lang", lang)
		p := s.get("/search?" + q.Encode())
		assert.Equal(t, http.StatusBadRequest, p.status, p.body)
		assert.Contains(t, p.body, `<p class="field-error" id="pickup-error">`+html.EscapeString(want)+`</p>`)
	}
	// Monday at 07:00: that day's hours.
	q.Set("pickup", day.AddDate(0, 0, 1).Format("2006-01-02")+"T07:00")
	q.Set("lang", "de")
	p := s.get("/search?" + q.Encode())
	assert.Contains(t, p.body, "Öffnungszeiten am Montag: 08:00–18:00.")
}
