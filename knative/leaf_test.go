package knative_test

import (
	"go/build"
	"io/fs"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/orangecarrental/orange/knative"
)

// TestPackageIsALeaf: the knative package imports only embed, so a service
// binary that reads the manifests (the in-process broker) pulls in neither
// Knative's nor kustomize's packages (design.md §3).
func TestPackageIsALeaf(t *testing.T) {
	t.Parallel()
	pkg, err := build.Default.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pkg.Imports, []string{"embed"}) {
		t.Errorf("package knative imports %q, want only \"embed\"", pkg.Imports)
	}
}

// TestManifestsEmbedBase: what the in-process broker
// reads is there, without kustomize, with its namespace set in the file.
func TestManifestsEmbedBase(t *testing.T) {
	t.Parallel()
	files, err := fs.Glob(knative.Manifests, "base/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("base/*.yaml in knative.Manifests: %v, %v", files, err)
	}
	for _, f := range files {
		b, err := fs.ReadFile(knative.Manifests, f)
		if err != nil {
			t.Fatal(err)
		}
		if f == "base/kustomization.yaml" {
			continue
		}
		for _, d := range splitDocs(b) {
			var m map[string]any
			if err := yaml.Unmarshal(d, &m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if m == nil || clusterScoped[str(m, "kind")] {
				continue
			}
			if ns := str(m, "metadata", "namespace"); ns != namespace {
				t.Errorf("%s: %s %s: metadata.namespace = %q, want %q (readers of base/ do not run kustomize)", f, str(m, "kind"), str(m, "metadata", "name"), ns, namespace)
			}
		}
	}
}
