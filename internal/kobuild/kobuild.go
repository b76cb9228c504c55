// Package kobuild builds this module's main packages the way ko.yaml builds the images
// (CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X main.version=…"), for the developer tools
// and benchmarks that run the shipped binaries as processes: `orange up`, the start-time
// benchmark, the capacity model. Built alike, they share the Go build cache with each other
// and with `make resolve-check`'s ko run: only the link step differs.
package kobuild

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles pkgs (paths such as ./cmd/locations-api, relative to root, the module's
// folder) into dir, each binary named after its package's last element, in one go command
// (it builds the packages in parallel). version is stamped as main.version (ko takes it from
// git).
func Build(ctx context.Context, root, dir, version string, pkgs ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-trimpath", "-ldflags=-s -w -X main.version=" + version,
		"-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

// ErrNoModule is ModuleRoot's answer outside the source tree.
var ErrNoModule = errors.New("no go.mod above the working directory")

// ModuleRoot is the folder of the go.mod above the working directory: where Build's package
// paths start.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", ErrNoModule
		}
		dir = parent
	}
}
