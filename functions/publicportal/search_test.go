package publicportal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/pricing/pricingapi"
	"github.com/orangecarrental/orange/platform"
)

// TestSearchVehicleAndQuote searches Berlin, opens a car and prices it with options: the
// page's gross total is pricing-api's own quote for the same choices, to the cent.
func TestSearchVehicleAndQuote(t *testing.T) {
	s := start(t)
	home := s.get("/")
	require.Equal(t, http.StatusOK, home.status, home.body)
	assert.Contains(t, home.body, `id="search-form"`)
	assert.Contains(t, home.body, `<option value="BER-HBF" selected>`)

	pickup, ret := trip()
	q := url.Values{"location": {"BER-HBF"}, "pickup": {pickup}, "return": {ret}, "category": {"KOMPAKT"}}
	res := s.get("/search?" + q.Encode())
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Contains(t, res.body, `id="results"`)
	assert.Contains(t, res.body, `data-vehicle-id="`+vwGolf+`"`)
	assert.Contains(t, res.body, `id="offer-`+vwGolf+`"`)
	assert.NotContains(t, res.body, `KLEIN ·`, "the category filter reached vehicles-api")

	// German, by Accept-Language: euros with a comma.
	req, _ := http.NewRequest(http.MethodGet, "http://"+portalHost+"/search?"+q.Encode(), nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	de := s.do(req)
	require.Equal(t, http.StatusOK, de.status)
	assert.Contains(t, de.body, `lang="de"`)
	assert.Regexp(t, `\d+,\d\d\x{00a0}€`, de.body)

	opts := url.Values{"location": {"BER-HBF"}, "pickup": {pickup}, "return": {ret}, "returnLocation": {"MUC-FLG"},
		"insurance": {"FULL"}, "extra-GPS": {"1"}, "extra-CHILD_SEAT": {"2"}}
	v := s.get("/vehicles/" + vwGolf + "?" + opts.Encode())
	require.Equal(t, http.StatusOK, v.status, v.body)
	assert.Contains(t, v.body, `id="quote-total"`)
	assert.Contains(t, v.body, `id="insurance-FULL" value="FULL" checked`)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	p, _ := time.ParseInLocation("2006-01-02T15:04", pickup, berlin)
	r, _ := time.ParseInLocation("2006-01-02T15:04", ret, berlin)
	one, two := 1, 2
	var want pricingapi.Quote
	err := platform.CallJSON(context.Background(), &http.Client{Transport: s.m.Transport}, http.MethodPost, pricingapi.Service,
		pricingapi.Prefix+"/quotes", pricingapi.QuoteRequest{PickupLocation: "BER-HBF", ReturnLocation: "MUC-FLG",
			PickupAt: p.UTC().Format(time.RFC3339), ReturnAt: r.UTC().Format(time.RFC3339), Category: "KOMPAKT", Insurance: "FULL",
			Extras: []pricingapi.ExtraRequest{{Code: "GPS", Quantity: &one}, {Code: "CHILD_SEAT", Quantity: &two}}}, &want)
	require.NoError(t, err)
	assert.Contains(t, v.body, `id="quote-total">`+euros(want.GrossCents)+`<`)
	assert.Contains(t, v.body, "One-way", "the one-way fee is a line of the quote")

	// The booking page carries the same choices and shows the same total.
	b := s.get("/book?vehicle=" + vwGolf + "&" + opts.Encode())
	require.Equal(t, http.StatusOK, b.status, b.body)
	assert.Contains(t, b.body, `id="booking-total">`+euros(want.GrossCents)+`<`)
	for _, field := range []string{`name="firstName"`, `id="card-number"`, `name="sandboxCard"`, `id="sign-in-to-book"`} {
		assert.Contains(t, b.body, field)
	}
	assert.NotContains(t, b.body, `name="card`, "no card input has a name: a form never posts a card to the portal")
}

// euros is cents as the English pages print them.
func euros(cents int64) string {
	s := strings.Builder{}
	whole := cents / 100
	digits := []byte(strings.TrimSpace(func() string { return itoa(whole) }()))
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			s.WriteByte(',')
		}
		s.WriteByte(d)
	}
	frac := cents % 100
	return "€" + s.String() + "." + string([]byte{byte('0' + frac/10), byte('0' + frac%10)})
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// TestPagesCarryTheSecurityHeaders: no inline script (CSP), no framing; with the gateway on
// another origin (PORTAL_API_URL) the card's script may connect there and nowhere else.
func TestPagesCarryTheSecurityHeaders(t *testing.T) {
	s := start(t, "PORTAL_API_URL", "https://api.example.com")
	p := s.get("/")
	require.Equal(t, http.StatusOK, p.status)
	csp := p.header.Get("Content-Security-Policy")
	assert.Contains(t, csp, "script-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	assert.Contains(t, csp, "connect-src 'self' https://api.example.com")
	assert.NotContains(t, p.body, "<script>", "no inline script")
	assert.NotContains(t, p.body, "style=", "no inline style")
	b := s.get("/book?vehicle=" + vwGolf)
	require.Equal(t, http.StatusOK, b.status, b.body)
	assert.Contains(t, b.body, `data-api="https://api.example.com/api/payments/methods"`)
}
