//go:build !image

// `orange up` links Knative's autoscaler and kustomize. The orange image (ko.yaml builds it
// with -tags image: the cluster's migrate Job) leaves it out — design.md §3: Knative's Go
// packages never go into a shipped binary; up_image.go stands in there.

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/orangecarrental/orange/internal/kobuild"
	"github.com/orangecarrental/orange/internal/up"
)

// upCmd runs `orange up`: every function of an overlay as its own processes, scaled by
// Knative's KPA (internal/up, docs/up.md).
func upCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("up", flag.ContinueOnError)
	fs.SetOutput(stdout)
	overlay := fs.String("overlay", "staging", "knative/overlays/<overlay> whose min/max-scale and targets apply")
	addr := fs.String("addr", "127.0.0.1:8080", "public port: gateway, portals, issuers, broker ingress, /metrics")
	bin := fs.String("bin", "", "folder of prebuilt cmd/<service> binaries (default: build them with ko's flags)")
	services := fs.String("services", "", "comma-separated Knative Services to run (default: all of the overlay)")
	data := fs.String("data", envOr("ORANGE_DATA_DIR", ".data"), "data folder: private PostgreSQL, keys, mail, logs (data/up/logs)")
	status := fs.Duration("status", 5*time.Second, "period of the status table (0: none)")
	window := fs.String("window", "", "stable window for every Service (autoscaling.knative.dev/window), e.g. 6s; default: the manifests'")
	var envs []string
	fs.Func("env", "NAME=VALUE for every replica, or service:NAME=VALUE for one Service's; repeatable; wins over the manifest and orange up's own values (e.g. -env api-gateway:RATE_LIMIT_RPS=100000)",
		func(v string) error { envs = append(envs, v); return nil })
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	cfg := up.Config{
		Overlay: *overlay, Addr: *addr, BinDir: *bin, DataDir: *data, StatusEvery: *status,
		DatabaseURL: os.Getenv("DATABASE_URL"), Stdout: stdout,
	}
	var err error
	if cfg.Env, cfg.ServiceEnv, err = up.ParseEnv(envs); err != nil {
		return err
	}
	if *services != "" {
		cfg.Services = strings.Split(*services, ",")
	}
	if *window != "" {
		cfg.Annotations = map[string]string{"autoscaling.knative.dev/window": *window}
	}
	if cfg.BinDir == "" {
		root, err := kobuild.ModuleRoot()
		if errors.Is(err, kobuild.ErrNoModule) {
			return errors.New("orange up builds the functions from the source tree: run it inside the module, or pass -bin")
		}
		if err != nil {
			return err
		}
		cfg.Root = root
	}
	return up.Run(ctx, cfg)
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}
