// Command public-portal runs the public portal alone: the binary ko builds for the
// public-portal Knative Service. It serves the renters' pages at the site's root and calls
// the other functions' APIs as the signed-in user, or anonymously for guests.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // pickup and return times on each branch's own clock; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/publicportal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, publicportal.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "public-portal:", err)
		stop()
		os.Exit(1)
	}
}
