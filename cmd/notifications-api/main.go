// Command notifications-api runs the web process type of the notifier function alone: the
// binary ko builds for the notifications-api Knative Service. It serves the notification
// history, sends, resends, previews and channel preferences over the notifier schema; the
// sending itself is notification-worker's.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // previews show times in Europe/Berlin; the distroless base has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/functions/notifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := host.Standalone(ctx, notifier.APIFunction(), host.Env{Lookuper: envconfig.OsLookuper(), Stdout: os.Stdout}); err != nil {
		fmt.Fprintln(os.Stderr, "notifications-api:", err)
		stop()
		os.Exit(1)
	}
}
