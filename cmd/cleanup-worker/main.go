// Command cleanup-worker runs the cleanup function alone: the binary ko builds for the
// cleanup-worker Knative Service. Its PingSource wakes it every night (scale 0 → 1 → 0);
// each ping runs the housekeeping inside the request (docs/cleanup.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // a nightly run belongs to its Europe/Berlin date; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/cleanup"
	"github.com/orangecarrental/orange/functions/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, cleanup.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "cleanup-worker:", err)
		stop()
		os.Exit(1)
	}
}
