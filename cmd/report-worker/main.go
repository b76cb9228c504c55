// Command report-worker runs the reports function alone: the binary ko builds for the
// report-worker Knative Service. Its Triggers feed the read model; its monthly PingSource
// freezes last month's report (it scales to zero between them; docs/reports.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // days and months are Europe/Berlin's; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/reports"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, reports.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "report-worker:", err)
		stop()
		os.Exit(1)
	}
}
