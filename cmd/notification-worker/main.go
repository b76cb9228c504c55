// Command notification-worker runs the notifier function alone: the binary ko builds for the
// notification-worker Knative Service. It receives CloudEvents from the Broker's Triggers and
// sends mail in the background (platform.Runner) beside its HTTP server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // mail shows times in Europe/Berlin; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/notifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, notifier.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "notification-worker:", err)
		stop()
		os.Exit(1)
	}
}
