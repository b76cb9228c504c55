package reservationsapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/functions/reservations/reservationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// TestGuestLink runs the client against the real reservations-api: notification-worker
// gets a guest booking's link; an account's booking is a 404 *platform.CallError, another
// function's identity a 403 one.
func TestGuestLink(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	db := pg.NewDB(t, reservations.Migrations)
	svc, err := reservations.New(context.Background(), reservations.Config{LinkKey: "contract-link-key-0123456789abcdef0123"}, platform.Deps{DB: db})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	tr.Mount(reservationsapi.Service, platform.Handler(svc, id.Authenticator(reservationsapi.Service)))
	clientAs := func(service string) *reservationsapi.Client {
		var tokens oauth2.TokenSource
		if service != "" {
			tokens = id.ServiceTokens(service)
		}
		return reservationsapi.NewClient(platform.ForwardingClient(tr, tokens, 5*time.Second))
	}
	ctx := context.Background()
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	insert := func(guest bool) string {
		var rid string
		require.NoError(t, db.Pool.QueryRow(ctx, `INSERT INTO reservations.reservations (customer_id, vehicle_id, category,
			pickup_location, return_location, pickup_at, return_at, status, total_gross_cents, guest)
			VALUES (gen_random_uuid(), gen_random_uuid(), 'KOMPAKT', 'BER-HBF', 'BER-HBF', $1, $2, 'confirmed', 14276, $3) RETURNING id::text`,
			pickup, pickup.Add(48*time.Hour), guest).Scan(&rid))
		return rid
	}
	guest, account := insert(true), insert(false)

	l, err := clientAs("notification-worker").GuestLink(ctx, guest)
	require.NoError(t, err)
	assert.Equal(t, guest, l.ReservationID)
	assert.NotEmpty(t, l.Token)
	assert.Equal(t, pickup.Add(48*time.Hour+30*24*time.Hour).Unix(), l.ExpiresAt.Unix())

	for _, tt := range []struct {
		service, id string
		status      int
	}{
		{"notification-worker", account, http.StatusNotFound},
		{"vehicles-api", guest, http.StatusForbidden},
		{"", guest, http.StatusUnauthorized},
	} {
		_, err := clientAs(tt.service).GuestLink(ctx, tt.id)
		var ce *platform.CallError
		require.True(t, errors.As(err, &ce), "%s: %v", tt.service, err)
		assert.Equal(t, tt.status, ce.Status, tt.service)
	}
}

// TestHousekeeping runs the housekeeping calls against the real reservations-api as
// cleanup-worker: an archive batch moves a long-finished booking, a no-show sweep with
// nothing due marks nothing; another function's identity is a 403 *platform.CallError.
func TestHousekeeping(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	db := pg.NewDB(t, reservations.Migrations)
	svc, err := reservations.New(context.Background(), reservations.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	tr.Mount(reservationsapi.Service, platform.Handler(svc, id.Authenticator(reservationsapi.Service)))
	clientAs := func(service string) *reservationsapi.Client {
		return reservationsapi.NewClient(platform.ForwardingClient(tr, id.ServiceTokens(service), 5*time.Second))
	}
	ctx := context.Background()
	finished := time.Now().Add(-100 * 24 * time.Hour).UTC()
	_, err = db.Pool.Exec(ctx, `INSERT INTO reservations.reservations (customer_id, vehicle_id, category,
		pickup_location, return_location, pickup_at, return_at, status, total_gross_cents, completed_at)
		VALUES (gen_random_uuid(), gen_random_uuid(), 'KOMPAKT', 'BER-HBF', 'BER-HBF', $1, $2, 'completed', 14276, $2)`,
		finished.Add(-48*time.Hour), finished)
	require.NoError(t, err)

	cleanup := clientAs(reservationsapi.CleanupService)
	a, err := cleanup.Archive(ctx, reservationsapi.ArchiveRequest{FinishedBefore: time.Now().Add(-90 * 24 * time.Hour), Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, reservationsapi.Archived{Archived: 1}, a)
	n, err := cleanup.MarkNoShows(ctx, reservationsapi.NoShowsRequest{})
	require.NoError(t, err)
	assert.Equal(t, reservationsapi.NoShows{Grace: "3h0m0s"}, n)

	_, err = cleanup.Archive(ctx, reservationsapi.ArchiveRequest{})
	var ce *platform.CallError
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, http.StatusBadRequest, ce.Status)
	_, err = clientAs("vehicles-api").MarkNoShows(ctx, reservationsapi.NoShowsRequest{})
	require.True(t, errors.As(err, &ce), "%v", err)
	assert.Equal(t, http.StatusForbidden, ce.Status)
}
