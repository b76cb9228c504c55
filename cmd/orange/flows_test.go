package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/proctest"
)

// The price list the expected amounts are computed from — the rules, not the code's answers:
// net daily rates per category (design.md §4), insurance and extras per docs/pricing.md.
var (
	flowDailyNet = map[string]int64{"KLEIN": 2999, "KOMPAKT": 3999, "MITTEL": 5499, "OBER": 8999,
		"SUV": 6999, "KOMBI": 4999, "TRANS": 7999, "LUXUS": 14999}
	flowInsuranceNetPerDay = map[string]int64{"LIABILITY": 0, "PARTIAL": 800, "FULL": 1500, "ZERO_EXCESS": 2500}
	flowExtraNet           = map[string]struct {
		cents  int64
		perDay bool
	}{"GPS": {500, true}, "CHILD_SEAT": {800, true}, "ADDITIONAL_DRIVER": {1000, true}, "SNOW_CHAINS": {1500, false}}
)

const (
	flowVATPercent    = 19
	flowCardDeclines  = "4000000000000002" // the sandbox's card_declined card
	flowAliceEmail    = "alice@example.com"
	flowBobEmail      = "bob@example.com"
	flowSettle        = 60 * time.Second // an event chain settles well within this
	flowCaptureMargin = 15               // payments captures at most the authorization + 15 %
)

// halfUp is pct % of cents, rounded half up to the cent (docs/pricing.md: the one rounding rule).
func halfUp(cents, pct int64) int64 { return (cents*pct + 50) / 100 }

// flowExtra is an extra as a booking and a quote take it.
type flowExtra struct {
	Code     string `json:"code"`
	Quantity int64  `json:"quantity,omitempty"`
}

// flowPrice is what a rental must cost by the rules.
type flowPrice struct {
	days, dailyNet, dailyGross, net, vat, gross int64
	lines                                       []flowLine // the quote's lines, in pricing's order
}

// flowLine is a priced line, net: of a quote, a booking, an invoice.
type flowLine struct {
	Code         string `json:"code"`
	Description  string `json:"description"`
	Quantity     int64  `json:"quantity"`
	Per          string `json:"per"`
	UnitNetCents int64  `json:"unitNetCents"`
	NetCents     int64  `json:"netCents"`
}

// flowExtraOrder is the catalogue's order of the extras, the order of a quote's lines.
var flowExtraOrder = []string{"GPS", "CHILD_SEAT", "ADDITIONAL_DRIVER", "ROOF_RACK", "SKI_RACK", "BIKE_RACK",
	"SNOW_CHAINS", "CROSS_BORDER"}

// flowOneWayNet is the one-way fee, net, once per rental (docs/pricing.md).
const flowOneWayNet = 4900

// expectPrice prices a rental from the rules: days = max(1, ceil((return − pickup − 1 h) / 24 h));
// RENTAL = daily rate × days, minus the duration discount (7/14/28 days: 10/15/20 %, half up);
// insurance and per-day extras × days, per-rental extras once; VAT 19 % of the net total,
// half up; gross = net + VAT.
func expectPrice(category string, pickup, ret time.Time, insurance string, extras []flowExtra) flowPrice {
	return expectPriceWay(category, pickup, ret, insurance, extras, false)
}

// expectPriceWay is expectPrice with the one-way fee (49.00 € net, once) when oneWay; the
// lines are pricing's: RENTAL, DURATION_DISCOUNT (if any), INSURANCE_<package>, the extras
// in catalogue order, ONE_WAY_FEE (if any).
func expectPriceWay(category string, pickup, ret time.Time, insurance string, extras []flowExtra, oneWay bool) flowPrice {
	day := 24 * time.Hour
	days := int64((ret.Sub(pickup) - time.Hour + day - 1) / day)
	days = max(days, 1)
	p := flowPrice{days: days, dailyNet: flowDailyNet[category]}
	p.dailyGross = p.dailyNet + halfUp(p.dailyNet, flowVATPercent)
	base := p.dailyNet * days
	p.lines = append(p.lines, flowLine{Code: "RENTAL", Quantity: days, UnitNetCents: p.dailyNet, NetCents: base})
	var discount int64
	switch {
	case days >= 28:
		discount = halfUp(base, 20)
	case days >= 14:
		discount = halfUp(base, 15)
	case days >= 7:
		discount = halfUp(base, 10)
	}
	if discount > 0 {
		// Its quantity and unit are the code's presentation: only the amount is the rule's.
		p.lines = append(p.lines, flowLine{Code: "DURATION_DISCOUNT", NetCents: -discount})
	}
	if insurance == "" {
		insurance = "LIABILITY"
	}
	p.lines = append(p.lines, flowLine{Code: "INSURANCE_" + insurance, Quantity: days,
		UnitNetCents: flowInsuranceNetPerDay[insurance], NetCents: days * flowInsuranceNetPerDay[insurance]})
	for _, code := range flowExtraOrder {
		for _, e := range extras {
			if e.Code != code {
				continue
			}
			q := max(e.Quantity, 1)
			price := flowExtraNet[e.Code]
			if price.perDay {
				q *= days
			}
			p.lines = append(p.lines, flowLine{Code: code, Quantity: q, UnitNetCents: price.cents, NetCents: q * price.cents})
		}
	}
	if oneWay {
		p.lines = append(p.lines, flowLine{Code: "ONE_WAY_FEE", Quantity: 1, UnitNetCents: flowOneWayNet, NetCents: flowOneWayNet})
	}
	for _, l := range p.lines {
		p.net += l.NetCents
	}
	p.vat = halfUp(p.net, flowVATPercent)
	p.gross = p.net + p.vat
	return p
}

// splitGross is the net of a gross amount (a fee, the late fee): gross × 100 / 119, rounded
// half up; the VAT is the rest (docs/payments.md: 100.00 € → 84.03 € + 15.97 €).
func splitGross(gross int64) (net, vat int64) {
	net = (gross*100*2 + 119) / (2 * 119)
	return net, gross - net
}

// checkLines checks got against the lines the rules give: the same codes in the same
// order, each net as the rules compute it, quantity and unit where the rule sets them, and
// every line quantity × unit exactly.
func checkLines(t *testing.T, want, got []flowLine, what string) {
	t.Helper()
	codes := func(ls []flowLine) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Code)
		}
		return out
	}
	require.Equal(t, codes(want), codes(got), "%s: the lines", what)
	for i, w := range want {
		g := got[i]
		assert.Equal(t, w.NetCents, g.NetCents, "%s: line %s net", what, w.Code)
		if w.Quantity != 0 {
			assert.Equal(t, w.Quantity, g.Quantity, "%s: line %s quantity", what, w.Code)
			assert.Equal(t, w.UnitNetCents, g.UnitNetCents, "%s: line %s unit", what, w.Code)
		}
		assert.Equal(t, g.Quantity*g.UnitNetCents, g.NetCents, "%s: line %s is quantity × unit", what, w.Code)
	}
}

type flowCar struct {
	ID           string `json:"id"`
	Category     string `json:"category"`
	LocationCode string `json:"locationCode"`
	// Price is the search's price: a car of its own rate shows it as its daily net.
	Price struct {
		DailyNetCents int64 `json:"dailyNetCents"`
	} `json:"price"`
}

type flowReservation struct {
	ID                    string     `json:"id"`
	CustomerID            string     `json:"customerId"`
	VehicleID             string     `json:"vehicleId"`
	PickupLocation        string     `json:"pickupLocation"`
	ReturnLocation        string     `json:"returnLocation"`
	Status                string     `json:"status"`
	PaymentDeclinedReason string     `json:"paymentDeclinedReason"`
	PaymentAttempt        int        `json:"paymentAttempt"`
	NetCents              int64      `json:"netCents"`
	VatCents              int64      `json:"vatCents"`
	Lines                 []flowLine `json:"lines"`
	Version               int        `json:"version"`
	HoldExpiresAt         *time.Time `json:"holdExpiresAt"`
	TotalGrossCents       int64      `json:"totalGrossCents"`
	DailyRateGrossCents   int64      `json:"dailyRateGrossCents"`
	CancelReason          string     `json:"cancelReason"`
	FeeCents              int64      `json:"feeCents"`
	LateFeeCents          int64      `json:"lateFeeCents"`
	CreatedAt             time.Time  `json:"createdAt"`
}

type flowPayment struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	AuthorizedCents  int64  `json:"authorizedCents"`
	CapturedCents    int64  `json:"capturedCents"`
	RefundedCents    int64  `json:"refundedCents"`
	OutstandingCents int64  `json:"outstandingCents"`
	FailureReason    string `json:"failureReason"`
	ChargedCents     int64  `json:"chargedCents"`
	Attempt          int    `json:"attempt"`
	PaymentMethodID  string `json:"paymentMethodId"`
}

type flowInvoice struct {
	ID             string     `json:"id"`
	Number         string     `json:"number"`
	Kind           string     `json:"kind"`
	ReservationID  string     `json:"reservationId"`
	CustomerID     string     `json:"customerId"`
	PaymentID      string     `json:"paymentId"`
	Lines          []flowLine `json:"lines"`
	NetCents       int64      `json:"netCents"`
	VATRatePercent int64      `json:"vatRatePercent"`
	VATCents       int64      `json:"vatCents"`
	GrossCents     int64      `json:"grossCents"`
}

// flowSystem is one running `orange dev` the flows share, each with its own car.
type flowSystem struct {
	base              string
	alice, bob, carla string
	db                *database.DB
	mu                sync.Mutex
	cars              []flowCar
	branches          []string // every branch's code
	bodies            sync.Map // mail id → body
	keys              int
}

// api sends a request through the gateway and decodes a 2xx JSON answer into out; it
// returns the status and the raw body. A POST carries an Idempotency-Key.
func (s *flowSystem) api(t *testing.T, method, path, token string, body, out any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		s.mu.Lock()
		s.keys++
		req.Header.Set("Idempotency-Key", fmt.Sprintf("flows-%d-%d", time.Now().UnixNano(), s.keys))
		s.mu.Unlock()
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil && resp.StatusCode < 300 {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode, string(raw)
}

// take hands out a car of category (any when "") no other flow uses, priced by its
// category's rate (not a car of its own rate).
func (s *flowSystem) take(t *testing.T, category string) flowCar {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, c := range s.cars {
		if category == "" || c.Category == category {
			s.cars = append(s.cars[:i:i], s.cars[i+1:]...)
			return c
		}
	}
	t.Fatalf("no free %q car left for this flow", category)
	return flowCar{}
}

// free reports whether c is offered by the availability search for [from, to).
func (s *flowSystem) free(t *testing.T, c flowCar, from, to time.Time) bool {
	t.Helper()
	q := url.Values{"location": {c.LocationCode}, "category": {c.Category}, "pageSize": {"100"},
		"pickup": {from.UTC().Format(time.RFC3339)}, "return": {to.UTC().Format(time.RFC3339)}}
	var page struct{ Items []flowCar }
	status, raw := s.api(t, http.MethodGet, "/api/vehicles?"+q.Encode(), "", nil, &page)
	require.Equal(t, http.StatusOK, status, raw)
	for _, it := range page.Items {
		if it.ID == c.ID {
			return true
		}
	}
	return false
}

// tokenizeCard makes a payment method of a sandbox card for the holder of token.
func (s *flowSystem) tokenizeCard(t *testing.T, token, number string) string {
	t.Helper()
	var m struct{ ID string }
	body := map[string]any{"card": map[string]any{"number": number, "expMonth": 12, "expYear": time.Now().Year() + 2,
		"cvc": "123", "holder": "Flow Tester"}}
	status, raw := s.api(t, http.MethodPost, "/api/payments/methods", token, body, &m)
	// The provider's short timeout (flowEnv) may pass on a busy machine: 504, and the
	// tokenization is repeated, as its answer says (an unused method is purged later).
	for try := 0; status == http.StatusGatewayTimeout && try < 3; try++ {
		status, raw = s.api(t, http.MethodPost, "/api/payments/methods", token, body, &m)
	}
	require.Equal(t, http.StatusCreated, status, raw)
	return m.ID
}

// book books c for the holder of token, paying with card.
func (s *flowSystem) book(t *testing.T, token string, c flowCar, pickup, ret time.Time, insurance string, extras []flowExtra, card string) flowReservation {
	t.Helper()
	return s.bookWith(t, token, c, pickup, ret, insurance, extras, s.tokenizeCard(t, token, card))
}

// bookWith books c for the holder of token, paying with the payment method pm.
func (s *flowSystem) bookWith(t *testing.T, token string, c flowCar, pickup, ret time.Time, insurance string, extras []flowExtra, pm string) flowReservation {
	t.Helper()
	body := map[string]any{"vehicleId": c.ID, "pickupLocation": c.LocationCode,
		"pickupAt": pickup.UTC().Format(time.RFC3339), "returnAt": ret.UTC().Format(time.RFC3339),
		"insurance": insurance, "extras": extras, "paymentMethodId": pm}
	var res flowReservation
	status, raw := s.api(t, http.MethodPost, "/api/reservations", token, body, &res)
	require.Equal(t, http.StatusCreated, status, raw)
	require.Equal(t, "pending", res.Status, "a booking starts as a hold")
	return res
}

func (s *flowSystem) reservation(t *testing.T, token, id string) flowReservation {
	t.Helper()
	var res flowReservation
	status, raw := s.api(t, http.MethodGet, "/api/reservations/"+id, token, nil, &res)
	require.Equal(t, http.StatusOK, status, raw)
	return res
}

// waitStatus waits for the reservation to reach status.
func (s *flowSystem) waitStatus(t *testing.T, token, id, status string, within time.Duration) flowReservation {
	t.Helper()
	var res flowReservation
	require.Eventually(t, func() bool {
		res = s.reservation(t, token, id)
		return res.Status == status
	}, within, 250*time.Millisecond, "reservation %s never became %s", id, status)
	return res
}

// payments lists the reservation's payments as the holder of token sees them.
func (s *flowSystem) payments(t *testing.T, token, id string) []flowPayment {
	t.Helper()
	var list struct{ Items []flowPayment }
	status, raw := s.api(t, http.MethodGet, "/api/payments?reservation="+id, token, nil, &list)
	require.Equal(t, http.StatusOK, status, raw)
	return list.Items
}

// waitPayment waits for the reservation's one payment to reach status.
func (s *flowSystem) waitPayment(t *testing.T, token, id, status string) flowPayment {
	t.Helper()
	var got []flowPayment
	require.Eventually(t, func() bool {
		got = s.payments(t, token, id)
		return len(got) == 1 && got[0].Status == status
	}, flowSettle, 250*time.Millisecond, "the payment of %s never became %s: %+v", id, status, got)
	return got[0]
}

// activate hands the car of reservation id over at the counter (carla), recording the
// readings docs/counter.md requires.
func (s *flowSystem) activate(t *testing.T, id string, odometerKm, fuelEighths int) flowReservation {
	t.Helper()
	var out flowReservation
	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+id+"/activate", s.carla,
		map[string]any{"odometerKm": odometerKm, "fuelEighths": fuelEighths}, &out)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, "active", out.Status)
	return out
}

// complete takes the car of reservation id back at the counter (carla) with its readings.
func (s *flowSystem) complete(t *testing.T, id string, odometerKm, fuelEighths int, damageNotes string) flowReservation {
	t.Helper()
	var out flowReservation
	body := map[string]any{"odometerKm": odometerKm, "fuelEighths": fuelEighths}
	if damageNotes != "" {
		body["damageNotes"] = damageNotes
	}
	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+id+"/complete", s.carla, body, &out)
	require.Equal(t, http.StatusOK, status, raw)
	require.Equal(t, "completed", out.Status)
	return out
}

// waitInvoice waits for the invoice of reservation id, as token (its customer, or an agent)
// lists the invoices of customer.
func (s *flowSystem) waitInvoice(t *testing.T, token, customer, id string) flowInvoice {
	t.Helper()
	var inv flowInvoice
	require.Eventually(t, func() bool {
		for page := 1; ; page++ {
			var list struct {
				Items []flowInvoice
				Total int
			}
			status, raw := s.api(t, http.MethodGet, fmt.Sprintf("/api/invoices?customer=%s&pageSize=100&page=%d", customer, page),
				token, nil, &list)
			require.Equal(t, http.StatusOK, status, raw)
			for _, i := range list.Items {
				if i.ReservationID == id {
					inv = i
					return true
				}
			}
			if len(list.Items) < 100 {
				return false
			}
		}
	}, flowSettle, 250*time.Millisecond, "no invoice for %s", id)
	assert.Regexp(t, `^OCR-\d{4}-\d{6}$`, inv.Number)
	assert.Equal(t, customer, inv.CustomerID)
	return inv
}

// checkFeeInvoice checks the invoice of a cancellation or no-show fee (a gross amount): one
// line, code, its net the fee / 1.19 half up, its VAT the rest, the gross the fee.
func checkFeeInvoice(t *testing.T, inv flowInvoice, kind, code string, fee int64) {
	t.Helper()
	assert.Equal(t, kind, inv.Kind)
	net, vat := splitGross(fee)
	checkLines(t, []flowLine{{Code: code, Quantity: 1, UnitNetCents: net, NetCents: net}}, inv.Lines, kind+" invoice")
	assert.Equal(t, net, inv.NetCents)
	assert.Equal(t, vat, inv.VATCents)
	assert.Equal(t, fee, inv.GrossCents, "the invoice is the fee")
	assert.EqualValues(t, flowVATPercent, inv.VATRatePercent)
}

// mails returns the subjects of the mails to email about the reservation (its id is in the body).
func (s *flowSystem) mails(t *testing.T, email, reservationID string) []string {
	t.Helper()
	var box struct {
		Items []struct{ ID, To, Subject string }
	}
	status, raw := s.api(t, http.MethodGet, "/dev/mail", "", nil, &box)
	require.Equal(t, http.StatusOK, status, raw)
	var subjects []string
	for _, m := range box.Items {
		if !strings.Contains(m.To, "<"+email+">") {
			continue
		}
		body, ok := s.bodies.Load(m.ID)
		if !ok {
			status, raw := s.api(t, http.MethodGet, "/dev/mail/"+m.ID, "", nil, nil)
			require.Equal(t, http.StatusOK, status, raw)
			body = raw
			s.bodies.Store(m.ID, raw)
		}
		if strings.Contains(body.(string), reservationID) {
			subjects = append(subjects, m.Subject)
		}
	}
	return subjects
}

// mailKinds names a mail by its subject, in English or German.
var mailKinds = map[string][]string{
	"confirmed": {"is confirmed", "ist bestätigt"},
	"cancelled": {"is cancelled", "ist storniert"},
	"returned":  {"Thank you for driving", "Danke für Ihre Fahrt"},
	"captured":  {"Payment of", "Zahlung über"},
	"refunded":  {"Refund of", "Erstattung über"},
	"invoice":   {"Your invoice", "Ihre Rechnung"},
	"held":      {"is being held", "ist vorgemerkt"},
	// Issue 14's mails (notification-worker).
	"changed":  {"has changed", "wurde geändert"},
	"expired":  {"has expired", "ist verfallen"},
	"noshow":   {"Not picked up", "Nicht abgeholt"},
	"reminder": {"Reminder: pick-up", "Erinnerung: Abholung"},
}

func kindOf(subject string) string {
	for kind, marks := range mailKinds {
		for _, m := range marks {
			if strings.Contains(subject, m) {
				return kind
			}
		}
	}
	return "other: " + subject
}

// waitMails waits until the reservation's mails to email are exactly want (kind → count),
// then checks that no duplicate follows.
func (s *flowSystem) waitMails(t *testing.T, email, reservationID string, want map[string]int) []string {
	t.Helper()
	count := func() (map[string]int, []string) {
		subjects := s.mails(t, email, reservationID)
		got := map[string]int{}
		for _, sub := range subjects {
			got[kindOf(sub)]++
		}
		return got, subjects
	}
	var got map[string]int
	var subjects []string
	require.Eventually(t, func() bool {
		got, subjects = count()
		return assert.ObjectsAreEqual(want, got)
	}, flowSettle, 500*time.Millisecond, "mails about %s to %s: want %v", reservationID, email, want)
	time.Sleep(time.Second) // a duplicate would be on its way by now
	got, subjects = count()
	assert.Equal(t, want, got, "mails about %s to %s: %v", reservationID, email, subjects)
	return subjects
}

// checkQuote asks pricing for the quote the booking is priced with and checks its lines
// against the rules: each line is quantity × unit price, the lines add up to the net, VAT
// is 19 % of the net (half up) and gross = net + VAT; and the totals are the expected ones.
func (s *flowSystem) checkQuote(t *testing.T, c flowCar, pickup, ret time.Time, insurance string, extras []flowExtra, want flowPrice) {
	t.Helper()
	var q struct {
		Days, DailyRateNetCents, DailyRateGrossCents, NetCents, VatCents, GrossCents int64
		Lines                                                                        []struct {
			Code                             string
			Quantity, UnitNetCents, NetCents int64
		}
	}
	body := map[string]any{"pickupLocation": c.LocationCode, "category": c.Category, "insurance": insurance, "extras": extras,
		"pickupAt": pickup.UTC().Format(time.RFC3339), "returnAt": ret.UTC().Format(time.RFC3339)}
	status, raw := s.api(t, http.MethodPost, "/api/pricing/quotes", "", body, &q)
	require.Equal(t, http.StatusOK, status, raw)
	var sum int64
	for _, l := range q.Lines {
		if l.Code != "DURATION_DISCOUNT" {
			assert.Equal(t, l.Quantity*l.UnitNetCents, l.NetCents, "quote line %s", l.Code)
		}
		sum += l.NetCents
	}
	assert.Equal(t, q.NetCents, sum, "the quote's lines add up to its net")
	assert.Equal(t, halfUp(q.NetCents, flowVATPercent), q.VatCents, "VAT is 19 %% of the net, half up")
	assert.Equal(t, q.NetCents+q.VatCents, q.GrossCents)
	assert.Equal(t, want.days, q.Days)
	assert.Equal(t, want.dailyNet, q.DailyRateNetCents)
	assert.Equal(t, want.dailyGross, q.DailyRateGrossCents)
	assert.Equal(t, want.net, q.NetCents, "net by the rules")
	assert.Equal(t, want.gross, q.GrossCents, "gross by the rules")
}

// flowEnv is the environment of every `orange dev` the flow and fault suites start.
func flowEnv(dbURL, dataDir string, extra ...string) []string {
	return append([]string{"PORT=0", "DATABASE_URL=" + dbURL, "ORANGE_DATA_DIR=" + dataDir,
		// Holds expire after a minute (the sweep runs every minute).
		"RESERVATION_HOLD=1m", "RESERVATION_GUEST_HOLD=1m",
		// The timeout card keeps a hold unpaid: its authorization gives up quickly.
		"PAYMENT_PROVIDER_TIMEOUT=100ms",
		// Every flow polls from 127.0.0.1: the per-address limits are not what is tested here.
		"RATE_LIMIT_ADDRESS_RPS=2000", "RATE_LIMIT_ADDRESS_BURST=4000", "RATE_LIMIT_RPS=1000", "RATE_LIMIT_BURST=2000"},
		extra...)
}

// startFlowDev starts `orange dev` on dbURL with its data (issuer keys, mail folder) in
// dataDir, and waits until it is ready. extra overrides flowEnv's settings.
func startFlowDev(t *testing.T, bin, dbURL, dataDir string, extra ...string) *proctest.Process {
	t.Helper()
	dev := proctest.Start(t, bin, []string{"dev"}, flowEnv(dbURL, dataDir, extra...)...)
	proctest.WaitReady(t, dev.Addr)
	return dev
}

// openFlowDB is a small pool of the test's own on the system's database.
func openFlowDB(t *testing.T, dbURL string) *database.DB {
	t.Helper()
	db, err := database.Open(context.Background(), database.Config{URL: dbURL, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

// newFlowSystem is the flows' view of the `orange dev` at addr: the demo users' tokens, every
// branch open around the clock, and the fleet they share out — every car of every branch free in the coming weeks, priced by
// its category's rate.
func newFlowSystem(t *testing.T, addr string, db *database.DB) *flowSystem {
	t.Helper()
	s := &flowSystem{db: db}
	s.attach(t, addr)
	// The flows book at whatever hour the clock shows: every branch opens around the clock.
	openAroundTheClock(t, s.base, devToken(t, addr, "ada"))
	now := time.Now().UTC().Truncate(time.Second)
	var locations struct{ Items []struct{ Code string } }
	status, raw := s.api(t, http.MethodGet, "/api/locations", "", nil, &locations)
	require.Equal(t, http.StatusOK, status, raw)
	for _, l := range locations.Items {
		s.branches = append(s.branches, l.Code)
		q := url.Values{"location": {l.Code}, "pageSize": {"100"},
			"pickup": {now.Add(time.Minute).Format(time.RFC3339)}, "return": {now.Add(20 * 24 * time.Hour).Format(time.RFC3339)}}
		var page struct{ Items []flowCar }
		status, raw := s.api(t, http.MethodGet, "/api/vehicles?"+q.Encode(), "", nil, &page)
		require.Equal(t, http.StatusOK, status, raw)
		for _, c := range page.Items {
			// Only cars priced by their category's rate: the search's offers show no
			// vehicle's own rate, but its price is made of it.
			if rate, known := flowDailyNet[c.Category]; known && c.Price.DailyNetCents == rate {
				s.cars = append(s.cars, c)
			}
		}
	}
	require.GreaterOrEqual(t, len(s.cars), 8, "the seed fleet is missing")
	return s
}

// attach points the flows at the `orange dev` serving at addr — another one after a restart
// — with fresh tokens of its development issuer (the issuer's URL names the port).
func (s *flowSystem) attach(t *testing.T, addr string) {
	t.Helper()
	s.base = "http://" + addr
	s.alice, s.bob, s.carla = devToken(t, addr, "alice"), devToken(t, addr, "bob"), devToken(t, addr, "carla")
}

// TestFlows is design.md §5's flows (issue 12, item 3) driven end to end through the public
// HTTP API of one `orange dev` — real PostgreSQL, the in-process broker, the sandbox
// provider, the folder mailbox — each flow with its own car, in parallel. The amounts are
// computed here from the rules (design.md §4, docs/pricing.md, docs/payments.md), never read
// back from the code. Issue 13's flows (self-service listing, a guest's link, changes,
// another card, one-way, no-show fee) are in selfservice_test.go and below.
// The only step outside the API is the late return: time cannot pass a day in a test, so
// the booked period of the rented car is moved back in the database, as a clock would.
func TestFlows(t *testing.T) {
	// Parallel with the fault scenarios: most of its time is the wait for the hold sweep.
	t.Parallel()
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := startFlowDev(t, bin, dbURL, t.TempDir())
	s := newFlowSystem(t, dev.Addr, openFlowDB(t, dbURL))

	t.Run("flows", func(t *testing.T) {
		// The slowest first: it waits for the per-minute sweep.
		t.Run("hold expires and frees the car", func(t *testing.T) {
			t.Parallel()
			flowHoldExpiry(t, s)
		})
		t.Run("book, pick up, return late, invoice", func(t *testing.T) {
			t.Parallel()
			flowRental(t, s)
		})
		for _, tc := range []struct {
			hours, percent int64
		}{{72, 0}, {30, 50}, {2, 100}} {
			t.Run(fmt.Sprintf("cancel %d h before pickup costs %d %%", tc.hours, tc.percent), func(t *testing.T) {
				t.Parallel()
				flowCancel(t, s, tc.hours, tc.percent)
			})
		}
		t.Run("declined card, then another card", func(t *testing.T) {
			t.Parallel()
			flowDeclined(t, s)
		})
		t.Run("no-show", func(t *testing.T) {
			t.Parallel()
			flowNoShow(t, s)
		})
		// Issue 13's acceptance (selfservice_test.go).
		t.Run("self-service listing", func(t *testing.T) {
			t.Parallel()
			flowSelfService(t, s)
		})
		t.Run("guest cancels through the mailed link", func(t *testing.T) {
			t.Parallel()
			flowGuestCancel(t, s)
		})
		t.Run("change: extend and add an extra", func(t *testing.T) {
			t.Parallel()
			flowChange(t, s)
		})
		t.Run("one-way return", func(t *testing.T) {
			t.Parallel()
			flowOneWay(t, s)
		})
	})
}

// flowRental: alice books a compact car for a week with full cover, GPS and two child
// seats → the booking keeps the quote's lines → payments authorizes the gross → confirmed →
// confirmation mail; carla hands it over with a full tank (the car is rented) and takes it
// back three hours late with two eighths missing → one gross daily rate of late fee and a
// REFUEL return charge, the bill captured; the rental invoice shows the booking's lines,
// LATE_RETURN and REFUEL, each part with its own VAT, adding up to the capture; mails:
// confirmed, returned, payment, invoice.
func flowRental(t *testing.T, s *flowSystem) {
	c := s.take(t, "KOMPAKT")
	pickup := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second) // picked up at once
	ret := pickup.Add(7 * 24 * time.Hour)
	extras := []flowExtra{{Code: "GPS"}, {Code: "CHILD_SEAT", Quantity: 2}}
	want := expectPrice(c.Category, pickup, ret, "FULL", extras)
	require.Equal(t, int64(7), want.days)
	s.checkQuote(t, c, pickup, ret, "FULL", extras, want)

	res := s.book(t, s.alice, c, pickup, ret, "FULL", extras, cardPays)
	assert.Equal(t, devissuer.CustomerAlice, res.CustomerID)
	assert.Equal(t, want.gross, res.TotalGrossCents, "the booking's total is the rules' gross")
	assert.Equal(t, want.dailyGross, res.DailyRateGrossCents)
	// The booking keeps the quote's lines (issue 13): the rules' lines, net + VAT = gross.
	checkLines(t, want.lines, res.Lines, "booking")
	assert.Equal(t, want.net, res.NetCents)
	assert.Equal(t, want.vat, res.VatCents)
	s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	p := s.waitPayment(t, s.alice, res.ID, "authorized")
	assert.Equal(t, want.gross, p.AuthorizedCents, "the authorization is the booking's gross")
	assert.Zero(t, p.CapturedCents)
	s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 1})

	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/activate", s.alice,
		map[string]any{"odometerKm": 12000, "fuelEighths": 8}, nil)
	assert.Equal(t, http.StatusForbidden, status, "a customer hands over no car: %s", raw)
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/activate", s.carla, map[string]any{}, nil)
	assert.Equal(t, http.StatusBadRequest, status, "a handover records the readings: %s", raw)
	s.activate(t, res.ID, 12000, 8) // a full tank
	s.waitVehicle(t, c, "rented")

	// A week and three hours later (the clock, moved in the database): three hours late is
	// beyond the hour of grace, so one started day of the gross daily rate is due.
	const late = 3 * time.Hour
	shift := ret.Sub(pickup) + late
	tag, err := s.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations
		SET pickup_at = pickup_at - $2 * interval '1 second', return_at = return_at - $2 * interval '1 second' WHERE id = $1`,
		res.ID, int64(shift/time.Second))
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	lateDays := int64(1) // ceil((3 h + the seconds of the test) / 24 h)
	wantLateFee := lateDays * want.dailyGross
	// Back with 6/8 of a tank: two eighths missing, REFUEL 2 × 12.00 € net, VAT 19 % half up.
	const missing = 2
	refuelNet := int64(missing * 1200)
	refuelVAT := halfUp(refuelNet, flowVATPercent)
	bill := want.gross + wantLateFee + refuelNet + refuelVAT
	require.LessOrEqual(t, bill*100, want.gross*(100+flowCaptureMargin), "the scenario's bill fits the capture limit")

	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/complete", s.carla,
		map[string]any{"odometerKm": 11999, "fuelEighths": 6}, nil)
	assert.Equal(t, http.StatusBadRequest, status, "the odometer went backwards: %s", raw)
	out := s.complete(t, res.ID, 12480, 8-missing, "scratch on the rear bumper")
	assert.Equal(t, wantLateFee, out.LateFeeCents, "late fee: one gross daily rate per started 24 h beyond the hour of grace")

	p = s.waitPayment(t, s.alice, res.ID, "captured")
	assert.Equal(t, bill, p.CapturedCents, "the capture is the booking's gross, the late fee and the refuel charge")
	assert.Zero(t, p.OutstandingCents)
	assert.Zero(t, p.ChargedCents)
	assert.Zero(t, p.RefundedCents)

	inv := s.waitInvoice(t, s.alice, devissuer.CustomerAlice, res.ID)
	assert.Equal(t, "rental", inv.Kind)
	assert.Equal(t, p.ID, inv.PaymentID)
	// The booking's priced lines, then the late return (a gross amount: its net is gross /
	// 1.19 half up), then the return charge; each part keeps its own VAT, rounded once.
	lateNet, lateVAT := splitGross(wantLateFee)
	wantLines := append(append([]flowLine{}, want.lines...),
		flowLine{Code: "LATE_RETURN", Quantity: 1, UnitNetCents: lateNet, NetCents: lateNet},
		flowLine{Code: "REFUEL", Quantity: missing, UnitNetCents: 1200, NetCents: refuelNet})
	checkLines(t, wantLines, inv.Lines, "rental invoice")
	var net int64
	for _, l := range inv.Lines {
		net += l.NetCents
	}
	assert.Equal(t, want.net+lateNet+refuelNet, inv.NetCents)
	assert.Equal(t, net, inv.NetCents, "the lines add up to the invoice's net")
	assert.Equal(t, want.vat+lateVAT+refuelVAT, inv.VATCents, "each part's VAT, rounded once")
	assert.EqualValues(t, flowVATPercent, inv.VATRatePercent)
	assert.Equal(t, inv.NetCents+inv.VATCents, inv.GrossCents)
	assert.Equal(t, bill, inv.GrossCents, "the invoice is the capture")

	// The counter's record: both readings, the notes, the return charge (agents only).
	var counter struct {
		Counter struct {
			PickupOdometerKm, PickupFuelEighths, ReturnOdometerKm, ReturnFuelEighths int
			DamageNotes                                                              string
			ReturnCharges                                                            []flowLine
		}
	}
	status, raw = s.api(t, http.MethodGet, "/api/reservations/"+res.ID+"/counter", s.carla, nil, &counter)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, 12000, counter.Counter.PickupOdometerKm)
	assert.Equal(t, 8, counter.Counter.PickupFuelEighths)
	assert.Equal(t, 12480, counter.Counter.ReturnOdometerKm)
	assert.Equal(t, 6, counter.Counter.ReturnFuelEighths)
	assert.Equal(t, "scratch on the rear bumper", counter.Counter.DamageNotes)
	checkLines(t, wantLines[len(wantLines)-1:], counter.Counter.ReturnCharges, "return charges")
	status, raw = s.api(t, http.MethodGet, "/api/reservations/"+res.ID+"/counter", s.alice, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "the counter's notes are for staff: %s", raw)

	s.waitVehicle(t, c, "available")
	subjects := s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 1, "returned": 1, "captured": 1, "invoice": 1})
	found := false
	for _, sub := range subjects {
		found = found || strings.Contains(sub, inv.Number)
	}
	assert.True(t, found, "the invoice mail names %s: %v", inv.Number, subjects)
}

// waitVehicle waits for the fleet to show c in status.
func (s *flowSystem) waitVehicle(t *testing.T, c flowCar, status string) {
	t.Helper()
	var v struct{ Status string }
	require.Eventually(t, func() bool {
		code, raw := s.api(t, http.MethodGet, "/api/vehicles/"+c.ID, "", nil, &v)
		require.Equal(t, http.StatusOK, code, raw)
		return v.Status == status
	}, flowSettle, 250*time.Millisecond, "vehicle %s never became %s (is %s)", c.ID, status, v.Status)
}

// flowCancel: bob books two days starting hours from now, is confirmed, cancels at once:
// the fee is percent of the gross (half up) — captured from the authorization with the rest
// released and invoiced (kind cancellation), or, when free, the authorization voided; the
// car is free again; mails.
func flowCancel(t *testing.T, s *flowSystem, hours, percent int64) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(time.Duration(hours) * time.Hour).Truncate(time.Second)
	ret := pickup.Add(48 * time.Hour)
	want := expectPrice(c.Category, pickup, ret, "PARTIAL", nil)
	res := s.book(t, s.bob, c, pickup, ret, "PARTIAL", nil, cardPays)
	assert.Equal(t, want.gross, res.TotalGrossCents)
	s.waitStatus(t, s.bob, res.ID, "confirmed", flowSettle)
	p := s.waitPayment(t, s.bob, res.ID, "authorized")
	assert.Equal(t, want.gross, p.AuthorizedCents)
	require.Eventually(t, func() bool { return !s.free(t, c, pickup, ret) }, flowSettle, 250*time.Millisecond,
		"the booked car is still offered")

	wantFee := halfUp(want.gross, percent)
	var out flowReservation
	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/cancel", s.bob, map[string]string{"reason": "plans changed"}, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "cancelled", out.Status)
	assert.Equal(t, wantFee, out.FeeCents, "%d %% of %d cents", percent, want.gross)

	wantMails := map[string]int{"confirmed": 1, "cancelled": 1}
	if wantFee == 0 {
		p = s.waitPayment(t, s.bob, res.ID, "voided")
		assert.Zero(t, p.CapturedCents, "a free cancellation captures nothing")
	} else {
		p = s.waitPayment(t, s.bob, res.ID, "captured")
		assert.Equal(t, wantFee, p.CapturedCents, "the fee is captured, the rest (%d cents) released", want.gross-wantFee)
		wantMails["captured"] = 1
		// The fee has an invoice of its own, and its mail.
		checkFeeInvoice(t, s.waitInvoice(t, s.bob, devissuer.CustomerBob, res.ID), "cancellation", "CANCELLATION_FEE", wantFee)
		wantMails["invoice"] = 1
	}
	assert.Equal(t, want.gross, p.AuthorizedCents)
	assert.Zero(t, p.RefundedCents)
	assert.Zero(t, p.OutstandingCents)
	require.Eventually(t, func() bool { return s.free(t, c, pickup, ret) }, flowSettle, 250*time.Millisecond,
		"the car of a cancelled booking is not offered again")
	s.waitMails(t, flowBobEmail, res.ID, wantMails)
}

// flowDeclined: a booking paid with the sandbox's declined card is not cancelled (issue 13):
// it stays a pending hold with the decline's reason; alice names another card (the one that
// pays) during the hold → payments authorizes the total on it → confirmed, one payment, one
// authorization at the provider, one confirmation mail and nothing about a cancellation.
func flowDeclined(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(5 * 24 * time.Hour).Truncate(time.Second)
	ret := pickup.Add(72 * time.Hour)
	want := expectPrice(c.Category, pickup, ret, "LIABILITY", nil)
	res := s.book(t, s.alice, c, pickup, ret, "LIABILITY", nil, flowCardDeclines)
	assert.Equal(t, want.gross, res.TotalGrossCents)
	var out flowReservation
	require.Eventually(t, func() bool {
		out = s.reservation(t, s.alice, res.ID)
		return out.PaymentDeclinedReason != ""
	}, flowSettle, 250*time.Millisecond, "the decline of %s is never shown", res.ID)
	assert.Equal(t, "pending", out.Status, "a declined card keeps the hold")
	assert.Contains(t, out.PaymentDeclinedReason, "declined")
	p := s.waitPayment(t, s.alice, res.ID, "failed")
	assert.Equal(t, "card_declined", p.FailureReason)
	assert.Zero(t, p.CapturedCents)
	assert.False(t, s.free(t, c, pickup, ret), "the car of a declined booking stays held")

	// Another customer's booking is not hers to pay; a made-up method is refused.
	good := s.tokenizeCard(t, s.alice, cardPays)
	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/payment-method", s.bob,
		map[string]string{"paymentMethodId": s.tokenizeCard(t, s.bob, cardPays)}, nil)
	assert.Equal(t, http.StatusNotFound, status, "bob names a card for alice's booking: %s", raw)
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/payment-method", s.alice,
		map[string]string{"paymentMethodId": "tok_success"}, nil)
	assert.Equal(t, http.StatusBadRequest, status, "a card token is no payment method: %s", raw)
	// The agents' manual confirmation is gone.
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/confirm", s.carla, nil, nil)
	assert.Equal(t, http.StatusNotFound, status, "an agent confirms by hand: %s", raw)

	out = flowReservation{}
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/payment-method", s.alice,
		map[string]string{"paymentMethodId": good}, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "pending", out.Status)
	assert.Empty(t, out.PaymentDeclinedReason, "the decline is cleared")
	assert.Equal(t, 2, out.PaymentAttempt)
	s.waitStatus(t, s.alice, res.ID, "confirmed", flowSettle)
	p = s.waitPayment(t, s.alice, res.ID, "authorized")
	assert.Equal(t, want.gross, p.AuthorizedCents, "the total is authorized on the good card")
	assert.Equal(t, good, p.PaymentMethodID)
	assert.Equal(t, 2, p.Attempt)
	assert.Equal(t, 1, providerAuthorizations(t, s.db, res.ID), "one authorization at the provider")
	// Naming a card again once confirmed is refused (nothing was declined).
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/payment-method", s.alice,
		map[string]string{"paymentMethodId": s.tokenizeCard(t, s.alice, cardPays)}, nil)
	assert.Equal(t, http.StatusConflict, status, "another card for a confirmed booking: %s", raw)
	s.waitMails(t, flowAliceEmail, res.ID, map[string]int{"confirmed": 1})
	assert.Equal(t, 1, providerAuthorizations(t, s.db, res.ID), "still one authorization at the provider")
}

// flowHoldExpiry: a booking whose authorization the provider never answers (the timeout
// card) stays a pending hold; the per-minute sweep expires it once RESERVATION_HOLD (1 min)
// has passed, and the car is offered again. Nothing is captured.
func flowHoldExpiry(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Second)
	ret := pickup.Add(48 * time.Hour)
	res := s.book(t, s.alice, c, pickup, ret, "LIABILITY", nil, cardTimesOut)
	require.NotNil(t, res.HoldExpiresAt)
	assert.WithinDuration(t, res.CreatedAt.Add(time.Minute), *res.HoldExpiresAt, time.Second, "the hold is RESERVATION_HOLD")
	require.Eventually(t, func() bool { return !s.free(t, c, pickup, ret) }, flowSettle, 250*time.Millisecond,
		"the held car is still offered")
	assert.Equal(t, "pending", s.reservation(t, s.alice, res.ID).Status, "an unanswered authorization keeps the hold")

	// Expired by the first sweep after the hold: at most a minute and a bit after it.
	out := s.waitStatus(t, s.alice, res.ID, "expired", time.Until(*res.HoldExpiresAt)+90*time.Second)
	assert.Zero(t, out.FeeCents)
	require.Eventually(t, func() bool { return s.free(t, c, pickup, ret) }, flowSettle, 250*time.Millisecond,
		"the car of an expired hold is not offered again")
	for _, p := range s.payments(t, s.alice, res.ID) {
		assert.NotEqual(t, "authorized", p.Status, "an expired hold keeps no authorization")
		assert.Zero(t, p.CapturedCents)
	}
}

// flowNoShow: bob's confirmed booking is not picked up; the agent marks it a no-show once
// the pickup time passed (a customer may not), and the car is offered again; the no-show
// fee is captured, the rest released, and invoiced.
func flowNoShow(t *testing.T, s *flowSystem) {
	c := s.take(t, "")
	pickup := time.Now().UTC().Add(-5 * time.Minute).Truncate(time.Second)
	ret := pickup.Add(24 * time.Hour)
	want := expectPrice(c.Category, pickup, ret, "LIABILITY", nil)
	res := s.book(t, s.bob, c, pickup, ret, "LIABILITY", nil, cardPays)
	assert.Equal(t, want.gross, res.TotalGrossCents)
	s.waitStatus(t, s.bob, res.ID, "confirmed", flowSettle)
	s.waitPayment(t, s.bob, res.ID, "authorized")
	from := time.Now().UTC().Add(time.Minute).Truncate(time.Second)
	require.Eventually(t, func() bool { return !s.free(t, c, from, ret) }, flowSettle, 250*time.Millisecond,
		"the booked car is still offered")

	status, raw := s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/no-show", s.bob, nil, nil)
	assert.Equal(t, http.StatusForbidden, status, "a customer marks no no-show: %s", raw)
	var out flowReservation
	status, raw = s.api(t, http.MethodPost, "/api/reservations/"+res.ID+"/no-show", s.carla, nil, &out)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "no_show", out.Status)
	assert.Equal(t, "no_show", s.reservation(t, s.bob, res.ID).Status)
	require.Eventually(t, func() bool { return s.free(t, c, from, ret) }, flowSettle, 250*time.Millisecond,
		"the car of a no-show is not offered again")
	// The no-show fee is the cancellation fee at the pickup time itself: less than 24 h before
	// pickup, 100 % of the gross. It is captured and invoiced (kind no_show).
	wantFee := halfUp(want.gross, 100)
	assert.Equal(t, wantFee, out.FeeCents, "the no-show fee")
	p := s.waitPayment(t, s.bob, res.ID, "captured")
	assert.Equal(t, wantFee, p.CapturedCents, "the no-show fee is captured, the rest released")
	assert.Equal(t, want.gross, p.AuthorizedCents)
	assert.Zero(t, p.OutstandingCents)
	checkFeeInvoice(t, s.waitInvoice(t, s.carla, devissuer.CustomerBob, res.ID), "no_show", "NO_SHOW_FEE", wantFee)
	s.waitMails(t, flowBobEmail, res.ID, map[string]int{"confirmed": 1, "noshow": 1, "captured": 1, "invoice": 1})
}
