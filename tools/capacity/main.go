// Command capacity is the capacity model of issue 18 (docs/capacity.md):
//
//	capacity measure [-step 3s] [-cpu 1] [-only svc,svc]   one replica per function, pinned to one CPU:
//	                                                      the highest open-loop rate within its SLO
//	                                                      → docs/capacity/measured.json
//	capacity replay                                       the seed's day and Black Friday through
//	                                                      Knative's KPA with the production overlay
//	                                                      → docs/capacity/*.svg, docs/capacity.md
//
// Run it from the module root (make capacity, make capacity-replay). The measurement should
// itself run on the core the replica is not pinned to: `taskset -c 0 capacity measure -cpu 1`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/orangecarrental/orange/internal/capacity"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "capacity:", err)
		stop()
		os.Exit(1)
	}
}

// raiseOpenFiles lifts the soft open-files limit to the hard one: an open-loop generator past
// a replica's capacity holds a connection per request in flight.
func raiseOpenFiles() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: capacity measure|replay [flags]")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	out := fs.String("json", capacity.MeasuredPath, "measured.json to write (measure) or read (replay)")
	switch args[0] {
	case "measure":
		step := fs.Duration("step", 3*time.Second, "length of each constant-rate step")
		cpu := fs.Int("cpu", 1, "core the measured replica is pinned to")
		only := fs.String("only", "", "comma-separated Services to measure (default: all)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		raiseOpenFiles()
		cfg := capacity.MeasureConfig{Root: ".", StepSeconds: step.Seconds(), CPU: *cpu, Log: os.Stderr}
		if *only != "" {
			cfg.Only = strings.Split(*only, ",")
		}
		m, err := capacity.Measure(ctx, cfg)
		if err != nil {
			return err
		}
		if len(cfg.Only) > 0 {
			// Re-measuring some Services keeps the others' figures (and says so in Setup).
			if old, err := capacity.Load(*out); err == nil {
				m = old.Merge(m)
			}
		}
		return m.Save(*out)
	case "replay":
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return capacity.Regenerate(".", *out)
	default:
		return fmt.Errorf("unknown command %q: measure or replay", args[0])
	}
}
