package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// TestLoadAgainstDev is issue 18's `orange load` acceptance on `orange dev`: two seconds of
// the full mix at a low rate through the gateway — every journey runs (search, quote, book
// and pay as a signed-in customer, look up and cancel), none answers a 5xx — and the JSON
// and SVG it writes; before it, the usage errors.
func TestLoadAgainstDev(t *testing.T) {
	t.Parallel()
	bin := proctest.Build(t, ".")
	// Usage errors fail at once, with exit status 1 and what to change.
	for _, tc := range []struct{ args, want string }{
		{"-profile weekly", `-profile "weekly": one of constant, ramp, day, blackfriday`},
		{"-mix search=70,browse=30", `unknown journey "browse"`},
		{"-url localhost:8080", "is not an http(s) URL"},
		{"-profile day -duration 1m", "set -compress, not -duration"},
		{"-rate 0.01 -duration 1s", "less than one journey"},
	} {
		cmd := exec.Command(bin, append([]string{"load"}, strings.Fields(tc.args)...)...)
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "orange load %s: %s", tc.args, out)
		assert.Equal(t, 1, cmd.ProcessState.ExitCode(), tc.args)
		assert.Contains(t, string(out), tc.want, tc.args)
	}

	// The flows' 100 ms provider timeout is for their timeout card, which no journey uses: on
	// a loaded box a tokenization took longer and the gateway answered the journey 504.
	dev := startFlowDev(t, bin, pg.NewDatabaseURL(t), t.TempDir(), "PAYMENT_PROVIDER_TIMEOUT=5s")
	dir := t.TempDir()
	out, err := exec.Command(bin, "load", "-url", "http://"+dev.Addr, "-profile", "constant", "-rate", "10", "-duration", "2s",
		"-mix", "search=70,quote=15,book=10,cancel=5", "-json", filepath.Join(dir, "out.json"), "-svg", filepath.Join(dir, "out.svg")).CombinedOutput()
	require.NoError(t, err, "%s", out)
	t.Logf("%s", out)
	assert.Contains(t, string(out), "p99")

	raw, err := os.ReadFile(filepath.Join(dir, "out.json"))
	require.NoError(t, err)
	var rep struct {
		Sent     struct{ Count int }
		Journeys []struct {
			Journey  string
			Count    int
			OK       int
			Statuses map[string]int
		}
		Requests []struct {
			Journey, Step string
			Statuses      map[string]int
		}
	}
	require.NoError(t, json.Unmarshal(raw, &rep))
	assert.Equal(t, 20, rep.Sent.Count)
	ran := map[string]int{}
	for _, j := range rep.Journeys {
		ran[j.Journey] = j.OK
		for code := range j.Statuses {
			assert.False(t, strings.HasPrefix(code, "5") || code == "0", "journey %s: %v", j.Journey, j.Statuses)
		}
	}
	for _, j := range []string{"search", "quote", "book", "cancel"} {
		assert.Positive(t, ran[j], "journey %s never ended ok: %s", j, out)
	}
	steps := map[string]bool{}
	for _, r := range rep.Requests {
		steps[r.Journey+" "+r.Step] = true
		for code := range r.Statuses {
			assert.False(t, strings.HasPrefix(code, "5"), "%s %s: %v", r.Journey, r.Step, r.Statuses)
		}
	}
	for _, s := range []string{"book POST /api/payments/methods", "book POST /api/reservations", "book GET /api/reservations/{id}",
		"cancel GET /api/reservations/{id}", "cancel POST /api/reservations/{id}/cancel"} {
		assert.True(t, steps[s], "no request %s", s)
	}
	svg, err := os.ReadFile(filepath.Join(dir, "out.svg"))
	require.NoError(t, err)
	assert.Contains(t, string(svg), "<title")
}
