package payments_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// cardRows returns every row of every table of the payments schema, as text, that contains
// needle — bytea columns (stored response bodies) are searched in their hex form too.
func (a *api) cardRows(needle string) []string {
	a.t.Helper()
	ctx := context.Background()
	rows, err := a.db.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'payments' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	require.NoError(a.t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(a.t, err)
	require.NotEmpty(a.t, tables)
	hexNeedle := fmt.Sprintf("%x", needle)
	var found []string
	for _, table := range tables {
		name := pgx.Identifier{"payments", table}.Sanitize()
		rows, err := a.db.Pool.Query(ctx, `SELECT t::text FROM `+name+` t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0`, needle, hexNeedle)
		require.NoError(a.t, err)
		hits, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(a.t, err)
		for _, h := range hits {
			found = append(found, table+": "+h)
		}
	}
	return found
}

// TestCardDetailsAreTokenizedNotKept: a card's number and CVC go to POST
// /api/payments/methods, which answers an opaque pm_ id with the brand, the last four digits
// and the expiry. Neither the number nor the CVC is stored anywhere in payments (the
// sandbox provider's books included), answered, or repeated by a refusal; the method
// authorizes like the card.
func TestCardDetailsAreTokenizedNotKept(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const cvc = "987"
	year := time.Now().Year() + 3
	body := fmt.Sprintf(`{"card":{"number":"4242 4242 4242 4242","expMonth":7,"expYear":%d,"cvc":%q,"holder":"Zoë Quastenflosser"}}`, year, cvc)
	r := a.do("", http.MethodPost, "/api/payments/methods", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	m := decode[payments.PaymentMethod](t, r)
	assert.Regexp(t, `^pm_[0-9a-f]{32}$`, m.ID)
	assert.Equal(t, payments.PaymentMethod{ID: m.ID, Brand: "visa", Last4: "4242", ExpMonth: 7, ExpYear: year, CreatedAt: m.CreatedAt}, m)
	assert.NotContains(t, string(r.body), "42424242")

	p := decode[payments.Payment](t, a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(uuid.NewString(), m.ID, 5000)))
	assert.Equal(t, payments.StatusAuthorized, p.Status)
	assert.Equal(t, m.ID, p.PaymentMethodID)

	// The CVC is short: searched as a whole value of a column or a JSON string.
	for _, needle := range []string{payments.CardSuccess, "4242 4242 4242 4242", "Quastenflosser",
		`"` + cvc + `"`, "," + cvc + ",", "(" + cvc + ",", "," + cvc + ")"} {
		assert.Empty(t, a.cardRows(needle), "%s is stored", needle)
	}
	// As a whole column value: a timestamp or a UUID may hold the digits by chance.
	assert.Len(t, a.cardRows(",4242,"), 2, "the last four digits: the method and the sandbox's card")

	// Refusals name the field, never its value.
	bad := []struct {
		name, body string
		status     int
	}{
		{"checksum", testCard("4242424242424241"), 400},
		{"too short", testCard("42424242"), 400},
		{"letters", testCard("4242a24242424242"), 400},
		{"expired", fmt.Sprintf(`{"card":{"number":"4242424242424242","expMonth":1,"expYear":%d,"cvc":"123","holder":"A"}}`, time.Now().Year()-1), 400},
		{"cvc", fmt.Sprintf(`{"card":{"number":"4242424242424242","expMonth":1,"expYear":%d,"cvc":"12345","holder":"A"}}`, year), 400},
		{"no holder", fmt.Sprintf(`{"card":{"number":"4242424242424242","expMonth":1,"expYear":%d,"cvc":"123","holder":" "}}`, year), 400},
		{"card and token", fmt.Sprintf(`{"token":"tok_success","card":{"number":"4242424242424242","expMonth":1,"expYear":%d,"cvc":"123","holder":"A"}}`, year), 400},
		{"nothing", `{}`, 400},
		{"unknown field", `{"number":"4242424242424242"}`, 400},
		{"a card the sandbox does not take", testCard("4111111111111111"), 422},
		{"an unknown test token", `{"token":"tok_stolen"}`, 422},
	}
	before := a.count(`SELECT count(*) FROM payments.payment_methods`)
	for _, tt := range bad {
		r := a.do("", http.MethodPost, "/api/payments/methods", tt.body)
		assert.Equal(t, tt.status, r.status, "%s: %s", tt.name, r.body)
		if tt.name == "checksum" {
			assert.Contains(t, string(r.body), "check digit", "a typo is told as such, not as a wrong length")
		}
		for _, digits := range []string{"4242424242", "4111111111", "42424242"} {
			assert.NotContains(t, string(r.body), digits, tt.name)
		}
	}
	assert.Equal(t, before, a.count(`SELECT count(*) FROM payments.payment_methods`), "a refused card made a payment method")
}

// TestPaymentMethodsPayOnlyForTheirCustomer: a signed-in customer's method is theirs at
// once; a guest's (anonymous) method is bound to the first customer it pays for. Anyone who
// learns a method's id — it travels in events and logs — cannot charge the card for another
// customer: that authorization fails as invalid_payment_method, without reaching the
// provider.
func TestPaymentMethodsPayOnlyForTheirCustomer(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	authorize := func(customer, method string) payments.Payment {
		reservation := uuid.NewString()
		a.declined(reservation, customer, 5000)
		body := fmt.Sprintf(`{"reservationId":%q,"customerId":%q,"amountCents":5000,"paymentMethodId":%q}`, reservation, customer, method)
		r := a.do("carla", http.MethodPost, "/api/payments", body)
		require.Equal(t, http.StatusCreated, r.status, string(r.body))
		return decode[payments.Payment](t, r)
	}
	r := a.do("alice", http.MethodPost, "/api/payments/methods", `{"token":"tok_success"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	alices := decode[payments.PaymentMethod](t, r).ID
	guests := a.method(payments.TokenSuccess)

	assert.Equal(t, "invalid_payment_method", authorize(devissuer.CustomerBob, alices).FailureReason, "Bob pays with Alice's card")
	assert.Equal(t, payments.StatusAuthorized, authorize(devissuer.CustomerAlice, alices).Status)
	assert.Equal(t, payments.StatusAuthorized, authorize(devissuer.CustomerAlice, alices).Status, "a customer's card pays again")

	assert.Equal(t, payments.StatusAuthorized, authorize(devissuer.CustomerBob, guests).Status, "the guest's first booking")
	assert.Equal(t, "invalid_payment_method", authorize(devissuer.CustomerAlice, guests).FailureReason, "the guest's card, now Bob's")
	assert.Equal(t, 3, a.ops("authorize"), "refused methods never reach the provider")

	// The same by event: reservation.created naming Alice's method for Bob fails it.
	res := a.booking(5000, alices)
	res.CustomerID = devissuer.CustomerBob
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "invalid_payment_method", p.FailureReason)
}

// TestOneCardPaysSideBySide: payments on a card already bound to its customer do not wait
// for each other (a second one goes through while the first's transaction is still open);
// the first uses of an unbound card are decided one after the other — the customer who
// bound it may use it again at once, another customer is refused.
func TestOneCardPaysSideBySide(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	store := a.svc.Store()
	ctx := context.Background()
	begin := func() pgx.Tx {
		tx, err := a.db.Pool.Begin(ctx)
		require.NoError(t, err)
		t.Cleanup(func() { _ = tx.Rollback(ctx) })
		return tx
	}
	r := a.do("alice", http.MethodPost, "/api/payments/methods", `{"token":"tok_success"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	alices := decode[payments.PaymentMethod](t, r).ID

	first := begin()
	_, err := store.UseMethod(ctx, first, alices, devissuer.CustomerAlice)
	require.NoError(t, err)
	// Before, the first payment's row lock held this one until the first ended.
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = store.UseMethod(waitCtx, begin(), alices, devissuer.CustomerAlice)
	require.NoError(t, err, "a second payment on Alice's card waited for the first")
	_, err = store.UseMethod(waitCtx, begin(), alices, devissuer.CustomerBob)
	require.ErrorIs(t, err, payments.ErrUnusableMethod, "Bob pays with Alice's card")
	require.NoError(t, first.Rollback(ctx))

	for _, tc := range []struct {
		name, second string
		want         error
	}{
		{"the same customer", devissuer.CustomerBob, nil},
		{"another customer", devissuer.CustomerAlice, payments.ErrUnusableMethod},
	} {
		t.Run(tc.name, func(t *testing.T) {
			guests := a.method(payments.TokenSuccess)
			binding := begin()
			_, err := store.UseMethod(ctx, binding, guests, devissuer.CustomerBob)
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				tx, err := a.db.Pool.Begin(ctx)
				if err != nil {
					done <- err
					return
				}
				defer func() { _ = tx.Rollback(ctx) }()
				_, err = store.UseMethod(ctx, tx, guests, tc.second)
				done <- err
			}()
			select {
			case err := <-done:
				t.Fatalf("a first use of an unbound card did not wait for the other: %v", err)
			case <-time.After(200 * time.Millisecond):
			}
			require.NoError(t, binding.Commit(ctx))
			select {
			case err := <-done:
				if tc.want == nil {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the second use never ended")
			}
		})
	}
}

// TestErasureForgetsPaymentMethods: after customer.erased the customer's cards are gone —
// no provider token, brand, last four digits or expiry of theirs is kept — and a booking that
// names one of them fails without reaching the provider; other customers' cards stay, and a
// redelivery changes nothing.
func TestErasureForgetsPaymentMethods(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.do("alice", http.MethodPost, "/api/payments/methods", `{"token":"tok_success"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	alices := decode[payments.PaymentMethod](t, r).ID
	r = a.do("bob", http.MethodPost, "/api/payments/methods", `{"token":"tok_success"}`)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	bobs := decode[payments.PaymentMethod](t, r).ID

	erasure := events.CustomerErasure{CustomerID: devissuer.CustomerAlice, Version: 9}
	id := uuid.NewString()
	require.Equal(t, http.StatusAccepted, a.deliver(id, events.CustomerErased, erasure).status)
	require.Equal(t, http.StatusOK, a.deliver(id, events.CustomerErased, erasure).status, "a redelivery is a duplicate")
	var left []string
	rows, err := a.db.Pool.Query(context.Background(), `SELECT id FROM payments.payment_methods WHERE customer_id = $1`, devissuer.CustomerAlice)
	require.NoError(t, err)
	left, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Empty(t, left, "the erased customer's payment methods")

	// Alice's sign-in outlives her erasure (the identity provider's account is not
	// customers-api's): a card she tokenizes now is refused before the provider sees it —
	// it was bound to the erased id and authorized.
	methods := a.count(`SELECT count(*) FROM payments.payment_methods`)
	r = a.do("alice", http.MethodPost, "/api/payments/methods", `{"token":"tok_success"}`)
	require.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), "erased")
	assert.Equal(t, methods, a.count(`SELECT count(*) FROM payments.payment_methods`), "no card kept")

	before := a.ops("authorize")
	res := a.booking(5000, alices)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "invalid_payment_method", p.FailureReason)
	assert.Equal(t, before, a.ops("authorize"), "a forgotten card never reaches the provider")

	var bob int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM payments.payment_methods WHERE id = $1`, bobs).Scan(&bob))
	assert.Equal(t, 1, bob, "another customer's card stays")
}

// TestUnusedPaymentMethodsArePurged: the ping deletes unbound methods older than a day and
// keeps bound ones and new ones.
func TestUnusedPaymentMethodsArePurged(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	old, used, fresh := a.method(payments.TokenSuccess), a.method(payments.TokenSuccess), a.method(payments.TokenSuccess)
	require.Equal(t, http.StatusCreated, a.do("carla", http.MethodPost, "/api/payments", a.authorizeBody(uuid.NewString(), used, 100)).status)
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE payments.payment_methods SET created_at = now() - interval '25 hours' WHERE id IN ($1, $2)`, old, used)
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.Ping, map[string]any{}).status)
	rows, err := a.db.Pool.Query(context.Background(), `SELECT id FROM payments.payment_methods ORDER BY id`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{used, fresh}, left)
	assert.False(t, strings.Contains(strings.Join(left, ","), old))
}

// TestMigrationCutsStoredCardNumbers: before payment methods the sandbox recorded the token
// it was given with each authorization — a raw test card number when a booking sent one.
// Migrating keeps the authorization and only the number's last four digits.
func TestMigrationCutsStoredCardNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, err := fs.ReadFile(payments.Migrations.FS, "migrations/0001_payments.sql")
	require.NoError(t, err)
	before := payments.Migrations
	before.FS = fstest.MapFS{"migrations/0001_payments.sql": {Data: first}}
	db := pg.NewDB(t)
	_, err = db.Migrate(ctx, before)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO payments.sandbox_authorizations (ref, token, amount_cents, status)
		VALUES ('sbx_auth_1', '4242424242424242', 100, 'authorized'), ('sbx_auth_2', 'tok_success', 100, 'voided')`)
	require.NoError(t, err)
	_, err = db.Migrate(ctx, payments.Migrations)
	require.NoError(t, err)
	rows, err := db.Pool.Query(ctx, `SELECT ref || ' ' || token FROM payments.sandbox_authorizations ORDER BY ref`)
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"sbx_auth_1 card_4242", "sbx_auth_2 tok_success"}, got)
}

// TestErasureBeforeTheBookingsPayment: the broker keeps no order between Triggers, so
// customer.erased may reach payments before the reservation.created of a booking made just
// before the erasure. Its card, not yet bound to anybody, must not be bound to the erased
// customer then (it was: the erasure had deleted only the cards bound by then) — nor while
// the erasure is in flight: the binding waits for it.
func TestErasureBeforeTheBookingsPayment(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	bound := func(card string) bool {
		var bound bool
		require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT customer_id IS NOT NULL FROM payments.payment_methods WHERE id = $1`, card).Scan(&bound))
		return bound
	}
	before := a.ops("authorize")

	card := a.method(payments.TokenSuccess)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.CustomerErased, events.CustomerErasure{CustomerID: devissuer.CustomerAlice, Version: 9}).status)
	res := a.booking(5000, card)
	require.Equal(t, http.StatusAccepted, a.deliver(uuid.NewString(), events.ReservationCreated, res).status)
	p := a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "invalid_payment_method", p.FailureReason)
	assert.False(t, bound(card), "not bound to the erased customer")

	// The erasure of bob in flight (its transaction holds his lock and has remembered him):
	// the payment of his booking waits for it, then refuses his card too.
	ctx := context.Background()
	erasing, err := a.db.Pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = erasing.Rollback(ctx) }()
	_, err = erasing.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('payments.customer'), hashtext($1::text))`, devissuer.CustomerBob)
	require.NoError(t, err)
	_, err = erasing.Exec(ctx, `INSERT INTO payments.erased_customers (customer_id) VALUES ($1)`, devissuer.CustomerBob)
	require.NoError(t, err)
	card = a.method(payments.TokenSuccess)
	res = a.booking(5000, card)
	res.CustomerID = devissuer.CustomerBob
	done := make(chan int, 1)
	go func() { done <- a.deliver(uuid.NewString(), events.ReservationCreated, res).status }()
	select {
	case status := <-done:
		t.Fatalf("the payment did not wait for the erasure in flight: %d", status)
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, erasing.Commit(ctx))
	select {
	case status := <-done:
		require.Equal(t, http.StatusAccepted, status)
	case <-time.After(10 * time.Second):
		t.Fatal("the payment never ended")
	}
	p = a.paymentOf(res.ReservationID)
	assert.Equal(t, payments.StatusFailed, p.Status)
	assert.Equal(t, "invalid_payment_method", p.FailureReason)
	assert.False(t, bound(card))
	assert.Equal(t, before, a.ops("authorize"), "neither card reached the provider")
}
