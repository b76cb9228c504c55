package main_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/proctest"
)

// TestReportsThroughTheBroker: in `orange dev`, a vehicle event sent to the Broker reaches
// report-worker by its Trigger and counts in today's report; the monthly PingSource's ping
// freezes the month before it, and the report.frozen it announces (report-worker's outbox,
// its EventPolicy) reaches notification-worker, which mails the admin in REPORT_MAIL_TO.
func TestReportsThroughTheBroker(t *testing.T) {
	bin := proctest.Build(t, ".")
	dev := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir(),
		"REPORT_MAIL_TO=controlling@orangecarrental.com")
	proctest.WaitReady(t, dev.Addr)
	emit := func(args ...string) {
		out, err := exec.Command(bin, append([]string{"emit"}, args...)...).CombinedOutput()
		require.NoError(t, err, string(out))
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	frank := devToken(t, dev.Addr, "frank")
	get := func(path string, into any) int {
		req, err := http.NewRequest(http.MethodGet, "http://"+dev.Addr+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+frank)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(into)
		return resp.StatusCode
	}

	emit("-as", "vehicles-api", "-to", "http://"+dev.Addr+"/broker/orange/default", "-type", "com.orangecarrental.vehicle.created.v1", "-subject", "report-car",
		"-data", `{"vehicleId":"report-car","version":1,"category":"suv","locationCode":"RPT-1","status":"available","licensePlate":"B-RP 1"}`)
	require.Eventually(t, func() bool {
		var rep struct {
			Total struct{ AvailableCarDays int }
		}
		// Today in Berlin when asked: a test run across midnight finds the car on the new day.
		today := time.Now().In(berlin).Format("2006-01-02")
		return get("/api/reports?from="+today+"&to="+today+"&branch=RPT-1", &rep) == http.StatusOK && rep.Total.AvailableCarDays == 1
	}, 15*time.Second, 100*time.Millisecond, "the car counts today")

	// The ping freezes the month before its time. It is dated as the PingSource dates it, in
	// a month long past: the month is the same whenever the test runs, and orange dev's own
	// monthly ping (the 1st, 02:00 Berlin: the month before the clock's) never froze it first.
	const lastMonth = "2026-01"
	var none struct{}
	assert.Equal(t, http.StatusNotFound, get("/api/reports/monthly/"+lastMonth, &none))
	ping, err := http.NewRequest(http.MethodPost, "http://"+dev.Addr+"/dev/services/report-worker/cloudevents", strings.NewReader("{}"))
	require.NoError(t, err)
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": uuid.NewString(), "Ce-Type": events.Ping,
		"Ce-Source": "/apis/v1/namespaces/orange/pingsources/report-worker-monthly", "Content-Type": "application/json",
		"Ce-Time":       time.Date(2026, time.February, 1, 2, 0, 0, 0, berlin).Format(time.RFC3339),
		"Authorization": "Bearer " + clusterToken(t, dev.Addr, platform.PingSource("report-worker-monthly").ServiceAccount(), auth.ServiceAudience("orange", "report-worker"))} {
		ping.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(ping)
	require.NoError(t, err)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 300, "the ping")
	var frozen struct{ Month string }
	require.Equal(t, http.StatusOK, get("/api/reports/monthly/"+lastMonth, &frozen))
	assert.Equal(t, lastMonth, frozen.Month)

	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + dev.Addr + "/dev/mail")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var box struct {
			Items []struct{ To, Subject string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&box)
		for _, m := range box.Items {
			if strings.Contains(m.To, "controlling@orangecarrental.com") && strings.Contains(m.Subject, lastMonth) {
				return true
			}
		}
		return false
	}, 15*time.Second, 100*time.Millisecond, "the admin's mail of the frozen month")
	stop(t, dev)
}
