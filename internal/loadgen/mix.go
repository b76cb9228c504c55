package loadgen

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultMix is issue 18's mix of journeys, in percent.
const DefaultMix = "search=70,quote=15,book=10,cancel=5"

// Journeys are the journeys a mix may name, in report order.
var Journeys = []string{"search", "quote", "book", "cancel"}

// Mix is a weighted choice of journeys. Next hands them out by smooth weighted round robin
// (nginx's): any window of hits follows the weights as closely as whole hits can, and a run
// is reproducible — a random choice would make a 2-second run's mix wobble.
type Mix struct {
	names   []string
	weights []int
	mu      sync.Mutex
	current []int
	total   int
}

// ParseMix reads "name=weight,…": each name one of known, each weight a whole number ≥ 0
// (they need not add up to 100), at least one weight above 0, no name twice.
func ParseMix(s string, known []string) (*Mix, error) {
	m := &Mix{}
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("-mix is empty: give name=weight pairs, e.g. %s", DefaultMix)
	}
	for _, part := range strings.Split(s, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("-mix: %q is not name=weight (e.g. %s)", part, DefaultMix)
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("-mix: unknown journey %q (known: %s)", name, strings.Join(known, ", "))
		}
		if slices.Contains(m.names, name) {
			return nil, fmt.Errorf("-mix: journey %q given twice", name)
		}
		weight, err := strconv.Atoi(strings.TrimSpace(w))
		if err != nil || weight < 0 {
			return nil, fmt.Errorf("-mix: the weight of %q must be a whole number ≥ 0, is %q", name, w)
		}
		m.names = append(m.names, name)
		m.weights = append(m.weights, weight)
		m.total += weight
	}
	if m.total == 0 {
		return nil, fmt.Errorf("-mix: every weight is 0: nothing to send")
	}
	m.current = make([]int, len(m.names))
	return m, nil
}

// Next is the next journey to send. Safe for concurrent use.
func (m *Mix) Next() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	best := -1
	for i, w := range m.weights {
		m.current[i] += w
		if best < 0 || m.current[i] > m.current[best] {
			best = i
		}
	}
	m.current[best] -= m.total
	return m.names[best]
}

// Share is the fraction of hits name gets (0 when it is not in the mix).
func (m *Mix) Share(name string) float64 {
	if i := slices.Index(m.names, name); i >= 0 {
		return float64(m.weights[i]) / float64(m.total)
	}
	return 0
}

// Names are the journeys of the mix with a weight above 0, in the order given.
func (m *Mix) Names() []string {
	var out []string
	for i, n := range m.names {
		if m.weights[i] > 0 {
			out = append(out, n)
		}
	}
	return out
}

// String is the mix as ParseMix reads it.
func (m *Mix) String() string {
	parts := make([]string, len(m.names))
	for i, n := range m.names {
		parts[i] = fmt.Sprintf("%s=%d", n, m.weights[i])
	}
	return strings.Join(parts, ",")
}
