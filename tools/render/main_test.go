package main

import (
	"io"
	"strings"
	"testing"
)

func TestRenderOverlays(t *testing.T) {
	t.Parallel()
	for _, overlay := range []string{"staging", "production"} {
		var out strings.Builder
		if err := run([]string{"../../knative/overlays/" + overlay}, &out); err != nil {
			t.Fatalf("%s: %v", overlay, err)
		}
		if !strings.Contains(out.String(), "image: ko://github.com/orangecarrental/orange/") {
			t.Errorf("%s: output has no ko:// image:\n%s", overlay, out.String())
		}
	}
	if err := run(nil, io.Discard); err == nil {
		t.Error("no arguments: want usage error")
	}
}
