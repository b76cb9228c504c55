// Command vehicles-api serves the fleet function alone: the binary ko builds for the
// vehicles-api Knative Service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // design §7: every binary carries zoneinfo; the distroless base has none

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, fleet.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "vehicles-api:", err)
		stop()
		os.Exit(1)
	}
}
