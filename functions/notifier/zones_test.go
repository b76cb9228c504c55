package notifier_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/functions/locations/locationsapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// TestMailShowsTimesOnTheBranchesClocks: a pickup and a return are shown on each branch's own
// clock, as locations-api gives its time zone — not on Berlin's for every branch. A branch
// in New York: 2027-01-11 15:00 UTC is 10:00 there (UTC−5 in January) and 16:00 in Berlin.
// locations-api unreachable retries the delivery rather than mailing a wrong time.
func TestMailShowsTimesOnTheBranchesClocks(t *testing.T) {
	t.Parallel()
	w := newWorker(t, nil)
	openLocations, _ := withNewYorkBranch(t, w)

	c := customer("en")
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	res := reservation(c.CustomerID)
	res.PickupLocation, res.PickupAt = "NYC-JFK", "2027-01-11T15:00:00.250Z"
	res.ReturnLocation, res.ReturnAt = "BER-HBF", "2027-01-14T15:00:00Z"

	// locations-api not there (yet): retried, nothing mailed.
	r := w.deliver(event(t, events.ReservationConfirmed, res.ReservationID, res))
	assert.GreaterOrEqual(t, r.status, 500, "retried (5xx): the mail waits for the branch's time zone")
	assert.Empty(t, confirmations(w))

	openLocations()
	r = w.deliver(event(t, events.ReservationConfirmed, res.ReservationID, res))
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	mails := confirmations(w)
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Body, "NYC-JFK, 11 Jan 2027, 10:00", "New York's clock")
	assert.Contains(t, mails[0].Body, "BER-HBF, 14 Jan 2027, 16:00", "Berlin's clock")
}

// withNewYorkBranch gives w's branch cache a locations-api (a real one, on its own database)
// that knows BER-HBF and a branch in New York, NYC-JFK. The function is not reachable until
// the returned open is called: a test sees the worker wait for it first. client reaches it.
func withNewYorkBranch(t *testing.T, w *worker) (open func(), client *locationsapi.Client) {
	t.Helper()
	db := pg.NewDB(t, locations.Migrations)
	_, err := db.Pool.Exec(context.Background(), `INSERT INTO locations.locations (code, name, street, postal_code, city, country, time_zone, opening_hours, status)
		VALUES ('NYC-JFK', 'New York JFK', 'JFK Airport 1', '11430', 'New York', 'US', 'America/New_York', '[]'::jsonb, 'active')`)
	require.NoError(t, err)
	branches, err := locations.New(context.Background(), locations.Config{}, platform.Deps{DB: db})
	require.NoError(t, err)
	tr := platform.NewTransport(nil, nil)
	client = locationsapi.NewClient(&http.Client{Transport: tr})
	w.svc.SetBranches(client)
	return func() {
		tr.Mount(locations.ServiceName, platform.Handler(branches, authtest.New(t).Authenticator(locations.ServiceName)))
	}, client
}
