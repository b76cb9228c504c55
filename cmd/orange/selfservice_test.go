package main_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// The flows of issue 13's acceptance — self-service listing, a guest's cancel through the
// mailed link, a change, another card after a decline (flowDeclined), a one-way return, a
// no-show (flowNoShow) — driven through the public HTTP API of TestFlows' `orange dev`, each
// with its own car, in parallel with the other flows. Amounts come from the rules
// (expectPrice, docs/pricing.md, docs/reservations.md), never from the code's answers.

// flowPage is a page of GET /api/reservations.
type flowPage struct {
	Items []flowReservation
	Total int
}

// list is GET /api/reservations?query as the holder of token.
func (s *flowSystem) list(t *testing.T, token string, query url.Values) flowPage {
	t.Helper()
	var page flowPage
	status, raw := s.api(t, http.MethodGet, "/api/reservations?"+query.Encode(), token, nil, &page)
	require.Equal(t, http.StatusOK, status, raw)
	return page
}

// ids are the reservations' ids.
func ids(rs []flowReservation) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

// flowSelfService: alice and bob book the same car for periods one after the other; each
// lists their own bookings with the agents' route and filters (issue 13: renter
// self-service), never the other's; the agent sees both; a malformed query is a 400.
func flowSelfService(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(6 * 24 * time.Hour).Truncate(time.Second)
	mine := s.book(t, s.alice, c, pickup, pickup.Add(48*time.Hour), "LIABILITY", nil, cardPays)
	later := pickup.Add(4 * 24 * time.Hour)
	theirs := s.book(t, s.bob, c, later, later.Add(48*time.Hour), "LIABILITY", nil, cardPays)
	s.waitStatus(t, s.alice, mine.ID, "confirmed", flowSettle)
	s.waitStatus(t, s.bob, theirs.ID, "confirmed", flowSettle)

	car := url.Values{"vehicle": {c.ID}}
	assert.Equal(t, []string{mine.ID}, ids(s.list(t, s.alice, car).Items), "alice's bookings of the car")
	assert.Equal(t, []string{theirs.ID}, ids(s.list(t, s.bob, car).Items), "bob's bookings of the car")
	assert.Equal(t, []string{mine.ID, theirs.ID}, ids(s.list(t, s.carla, car).Items), "the agent sees both, by pickup")

	// Everything alice lists is hers; bob's booking is not among it, whatever she asks.
	all := s.list(t, s.alice, url.Values{"pageSize": {"100"}})
	assert.Contains(t, ids(all.Items), mine.ID)
	assert.NotContains(t, ids(all.Items), theirs.ID)
	for _, r := range all.Items {
		assert.Equal(t, devissuer.CustomerAlice, r.CustomerID, "alice lists %s", r.ID)
	}
	page := s.list(t, s.alice, url.Values{"customer": {devissuer.CustomerBob}})
	assert.Empty(t, page.Items, "alice asks for bob's bookings")
	assert.Zero(t, page.Total)

	// Filters narrow her own list.
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"status confirmed", url.Values{"vehicle": {c.ID}, "status": {"confirmed"}}, []string{mine.ID}},
		{"status cancelled", url.Values{"vehicle": {c.ID}, "status": {"cancelled"}}, []string{}},
		{"category", url.Values{"vehicle": {c.ID}, "category": {c.Category}}, []string{mine.ID}},
		{"location", url.Values{"vehicle": {c.ID}, "location": {c.LocationCode}}, []string{mine.ID}},
		{"her period", url.Values{"vehicle": {c.ID}, "from": {pickup.Format(time.RFC3339)},
			"to": {pickup.Add(time.Hour).Format(time.RFC3339)}}, []string{mine.ID}},
		{"bob's period", url.Values{"vehicle": {c.ID}, "from": {later.Format(time.RFC3339)},
			"to": {later.Add(time.Hour).Format(time.RFC3339)}}, []string{}},
	} {
		assert.Equal(t, tc.want, ids(s.list(t, s.alice, tc.query).Items), tc.name)
	}

	// The query string is read strictly: `;` is no separator, an unknown parameter is named.
	for _, q := range []string{"page=1;pageSize=5", "pageSize=101", "sort=price", "colour=orange"} {
		status, raw := s.api(t, http.MethodGet, "/api/reservations?"+q, s.alice, nil, nil)
		assert.Equal(t, http.StatusBadRequest, status, "?%s: %s", q, raw)
	}
	status, raw := s.api(t, http.MethodGet, "/api/reservations?page=1;pageSize=5", s.alice, nil, nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, raw, `"page"`, "the 400 names the parameter")
	status, raw = s.api(t, http.MethodGet, "/api/reservations", "", nil, nil)
	assert.Equal(t, http.StatusUnauthorized, status, raw)
}

// flowGuest is a guest of the flows (no account): a new one per flow.
func flowGuest(first, email string) map[string]any {
	return map[string]any{"firstName": first, "lastName": "Gast", "email": email, "phone": "+49 30 1234567",
		"dateOfBirth": "1988-04-12", "address": map[string]any{"street": "Teststraße 1", "postalCode": "10115", "city": "Berlin"},
		"licence": map[string]any{"number": "B7654321", "issuingCountry": "DE", "issueDate": "2008-01-01", "expiryDate": "2040-01-01"}}
}

var manageLinkPattern = regexp.MustCompile(`/manage-booking\?reservation=([0-9a-f-]{36})#token=(\S+)`)

// manageToken waits for the manage link of guest booking id in the mail to email and
// returns its token, as the guest's browser would read it from the link's fragment.
func (s *flowSystem) manageToken(t *testing.T, email, id string) string {
	t.Helper()
	var token string
	require.Eventually(t, func() bool {
		var box struct {
			Items []struct{ ID, To string }
		}
		status, raw := s.api(t, http.MethodGet, "/dev/mail", "", nil, &box)
		require.Equal(t, http.StatusOK, status, raw)
		for _, m := range box.Items {
			if !strings.Contains(m.To, "<"+email+">") {
				continue
			}
			status, body := s.api(t, http.MethodGet, "/dev/mail/"+m.ID, "", nil, nil)
			require.Equal(t, http.StatusOK, status, body)
			for _, match := range manageLinkPattern.FindAllStringSubmatch(body, -1) {
				if match[1] == id {
					tok, err := url.QueryUnescape(match[2])
					require.NoError(t, err)
					token = tok
					return true
				}
			}
		}
		return false
	}, flowSettle, 250*time.Millisecond, "no manage link for %s in the mail to %s", id, email)
	return token
}

// flowGuestCancel: a guest books 30 h ahead without an account and is confirmed; the mail
// carries the manage link; with it (and nothing else) the guest views the booking, sees what
// cancelling now costs (50 % of the gross), cancels: the fee is captured, the rest released,
// the fee invoiced (kind cancellation); mails: held, confirmed, cancelled, payment, invoice.
func flowGuestCancel(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(30 * time.Hour).Truncate(time.Second)
	ret := pickup.Add(48 * time.Hour)
	want := expectPrice(c.Category, pickup, ret, "PARTIAL", nil)
	const email = "gwen.gast@example.com"
	body := map[string]any{"customer": flowGuest("Gwen", email), "vehicleId": c.ID, "pickupLocation": c.LocationCode,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": ret.Format(time.RFC3339), "insurance": "PARTIAL",
		"paymentMethodId": s.tokenizeCard(t, "", cardPays)}
	var res flowReservation
	status, raw := s.api(t, http.MethodPost, "/api/reservations/guest", "", body, &res)
	require.Equal(t, http.StatusCreated, status, raw)
	assert.Equal(t, want.gross, res.TotalGrossCents)
	s.waitStatus(t, s.carla, res.ID, "confirmed", flowSettle)
	p := s.waitPayment(t, s.carla, res.ID, "authorized")
	assert.Equal(t, want.gross, p.AuthorizedCents)

	token := s.manageToken(t, email, res.ID)
	guest := func(path string) string {
		return "/api/reservations/" + res.ID + "/guest" + path + "?" + url.Values{"token": {token}}.Encode()
	}
	// A forged token, another booking's id, no token: nothing to see.
	status, raw = s.api(t, http.MethodGet, "/api/reservations/"+res.ID+"/guest?token="+url.QueryEscape(token+"x"), "", nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "a forged link: %s", raw)
	other := s.book(t, s.bob, s.take(t, ""), pickup, ret, "LIABILITY", nil, cardPays)
	status, raw = s.api(t, http.MethodGet, "/api/reservations/"+other.ID+"/guest?token="+url.QueryEscape(token), "", nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "the link of one booking opens another: %s", raw)
	status, raw = s.api(t, http.MethodGet, "/api/reservations/"+res.ID+"/guest", "", nil, nil)
	assert.Equal(t, http.StatusBadRequest, status, "no token: %s", raw)

	var seen flowReservation
	status, raw = s.api(t, http.MethodGet, guest(""), "", nil, &seen)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "confirmed", seen.Status)
	assert.Equal(t, want.gross, seen.TotalGrossCents)

	// 30 h before pickup: 50 % of the gross, shown before the guest confirms.
	wantFee := halfUp(want.gross, 50)
	var preview struct{ FeeCents, TotalGrossCents int64 }
	status, raw = s.api(t, http.MethodGet, guest("/cancellation-fee"), "", nil, &preview)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, wantFee, preview.FeeCents, "the fee shown before cancelling")
	assert.Equal(t, want.gross, preview.TotalGrossCents)
	assert.Equal(t, "confirmed", s.reservation(t, s.carla, res.ID).Status, "the preview changes nothing")

	var out flowReservation
	status, raw = s.api(t, http.MethodPost, guest("/cancel"), "", map[string]string{"reason": "plans changed"}, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "cancelled", out.Status)
	assert.Equal(t, wantFee, out.FeeCents)

	p = s.waitPayment(t, s.carla, res.ID, "captured")
	assert.Equal(t, wantFee, p.CapturedCents, "the fee is captured, the rest (%d cents) released", want.gross-wantFee)
	assert.Equal(t, want.gross, p.AuthorizedCents)
	assert.Zero(t, p.RefundedCents)
	checkFeeInvoice(t, s.waitInvoice(t, s.carla, res.CustomerID, res.ID), "cancellation", "CANCELLATION_FEE", wantFee)
	require.Eventually(t, func() bool { return s.free(t, c, pickup, ret) }, flowSettle, 250*time.Millisecond,
		"the car of a cancelled booking is not offered again")
	// The link still shows the booking (long enough to see the invoice).
	status, raw = s.api(t, http.MethodGet, guest(""), "", nil, &seen)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "cancelled", seen.Status)
	s.waitMails(t, email, res.ID, map[string]int{"held": 1, "confirmed": 1, "cancelled": 1, "captured": 1, "invoice": 1})
}

// berlin is the time zone of the seed's branches.
var berlin = func() *time.Location {
	l, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return l
}()

// flowChange: alice books two days starting in a few minutes, is confirmed, then extends
// the booking to four days and adds GPS before the pickup: re-priced by the rules (an
// increase costs no change fee), the authorization raised to the new total; the same change
// again changes nothing. Then she shortens it to three days: less than 24 h before the
// original pickup the reduction is a partial cancellation at 100 %, so a CHANGE_FEE of the
// whole reduction keeps the total. Carla hands the car over and takes it back; the capture
// and the rental invoice are the changed booking's lines.
func flowChange(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(5 * time.Minute).Truncate(time.Second)
	ret := pickup.Add(48 * time.Hour)
	before := expectPrice(c.Category, pickup, ret, "LIABILITY", nil)
	res := s.book(t, s.alice, c, pickup, ret, "LIABILITY", nil, cardPays)
	assert.Equal(t, before.gross, res.TotalGrossCents)
	confirmed := s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	p := s.waitPayment(t, s.alice, res.ID, "authorized")
	require.Equal(t, before.gross, p.AuthorizedCents)

	newRet := pickup.Add(96 * time.Hour)
	extras := []flowExtra{{Code: "GPS"}}
	after := expectPrice(c.Category, pickup, newRet, "LIABILITY", extras)
	require.Greater(t, after.gross, before.gross)
	change := map[string]any{"returnAt": newRet.Format(time.RFC3339), "extras": extras}
	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/change", s.bob, change, nil)
	assert.Equal(t, http.StatusNotFound, status, "bob changes alice's booking: %s", raw)
	var out flowReservation
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/change", s.alice, change, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "confirmed", out.Status)
	assert.Equal(t, after.gross, out.TotalGrossCents, "re-priced by the rules")
	checkLines(t, after.lines, out.Lines, "the changed booking")
	assert.Equal(t, after.net, out.NetCents)
	assert.Equal(t, after.vat, out.VatCents)
	assert.Equal(t, confirmed.Version+1, out.Version)
	var again flowReservation
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/change", s.alice, change, &again)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, out.Version, again.Version, "the same change again changes nothing")

	// Payments raises the authorization to the new total.
	require.Eventually(t, func() bool {
		ps := s.payments(t, s.alice, res.ID)
		if len(ps) != 1 {
			return false
		}
		p = ps[0]
		return p.AuthorizedCents == after.gross
	}, flowSettle, 250*time.Millisecond, "the authorization of %s never became %d", res.ID, after.gross)
	assert.Equal(t, "authorized", p.Status)
	assert.Zero(t, p.OutstandingCents)
	require.Eventually(t, func() bool { return !s.free(t, c, ret.Add(time.Hour), newRet) }, flowSettle, 250*time.Millisecond,
		"the car is offered in the added days")

	// Shortened to three days, minutes before the original pickup: the fee on the reduction
	// is 100 % (< 24 h), its line net = fee / 1.19 half up, the rest VAT; the total stays.
	short := expectPrice(c.Category, pickup, pickup.Add(72*time.Hour), "LIABILITY", extras)
	fee := halfUp(after.gross-short.gross, 100)
	feeNet, feeVAT := splitGross(fee)
	final := flowPrice{lines: append(append([]flowLine{}, short.lines...), flowLine{Code: "CHANGE_FEE", NetCents: feeNet}),
		net: short.net + feeNet, vat: short.vat + feeVAT, gross: short.gross + fee}
	require.Equal(t, after.gross, final.gross, "100 %% of the reduction: shortening saves nothing")
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/change", s.alice,
		map[string]any{"returnAt": pickup.Add(72 * time.Hour).Format(time.RFC3339)}, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, final.gross, out.TotalGrossCents)
	checkLines(t, final.lines, out.Lines, "the shortened booking")
	assert.Equal(t, final.net, out.NetCents)
	assert.Equal(t, final.vat, out.VatCents)
	require.Eventually(t, func() bool { return s.free(t, c, pickup.Add(73*time.Hour), newRet) }, flowSettle, 250*time.Millisecond,
		"the day given back is not offered again")
	after = final

	// Handed over on the pickup day (in the branch's time zone; a test started minutes
	// before midnight waits for the day).
	if d := time.Until(time.Date(pickup.In(berlin).Year(), pickup.In(berlin).Month(), pickup.In(berlin).Day(), 0, 0, 0, 0, berlin)); d > 0 {
		time.Sleep(d + time.Second)
	}
	s.activate(t, res.ID, 40210, 7)
	s.complete(t, res.ID, 40390, 7, "")

	p = s.waitPayment(t, s.alice, res.ID, "captured")
	assert.Equal(t, after.gross, p.CapturedCents, "the capture is the changed total")
	inv := s.waitInvoice(t, s.alice, devissuer.CustomerAlice, res.ID)
	assert.Equal(t, "rental", inv.Kind)
	checkLines(t, after.lines, inv.Lines, "the rental invoice of the changed booking")
	assert.Equal(t, after.net, inv.NetCents)
	assert.Equal(t, after.vat, inv.VATCents)
	assert.Equal(t, after.gross, inv.GrossCents)
}

// flowOneWay: alice picks a car up at its branch and returns it at another: the one-way fee
// is a line of the booking; after the return the car stands at the return branch, offered
// there and no longer at the pickup branch.
func flowOneWay(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	var to string
	for _, b := range s.branches {
		if b != c.LocationCode {
			to = b
			break
		}
	}
	require.NotEmpty(t, to, "a second branch")
	pickup := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second) // picked up at once
	ret := pickup.Add(48 * time.Hour)
	want := expectPriceWay(c.Category, pickup, ret, "LIABILITY", nil, true)
	s.checkQuoteWay(t, c, to, pickup, ret, want)
	body := map[string]any{"vehicleId": c.ID, "pickupLocation": c.LocationCode, "returnLocation": to,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": ret.Format(time.RFC3339),
		"paymentMethodId": s.tokenizeCard(t, s.alice, cardPays)}
	var res flowReservation
	status, raw := s.api(t, http.MethodPost, "/api/reservations", s.alice, body, &res)
	require.Equal(t, http.StatusCreated, status, raw)
	assert.Equal(t, to, res.ReturnLocation)
	assert.Equal(t, want.gross, res.TotalGrossCents, "the one-way fee is priced")
	checkLines(t, want.lines, res.Lines, "one-way booking")
	s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	s.waitPayment(t, s.alice, res.ID, "authorized")

	s.activate(t, res.ID, 8000, 8)
	s.waitVehicle(t, c, "rented")
	s.complete(t, res.ID, 8570, 8, "")
	p := s.waitPayment(t, s.alice, res.ID, "captured")
	assert.Equal(t, want.gross, p.CapturedCents)

	var v struct{ Status, LocationCode string }
	require.Eventually(t, func() bool {
		status, raw := s.api(t, http.MethodGet, "/api/vehicles/"+c.ID, "", nil, &v)
		require.Equal(t, http.StatusOK, status, raw)
		return v.Status == "available" && v.LocationCode == to
	}, flowSettle, 250*time.Millisecond, "the car never stood available at %s: %+v", to, v)
	from := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
	there := c
	there.LocationCode = to
	assert.True(t, s.free(t, there, from, from.Add(48*time.Hour)), "the car is offered at the return branch")
	assert.False(t, s.free(t, c, from, from.Add(48*time.Hour)), "the car is still offered at the pickup branch")
}

// checkQuoteWay checks pricing's quote of a one-way rental of c to the branch to.
func (s *flowSystem) checkQuoteWay(t *testing.T, c flowCar, to string, pickup, ret time.Time, want flowPrice) {
	t.Helper()
	var q struct {
		NetCents, VatCents, GrossCents int64
		Lines                          []flowLine
	}
	body := map[string]any{"pickupLocation": c.LocationCode, "returnLocation": to, "category": c.Category,
		"pickupAt": pickup.Format(time.RFC3339), "returnAt": ret.Format(time.RFC3339)}
	status, raw := s.api(t, http.MethodPost, "/api/pricing/quotes", "", body, &q)
	require.Equal(t, http.StatusOK, status, raw)
	checkLines(t, want.lines, q.Lines, fmt.Sprintf("quote %s → %s", c.LocationCode, to))
	assert.Equal(t, want.net, q.NetCents)
	assert.Equal(t, want.vat, q.VatCents)
	assert.Equal(t, want.gross, q.GrossCents)
}
