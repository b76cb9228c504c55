package locationsapi_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

func TestMain(m *testing.M) { pgtest.Main(m, &pg) }

// TestLocation runs the client against the real locations-api (its Authenticator in front
// of its route table, over the seeded branches in a fresh database) as reservations-api
// calls it: the fields a booking relies on come back as locations stores them, and every
// non-2xx answer is one *platform.CallError carrying the problem. Reading a branch is
// public, so the refusal is an identity the function cannot verify: 401.
func TestLocation(t *testing.T) {
	t.Parallel()
	id := authtest.New(t)
	db := pg.NewDB(t, locations.Migrations)
	_, err := db.Pool.Exec(context.Background(), `UPDATE locations.locations SET status = 'maintenance', time_zone = 'Europe/Lisbon' WHERE code = 'HAM-HBF'`)
	require.NoError(t, err)
	svc, err := locations.New(context.Background(), locations.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	tr.Mount(locationsapi.Service, platform.Handler(svc, id.Authenticator(locationsapi.Service)))
	clientWith := func(tokens oauth2.TokenSource) *locationsapi.Client {
		return locationsapi.NewClient(platform.ForwardingClient(tr, tokens, 5*time.Second))
	}
	client := clientWith(id.ServiceTokens("reservations-api"))
	weekday := []locationsapi.OpeningHours{
		{Day: "monday", Opens: "07:00", Closes: "21:00"}, {Day: "tuesday", Opens: "07:00", Closes: "21:00"},
		{Day: "wednesday", Opens: "07:00", Closes: "21:00"}, {Day: "thursday", Opens: "07:00", Closes: "21:00"},
		{Day: "friday", Opens: "07:00", Closes: "21:00"}, {Day: "saturday", Opens: "08:00", Closes: "20:00"},
		{Day: "sunday", Opens: "09:00", Closes: "18:00"},
	}
	tests := []struct {
		name       string
		client     *locationsapi.Client
		code       string
		want       locationsapi.Location
		wantStatus int // of a *platform.CallError; 0 for a branch
	}{
		{name: "Berlin", client: client, code: "BER-HBF", want: locationsapi.Location{Code: "BER-HBF", Name: "Berlin Hauptbahnhof",
			Status: locationsapi.StatusActive, TimeZone: "Europe/Berlin", OpeningHours: weekday}},
		{name: "a branch in maintenance, in another zone", client: client, code: "HAM-HBF", want: locationsapi.Location{Code: "HAM-HBF",
			Name: "Hamburg Hauptbahnhof", Status: locationsapi.StatusMaintenance, TimeZone: "Europe/Lisbon", OpeningHours: weekday}},
		{name: "a code in lower case", client: client, code: "ber-hbf", want: locationsapi.Location{Code: "BER-HBF", Name: "Berlin Hauptbahnhof",
			Status: locationsapi.StatusActive, TimeZone: "Europe/Berlin", OpeningHours: weekday}},
		{name: "no such branch", client: client, code: "XXX-NONE", wantStatus: http.StatusNotFound},
		{name: "not a code", client: client, code: "berlin", wantStatus: http.StatusNotFound},
		{name: "anonymous: the route is public", client: clientWith(nil), code: "BER-HBF", want: locationsapi.Location{Code: "BER-HBF",
			Name: "Berlin Hauptbahnhof", Status: locationsapi.StatusActive, TimeZone: "Europe/Berlin", OpeningHours: weekday}},
		{name: "a forged identity", client: clientWith(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "forged"})), code: "BER-HBF", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := tt.client.Location(context.Background(), tt.code)
			if tt.wantStatus != 0 {
				var e *platform.CallError
				require.ErrorAs(t, err, &e)
				assert.Equal(t, locationsapi.Service, e.Service)
				assert.Equal(t, tt.wantStatus, e.Status)
				assert.Equal(t, tt.wantStatus, e.Problem.Status, "the problem document was decoded")
				assert.NotEmpty(t, e.Problem.Detail)
				return
			}
			require.NoError(t, err)
			assert.Positive(t, l.Version)
			l.Version = 0
			assert.Equal(t, tt.want, l)
		})
	}
}

// TestTransportFailuresAreNotAnswers: an unreachable locations-api is the transport's error,
// never a *platform.CallError.
func TestTransportFailuresAreNotAnswers(t *testing.T) {
	t.Parallel()
	down := errors.New("connection reset")
	tr := platform.NewTransport(roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, down }), nil)
	_, err := locationsapi.NewClient(&http.Client{Transport: tr}).Location(context.Background(), "BER-HBF")
	require.ErrorIs(t, err, down)
	var e *platform.CallError
	assert.False(t, errors.As(err, &e))
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestOpenAt reads opening hours in the branch's own zone, to the nanosecond, with 24:00 as
// the end of the day. 2027-03-01 is a Monday.
func TestOpenAt(t *testing.T) {
	t.Parallel()
	ny := locationsapi.Location{Code: "JFK-T4", TimeZone: "America/New_York", OpeningHours: []locationsapi.OpeningHours{
		{Day: "monday", Opens: "08:00", Closes: "12:00"}, {Day: "monday", Opens: "13:00", Closes: "18:00"},
		{Day: "tuesday", Opens: "00:00", Closes: locationsapi.EndOfDay},
	}}
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		at   string
		want bool
	}{
		{"2027-03-01T08:00:00-05:00", true},
		{"2027-03-01T07:59:59.999999999-05:00", false},
		{"2027-03-01T13:00:00Z", true},                // 08:00 in New York
		{"2027-03-01T12:59:59Z", false},               // 07:59:59 in New York: Berlin's 13:59 would not matter
		{"2027-03-01T11:59:59.999-05:00", true},       // the lunch break starts at 12:00
		{"2027-03-01T12:00:00-05:00", false},          // closes is exclusive
		{"2027-03-01T12:30:00-05:00", false},          // lunch
		{"2027-03-01T17:59:59-05:00", true},           // the afternoon window
		{"2027-03-01T18:00:00-05:00", false},          // closed for the night
		{"2027-03-02T23:59:59.999999999-05:00", true}, // Tuesday to 24:00
		{"2027-03-02T00:00:00-05:00", true},
		{"2027-03-03T04:59:00Z", true},  // still Tuesday 23:59 in New York
		{"2027-03-03T05:00:00Z", false}, // Wednesday: closed
	}
	for _, tt := range tests {
		got, err := ny.OpenAt(at(tt.at))
		require.NoError(t, err)
		assert.Equal(t, tt.want, got, tt.at)
	}
	assert.Equal(t, "monday 08:00–12:00, 13:00–18:00", ny.HoursOn(at("2027-03-01T12:30:00-05:00")))
	assert.Equal(t, "wednesday closed", ny.HoursOn(at("2027-03-03T10:00:00-05:00")))
	_, err := locationsapi.Location{Code: "X", TimeZone: "Mars/Olympus"}.OpenAt(time.Now())
	assert.Error(t, err)
}
