package payments_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker/brokertest"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// deliverWithin is deliver under a deadline, as the event platform gives up on a delivery
// after its Trigger's timeout.
func (a *api) deliverWithin(timeout time.Duration, id, typ string, data any) response {
	a.t.Helper()
	body, err := json.Marshal(data)
	require.NoError(a.t, err)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, events.ReceivePath, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("ce-specversion", "1.0")
	req.Header.Set("ce-id", id)
	req.Header.Set("ce-source", "reservations-api")
	req.Header.Set("ce-type", typ)
	req.Header.Set("Authorization", a.id.DeliveryBearer(a.t, brokertest.SenderOf(a.t, payments.ServiceName, typ), payments.ServiceName))
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// holdOutbox takes a lock on payments' outbox that keeps every insert waiting — the
// payment.* event of an authorization the provider already answered — until release.
func (a *api) holdOutbox() (release func()) {
	a.t.Helper()
	ctx := context.Background()
	tx, err := a.db.Pool.Begin(ctx)
	require.NoError(a.t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE payments.outbox IN SHARE MODE`)
	require.NoError(a.t, err)
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback(ctx) }) }
	a.t.Cleanup(release)
	return release
}

// TestLostAuthorizationIsRetriedWithoutASecondAuthorization is the double authorization of
// issue 11: the authorization's transaction fails after the provider answered (a lock held
// past the delivery's timeout), the event platform redelivers, and the retry asks the
// provider again. Its idempotency key — the reservation, the attempt, the payment method;
// before, a payment id made in the lost transaction — is the same, so the provider replays:
// one authorization on the card, and it is the one payments records.
func TestLostAuthorizationIsRetriedWithoutASecondAuthorization(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	res := a.booking(20000, payments.CardSuccess)
	id := uuid.NewString()

	release := a.holdOutbox()
	r := a.deliverWithin(time.Second, id, events.ReservationCreated, res)
	// The caller (the delivery) gave up: the consumer answers 499, what its log says too.
	require.Equal(t, platform.StatusClientClosed, r.status, "the delivery outlived its timeout: %s", r.body)
	release()
	require.Zero(t, a.count(`SELECT count(*) FROM payments.payments`), "the lost transaction left a payment")
	require.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations`), "the provider did not answer before the loss")

	r = a.deliver(id, events.ReservationCreated, res)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations`), "the card was authorized twice")
	assert.Equal(t, 1, a.ops("authorize"))
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE ref = $1`, p.ProviderAuthorization))

	// The same through the API: an agent's authorization lost after the provider answered
	// (the client's deadline), retried with the same body.
	res2 := uuid.NewString()
	body := a.authorizeBody(res2, payments.TokenSuccess, 7000)
	release = a.holdOutbox()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/payments", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", a.tokens["carla"])
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	cancel()
	require.GreaterOrEqual(t, rec.Code, 500, rec.Body.String())
	release()
	r = a.do("carla", http.MethodPost, "/api/payments", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, 2, a.count(`SELECT count(*) FROM payments.sandbox_authorizations`), "the agent's retry authorized a second time")
	assert.Equal(t, 2, a.ops("authorize"))
}

// TestLateAuthorizationIsSettledAtOnce: a reservation's end (expired; cancelled for free;
// cancelled with a fee; a no-show) reaches payments before its reservation.created — brokers keep no
// order — and after it. Either way the end is answered 202 (before, expiry was acknowledged
// and forgotten, cancellation retried until the payment existed) and no authorization stays
// open on the card: voided, or the fee captured and the rest released.
func TestLateAuthorizationIsSettledAtOnce(t *testing.T) {
	t.Parallel()
	ends := []struct {
		typ    string
		fee    int64
		status payments.Status
		events []string
	}{
		{events.ReservationExpired, 0, payments.StatusVoided, []string{events.PaymentAuthorized, events.PaymentVoided}},
		{events.ReservationCancelled, 0, payments.StatusVoided, []string{events.PaymentAuthorized, events.PaymentVoided}},
		{events.ReservationCancelled, 5000, payments.StatusCaptured, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}},
		{events.ReservationNoShow, 20000, payments.StatusCaptured, []string{events.PaymentAuthorized, events.PaymentCaptured, events.InvoiceIssued}},
	}
	for _, end := range ends {
		for _, endFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s fee %d, end first %v", strings.TrimPrefix(end.typ, "com.orangecarrental."), end.fee, endFirst), func(t *testing.T) {
				t.Parallel()
				a := newAPI(t)
				created := a.booking(20000, payments.CardSuccess)
				ended := created
				ended.Version, ended.Status, ended.FeeCents = 2, "cancelled", end.fee
				switch end.typ {
				case events.ReservationExpired:
					ended.Status = "expired"
				case events.ReservationNoShow:
					ended.Status = "no_show"
				}
				order := []struct {
					typ string
					res events.Reservation
				}{{events.ReservationCreated, created}, {end.typ, ended}}
				if endFirst {
					order[0], order[1] = order[1], order[0]
				}
				for _, e := range order {
					r := a.deliver(uuid.NewString(), e.typ, e.res)
					require.Equal(t, http.StatusAccepted, r.status, "%s: %s", e.typ, r.body)
				}
				p := a.paymentOf(created.ReservationID)
				assert.Equal(t, end.status, p.Status)
				assert.Equal(t, end.fee, p.CapturedCents)
				assert.Zero(t, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE status = 'authorized'`), "an authorization stays open")
				assert.Equal(t, int64(20000-end.fee), a.released("void")+a.released("capture"), "released on the card")
				assert.Equal(t, end.events, a.outbox())

				// Redeliveries and copies change nothing.
				before := a.snapshot()
				for _, e := range order {
					assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), e.typ, e.res).status)
				}
				assert.Equal(t, before, a.snapshot())
			})
		}
	}
}

// TestAuthorizationAndExpiryRacing: reservation.created and reservation.expired of the same
// reservations delivered at the same moment, 20 times: whichever commits first, no
// authorization stays open.
func TestAuthorizationAndExpiryRacing(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	statuses := make(chan int, 2*n)
	for range n {
		created := a.booking(10000, payments.TokenSuccess)
		expired := created
		expired.Version, expired.Status = 2, "expired"
		for _, e := range []struct {
			typ string
			res events.Reservation
		}{{events.ReservationCreated, created}, {events.ReservationExpired, expired}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				statuses <- a.deliver(uuid.NewString(), e.typ, e.res).status
			}()
		}
	}
	close(start)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Equal(t, http.StatusAccepted, s)
	}
	assert.Equal(t, n, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE status = 'voided'`))
	assert.Zero(t, a.count(`SELECT count(*) FROM payments.sandbox_authorizations WHERE status = 'authorized'`))
	assert.Equal(t, n, a.count(`SELECT count(*) FROM payments.payments WHERE status = 'voided'`))
}

// fire sends n copies of one request at once (each with its own Idempotency-Key when keyed)
// and counts the statuses.
func (a *api) fire(n int, user, method, path, body string, keyed bool) map[int]int {
	a.t.Helper()
	start := make(chan struct{})
	statuses := make(chan int, n)
	for i := range n {
		go func() {
			<-start
			var header []string
			if keyed {
				header = []string{"Idempotency-Key", fmt.Sprintf("race-%d", i)}
			}
			statuses <- a.do(user, method, path, body, header...).status
		}()
	}
	close(start)
	got := map[int]int{}
	for range n {
		got[<-statuses]++
	}
	return got
}

// TestConcurrentCreatesAnswerConflictNotError is issue 11's 10 concurrent POST /api/invoices
// for one reservation (one of them was a 500: the unique violation of the second insert):
// one 201 and nine 409, one invoice, its number the first. The other writes that create a
// row per reservation race the same way: authorizations of one reservation (one
// authorization at the provider), one event delivered many times at once, and a
// reservation's end delivered as many copies.
func TestConcurrentCreatesAnswerConflictNotError(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const n = 10
	for _, keyed := range []bool{false, true} {
		res := uuid.NewString()
		invoice := fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"lines":[{"description":"Car rental","grossCents":14276}]}`, res, devissuer.CustomerAlice)
		assert.Equal(t, map[int]int{201: 1, 409: n - 1}, a.fire(n, "ada", http.MethodPost, "/api/invoices", invoice, keyed), "keyed %v", keyed)
		assert.Equal(t, 1, a.count(`SELECT count(*) FROM payments.invoices WHERE reservation_id = $1`, res))
	}
	rows, err := a.db.Pool.Query(context.Background(), `SELECT seq FROM payments.invoices ORDER BY seq`)
	require.NoError(t, err)
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, seqs, "a refused invoice used a number")

	body := a.authorizeBody(uuid.NewString(), payments.TokenSuccess, 5000)
	assert.Equal(t, map[int]int{201: 1, 409: n - 1}, a.fire(n, "carla", http.MethodPost, "/api/payments", body, true))
	assert.Equal(t, 1, a.ops("authorize"))

	created := a.booking(5000, payments.TokenSuccess)
	id := uuid.NewString()
	got := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a.deliver(id, events.ReservationCreated, created).status
			mu.Lock()
			got[s]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{202: 1, 200: n - 1}, got, "one delivery applied, the rest duplicates")
	assert.Equal(t, 2, a.ops("authorize"))

	cancelled := created
	cancelled.Version, cancelled.Status = 2, "cancelled"
	got = map[int]int{}
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a.deliver(uuid.NewString(), events.ReservationCancelled, cancelled).status
			mu.Lock()
			got[s]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, map[int]int{202: n}, got)
	assert.Equal(t, 1, a.ops("void"))
	assert.Equal(t, payments.StatusVoided, a.paymentOf(created.ReservationID).Status)
}
