// Command dead-letter runs the deadletter function alone: the binary ko builds for the
// dead-letter Knative Service, the Broker's dead-letter sink. It stores what the Triggers
// could not deliver, serves the admin API that replays it, and relays the replays from its
// outbox to the Broker.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/functions/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, deadletter.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "dead-letter:", err)
		stop()
		os.Exit(1)
	}
}
