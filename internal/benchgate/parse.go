// Package benchgate reads the output of `go test -bench` (as `make bench` collects it) and
// judges it against the floors of design.md §8 and issue 19: each row a figure, its same-run
// baseline, their ratio and the target. A ratio beyond its floor fails the gate, and so does
// a gated benchmark that did not report, a package whose tests failed, or output with no
// benchmark at all: the gate never passes by not looking. Repeated runs of one benchmark
// (-count) are judged by their median. docs/benchmarks.md says what each row measures.
package benchgate

import (
	"bufio"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results are the metrics of one `make bench` run.
type Results struct {
	// values[pkg][bench][unit] are the reported values, one per run of the benchmark.
	values map[string]map[string]map[string][]float64
	// Packages are the packages that printed a "pkg:" header (module-relative paths).
	Packages []string
	// Failures are the lines that say a package or a benchmark failed.
	Failures []string
}

// Module is the import path the package paths of the output are made relative to.
const Module = "github.com/orangecarrental/orange"

var (
	// A result: the name, the iteration count, then value–unit pairs. The name may have
	// been printed on a line of its own before the benchmark's log lines (go test -v).
	resultLine = regexp.MustCompile(`^(Benchmark\S+)\s+(\d+)\s+(.+)$`)
	nameLine   = regexp.MustCompile(`^(Benchmark\S+)\s*$`)
	restLine   = regexp.MustCompile(`^\s*(\d+)\s+([-+0-9.eE]+\s+\S+.*)$`)
	procSuffix = regexp.MustCompile(`-\d+$`)
)

// Parse reads go test's benchmark output: the text format, or test2json's (-json), whose
// Output fields carry the same lines.
func Parse(r io.Reader) (*Results, error) {
	res := &Results{values: map[string]map[string]map[string][]float64{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var pkg, pending string
	var partial strings.Builder // a -json Output that ends without a newline
	handle := func(line string) {
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(line[5:]), Module), "/")
			if !slices.Contains(res.Packages, pkg) {
				res.Packages = append(res.Packages, pkg)
			}
			pending = ""
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "--- FAIL") || strings.HasPrefix(line, "panic: "):
			res.Failures = append(res.Failures, strings.TrimSpace(line))
		default:
			if m := resultLine.FindStringSubmatch(line); m != nil && res.add(pkg, m[1], m[3]) {
				pending = ""
			} else if m := nameLine.FindStringSubmatch(line); m != nil {
				pending = m[1]
			} else if m := restLine.FindStringSubmatch(line); m != nil && pending != "" && res.add(pkg, pending, m[2]) {
				pending = ""
			}
		}
	}
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "{") {
			var ev struct{ Action, Output string }
			if json.Unmarshal([]byte(line), &ev) == nil && ev.Action != "" {
				if ev.Action != "output" {
					continue
				}
				partial.WriteString(ev.Output)
				if !strings.HasSuffix(ev.Output, "\n") {
					continue
				}
				line = strings.TrimSuffix(partial.String(), "\n")
				partial.Reset()
			}
		}
		handle(line)
	}
	return res, sc.Err()
}

// add records the value–unit pairs of one result line; false when they are not pairs.
func (res *Results) add(pkg, name, pairs string) bool {
	f := strings.Fields(pairs)
	if len(f) < 2 || len(f)%2 != 0 {
		return false
	}
	vals := make([]float64, 0, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return false
		}
		vals = append(vals, v)
	}
	name = procSuffix.ReplaceAllString(name, "")
	if res.values[pkg] == nil {
		res.values[pkg] = map[string]map[string][]float64{}
	}
	if res.values[pkg][name] == nil {
		res.values[pkg][name] = map[string][]float64{}
	}
	for i, v := range vals {
		unit := f[2*i+1]
		res.values[pkg][name][unit] = append(res.values[pkg][name][unit], v)
	}
	return true
}

// Count is how many values were recorded in all.
func (res *Results) Count() int {
	n := 0
	for _, benches := range res.values {
		for _, units := range benches {
			for _, vs := range units {
				n += len(vs)
			}
		}
	}
	return n
}

// Lookup returns the median of what ref names and the number of runs it had; bench "" takes
// the first benchmark (by name) of the package that reported one of the units.
func (res *Results) Lookup(ref Ref) (median float64, runs int, ok bool) {
	benches := res.values[ref.Package]
	names := []string{ref.Bench}
	if ref.Bench == "" {
		names = names[:0]
		for name := range benches {
			names = append(names, name)
		}
		slices.Sort(names)
	}
	for _, unit := range strings.Split(ref.Unit, "|") {
		for _, name := range names {
			if vs := benches[name][unit]; len(vs) > 0 {
				return Median(vs), len(vs), true
			}
		}
	}
	return 0, 0, false
}

// Ran tells whether ref's benchmark reported anything (any benchmark of its package, for
// a ref without one).
func (res *Results) Ran(ref Ref) bool {
	if ref.Bench == "" {
		return len(res.values[ref.Package]) > 0
	}
	return len(res.values[ref.Package][ref.Bench]) > 0
}

// Median of xs (the mean of the middle two for an even count).
func Median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
