// Command call-center-portal runs the call-center portal alone: the binary ko builds for the
// call-center-portal Knative Service. It serves the staff's pages under /call-center/ and
// calls the other functions' APIs as the signed-in user.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the counter shows each branch's own clock; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/callcenter"
	"github.com/orangecarrental/orange/functions/host"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, callcenter.Function(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "call-center-portal:", err)
		stop()
		os.Exit(1)
	}
}
