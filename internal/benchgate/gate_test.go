package benchgate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/internal/benchgate"
)

// The samples in testdata are recorded `go test -bench` outputs: verbose.txt and json.txt
// (-v and -json of one package, logs between a name and its result), locations-count2.txt
// (-count 2 of functions/locations), buildfailed.txt (a package that did not compile), and
// pass.txt, a whole `make bench` run in those formats with every gated row within its floor.
func sample(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(raw)
}

func parse(t *testing.T, text string) *benchgate.Results {
	t.Helper()
	res, err := benchgate.Parse(strings.NewReader(text))
	require.NoError(t, err)
	return res
}

func TestParseFormats(t *testing.T) {
	tests := []struct {
		file string
		ref  benchgate.Ref
		want float64
		runs int
	}{
		{"verbose.txt", benchgate.Ref{"example.com/v", "BenchmarkX/a", "x/y"}, 1.5, 2},
		{"verbose.txt", benchgate.Ref{"example.com/v", "BenchmarkX/b", "ns/op"}, (581 + 862) / 2.0, 2},
		{"verbose.txt", benchgate.Ref{"example.com/v", "BenchmarkOnce", "ratio"}, 3, 2},
		{"json.txt", benchgate.Ref{"example.com/v", "BenchmarkX/a", "x/y"}, 1.5, 1},
		{"json.txt", benchgate.Ref{"example.com/v", "BenchmarkX/b", "ns/op"}, 1162, 1},
		{"json.txt", benchgate.Ref{"example.com/v", "BenchmarkOnce", "ratio"}, 3, 1},
		{"locations-count2.txt", benchgate.Ref{"functions/locations", "BenchmarkGetByCode/bare-select", "ns/op"}, (536369 + 458776) / 2.0, 2},
		// Any benchmark of the package, the first unit of the alternatives it reported.
		{"pass.txt", benchgate.Ref{"functions/all", "", "nothing|lag-p99-ms"}, 380, 1},
		{"pass.txt", benchgate.Ref{"functions/fleet", "BenchmarkSearchAtScale", "open-loop-req/s-at-p99≤20ms"}, 150, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file+" "+tt.ref.String(), func(t *testing.T) {
			got, runs, ok := parse(t, sample(t, tt.file)).Lookup(tt.ref)
			require.True(t, ok)
			assert.InDelta(t, tt.want, got, 1e-9)
			assert.Equal(t, tt.runs, runs)
		})
	}
}

// TestGate runs the floors over the recorded whole run and variations of it.
func TestGate(t *testing.T) {
	pass := sample(t, "pass.txt")
	drop := func(substr string) string {
		var kept []string
		for _, l := range strings.SplitAfter(pass, "\n") {
			if !strings.Contains(l, substr) {
				kept = append(kept, l)
			}
		}
		return strings.Join(kept, "")
	}
	tests := []struct {
		name   string
		text   string
		subset bool
		pass   bool
		// failing are the rows expected to fail, by a part of their name, with status.
		failing map[string]string
	}{
		{name: "every row within its floor", text: pass, pass: true},
		{name: "booking below 0.40", text: strings.Replace(pass, "0.4231 ratio", "0.3500 ratio", 1),
			failing: map[string]string{"booking / bare": "FAIL"}},
		{name: "the gateway's paired ratio decides, not the rates", text: strings.Replace(pass, "0.5400 gateway/bare", "0.4600 gateway/bare", 1),
			failing: map[string]string{"through the gateway": "FAIL"}},
		{name: "a function starts too slowly and uses too much memory",
			text:    strings.Replace(pass, "19.000 idle-RSS-MiB\t         8.500 ready-ms\t         7.500 serving-ms\t         3.400 start/bare", "31.000 idle-RSS-MiB\t         13.00 ready-ms\t         12.00 serving-ms\t         5.200 start/bare", 1),
			failing: map[string]string{"start public-portal": "FAIL", "idle RSS public-portal": "FAIL"}},
		{name: "the paired ratio decides, not the medians' ratio", // 8.5 / 1.5 would be 5.7
			text: strings.Replace(pass, "2.500 bare-ready-ms\t        19.000 idle-RSS-MiB", "1.500 bare-ready-ms\t        19.000 idle-RSS-MiB", 1),
			pass: true},
		{name: "a gated benchmark did not report", text: drop("BenchmarkConfirmationLag"),
			failing: map[string]string{"confirmed lag": "missing"}},
		{name: "a function did not start", text: drop("BenchmarkStartToReady/sync-worker"),
			failing: map[string]string{"start sync-worker": "missing", "idle RSS sync-worker": "missing"}},
		{name: "the baseline did not report", text: strings.ReplaceAll(pass, "bare-ready-ms", "other-ms"),
			failing: func() map[string]string {
				m := map[string]string{}
				for _, fn := range benchgate.Functions {
					m["start "+fn+":"] = "missing"
				}
				return m
			}()},
		{name: "no rate met the search target: p99 0 is no pass",
			text:    strings.Replace(pass, "150.0 open-loop-req/s-at-p99≤20ms\t        18.50 open-loop-p99-ms", "0 open-loop-req/s-at-p99≤20ms\t        0 open-loop-p99-ms", 1),
			failing: map[string]string{"highest open-loop rate": "FAIL"}},
		{name: "an info row may be missing", text: drop("BenchmarkGatewayGET"), // also takes the gated gateway row
			failing: map[string]string{"through the gateway": "missing"}},
		{name: "subset: packages that did not run are not judged", text: sample(t, "pass.txt")[:strings.Index(pass, "pkg: github.com/orangecarrental/orange/events/broker")],
			subset: true, pass: true},
		{name: "all selected: the same output misses rows", text: sample(t, "pass.txt")[:strings.Index(pass, "pkg: github.com/orangecarrental/orange/events/broker")],
			failing: map[string]string{"broker": "missing", "booking / bare": "missing", "overload at 4×": "missing",
				"through the gateway": "missing", "confirmed lag": "missing", "highest open-loop rate": "missing",
				"search: p99": "missing", "observability": "missing"}},
		{name: "subset: another line of the same package did not run", text: drop("BenchmarkGatewayGET"), subset: true,
			failing: map[string]string{}, pass: true},
		{name: "subset: a benchmark that ran but left out a metric is missing", subset: true,
			text:    strings.Replace(pass, "0.5400 gateway/bare", "0.5400 other/bare", 1),
			failing: map[string]string{"through the gateway": "missing"}},
		{name: "a package failed to build", text: pass + sample(t, "buildfailed.txt")},
		{name: "nothing reported", text: "PASS\n"},
		{name: "nothing reported, subset", text: "", subset: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := parse(t, tt.text)
			outcomes := benchgate.Evaluate(benchgate.Floors(), res, tt.subset)
			var out bytes.Buffer
			assert.Equal(t, tt.pass, benchgate.Report(&out, outcomes, res), out.String())
			for part, status := range tt.failing {
				i := slices.IndexFunc(outcomes, func(o benchgate.Outcome) bool { return strings.Contains(o.Name, part) })
				require.GreaterOrEqual(t, i, 0, part)
				assert.Equal(t, status, outcomes[i].Status, outcomes[i].Name)
			}
			for _, o := range outcomes {
				if !o.Failed() {
					continue
				}
				named := false
				for part := range tt.failing {
					named = named || strings.Contains(o.Name, part)
				}
				if tt.failing != nil {
					assert.True(t, named, "unexpected %s: %s (%s)", o.Status, o.Name, o.Note)
				}
			}
			if tt.pass {
				assert.Contains(t, out.String(), "bench gate: ok")
			} else {
				assert.Contains(t, out.String(), "bench gate: FAIL")
			}
		})
	}
}

// TestRepeatedRunsTakeTheMedian: -count 3 with one run disturbed by a neighbour passes on
// its median; the recorded -count 2 of locations is judged on the mean of its two runs.
func TestRepeatedRunsTakeTheMedian(t *testing.T) {
	floors := []benchgate.Row{benchgate.Floors()[0]} // GET by id, full stack / bare
	noisy := `pkg: github.com/orangecarrental/orange/functions/locations
BenchmarkGetByCode/bare-select-2         	    3000	    450000 ns/op
BenchmarkGetByCode/bare-select-2         	    3000	    470000 ns/op
BenchmarkGetByCode/bare-select-2         	    3000	    460000 ns/op
BenchmarkGetByCode/locations-api-2       	    3000	    800000 ns/op
BenchmarkGetByCode/locations-api-2       	    3000	   2900000 ns/op
BenchmarkGetByCode/locations-api-2       	    3000	    820000 ns/op
`
	o := benchgate.Evaluate(floors, parse(t, noisy), false)[0]
	assert.Equal(t, "ok", o.Status)
	assert.InDelta(t, 460000.0/820000, o.Value, 1e-9)
	assert.Equal(t, 3, o.Runs)

	o = benchgate.Evaluate(floors, parse(t, sample(t, "locations-count2.txt")), false)[0]
	assert.Equal(t, "FAIL", o.Status) // 0.469: the recorded run on a box at load 15
	assert.InDelta(t, ((536369+458776)/2.0)/((1371836+748220)/2.0), o.Value, 1e-9)
}

// TestFunctionsAreEveryCommand keeps the start and memory rows in step with cmd/: a new
// function gets its rows (and BenchmarkStartToReady starts it) or this fails.
func TestFunctionsAreEveryCommand(t *testing.T) {
	entries, err := os.ReadDir("../../cmd")
	require.NoError(t, err)
	var cmds []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "orange" { // the developer's CLI, no Knative Service
			cmds = append(cmds, e.Name())
		}
	}
	assert.ElementsMatch(t, cmds, benchgate.Functions)
}
