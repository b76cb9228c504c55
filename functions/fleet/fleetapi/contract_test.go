package fleetapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/fleet/fleetapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// TestVehicle runs the client against the real vehicles-api (its Authenticator in front of
// its route table, over the demo fleet in a fresh database) as reservations-api calls it:
// the fields a booking relies on come back as the fleet stores them, and every non-2xx
// answer is one *platform.CallError carrying the fleet's problem. Reading a vehicle is
// public, so the refusal is an identity the function cannot verify: 401 before any route runs.
func TestVehicle(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	tr := platform.NewTransport(nil, nil)
	svc, err := fleet.New(context.Background(), fleet.Config{MaxCandidates: 200, PricingTimeout: time.Second},
		platform.Deps{DB: pg.NewDB(t, fleet.Migrations), Client: &http.Client{Transport: tr}, Transport: tr})
	require.NoError(t, err)
	tr.Mount(fleetapi.Service, platform.Handler(svc, id.Authenticator(fleetapi.Service)))
	clientWith := func(tokens oauth2.TokenSource) *fleetapi.Client {
		return fleetapi.NewClient(platform.ForwardingClient(tr, tokens, 5*time.Second))
	}
	client := clientWith(id.ServiceTokens("reservations-api"))
	taycanRate := int64(22999)
	tests := []struct {
		name       string
		client     *fleetapi.Client
		id         string
		want       fleetapi.Vehicle
		wantStatus int // of a *platform.CallError; 0 for a vehicle
	}{
		{name: "a compact car at BER-HBF", client: client, id: "f1ee0000-0000-4000-8000-000000000002",
			want: fleetapi.Vehicle{ID: "f1ee0000-0000-4000-8000-000000000002", Name: "VW Golf", Category: "KOMPAKT", LocationCode: "BER-HBF", Status: fleetapi.StatusAvailable}},
		{name: "a car with its own rate", client: client, id: "f1ee0000-0000-4000-8000-000000000009",
			want: fleetapi.Vehicle{ID: "f1ee0000-0000-4000-8000-000000000009", Name: "Porsche Taycan", Category: "LUXUS", LocationCode: "BER-HBF", Status: fleetapi.StatusAvailable, DailyRateNetCents: &taycanRate}},
		{name: "a car in the workshop", client: client, id: "f1ee0000-0000-4000-8000-000000000004",
			want: fleetapi.Vehicle{ID: "f1ee0000-0000-4000-8000-000000000004", Name: "Opel Astra", Category: "KOMPAKT", LocationCode: "BER-HBF", Status: fleetapi.StatusMaintenance}},
		{name: "no such car", client: client, id: "f1ee0000-0000-4000-8000-0000000000ff", wantStatus: http.StatusNotFound},
		{name: "not an id", client: client, id: "golf", wantStatus: http.StatusNotFound},
		{name: "anonymous: the route is public", client: clientWith(nil), id: "f1ee0000-0000-4000-8000-000000000002",
			want: fleetapi.Vehicle{ID: "f1ee0000-0000-4000-8000-000000000002", Name: "VW Golf", Category: "KOMPAKT", LocationCode: "BER-HBF", Status: fleetapi.StatusAvailable}},
		{name: "a forged identity", client: clientWith(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "forged"})), id: "f1ee0000-0000-4000-8000-000000000002", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := tt.client.Vehicle(context.Background(), tt.id)
			if tt.wantStatus != 0 {
				var e *platform.CallError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, fleetapi.Service, e.Service)
				assert.Equal(t, tt.wantStatus, e.Status)
				assert.Equal(t, tt.wantStatus, e.Problem.Status, "the problem document was decoded")
				assert.NotEmpty(t, e.Problem.Detail)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, v.Version)
			v.Version = 0
			assert.Equal(t, tt.want, v)
		})
	}
}

// TestTransportFailuresAreNotAnswers: an unreachable vehicles-api is the transport's error,
// never a *platform.CallError.
func TestTransportFailuresAreNotAnswers(t *testing.T) {
	t.Parallel()
	down := errors.New("connection reset")
	tr := platform.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down }), nil)
	_, err := fleetapi.NewClient(&http.Client{Transport: tr}).Vehicle(context.Background(), "f1ee0000-0000-4000-8000-000000000002")
	require.ErrorIs(t, err, down)
	var e *platform.CallError
	assert.False(t, errors.As(err, &e))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
