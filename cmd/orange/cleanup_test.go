package main_test

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// TestCleanupOnDemand: in `orange dev`, `orange emit` as the cleanup PingSource's identity,
// straight to cleanup-worker's receiver, runs the housekeeping once (a manual run an admin
// then finds in GET /api/cleanup/runs); the same ping as another PingSource, or through a
// foreign Host name, is refused.
func TestCleanupOnDemand(t *testing.T) {
	bin := proctest.Build(t, ".")
	dev := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir())
	proctest.WaitReady(t, dev.Addr)
	to := "http://" + dev.Addr + "/dev/services/cleanup-worker/cloudevents"
	emit := func(as string) (string, error) {
		out, err := exec.Command(bin, "emit", "-as", as, "-type", "dev.knative.sources.ping", "-to", to).CombinedOutput()
		return string(out), err
	}
	// The way in is this machine's only: a page of another site whose name points at
	// 127.0.0.1 is refused before any token is looked at.
	rebound, err := http.NewRequest(http.MethodPost, to, strings.NewReader("{}"))
	require.NoError(t, err)
	rebound.Host = "rebind.attacker.example"
	resp, err := http.DefaultClient.Do(rebound)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a foreign Host")

	out, err := emit("pingsource/reservations-sweep")
	require.Error(t, err, "another PingSource's ping: %s", out)
	assert.Contains(t, out, "403")
	out, err = emit("pingsource/cleanup-nightly")
	require.NoError(t, err, out)

	runs := func(user string) (int, []struct{ Trigger, Status string }) {
		req, err := http.NewRequest(http.MethodGet, "http://"+dev.Addr+"/api/cleanup/runs", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+devToken(t, dev.Addr, user))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var list struct {
			Items []struct{ Trigger, Status string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		return resp.StatusCode, list.Items
	}
	status, items := runs("ada")
	require.Equal(t, http.StatusOK, status)
	// orange dev's own nightly PingSource fires at 03:30 Berlin time: a test running then
	// finds its run beside the manual one.
	manual := slices.DeleteFunc(slices.Clone(items), func(r struct{ Trigger, Status string }) bool { return r.Trigger == "ping" })
	require.Len(t, manual, 1, "%v", items)
	assert.Equal(t, "manual", manual[0].Trigger)
	assert.Equal(t, "succeeded", manual[0].Status)
	status, _ = runs("carla")
	assert.Equal(t, http.StatusForbidden, status)
	stop(t, dev)
}
