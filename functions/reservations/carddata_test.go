package reservations_test

import (
	"context"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/platform"
)

// TestBookingsRefuseCardData is issue 11's "card data travels": a booking carried a raw card
// number as paymentToken, which reservations stored and copied into reservation.created
// (kept in the outbox, printed by the dead-letter log). Now a booking names a payment method
// (pm_…) of payments-api and nothing else: the old field is refused with a 400 that says
// where cards go, a card number or provider token in paymentMethodId is refused too — for
// customers and guests alike — and none of it is stored, recorded or answered back.
func TestBookingsRefuseCardData(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	p, ret := period(3, 48)
	const card = "4242424242424242"
	withToken := func(body string) string {
		return strings.Replace(body, `"paymentMethodId":"`+paymentMethod+`"`, `"paymentToken":"`+card+`"`, 1)
	}
	tests := []struct {
		name, user, path, body, field string
	}{
		{"the old paymentToken field", "alice", "/api/reservations", withToken(bookingBody(vehicle1, p, ret, "")), "paymentToken"},
		{"the old field next to a payment method", "alice", "/api/reservations", bookingBody(vehicle1, p, ret, `,"paymentToken":"`+card+`"`), "paymentToken"},
		{"a card number for the payment method", "alice", "/api/reservations", strings.Replace(bookingBody(vehicle1, p, ret, ""), paymentMethod, card, 1), "paymentMethodId"},
		{"a guest's paymentToken", "", "/api/reservations/guest", withToken(guestBody(p, ret, "gina@example.com", "1990-01-01", "2010-01-01", "2040-01-01")), "paymentToken"},
		{"a guest's card number for the payment method", "", "/api/reservations/guest",
			strings.Replace(guestBody(p, ret, "gina@example.com", "1990-01-01", "2010-01-01", "2040-01-01"), paymentMethod, card, 1), "paymentMethodId"},
	}
	before, customers := a.snapshot(), a.customerRows()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Contains(t, tt.body, card)
			r := a.do(tt.user, http.MethodPost, tt.path, tt.body)
			require.Equal(t, http.StatusBadRequest, r.status, r.String())
			prob := decode[platform.Problem](t, r)
			require.NotEmpty(t, prob.Errors, r.String())
			assert.Equal(t, tt.field, prob.Errors[0].Field)
			assert.Contains(t, prob.Errors[0].Reason, "/api/payments/methods", "the refusal says where cards go")
			assert.NotContains(t, string(r.body), card)
		})
	}
	assert.Equal(t, before, a.snapshot(), "a refused booking was stored")
	assert.Equal(t, customers, a.customerRows(), "a refused guest was registered")
	var hits int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM reservations.reservations r WHERE strpos(r::text, $1) > 0) +
		(SELECT count(*) FROM reservations.outbox o WHERE strpos(o::text, $1) > 0)`, card).Scan(&hits))
	assert.Zero(t, hits)
}

// TestMigrationDropsStoredCardData: a database that took bookings before payment methods
// holds their paymentToken — raw card numbers among them — in reservations and in the
// reservation.created events of the outbox. Migrating drops both copies and keeps the
// bookings and events.
func TestMigrationDropsStoredCardData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	first, err := fs.ReadFile(reservations.Migrations.FS, "migrations/0001_reservations.sql")
	require.NoError(t, err)
	before := reservations.Migrations
	before.FS = fstest.MapFS{"migrations/0001_reservations.sql": {Data: first}}
	db := pg.NewDB(t)
	_, err = db.Migrate(ctx, before)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO reservations.reservations (id, customer_id, vehicle_id, category, pickup_location,
		return_location, pickup_at, return_at, status, total_gross_cents, payment_token)
		VALUES ('7e5e0000-0000-4000-8000-0000000000c1', $1, $2, 'KOMPAKT', 'BER-HBF', 'BER-HBF', now() + interval '1 day',
			now() + interval '2 days', 'confirmed', 14277, '4242424242424242')`, alice, vehicle1)
	require.NoError(t, err)
	_, err = db.Pool.Exec(ctx, `INSERT INTO reservations.outbox (id, type, source, subject, time, data)
		VALUES (gen_random_uuid(), 'com.orangecarrental.reservation.created.v1', 'reservations-api', '7e5e0000-0000-4000-8000-0000000000c1',
			now(), '{"reservationId":"7e5e0000-0000-4000-8000-0000000000c1","paymentToken":"4242424242424242","totalGrossCents":14277}')`)
	require.NoError(t, err)

	_, err = db.Migrate(ctx, reservations.Migrations)
	require.NoError(t, err)
	var rows, hits int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM reservations.reservations) + (SELECT count(*) FROM reservations.outbox WHERE data ? 'totalGrossCents'),
		(SELECT count(*) FROM reservations.reservations r WHERE strpos(r::text, '4242424242424242') > 0) +
		(SELECT count(*) FROM reservations.outbox o WHERE strpos(o::text, '4242424242424242') > 0)`).Scan(&rows, &hits))
	assert.Equal(t, 2, rows, "the booking and its event stay")
	assert.Zero(t, hits, "a card number survived the migration")
}
