// Command render prints one kustomize overlay of knative/ as YAML, using the
// same kustomize Go API (sigs.k8s.io/kustomize/api) as the manifest tests,
// so what `make resolve` and `make deploy` ship is exactly what the tests
// checked, and no kustomize binary has to be installed.
//
//	go run ./tools/render knative/overlays/production | ko resolve -f -
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: render <kustomization dir>")
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), args[0])
	if err != nil {
		return err
	}
	out, err := m.AsYaml()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
