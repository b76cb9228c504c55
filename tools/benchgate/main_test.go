package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun judges recorded runs (internal/benchgate/testdata) as `make bench` calls it: files
// read one after the other as one output, the table on w, pass or fail.
func TestRun(t *testing.T) {
	const data = "../../internal/benchgate/testdata/"
	tests := []struct {
		files  []string
		subset bool
		pass   bool
		want   string
	}{
		{[]string{data + "pass.txt"}, false, true, "bench gate: ok"},
		{[]string{data + "pass.txt", data + "buildfailed.txt"}, false, false, "failed: FAIL\tgithub.com/orangecarrental/orange/functions/all [build failed]"},
		{[]string{data + "locations-count2.txt"}, true, false, "GET by id, full stack"},
		{[]string{data + "locations-count2.txt"}, false, false, "missing"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		pass, err := run(&out, tt.subset, tt.files)
		require.NoError(t, err)
		assert.Equal(t, tt.pass, pass, out.String())
		assert.Contains(t, out.String(), tt.want)
	}
	_, err := run(&bytes.Buffer{}, false, []string{data + "no-such-file.txt"})
	assert.Error(t, err)
}
