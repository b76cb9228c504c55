package up

import (
	"context"

	"github.com/orangecarrental/orange/internal/kobuild"
)

// Build compiles cmd/<service> of the module at root for every service into dir as ko
// builds the images (internal/kobuild), so `orange up` runs the binaries ko ships.
func Build(ctx context.Context, root, dir string, services []string) error {
	pkgs := make([]string, len(services))
	for i, s := range services {
		pkgs[i] = "./cmd/" + s
	}
	return kobuild.Build(ctx, root, dir, "up", pkgs...)
}
