// Package kobuild builds this module's main packages the way ko.yaml builds the images
// (CGO_ENABLED=0, -trimpath, -ldflags "-s -w -X main.version=…"), for the developer tools
// and benchmarks that run the shipped binaries as processes: `orange up`, the start-time
// benchmark, the capacity model. Built alike, they share the Go build cache with each other
// and with `make resolve-check`'s ko run: only the link step differs.
package kobuild

import (
	"context"
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
