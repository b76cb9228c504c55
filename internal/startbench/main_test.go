package startbench_test

import (
	"flag"
	"os"
	"testing"

	"github.com/orangecarrental/orange/platform/pgtest"
)

var pg *pgtest.Instance

// TestMain starts the test PostgreSQL only for the benchmark: the package has no tests, and
// `go test ./...` should not pay for a cluster it does not use.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		os.Exit(m.Run())
	}
	pgtest.Main(m, &pg)
}
