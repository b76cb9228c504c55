// Command locations-api serves the locations function alone: the binary ko builds for the
// locations-api Knative Service.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // opening hours use IANA zones; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/locations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, locations.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "locations-api:", err)
		stop()
		os.Exit(1)
	}
}
