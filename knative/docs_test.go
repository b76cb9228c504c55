package knative_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update", false, "rewrite the generated scale table in docs/capacity.md from scaleTable")

const (
	tableBegin = "<!-- scale-table:begin (generated from knative/scale_table_test.go: go test ./knative -run TestCapacityDoc -update) -->"
	tableEnd   = "<!-- scale-table:end -->"
)

// scaleTableMarkdown renders scaleTable as the docs show it.
func scaleTableMarkdown(table []scaleRow) string {
	var b strings.Builder
	b.WriteString("| Knative Service | staging min | staging max | production min | production max | Friday peak min | source |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, r := range table {
		peak := "–"
		if r.PeakMin > 0 {
			peak = fmt.Sprint(r.PeakMin)
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s | %s |\n", r.Service, r.StagingMin, r.StagingMax, r.ProdMin, r.ProdMax, peak, r.Source)
	}
	return b.String()
}

// replaceTable swaps the text between the markers; ok is false when the
// markers are missing.
func replaceTable(doc []byte, table string) (out []byte, current string, ok bool) {
	i := bytes.Index(doc, []byte(tableBegin))
	j := bytes.Index(doc, []byte(tableEnd))
	if i < 0 || j < i {
		return nil, "", false
	}
	start := i + len(tableBegin) + 1 // the newline after the marker
	current = string(doc[start:j])
	out = append(append(append([]byte{}, doc[:start]...), table...), doc[j:]...)
	return out, current, true
}

func TestCapacityDocMatchesScaleTable(t *testing.T) {
	modDir, _ := moduleRoot(t)
	path := filepath.Join(modDir, "docs", "capacity.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := scaleTableMarkdown(scaleTable)
	out, current, ok := replaceTable(doc, want)
	if !ok {
		t.Fatalf("docs/capacity.md: scale table markers missing (%q … %q)", tableBegin, tableEnd)
	}
	if current == want {
		return
	}
	if *updateDocs {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("docs/capacity.md: scale table rewritten")
		return
	}
	t.Errorf("docs/capacity.md: scale table differs from scaleTable in knative/scale_table_test.go; run\n\tgo test ./knative -run TestCapacityDoc -update\ngot:\n%s\nwant:\n%s", current, want)
}
