package main_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// TestPartnerDamageReport: in `orange dev`, the dev partner's damage report for an available
// car, sent with `orange emit -as partner/dev-garage` through the gateway's /api/events, is
// validated by sync-worker, published to the Broker and applied by vehicles-api: the car ends
// in maintenance. A report that breaks the schema is refused (400) and changes nothing, and
// a customer cannot send at all.
func TestPartnerDamageReport(t *testing.T) {
	bin := proctest.Build(t, ".")
	dev := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir())
	proctest.WaitReady(t, dev.Addr)
	const car = "f1ee0000-0000-4000-8000-000000000002" // seeded, available
	frank := devToken(t, dev.Addr, "frank")
	status := func() string {
		req, err := http.NewRequest(http.MethodGet, "http://"+dev.Addr+"/api/vehicles/"+car, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+frank)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var v struct{ Status string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
		return v.Status
	}
	require.Equal(t, "available", status())
	emit := func(data string) (string, error) {
		out, err := exec.Command(bin, "emit", "-as", "partner/dev-garage", "-to", "http://"+dev.Addr+"/api/events",
			"-type", "com.orangecarrental.vehicle.damage_reported.v1", "-source", "urn:garage:test", "-subject", car, "-data", data).CombinedOutput()
		return string(out), err
	}
	out, err := emit(`{"vehicleId":"` + car + `","reportedAt":"2026-12-03T09:00:00Z","severity":"scratch"}`)
	require.Error(t, err, out)
	assert.Contains(t, out, "400")
	time.Sleep(300 * time.Millisecond)
	assert.Equal(t, "available", status(), "a refused report changes nothing")

	out, err = emit(`{"vehicleId":"` + car + `","reportedAt":"` + time.Now().UTC().Format(time.RFC3339) + `","severity":"major","description":"rear bumper"}`)
	require.NoError(t, err, out)
	deadline := time.Now().Add(10 * time.Second)
	for status() != "maintenance" {
		require.True(t, time.Now().Before(deadline), "the car did not go to maintenance")
		time.Sleep(100 * time.Millisecond)
	}

	req, err := http.NewRequest(http.MethodPost, "http://"+dev.Addr+"/api/events", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+devToken(t, dev.Addr, "alice"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a customer is no partner")
	stop(t, dev)
}
