package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// openAroundTheClock opens every branch of the `orange dev` at baseURL (http://host:port)
// around the clock — 00:00 to 24:00 every day — through the public API as adminToken (a
// bearer of an admin or a fleet manager, e.g. devToken(t, addr, "ada")). The tests here
// book at whatever hour the clock shows, and reservations refuses a pickup or return outside
// a branch's opening hours in its time zone (docs/counter.md). Call it before the first
// booking: reservations keeps a branch it read for RESERVATION_BRANCH_TTL (30 s).
func openAroundTheClock(t *testing.T, baseURL, adminToken string) {
	t.Helper()
	call := func(method, path, ifMatch string, body []byte) (int, []byte) {
		req, err := http.NewRequest(method, baseURL+path, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, raw
	}
	status, raw := call(http.MethodGet, "/api/locations", "", nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var list struct{ Items []map[string]any }
	require.NoError(t, json.Unmarshal(raw, &list))
	hours := []map[string]string{}
	for _, day := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		hours = append(hours, map[string]string{"day": day, "opens": "00:00", "closes": "24:00"})
	}
	for _, l := range list.Items {
		code, _ := l["code"].(string)
		version, _ := l["version"].(float64)
		// PUT takes the details (no code, status, version or timestamps): the rest as read.
		details := map[string]any{"openingHours": hours}
		for _, k := range []string{"name", "address", "coordinates", "phone", "email", "timeZone"} {
			if v, ok := l[k]; ok {
				details[k] = v
			}
		}
		body, err := json.Marshal(details)
		require.NoError(t, err)
		status, raw := call(http.MethodPut, "/api/locations/"+code, strconv.Quote(strconv.Itoa(int(version))), body)
		require.Equal(t, http.StatusOK, status, "%s: %s", code, raw)
	}
}

// TestOpenAroundTheClock: the real `orange dev` refuses a pickup at 03:00 in Berlin at
// BER-HBF (open 07:00–21:00 in the seed); after openAroundTheClock the same booking passes
// the branch rules and is held. The branch cache is kept short here, so the change is seen
// at once.
func TestOpenAroundTheClock(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	dev := startLogged(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir(),
		"RESERVATION_BRANCH_TTL=1ms", "LOG_LEVEL=info")
	proctest.WaitReady(t, dev.addr)
	base := "http://" + dev.addr
	alice := devToken(t, dev.addr, "alice")
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	day := time.Now().In(berlin).AddDate(0, 0, 5)
	pickup := time.Date(day.Year(), day.Month(), day.Day(), 3, 0, 0, 0, berlin)
	body := fmt.Sprintf(`{"vehicleId":"f1ee0000-0000-4000-8000-000000000002","pickupLocation":"BER-HBF","pickupAt":%q,"returnAt":%q,"paymentMethodId":%q}`,
		pickup.Format(time.RFC3339), pickup.Add(48*time.Hour).Format(time.RFC3339), tokenize(t, dev.addr, alice, cardPays))
	require.Equal(t, http.StatusUnprocessableEntity, call(t, http.MethodPost, base+"/api/reservations", alice, body, nil))

	openAroundTheClock(t, base, devToken(t, dev.addr, "ada"))
	time.Sleep(10 * time.Millisecond) // past the branch cache's TTL
	var res struct{ Status string }
	require.Equal(t, http.StatusCreated, call(t, http.MethodPost, base+"/api/reservations", alice, body, &res))
	assert.Equal(t, "pending", res.Status)
}
