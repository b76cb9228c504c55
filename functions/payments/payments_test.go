package payments_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/database"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// api is payments-api over a fresh database with the sandbox provider, served as a host
// serves it: behind the authenticator a host puts in front of it (people's and functions'
// tokens, and the event platform's deliveries addressed to payments-api).
type api struct {
	t       *testing.T
	db      *database.DB
	svc     *payments.Service
	id      *authtest.Identity
	handler http.Handler
	tokens  map[string]string
}

func newAPI(t *testing.T) *api { t.Helper(); return newAPIWith(t, true) }

// newAPIWith is newAPI, with customers-api mounted or not (unreachable).
func newAPIWith(t *testing.T, withCustomers bool) *api {
	t.Helper()
	// customers-api's schema in the same database: invoices read business customers from
	// the real function, which only reads here.
	db := pg.NewDB(t, payments.Migrations, customers.Migrations)
	sandbox, err := payments.NewSandbox(context.Background(), db.Pool.Config())
	require.NoError(t, err)
	t.Cleanup(sandbox.Close)
	sandbox.MaxWait = 5 * time.Second
	id := authtest.New(t)
	// customers-api, for real: invoices read a business customer's company name and VAT id
	// from it, as payments-api.
	cust, err := customers.New(context.Background(), customers.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	if withCustomers {
		tr.Mount(customers.ServiceName, platform.Handler(cust, id.Authenticator(customers.ServiceName)))
	}
	client := platform.ForwardingClient(tr, id.ServiceTokens(payments.ServiceName), 5*time.Second)
	// The provider's deadline: the timeout card waits it out, so it is short, but not so short
	// that the sandbox's own transaction misses it on a loaded CI box (300 ms did: a 504).
	svc, err := payments.New(context.Background(), payments.Config{ProviderTimeout: 2 * time.Second, Using: sandbox}, platform.Deps{DB: db, Client: client})
	require.NoError(t, err)
	logger := platform.NewLogger(io.Discard, "error", "payments-api")
	a := &api{t: t, db: db, svc: svc, id: id, handler: platform.Observe(logger, platform.Handler(svc, id.Authenticator(payments.ServiceName))), tokens: map[string]string{}}
	for _, u := range []string{"alice", "bob", "carla", "frank", "ada", "service:reservations-api"} {
		a.tokens[u] = id.Bearer(t, u)
	}
	return a
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request as user ("" = anonymous) with optional header pairs.
func (a *api) do(user, method, path, body string, header ...string) response {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", a.tokens[user])
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.body, &v), string(r.body))
	return v
}

func (a *api) count(sql string, args ...any) int {
	a.t.Helper()
	var n int
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// ops counts the sandbox's recorded operations of one kind.
func (a *api) ops(op string) int {
	return a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE operation = $1`, op)
}

// outbox returns the recorded event types, oldest first.
func (a *api) outbox() []string {
	a.t.Helper()
	rows, err := a.db.Pool.Query(context.Background(), `SELECT type FROM payments.outbox ORDER BY seq`)
	require.NoError(a.t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(a.t, err)
	return out
}

// snapshot is every row the function keeps, to prove a rejected request wrote nothing.
func (a *api) snapshot() string {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(), `SELECT
		coalesce((SELECT string_agg(row_to_json(p)::text, E'\n' ORDER BY id) FROM payments.payments p), '') || E'\n' ||
		coalesce((SELECT string_agg(row_to_json(i)::text, E'\n' ORDER BY id) FROM payments.invoices i), '') || E'\n' ||
		coalesce((SELECT string_agg(id::text, ',' ORDER BY seq) FROM payments.outbox), '') || E'\n' ||
		coalesce((SELECT string_agg(idempotency_key, ',' ORDER BY seq) FROM payments.sandbox_operations), '') || E'\n' ||
		coalesce((SELECT string_agg(ref || status || captured_cents || '/' || refunded_cents, ',' ORDER BY ref) FROM payments.sandbox_authorizations), '') || E'\n' ||
		coalesce((SELECT string_agg(row_to_json(e)::text, E'\n' ORDER BY reservation_id) FROM payments.reservation_ends e), '')`).Scan(&s))
	return s
}

// testCard is a card's details as a holder types them in.
func testCard(number string) string {
	return fmt.Sprintf(`{"card":{"number":%q,"expMonth":12,"expYear":%d,"cvc":"123","holder":"Alice Hartmann"}}`, number, time.Now().Year()+2)
}

// method tokenizes a sandbox test card (a number) or test token (tok_…) anonymously, as a
// guest's browser does, and returns the payment method's id.
func (a *api) method(card string) string {
	a.t.Helper()
	body := testCard(card)
	if strings.HasPrefix(card, "tok_") {
		body = fmt.Sprintf(`{"token":%q}`, card)
	}
	r := a.do("", http.MethodPost, "/api/payments/methods", body)
	require.Equal(a.t, http.StatusCreated, r.status, string(r.body))
	m := decode[payments.PaymentMethod](a.t, r)
	require.Regexp(a.t, `^pm_[0-9a-f]{32}$`, m.ID)
	return m.ID
}

// authorizeBody is an authorization of customer A's reservation on card: a test card or
// token, tokenized first, or a payment-method id (pm_…) as it is. An agent's authorization
// is another attempt at a declined payment (retriesFailed): a reservation payments-api has
// not heard of gets one first (a.declined).
func (a *api) authorizeBody(reservation, card string, amount int64) string {
	a.t.Helper()
	if !strings.HasPrefix(card, "pm_") {
		card = a.method(card)
	}
	if platform.ValidUUID(reservation) && amount > 0 {
		a.declined(reservation, devissuer.CustomerAlice, amount)
	}
	return fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"amountCents":%d,"paymentMethodId":%q}`,
		reservation, devissuer.CustomerAlice, amount, card)
}

// declined gives reservation of customer a declined payment of amount, unless it has a
// payment: what its reservation.created with a declined card makes, minus what the tests
// of the agent's authorization count — no event, no provider call, and attempt and version
// 0, so that the authorization replacing it is attempt 1, version 1, as when an agent's
// authorization could be a booking's first.
func (a *api) declined(reservation, customer string, amount int64) {
	a.t.Helper()
	_, err := a.db.Pool.Exec(context.Background(), `INSERT INTO payments.payments
		(reservation_id, customer_id, currency, status, authorized_cents, provider, failure_reason, attempt, version)
		VALUES ($1, $2, 'EUR', 'failed', $3, 'sandbox', 'card_declined', 1, 0) ON CONFLICT (reservation_id) DO NOTHING`,
		reservation, customer, amount)
	require.NoError(a.t, err)
}

// authorized authorizes amount for a new reservation of customer A and returns the payment.
func (a *api) authorized(amount int64) payments.Payment {
	a.t.Helper()
	r := a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(uuid.NewString(), payments.TokenSuccess, amount))
	require.Equal(a.t, http.StatusCreated, r.status, string(r.body))
	p := decode[payments.Payment](a.t, r)
	require.Equal(a.t, payments.StatusAuthorized, p.Status)
	return p
}

func amount(n int64) string { return fmt.Sprintf(`{"amountCents":%d}`, n) }

func TestSandboxTokens(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	tests := []struct {
		token  string
		status int
		want   payments.Status
		reason string
		event  string
	}{
		{payments.TokenSuccess, 201, payments.StatusAuthorized, "", events.PaymentAuthorized},
		{"4242424242424242", 201, payments.StatusAuthorized, "", events.PaymentAuthorized},
		{"4000000000000002", 201, payments.StatusFailed, "card_declined", events.PaymentFailed},
		{payments.TokenDecline, 201, payments.StatusFailed, "card_declined", events.PaymentFailed},
		{"4000000000009995", 201, payments.StatusFailed, "insufficient_funds", events.PaymentFailed},
		{payments.TokenInsufficientFunds, 201, payments.StatusFailed, "insufficient_funds", events.PaymentFailed},
		// A payment method payments never issued: the authorization fails without the provider.
		{"pm_0123456789abcdef0123456789abcdef", 201, payments.StatusFailed, "invalid_payment_method", events.PaymentFailed},
	}
	for _, tt := range tests {
		before := len(a.outbox())
		r := a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(uuid.NewString(), tt.token, 14276))
		require.Equal(t, tt.status, r.status, "%s: %s", tt.token, r.body)
		p := decode[payments.Payment](t, r)
		assert.Equal(t, tt.want, p.Status, tt.token)
		assert.Equal(t, tt.reason, p.FailureReason, tt.token)
		assert.Equal(t, []string{tt.event}, a.outbox()[before:], tt.token)
	}

	// The timeout card: no answer until the provider deadline, then 504 and nothing kept.
	body := a.authorizeBody(uuid.NewString(), "4000000000000119", 14276)
	before := a.snapshot()
	start := time.Now()
	r := a.do("carla", http.MethodPost, "/api/payments", body)
	assert.Equal(t, http.StatusGatewayTimeout, r.status, string(r.body))
	assert.Less(t, time.Since(start), 3*time.Second)
	assert.Equal(t, before, a.snapshot())

	// A failed attempt may be replaced by a new card for the same reservation; a second
	// authorization of an authorized one is a conflict.
	res := uuid.NewString()
	r = a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(res, payments.TokenDecline, 5000))
	require.Equal(t, 201, r.status)
	r = a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(res, payments.TokenSuccess, 5000))
	require.Equal(t, 201, r.status, string(r.body))
	p := decode[payments.Payment](t, r)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, 2, p.Version)
	r = a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(res, payments.TokenSuccess, 5000))
	assert.Equal(t, http.StatusConflict, r.status)
}

func TestSandboxBehavesLikeAProvider(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	sb, err := payments.NewSandbox(context.Background(), a.db.Pool.Config())
	require.NoError(t, err)
	defer sb.Close()
	ctx := context.Background()
	card, err := sb.Tokenize(ctx, payments.Card{Token: payments.TokenSuccess})
	require.NoError(t, err)
	ref, err := sb.Authorize(ctx, "k1", card.Token, 10000)
	require.NoError(t, err)
	ref2, err := sb.Authorize(ctx, "k1", card.Token, 10000) // same key: same answer
	require.NoError(t, err)
	assert.Equal(t, ref, ref2)
	assert.ErrorIs(t, sb.Capture(ctx, "c0", ref, 11501), payments.ErrProviderRefused, "beyond authorization + 15 %")
	require.NoError(t, sb.Capture(ctx, "c1", ref, 11500))
	require.NoError(t, sb.Capture(ctx, "c1", ref, 11500), "a repeated key replays")
	assert.ErrorIs(t, sb.Capture(ctx, "c2", ref, 100), payments.ErrProviderRefused, "a second capture")
	assert.ErrorIs(t, sb.Void(ctx, "v1", ref), payments.ErrProviderRefused, "void after capture")
	require.NoError(t, sb.Refund(ctx, "r1", ref, 11000))
	assert.ErrorIs(t, sb.Refund(ctx, "r2", ref, 501), payments.ErrProviderRefused, "refunds beyond the capture")
	require.NoError(t, sb.Refund(ctx, "r3", ref, 500))
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_operations WHERE operation = 'capture' AND outcome = 'succeeded'`))
}

// TestConcurrentCapturesReachTheProviderOnce: 20 concurrent captures of one authorization
// (each with its own Idempotency-Key) → one succeeds, 19 get 409, the sandbox records one
// capture.
func TestConcurrentCapturesReachTheProviderOnce(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	const n = 20
	statuses := make(chan int, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(10000), "Idempotency-Key", fmt.Sprintf("cap-%d", i))
			statuses <- r.status
		}()
	}
	close(start)
	got := map[int]int{}
	for range n {
		got[<-statuses]++
	}
	assert.Equal(t, map[int]int{200: 1, 409: n - 1}, got)
	assert.Equal(t, 1, a.ops("capture"))
	assert.Equal(t, []string{events.PaymentAuthorized, events.PaymentCaptured}, a.outbox())
}

func TestCaptureToleranceAndRefundLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	base := a.snapshot()
	r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(11501))
	assert.Equal(t, http.StatusConflict, r.status, "beyond the 15 %% tolerance")
	assert.Equal(t, base, a.snapshot())
	r = a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(11500))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, int64(11500), decode[payments.Payment](t, r).CapturedCents)

	steps := []struct {
		amount int64
		status int
		want   payments.Status
	}{
		{4000, 200, payments.StatusPartiallyRefunded},
		{7501, 409, payments.StatusPartiallyRefunded},
		{7500, 200, payments.StatusRefunded},
		{1, 409, payments.StatusRefunded},
	}
	for _, s := range steps {
		before := a.snapshot()
		r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/refund", amount(s.amount))
		assert.Equal(t, s.status, r.status, "refund %d: %s", s.amount, r.body)
		if s.status != 200 {
			assert.Equal(t, before, a.snapshot(), "refund %d", s.amount)
		}
		got := decode[payments.Payment](t, a.do("carla", http.MethodGet, "/api/payments/"+p.ID, ""))
		assert.Equal(t, s.want, got.Status)
	}
	assert.Equal(t, 2, a.ops("refund"))
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.payments WHERE refunded_cents = captured_cents`))
}

// TestIllegalTransitions: every state × every action; the illegal ones answer 409 and
// change nothing.
func TestIllegalTransitions(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// make returns a payment in state.
	make := func(state payments.Status) payments.Payment {
		if state == payments.StatusFailed {
			r := a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(uuid.NewString(), payments.TokenDecline, 10000))
			require.Equal(t, 201, r.status)
			return decode[payments.Payment](t, r)
		}
		p := a.authorized(10000)
		// The booking ended (its end known here): a void by hand is for such a payment only
		// (TestNoVoidByHandWhileTheBookingIsUnderWay).
		_, err := a.db.Pool.Exec(context.Background(), `INSERT INTO payments.reservation_ends (reservation_id, status) VALUES ($1, 'cancelled')`, p.ReservationID)
		require.NoError(t, err)
		step := func(action, body string) {
			r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/"+action, body)
			require.Equal(t, 200, r.status, string(r.body))
		}
		switch state {
		case payments.StatusVoided:
			step("void", "")
		case payments.StatusCaptured:
			step("capture", amount(10000))
		case payments.StatusPartiallyRefunded:
			step("capture", amount(10000))
			step("refund", amount(100))
		case payments.StatusRefunded:
			step("capture", amount(10000))
			step("refund", amount(10000))
		}
		return p
	}
	legal := map[string]bool{
		"authorized capture": true, "authorized void": true,
		"captured refund": true, "partially_refunded refund": true,
	}
	states := []payments.Status{payments.StatusAuthorized, payments.StatusCaptured, payments.StatusPartiallyRefunded,
		payments.StatusRefunded, payments.StatusVoided, payments.StatusFailed}
	for _, state := range states {
		for _, action := range []string{"capture", "void", "refund"} {
			p := make(state)
			before := a.snapshot()
			r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/"+action, amount(50))
			if legal[string(state)+" "+action] {
				assert.Equal(t, http.StatusOK, r.status, "%s %s: %s", state, action, r.body)
				continue
			}
			assert.Equal(t, http.StatusConflict, r.status, "%s %s: %s", state, action, r.body)
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
			assert.Equal(t, before, a.snapshot(), "%s %s changed something", state, action)
		}
	}
}

// TestNoVoidByHandWhileTheBookingIsUnderWay: an agent's void of a confirmed booking's
// authorization left the booking confirmed, and it was rented out with no money behind it.
// While payments knows no end of the booking, a void by hand is 409 and changes nothing.
func TestNoVoidByHandWhileTheBookingIsUnderWay(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	before := a.snapshot()
	r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/void", "")
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), "under way")
	assert.Equal(t, before, a.snapshot())
}

// TestInvoiceNumbersHaveNoGaps: 100 concurrent issues, every third rolled back after taking
// its number → the committed invoices are numbered 1..n, consecutive, without duplicates.
func TestInvoiceNumbersHaveNoGaps(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 100
	errRollback := errors.New("rolled back on purpose")
	firstYear := time.Now().In(berlin(t)).Year()
	done := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		go func() {
			<-start
			done <- a.db.InTx(context.Background(), func(tx pgx.Tx) error {
				_, err := a.svc.Store().IssueInvoice(context.Background(), tx, payments.IssueInput{
					ReservationID: uuid.NewString(), CustomerID: devissuer.CustomerAlice,
					Lines: []payments.LineInput{{Description: "Car rental", GrossCents: 14276}}})
				if err != nil {
					return err
				}
				if i%3 == 0 {
					return errRollback
				}
				return nil
			})
		}()
	}
	close(start)
	committed := 0
	for range n {
		err := <-done
		if err == nil {
			committed++
		} else {
			require.ErrorIs(t, err, errRollback)
		}
	}
	require.Equal(t, n-34, committed)
	rows, err := a.db.Pool.Query(context.Background(), `SELECT year, number FROM payments.invoices ORDER BY year, seq`)
	require.NoError(t, err)
	type issued struct {
		Year   int
		Number string
	}
	numbers, err := pgx.CollectRows(rows, pgx.RowToStructByPos[issued])
	require.NoError(t, err)
	// Each year (in Berlin) numbers from 1: issues made across New Year's midnight end one
	// year's run and begin the next.
	lastYear := time.Now().In(berlin(t)).Year()
	next := map[int]int{}
	for _, num := range numbers {
		assert.True(t, num.Year == firstYear || num.Year == lastYear, "%s issued in %d…%d", num.Number, firstYear, lastYear)
		next[num.Year]++
		assert.Equal(t, fmt.Sprintf("OCR-%d-%06d", num.Year, next[num.Year]), num.Number)
	}
	assert.Len(t, numbers, committed)
	assert.Equal(t, committed, a.count(`SELECT count(*) FROM payments.outbox WHERE type = $1`, events.InvoiceIssued))
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return loc
}

func TestInvoiceAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := uuid.NewString()
	body := fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"lines":[{"description":"Car rental","grossCents":14276},{"description":"Late return","grossCents":119}]}`, res, devissuer.CustomerAlice)
	r := a.do("carla", http.MethodPost, "/api/invoices", body)
	assert.Equal(t, http.StatusForbidden, r.status, "agents do not issue invoices")
	r = a.do("service:reservations-api", http.MethodPost, "/api/invoices", body)
	assert.Equal(t, http.StatusForbidden, r.status, "no function issues invoices by hand: they come from events")
	assert.Zero(t, a.count(`SELECT count(*) FROM payments.invoices`))
	r = a.do("ada", http.MethodPost, "/api/invoices", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	inv := decode[payments.Invoice](t, r)
	assert.Regexp(t, `^OCR-\d{4}-000001$`, inv.Number)
	assert.Equal(t, []payments.InvoiceLine{
		{Code: "ITEM", Description: "Car rental", Quantity: 1, Per: "rental", UnitNetCents: 11997, NetCents: 11997},
		{Code: "ITEM", Description: "Late return", Quantity: 1, Per: "rental", UnitNetCents: 100, NetCents: 100},
	}, inv.Lines, "gross lines by hand: each split into net (half up) and VAT")
	assert.Equal(t, payments.KindRental, inv.Kind)
	assert.Equal(t, int64(12097), inv.NetCents)
	assert.Equal(t, int64(2298), inv.VATCents)
	assert.Equal(t, int64(14395), inv.GrossCents)
	assert.Equal(t, http.StatusConflict, a.do("ada", http.MethodPost, "/api/invoices", body).status, "one invoice per reservation")

	assert.Equal(t, http.StatusOK, a.do("alice", http.MethodGet, "/api/invoices/"+inv.ID, "").status)
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodGet, "/api/invoices/"+inv.ID, "").status)
	list := decode[struct {
		Items []payments.Invoice `json:"items"`
		Total int                `json:"total"`
	}](t, a.do("alice", http.MethodGet, "/api/invoices", ""))
	assert.Equal(t, 1, list.Total)
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodGet, "/api/invoices?customer="+devissuer.CustomerAlice, "").status)
	list = decode[struct {
		Items []payments.Invoice `json:"items"`
		Total int                `json:"total"`
	}](t, a.do("bob", http.MethodGet, "/api/invoices", ""))
	assert.Equal(t, 0, list.Total)

	// One booking's invoice (a portal's booking page), for its customer or staff; another
	// booking's list is empty.
	type page struct {
		Items []payments.Invoice `json:"items"`
		Total int                `json:"total"`
	}
	for _, who := range []string{"alice", "carla"} {
		list := decode[page](t, a.do(who, http.MethodGet, "/api/invoices?reservation="+strings.ToUpper(inv.ReservationID), ""))
		if assert.Len(t, list.Items, 1, who) {
			assert.Equal(t, inv.ID, list.Items[0].ID)
		}
	}
	assert.Empty(t, decode[page](t, a.do("alice", http.MethodGet, "/api/invoices?reservation="+uuid.NewString(), "")).Items)
	assert.Empty(t, decode[page](t, a.do("bob", http.MethodGet, "/api/invoices?reservation="+inv.ReservationID, "")).Items)
	assert.Equal(t, http.StatusBadRequest, a.do("alice", http.MethodGet, "/api/invoices?reservation=x", "").status)
}

func TestCustomersSeeOnlyTheirOwnPayments(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(5000)
	assert.Equal(t, http.StatusOK, a.do("alice", http.MethodGet, "/api/payments/"+p.ID, "").status)
	assert.Equal(t, http.StatusNotFound, a.do("bob", http.MethodGet, "/api/payments/"+p.ID, "").status)
	assert.Equal(t, http.StatusForbidden, a.do("alice", http.MethodPost, "/api/payments/"+p.ID+"/void", "").status)
	find := func(user string) int {
		return len(decode[struct {
			Items []payments.Payment `json:"items"`
		}](t, a.do(user, http.MethodGet, "/api/payments?reservation="+p.ReservationID, "")).Items)
	}
	assert.Equal(t, 1, find("alice"))
	assert.Equal(t, 0, find("bob"))
	assert.Equal(t, 1, find("carla"))
	// An id in capitals is the same id (RFC 9562): the filter found nothing.
	for _, q := range []string{"reservation=" + strings.ToUpper(p.ReservationID), "customer=" + strings.ToUpper(p.CustomerID)} {
		assert.Len(t, decode[struct {
			Items []payments.Payment `json:"items"`
		}](t, a.do("carla", http.MethodGet, "/api/payments?"+q, "")).Items, 1, q)
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(5000)
	res := uuid.NewString()
	pm := a.method(payments.TokenSuccess)
	tests := []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/api/payments", `{}`, 400},
		{"POST", "/api/payments", `not json`, 400},
		{"POST", "/api/payments", `{"reservationId":"x","customerId":"y","amountCents":-1,"paymentMethodId":""}`, 400},
		{"POST", "/api/payments", `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","amountCents":100,"paymentToken":"tok_success"}`, 400},
		{"POST", "/api/payments", `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","amountCents":100,"paymentMethodId":"4242424242424242"}`, 400},
		{"POST", "/api/payments", a.authorizeBody(res, payments.TokenSuccess, 0), 400},
		{"POST", "/api/payments", a.authorizeBody(res, payments.TokenSuccess, 100_000_001), 400},
		{"POST", "/api/payments", `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","amountCents":100,"paymentMethodId":"` + pm + `","currency":"USD"}`, 400},
		{"POST", "/api/payments", `{"reservationId":"` + res + `","unknown":1}`, 400},
		{"GET", "/api/payments?outstanding=maybe", "", 400},
		{"GET", "/api/payments?reservation=nope", "", 400},
		{"GET", "/api/payments?reservation=" + res + "&x=1", "", 400},
		{"GET", "/api/payments?reservation=" + res + "&reservation=" + res, "", 400},
		{"GET", "/api/payments?page=1;pageSize=9999999", "", 400},
		{"GET", "/api/payments?status=lost", "", 400},
		{"GET", "/api/payments?customer=x&pageSize=0", "", 400},
		{"GET", "/api/invoices?page=1;pageSize=9999999", "", 400},
		{"GET", "/api/invoices?customer=" + devissuer.CustomerAlice + "&customer=" + devissuer.CustomerAlice, "", 400},
		{"GET", "/api/payments/not-a-uuid", "", 404},
		{"GET", "/api/payments/" + uuid.NewString(), "", 404},
		{"POST", "/api/payments/" + p.ID + "/capture", `{}`, 400},
		{"POST", "/api/payments/" + p.ID + "/capture", `{"amountCents":0}`, 400},
		{"POST", "/api/payments/" + p.ID + "/capture", `{"amountCents":"10"}`, 400},
		{"POST", "/api/payments/" + p.ID + "/refund", `{"amountCents":-5}`, 400},
		{"POST", "/api/payments/" + uuid.NewString() + "/capture", amount(100), 404},
		{"POST", "/api/payments/" + uuid.NewString() + "/void", "", 404},
		{"POST", "/api/payments/not-a-uuid/refund", amount(100), 404},
		{"POST", "/api/invoices", `{"reservationId":"x","customerId":"y","lines":[]}`, 400},
		{"POST", "/api/invoices", `{"reservationId":"` + res + `","customerId":"` + devissuer.CustomerAlice + `","lines":[{"description":"","grossCents":0}]}`, 400},
		{"GET", "/api/invoices?pageSize=1000", "", 400},
		{"GET", "/api/invoices?customer=x", "", 400},
		{"GET", "/api/invoices/" + uuid.NewString(), "", 404},
	}
	before := a.snapshot()
	for _, tt := range tests {
		user := "carla"
		if strings.HasPrefix(tt.path, "/api/invoices") && tt.method == "POST" {
			user = "ada" // only admins issue invoices by hand
		}
		r := a.do(user, tt.method, tt.path, tt.body)
		assert.Equal(t, tt.status, r.status, "%s %s %s: %s", tt.method, tt.path, tt.body, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "%s %s", tt.method, tt.path)
	}
	assert.Equal(t, before, a.snapshot())
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 9900)
	first := a.do("carla", http.MethodPost, "/api/payments", body, "Idempotency-Key", "auth-1")
	require.Equal(t, http.StatusCreated, first.status, string(first.body))
	again := a.do("carla", http.MethodPost, "/api/payments", body, "Idempotency-Key", "auth-1")
	assert.Equal(t, http.StatusCreated, again.status)
	assert.Equal(t, first.body, again.body, "replayed byte for byte")
	assert.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	assert.Equal(t, http.StatusUnprocessableEntity, a.do("carla", http.MethodPost, "/api/payments",
		a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 9900), "Idempotency-Key", "auth-1").status)
	assert.Equal(t, 2, a.count(`SELECT count(*) FROM payments.payments`), "the first, and the declined one of the refused request's booking")
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.payments WHERE status <> 'failed'`))
	assert.Equal(t, 1, a.ops("authorize"))

	p := decode[payments.Payment](t, first)
	c1 := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(9900), "Idempotency-Key", "cap-1")
	c2 := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(9900), "Idempotency-Key", "cap-1")
	require.Equal(t, http.StatusOK, c1.status, string(c1.body))
	assert.Equal(t, c1.body, c2.body)
	assert.Equal(t, 1, a.ops("capture"))
}

func TestSandboxRefusesAReusedKeyWithAnotherAmount(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	sb, err := payments.NewSandbox(context.Background(), a.db.Pool.Config())
	require.NoError(t, err)
	defer sb.Close()
	ctx := context.Background()
	card, err := sb.Tokenize(ctx, payments.Card{Number: payments.CardSuccess, ExpMonth: 1, ExpYear: 2030, CVC: "123", Holder: "A"})
	require.NoError(t, err)
	ref, err := sb.Authorize(ctx, "k", card.Token, 10000)
	require.NoError(t, err)
	require.NoError(t, sb.Capture(ctx, "c", ref, 10000))
	require.NoError(t, sb.Refund(ctx, "r", ref, 100))
	assert.ErrorIs(t, sb.Refund(ctx, "r", ref, 200), payments.ErrProviderRefused)
	assert.Equal(t, 1, a.ops("refund"))
}

// TestLostCommitIsRetriedWithoutASecondCharge: the provider captured but our transaction
// rolled back (a crash before commit); the retry captures again under the same provider
// key, which the provider replays: one capture on the provider's books.
func TestLostCommitIsRetriedWithoutASecondCharge(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	lost := errors.New("connection lost before commit")
	err := a.db.InTx(context.Background(), func(tx pgx.Tx) error {
		if _, err := a.svc.Store().Capture(context.Background(), tx, p.ID, 10000, 0); err != nil {
			return err
		}
		return lost
	})
	require.ErrorIs(t, err, lost)
	assert.Equal(t, payments.StatusAuthorized, decode[payments.Payment](t, a.do("carla", http.MethodGet, "/api/payments/"+p.ID, "")).Status)
	r := a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(10000))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, 1, a.ops("capture"))
	assert.Equal(t, 10000, a.count(`SELECT captured_cents::int FROM payments.sandbox_authorizations`))
}

func TestIfMatch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	r := a.do("carla", http.MethodGet, "/api/payments/"+p.ID, "")
	etag := r.header.Get("ETag")
	require.Equal(t, `"1"`, etag)
	before := a.snapshot()
	assert.Equal(t, http.StatusPreconditionFailed, a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(100), "If-Match", `"7"`).status)
	assert.Equal(t, http.StatusBadRequest, a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/void", "", "If-Match", `soon`).status)
	assert.Equal(t, before, a.snapshot())
	r = a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(100), "If-Match", etag)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, `"2"`, r.header.Get("ETag"))
}

// TestInvoiceByHandFitsTheBooking: an admin's invoice took the one invoice of a booking
// under way — its rental invoice was then dropped without a word — and named any customer:
// Bob read an invoice of Alice's booking. It must name the booking's customer and payment,
// and a booking under way is invoiced at its end, not by hand.
func TestInvoiceByHandFitsTheBooking(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p := a.authorized(10000)
	body := func(reservation, customer, payment string) string {
		return fmt.Sprintf(`{"reservationId":%q,"customerId":%q%s,"lines":[{"description":"deposit","grossCents":500}]}`,
			reservation, customer, payment)
	}
	before := a.snapshot()
	r := a.do("ada", http.MethodPost, "/api/invoices", body(p.ReservationID, devissuer.CustomerBob, ""))
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"field":"customerId"`)
	r = a.do("ada", http.MethodPost, "/api/invoices", body(p.ReservationID, p.CustomerID, `,"paymentId":"`+uuid.NewString()+`"`))
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"field":"paymentId"`)
	r = a.do("ada", http.MethodPost, "/api/invoices", body(p.ReservationID, p.CustomerID, ""))
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), "under way")
	assert.Equal(t, before, a.snapshot())

	// Under way whatever its payment's status: a declined card waiting for another, a capture
	// by hand (the rental's invoice was dropped at the return for either).
	declined := uuid.NewString()
	a.declined(declined, devissuer.CustomerAlice, 10000)
	r = a.do("ada", http.MethodPost, "/api/invoices", body(declined, devissuer.CustomerAlice, ""))
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	require.Equal(t, http.StatusOK, a.do("carla", http.MethodPost, "/api/payments/"+p.ID+"/capture", amount(1000)).status)
	r = a.do("ada", http.MethodPost, "/api/invoices", body(p.ReservationID, p.CustomerID, ""))
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Zero(t, a.count(`SELECT count(*) FROM payments.invoices`))

	// A reservation payments holds no payment of is invoiced as asked.
	r = a.do("ada", http.MethodPost, "/api/invoices", body(uuid.NewString(), devissuer.CustomerBob, ""))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
}

// TestNoNewCardForABookingEndedWithNothingToPay: an agent's new card for a booking whose
// hold lapsed (its card declined) put a hold on the card and voided it in the same request,
// and told everyone it was authorized. Refused (409) before the provider is asked; a booking
// that ended with a fee still takes the card, and the fee is collected.
func TestNoNewCardForABookingEndedWithNothingToPay(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(10000, "4000000000000002") // declined
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status = "expired"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationExpired, res).status)
	operations := a.count(`SELECT count(*) FROM payments.sandbox_operations`)
	body := fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"amountCents":10000,"paymentMethodId":%q}`,
		res.ReservationID, res.CustomerID, a.method(payments.TokenSuccess))
	r := a.do("carla", http.MethodPost, "/api/payments", body)
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"code":"reservation_ended"`)
	assert.Equal(t, operations, a.count(`SELECT count(*) FROM payments.sandbox_operations`), "the provider was not asked")
	assert.Equal(t, payments.StatusFailed, a.paymentOf(res.ReservationID).Status)

	// Cancelled with a fee: the new card pays the fee.
	res = a.booking(10000, "4000000000000002")
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	res.Status, res.FeeCents, res.Reason = "cancelled", 5000, "late"
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCancelled, res).status)
	body = fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"amountCents":10000,"paymentMethodId":%q}`,
		res.ReservationID, res.CustomerID, a.method(payments.TokenSuccess))
	r = a.do("carla", http.MethodPost, "/api/payments", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, int64(5000), a.paymentOf(res.ReservationID).CapturedCents)
}
