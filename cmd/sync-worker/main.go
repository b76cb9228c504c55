// Command sync-worker runs the syncworker function alone: the binary ko builds for the
// sync-worker Knative Service. It queues the subscribed events its Triggers deliver and
// sends them to partners as signed webhooks in the background, takes partners' CloudEvents
// at /api/events, and relays them from its outbox to the Broker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/syncworker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, syncworker.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "sync-worker:", err)
		stop()
		os.Exit(1)
	}
}
