package reservations_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/reservations"
)

// TestDecidedAgainWhenTheBookingMovedMeanwhile: a cancel or a change reads the booking,
// asks pricing-api, and writes guarded by the version it read. When the booking moves on in
// between — its payment.authorized confirms it, a change lands — a request without
// If-Match asked for the booking as it is: it is decided again, not answered 409 "please
// retry" (which its Idempotency-Key then replayed to every retry). With If-Match the
// version is the client's: 412.
func TestDecidedAgainWhenTheBookingMovedMeanwhile(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	bump := func(id string) *func() {
		f := func() {
			_, err := a.db.Pool.Exec(context.Background(), `UPDATE reservations.reservations SET version = version + 1 WHERE id = $1`, id)
			require.NoError(t, err)
		}
		return &f
	}
	p, ret := period(5, 48)

	t.Run("a change while payment.authorized confirms the hold", func(t *testing.T) {
		res := a.book(vehicle1, p, ret)
		confirm := func() {
			require.Equal(t, http.StatusAccepted, a.event("auth-"+res.ID, events.PaymentAuthorized, payment(res.ID, "authorized")).status)
		}
		a.meanwhile.Store(&confirm)
		r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"insurance":"FULL"}`, "Idempotency-Key", "change-"+res.ID)
		require.Equal(t, http.StatusOK, r.status, r.String())
		got := decode[reservations.Reservation](t, r)
		assert.Equal(t, reservations.StatusConfirmed, got.Status)
		assert.Equal(t, 3, got.Version, "confirmed, then changed")
	})

	t.Run("a cancel while a change lands", func(t *testing.T) {
		res := a.book(vehicle2, p, ret)
		a.setStatus(res.ID, reservations.StatusConfirmed)
		a.meanwhile.Store(bump(res.ID))
		r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"plans changed"}`, "Idempotency-Key", "cancel-"+res.ID)
		require.Equal(t, http.StatusOK, r.status, r.String())
		assert.Equal(t, reservations.StatusCancelled, decode[reservations.Reservation](t, r).Status)
	})

	t.Run("with If-Match, the version moved is 412", func(t *testing.T) {
		res := a.book("f1ee0000-0000-4000-8000-000000000005", p, ret)
		a.setStatus(res.ID, reservations.StatusConfirmed)
		a.meanwhile.Store(bump(res.ID))
		r := a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/cancel", `{"reason":"plans changed"}`, "If-Match", `"1"`)
		assert.Equal(t, http.StatusPreconditionFailed, r.status, r.String())
		a.meanwhile.Store(bump(res.ID))
		r = a.do("alice", http.MethodPost, "/api/reservations/"+res.ID+"/change", `{"insurance":"FULL"}`, "If-Match", `"2"`)
		assert.Equal(t, http.StatusPreconditionFailed, r.status, r.String())
		assert.Equal(t, reservations.StatusConfirmed, a.status(res.ID))
	})
}
