package customers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/customers"
)

// TestNamesAreWhatNamesContain is issue 11's phishing relay: public registration put any
// text — a URL, a hundred characters — as the name into a welcome mail to any address. Each
// attack is refused with 400 naming the field, on every way a name comes in (registration,
// a guest's registration, a profile update; first and last name, company name), and nothing
// is stored or announced. The names people have, in any script, still go through.
func TestNamesAreWhatNamesContain(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	attacks := []struct{ name, value string }{
		{"a URL", "Click https://evil.example"},
		{"a bare domain", "evil.example"},
		{"www", "www.evil.example"},
		{"a short domain", "Go x.co"},
		{"a mail address", "Anna@example.com"},
		{"markup", "<b>Anna</b>"},
		{"digits", "Call 0800123456"},
		{"digits of another script", "Anna ٣"},
		{"a line break", "Anna\nBcc: victim@example.com"},
		{"a tab", "Anna\tB"},
		{"a right-to-left override", "Anna\u202Emoc.live"},
		{"a zero-width space", "An\u200Bna"},
		{"a zero-width joiner as padding", "Anna\u200D"},
		{"the replacement character", "Ann\uFFFD"},
		{"an emoji", "Anna 🎁"},
		{"51 letters", strings.Repeat("a", 51)},
		{"starting with a hyphen", "-Anna"},
		{"stacked accents", "Z\u0301\u0302\u0303\u0304\u0305"},
		{"a pitch in punctuation", "Anna!!! Win now"},
	}
	// The attacks first, all of them before anything is written: each proves by snapshot
	// that it changed nothing.
	t.Run("attacks", func(t *testing.T) {
		for i, attack := range attacks {
			t.Run(attack.name, func(t *testing.T) {
				t.Parallel()
				testNameAttack(t, a.as(t), i, attack.value)
			})
		}
	})
	testNamesAccepted(t, a)
}

// testNameAttack sends value as every person's name field of every way in.
func testNameAttack(t *testing.T, a *api, i int, value string) {
	before := a.snapshot()
	email := fmt.Sprintf("victim%d@example.com", i)
	for _, field := range []string{"firstName", "lastName"} {
		body := newCustomer.with("email", email, field, value, "licence", nil).String()
		r := a.json(anonymous, http.MethodPost, "/api/customers", body)
		require.Equal(t, http.StatusBadRequest, r.status, "registration, %s: %s", field, r.body)
		assert.Equal(t, []string{field}, problemFields(t, r))

		r = a.json(reservations, http.MethodPost, "/api/customers/guests", body)
		require.Equal(t, http.StatusBadRequest, r.status, "guest, %s: %s", field, r.body)
		assert.Equal(t, []string{field}, problemFields(t, r))

		r = a.json(alice, http.MethodPut, "/api/customers/"+aliceID, aliceProfile.with(field, value).String())
		require.Equal(t, http.StatusBadRequest, r.status, "profile, %s: %s", field, r.body)
		assert.Equal(t, []string{field}, problemFields(t, r))
	}
	assert.Equal(t, before, a.snapshot(), "nothing stored, nothing announced")
}

// testNamesAccepted: company names have their own wider rule, address lines are one line,
// and the names people have, in any script, are stored as typed.
func testNamesAccepted(t *testing.T, a *api) {
	t.Run("company names", func(t *testing.T) {
		t.Parallel()
		a := a.as(t)
		business := newCustomer.with("type", "business", "vatId", "DE123456789", "licence", nil)
		for i, name := range []string{"Visit https://evil.example GmbH", "www.evil.example", "Evil\r\nGmbH", strings.Repeat("A", 201)} {
			r := a.json(anonymous, http.MethodPost, "/api/customers", business.with("email", fmt.Sprintf("co%d@example.de", i), "companyName", name).String())
			require.Equal(t, http.StatusBadRequest, r.status, "%q: %s", name, r.body)
			assert.Equal(t, []string{"companyName"}, problemFields(t, r))
		}
		for i, name := range []string{"1&1 Versatel GmbH", "Müller & Söhne (Berlin) e.K.", "Booking.com B.V.", "A/S Møller-Mærsk", "株式会社トヨタ"} {
			r := a.json(anonymous, http.MethodPost, "/api/customers", business.with("email", fmt.Sprintf("ok%d@example.de", i), "companyName", name).String())
			require.Equal(t, http.StatusCreated, r.status, "%q: %s", name, r.body)
			assert.Equal(t, name, decode[customers.Customer](t, r).CompanyName)
		}
	})

	t.Run("an address line is one line", func(t *testing.T) {
		t.Parallel()
		a := a.as(t)
		r := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("email", "lines@example.de",
			"address.street", "Hauptstraße 1\nClick https://evil.example", "address.city", "Ber\u2028lin").String())
		require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
		assert.ElementsMatch(t, []string{"address.street", "address.city"}, problemFields(t, r))
	})

	names := []struct{ first, last string }{
		{"Zoë", "Ólafsdóttir"},
		{"Jean-Luc", "O'Brien"},
		{"Siobhán", "O’Connor"},
		{"J.R.R.", "Tolkien"},
		{"Hans-J.", "v. d. Heide"},
		{"Nguyễn", "Thị Minh Khai"},
		{"Nguye\u0302\u0303n", "Decomposed"}, // the same letters written with combining marks
		{"太郎", "山田"},
		{"Владимир", "Набоков"},
		{"Ἀριστοτέλης", "Σταγειρίτης"},
		{"محمد", "مهر\u200Cنوش"}, // a zero-width non-joiner between two letters, as Persian writes it
		{"अनुष्का", "शर्मा"},
		{"María del Carmen", "Fernández-Villaverde"},
		{"Ngũgĩ", "wa Thiong'o"},
		{"A", strings.Repeat("b", 50)},
	}
	for i, n := range names {
		t.Run("accepted "+n.first+" "+n.last, func(t *testing.T) {
			t.Parallel()
			a := a.as(t)
			r := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("email", fmt.Sprintf("name%d@example.de", i),
				"firstName", n.first, "lastName", n.last, "licence", nil).String())
			require.Equal(t, http.StatusCreated, r.status, string(r.body))
			c := decode[customers.Customer](t, r)
			assert.Equal(t, [2]string{n.first, n.last}, [2]string{c.FirstName, c.LastName})
		})
	}
}
