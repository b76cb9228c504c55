package browser_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/orangecarrental/orange/internal/kobuild"
)

// axeVersion is the axe-core release the audit runs; the Makefile's AXE_VERSION fetches it.
const axeVersion = "4.11.0"

var (
	axeOnce   sync.Once
	axeSource string
	axeErr    error
)

// axeScript is axe-core's browser bundle from the cache `make axe-core` fills
// (ORANGE_AXE_JS names another file).
func axeScript(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		path := os.Getenv("ORANGE_AXE_JS")
		if path == "" {
			root, err := kobuild.ModuleRoot()
			if err != nil {
				axeErr = err
				return
			}
			path = filepath.Join(root, ".cache", "axe-core-"+axeVersion, "axe.min.js")
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			axeErr = fmt.Errorf("axe-core %s is not in the cache (%w): run `make axe-core` (make test does it first), "+
				"which fetches it from the npm registry", axeVersion, err)
			return
		}
		axeSource = string(raw)
	})
	if axeErr != nil {
		t.Fatal(axeErr)
	}
	return axeSource
}

// axeViolation is one rule a page breaks, as axe.run reports it.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	HelpURL string `json:"helpUrl"`
	Nodes   []struct {
		Target         []any  `json:"target"`
		FailureSummary string `json:"failureSummary"`
	} `json:"nodes"`
}

// axeRun is the audit: WCAG 2.1 A and AA and axe's best practices, on the whole document.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
	resultTypes: ['violations']}).then(r => JSON.stringify(r.violations))`

// violations injects axe-core into the page (through the DevTools protocol, which the
// page's CSP does not govern) and returns what it finds at the given impacts.
func (p *page) violations(impacts ...string) []axeViolation {
	p.t.Helper()
	if !p.evalBool(`typeof window.axe === 'object'`) {
		p.do("inject axe-core", chromedp.Evaluate[chromedp.Void](axeScript(p.t)))
	}
	raw := run(p, "run axe-core", chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	var all []axeViolation
	if err := json.Unmarshal([]byte(raw), &all); err != nil {
		p.fail("read axe-core's answer", err)
	}
	var out []axeViolation
	for _, v := range all {
		for _, i := range impacts {
			if v.Impact == i {
				out = append(out, v)
			}
		}
	}
	return out
}

// audit fails the test for every serious or critical accessibility violation of the page
// it shows now (name says which page), listing the elements and what to fix.
func (p *page) audit(name string) {
	p.t.Helper()
	vs := p.violations("serious", "critical")
	if len(vs) == 0 {
		return
	}
	p.t.Errorf("%s: accessibility: %s (%s) has %d serious or critical violation(s):\n%s", p.name, name, p.location(), len(vs), formatViolations(vs))
}

func formatViolations(vs []axeViolation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  [%s] %s: %s (%s)\n", v.Impact, v.ID, v.Help, v.HelpURL)
		for i, n := range v.Nodes {
			if i == 5 {
				fmt.Fprintf(&b, "      … and %d more\n", len(v.Nodes)-5)
				break
			}
			fmt.Fprintf(&b, "      %v: %s\n", n.Target, strings.ReplaceAll(n.FailureSummary, "\n", " "))
		}
	}
	return b.String()
}
