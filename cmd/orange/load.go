package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/orangecarrental/orange/internal/loadgen"
)

// load is `orange load`: an open-loop run of user journeys against a running system
// (internal/loadgen, docs/load.md). It fails (exit 1) only on a usage error or a target it
// cannot reach or read; what the target answers during the run is the report.
func load(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stdout)
	target := fs.String("url", "http://localhost:8080", "the system's public base URL: the gateway of `orange dev` or `orange up`, a cluster's ingress")
	profile := fs.String("profile", "constant", "constant (-rate for -duration), ramp (-from → -rate over -duration), day (the seed's 09:00–23:00 compressed by -compress; -rate: the 18:00 peak), blackfriday (a step to -rate, default 2000/s, over -duration)")
	rate := fs.Float64("rate", 0, "journeys per second: constant's rate (default 10), ramp's end (default 10), day's 18:00 peak (default the seed's 1000/min), blackfriday's peak (default 2000)")
	from := fs.Float64("from", 1, "ramp's start rate, journeys per second")
	duration := fs.Duration("duration", 0, "length of the run (default 30s; blackfriday 60s; day: 14 h ÷ -compress)")
	compress := fs.Float64("compress", 240, "day: how many times faster than real time (240: 14 h in 3.5 min)")
	mix := fs.String("mix", loadgen.DefaultMix, "journeys and their weights")
	workers := fs.Uint64("workers", 0, "at most this many journeys in flight (0: as many as the schedule needs; a cap's waits count in the latency)")
	timeout := fs.Duration("timeout", 10*time.Second, "a whole journey's limit")
	users := fs.String("users", "alice,bob", "development users the book and cancel journeys sign in as, in turn")
	tokenURL := fs.String("token-url", "", "token endpoint for -users (default: `orange dev`'s issuer at -url)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	svgOut := fs.String("svg", "", "also write the latency and rate chart as SVG to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // -h asked for the flags: not a failure
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	if u, err := url.Parse(*target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("load: -url %q is not an http(s) URL", *target)
	}
	m, err := loadgen.ParseMix(*mix, loadgen.Journeys)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if *rate < 0 || *from < 0 || *duration < 0 || *timeout <= 0 {
		return errors.New("load: -rate, -from and -duration must not be negative, -timeout must be above 0")
	}
	or := func(v, def float64) float64 {
		if v > 0 {
			return v
		}
		return def
	}
	dur := func(def time.Duration) time.Duration {
		if *duration > 0 {
			return *duration
		}
		return def
	}
	var p *loadgen.Profile
	switch *profile {
	case "constant":
		p, err = loadgen.Constant(or(*rate, 10), dur(30*time.Second))
	case "ramp":
		p, err = loadgen.Ramp(*from, or(*rate, 10), dur(30*time.Second))
	case "day":
		if *duration > 0 {
			return errors.New("load: -profile day is 14 h ÷ -compress long: set -compress, not -duration")
		}
		p, err = loadgen.Day(*compress, *rate)
	case "blackfriday":
		p, err = loadgen.BlackFriday(*rate, dur(60*time.Second))
	default:
		return fmt.Errorf("load: -profile %q: one of constant, ramp, day, blackfriday", *profile)
	}
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	var who []string
	for _, u := range strings.Split(*users, ",") {
		if u = strings.TrimSpace(u); u != "" {
			who = append(who, u)
		}
	}
	fmt.Fprintf(stdout, "orange load: %s, %d journeys, against %s\n", p.Name, p.Total(), *target)
	rep, err := loadgen.Run(ctx, loadgen.Config{URL: *target, Profile: p, Mix: m, Workers: *workers, Timeout: *timeout,
		Users: who, TokenURL: *tokenURL})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if err := rep.WriteText(stdout); err != nil {
		return err
	}
	write := func(path string, f func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		out, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := f(out); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if err := write(*jsonOut, rep.WriteJSON); err != nil {
		return fmt.Errorf("load: -json: %w", err)
	}
	return write(*svgOut, rep.WriteSVG)
}
