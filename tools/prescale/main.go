// Command prescale sets autoscaling.knative.dev/min-scale on the revision
// template of named Knative Services. The production overlay runs it from
// CronJobs (Friday 08:00 up, Saturday 20:00 back down, Europe/Berlin) so
// capacity is there before the known weekly peak instead of being added
// while it hits (design.md §6, the seed's scheduled scaling).
//
//	prescale locations-api=4 vehicles-api=10
//
// It talks to the Kubernetes API with the pod's ServiceAccount token and only
// needs get and patch on those Services; it uses plain net/http so the image
// stays small and no client library decides what it is allowed to touch.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	if err := run(ctx, logger, os.Args[1:]); err != nil {
		logger.Error("prescale failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, logger *slog.Logger, args []string) error {
	targets, err := ParseTargets(args)
	if err != nil {
		return err
	}
	c, err := InCluster()
	if err != nil {
		return err
	}
	for _, t := range targets {
		before, err := c.MinScale(ctx, t.Service)
		if err != nil {
			return err
		}
		if err := c.SetMinScale(ctx, t.Service, t.MinScale); err != nil {
			return err
		}
		logger.Info("min-scale set", "namespace", c.Namespace, "service", t.Service, "from", before, "to", t.MinScale)
	}
	return nil
}

// Target is one Service and the min-scale it gets.
type Target struct {
	Service  string
	MinScale int
}

// ParseTargets reads "service=N" arguments.
func ParseTargets(args []string) ([]Target, error) {
	if len(args) == 0 {
		return nil, errors.New("usage: prescale service=min-scale [service=min-scale ...]")
	}
	out := make([]Target, 0, len(args))
	for _, a := range args {
		name, n, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("argument %q: want service=min-scale", a)
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 0 || strconv.Itoa(v) != n {
			return nil, fmt.Errorf("argument %q: min-scale must be a non-negative integer", a)
		}
		out = append(out, Target{Service: name, MinScale: v})
	}
	return out, nil
}
