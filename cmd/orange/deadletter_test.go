package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/proctest"
)

// TestADeadLetterIsReplayedAfterTheFix is issue 14's acceptance in a real `orange dev`: a
// reservation.confirmed naming a car vehicles-api does not know yet is refused (400) and
// dead-lettered to the dead-letter function, which an admin finds in GET /api/dead-letters;
// once the car exists, a replay — the original event, through dead-letter's outbox and the
// Broker — books the car in fleet's read model, and the letter stays a replayed one (no new
// failure). The other consumer of the type (the notifier) had it already: its inbox dedupes.
func TestADeadLetterIsReplayedAfterTheFix(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	dbURL := pg.NewDatabaseURL(t)
	dev := startFlowDev(t, bin, dbURL, t.TempDir())
	db := openFlowDB(t, dbURL)
	base := "http://" + dev.Addr
	admin := devToken(t, dev.Addr, "ada")
	ctx := context.Background()

	car, reservation := uuid.NewString(), uuid.NewString()
	pickup := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Hour)
	data, err := json.Marshal(events.Reservation{ReservationID: reservation, Version: 2, CustomerID: devissuer.CustomerAlice,
		VehicleID: car, Category: "KOMPAKT", PickupLocation: "BER-HBF", ReturnLocation: "BER-HBF",
		PickupAt: pickup.Format(time.RFC3339), ReturnAt: pickup.Add(48 * time.Hour).Format(time.RFC3339),
		Status: "confirmed", TotalGross: 9998, Currency: "EUR"})
	require.NoError(t, err)
	eventID := uuid.NewString()
	req, err := http.NewRequest(http.MethodPost, base+"/broker/orange/default", strings.NewReader(string(data)))
	require.NoError(t, err)
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": eventID, "Ce-Source": "reservations-api",
		"Ce-Type": events.ReservationConfirmed, "Ce-Subject": reservation, "Content-Type": "application/json",
		"Authorization": "Bearer " + clusterToken(t, dev.Addr, "reservations-api", auth.BrokerAudience("orange", "default"))} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	type letter struct {
		ID, Trigger, Status string
		Failures            int
		Event               struct{ ID, Source, Type string }
		Error               struct{ Code int }
	}
	var list struct {
		Items []letter
		Total int
	}
	query := "/api/dead-letters?type=" + events.ReservationConfirmed + "&trigger=vehicles-api-reservation-confirmed"
	require.Eventually(t, func() bool {
		return call(t, http.MethodGet, base+query, admin, "", &list) == http.StatusOK && list.Total == 1
	}, 10*time.Second, 100*time.Millisecond, "the refused event is not in GET /api/dead-letters")
	l := list.Items[0]
	assert.Equal(t, eventID, l.Event.ID)
	assert.Equal(t, "reservations-api", l.Event.Source)
	assert.Equal(t, http.StatusBadRequest, l.Error.Code)
	assert.Equal(t, "stored", l.Status)
	assert.Equal(t, http.StatusForbidden, call(t, http.MethodGet, base+"/api/dead-letters", devToken(t, dev.Addr, "carla"), "", nil), "admins only")

	// The fix: the car exists now (a copy of a demo car under the event's id).
	_, err = db.Pool.Exec(ctx, `INSERT INTO fleet.vehicles SELECT * FROM json_populate_record(NULL::fleet.vehicles,
		(SELECT (to_jsonb(v) || jsonb_build_object('id', $1::text, 'licence_plate', 'B-DL 4711'))::json FROM fleet.vehicles v
		 WHERE id = 'f1ee0000-0000-4000-8000-000000000002'))`, car)
	require.NoError(t, err)

	var replayed letter
	require.Equal(t, http.StatusOK, call(t, http.MethodPost, base+"/api/dead-letters/"+l.ID+"/replay", admin, "", &replayed))
	assert.Equal(t, "replayed", replayed.Status)
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM fleet.bookings WHERE reservation_id = $1 AND vehicle_id = $2`,
			reservation, car).Scan(&n))
		return n == 1
	}, 10*time.Second, 100*time.Millisecond, "the replay did not book the car in fleet's read model")
	var seen int
	require.NoError(t, db.Pool.QueryRow(ctx, `SELECT count(*) FROM fleet.inbox WHERE id = $1 AND source = 'reservations-api'`, eventID).Scan(&seen))
	assert.Equal(t, 1, seen, "fleet processed the original event, by its own id and source")
	time.Sleep(500 * time.Millisecond) // a failed replay would come back as a dead letter within this
	require.Equal(t, http.StatusOK, call(t, http.MethodGet, base+"/api/dead-letters", admin, "", &list))
	require.Equal(t, 1, list.Total, fmt.Sprintf("%+v", list.Items))
	assert.Equal(t, "replayed", list.Items[0].Status)
	assert.Equal(t, 1, list.Items[0].Failures)
}
