package up

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildFlags are ko.yaml's build settings (env, flags, ldflags but the git-derived -X
// values), so `orange up` runs the binaries ko ships and shares the Go build cache with
// `make resolve-check`: the version stamps only change the link step.
var BuildFlags = []string{"-trimpath", "-ldflags=-s -w -X main.version=up"}

// Build compiles cmd/<service> of the module at root for every service into dir, with
// one go command (it builds the packages in parallel).
func Build(ctx context.Context, root, dir string, services []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, BuildFlags...)
	for _, s := range services {
		args = append(args, "./cmd/"+s)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}
