package knative_test

import (
	"fmt"
	"strings"
	"testing"
)

// problem is one finding: the file to edit, the object, the field, and what
// is wrong, e.g.
//
//	overlays/production/scale.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/min-scale] = "3", want "2"
type problem struct {
	File   string
	Object string
	Field  string
	Msg    string // starts with " = …" or ": …"
}

func (p problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	b.WriteString(": ")
	if p.Object != "" {
		b.WriteString(p.Object)
		b.WriteString(": ")
	}
	b.WriteString(p.Field)
	b.WriteString(p.Msg)
	return b.String()
}

func wantGot(got, want string) string {
	if got == "" {
		return fmt.Sprintf(" is not set, want %q", want)
	}
	return fmt.Sprintf(" = %q, want %q", got, want)
}

// report fails t with one line per problem.
func report(t testing.TB, what string, ps []problem) {
	t.Helper()
	for _, p := range ps {
		t.Errorf("%s: %s", what, p)
	}
}

// mustContain asserts that some problem's text equals (or, with a trailing
// "…", starts with) want; mutation tests use it to pin the message.
func mustContain(t testing.TB, ps []problem, want string) {
	t.Helper()
	prefix, isPrefix := strings.CutSuffix(want, "…")
	for _, p := range ps {
		s := p.String()
		if s == want || (isPrefix && strings.HasPrefix(s, prefix)) {
			return
		}
	}
	var got []string
	for _, p := range ps {
		got = append(got, "\t"+p.String())
	}
	t.Errorf("no problem %q; got %d:\n%s", want, len(ps), strings.Join(got, "\n"))
}
