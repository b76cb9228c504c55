// Command orange is the operator CLI of Orange Car Rental:
//
//	orange dev              every function in one process behind one port (make run)
//	orange serve <service>  one function alone, as its Knative Service runs it
//	orange migrate          apply every function's migrations, then exit (the Knative Job)
//	orange emit -type T …   send a CloudEvent to the local broker or a URL
//	orange status           readiness, requests, backlogs, queues and dead letters of a running system
//	orange load             open-loop load of user journeys against a running system (docs/load.md)
//	orange up               every function as its own processes, scaled by Knative's KPA (docs/up.md)
//	orange version          print the build version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // opening hours and schedules use IANA zones; distroless has no zoneinfo

	"github.com/sethvargo/go-envconfig"

	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// version is set by the linker (ko.yaml, Makefile).
var version = "dev"

const usage = `usage: orange <command>

commands:
  dev               run every function in one process behind one port
  serve <service>   run one function alone (as its Knative Service does)
  migrate           apply every function's migrations and exit (needs DATABASE_URL)
  emit              send a CloudEvent (orange emit -h for the flags)
  status            readiness, backlogs, queues, dead letters (orange status -h)
  load              open-loop load of user journeys (orange load -h)
  up                every function as its own processes, autoscaled (orange up -h)
  version           print the version
`

// devUsage is `orange dev -h`: dev is configured by its environment, like every function.
const devUsage = `usage: orange dev

Runs every function in one process behind one port, with an in-process broker, a
development OIDC issuer and a private PostgreSQL. Settings are environment variables:

  PORT             the port (8080)
  ORANGE_LISTEN    the address to listen on (127.0.0.1; 0.0.0.0 exposes the demo
                   users' known passwords to the network)
  ORANGE_DATA_DIR  where the private PostgreSQL, the issuer's key, mail and SMS live (.data)
  ORANGE_DATABASE  the database created on the private cluster (orange)
  DATABASE_URL     a PostgreSQL of your own instead of the private one
  LOG_LEVEL        debug, info, warn or error (info)

Every function's own settings apply too (docs/deploy.md). Ctrl-C or SIGTERM drains and stops.
`

// serveUsage is `orange serve -h`; %s lists the functions.
const serveUsage = `usage: orange serve <service>

Runs one function alone, as its Knative Service does, configured by its environment
(docs/deploy.md). Services: %s
`

// serviceNames lists reg's services for a usage text.
func serviceNames(reg *platform.Registry) string {
	var names []string
	for _, fn := range reg.Functions() {
		names = append(names, fn.Service)
	}
	return strings.Join(names, ", ")
}

// isHelp tells whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "orange:", err)
		stop()
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return errors.New("no command")
	}
	env := host.Env{Lookuper: envconfig.OsLookuper(), Stdout: stdout}
	reg, err := all.Registry()
	if err != nil {
		return err
	}
	switch args[0] {
	case "dev":
		if len(args) > 1 {
			fmt.Fprint(stdout, devUsage)
			if isHelp(args[1]) {
				return nil
			}
			return fmt.Errorf("orange dev takes no arguments (its settings are environment variables), got %q", args[1:])
		}
		return host.Dev(ctx, reg, env)
	case "serve":
		if len(args) != 2 || isHelp(args[1]) {
			fmt.Fprintf(stdout, serveUsage, serviceNames(reg))
			if len(args) == 2 {
				return nil
			}
			return errors.New("usage: orange serve <service>")
		}
		fn, ok := reg.Lookup(args[1])
		if !ok {
			return fmt.Errorf("no function named %q", args[1])
		}
		return host.Standalone(ctx, fn, env)
	case "migrate":
		return migrate(ctx, reg, env)
	case "emit":
		return emit(ctx, args[1:], stdout)
	case "status":
		return status(ctx, args[1:], stdout)
	case "load":
		return load(ctx, args[1:], stdout)
	case "up":
		return upCmd(ctx, args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stdout, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// migrate applies every function's migrations against DATABASE_URL.
func migrate(ctx context.Context, reg *platform.Registry, env host.Env) error {
	var cfg database.Config
	if err := platform.LoadConfig(ctx, env.Lookuper, &cfg); err != nil {
		return err
	}
	if cfg.URL == "" {
		return errors.New("DATABASE_URL is required")
	}
	db, err := database.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, m := range reg.Migrations() {
		n, err := db.Migrate(ctx, m)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: %d migration(s) applied\n", m.Schema, n)
	}
	return nil
}
