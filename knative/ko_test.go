package knative_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// koRef is one ko:// image reference and where it was found.
type koRef struct {
	ImportPath string
	Object     object
	Field      string
}

// koRefs finds every ko:// image in the rendered objects.
func koRefs(r *rendered) []koRef {
	var out []koRef
	for _, o := range r.Objects {
		for _, c := range containersOf(o) {
			if img := str(c.M, "image"); strings.HasPrefix(img, koPrefix) {
				out = append(out, koRef{ImportPath: strings.TrimPrefix(img, koPrefix), Object: o, Field: fieldName(append(c.Path, "image")...)})
			}
		}
	}
	return out
}

// moduleRoot finds go.mod above the test's directory and returns its
// directory and module path.
func moduleRoot(t testing.TB) (dir, modulePath string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for dir = wd; ; dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			s := bufio.NewScanner(bytes.NewReader(b))
			for s.Scan() {
				if mp, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
					return dir, strings.Trim(strings.TrimSpace(mp), `"`)
				}
			}
			t.Fatalf("%s/go.mod has no module line", dir)
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no go.mod above %s", wd)
		}
	}
}

// mainPackage reports why dir is not a main package, or nil if it is. It
// reads the package clause of the non-test Go files (go/build), no `go list`.
func mainPackage(dir string) error {
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return errors.New("no Go package there")
	}
	pkg, err := build.Default.ImportDir(dir, 0)
	var noGo *build.NoGoError
	switch {
	case errors.As(err, &noGo):
		return errors.New("no Go package there")
	case err != nil:
		return err
	case pkg.Name != "main":
		return fmt.Errorf("package %s, not main", pkg.Name)
	}
	return nil
}

// checkKoPaths: every ko:// reference names a main package of this module.
func checkKoPaths(r *rendered, modDir, modPath string) []problem {
	var ps []problem
	for _, ref := range koRefs(r) {
		rel, ok := strings.CutPrefix(ref.ImportPath, modPath+"/")
		var err error
		if !ok {
			err = fmt.Errorf("not a package of module %s", modPath)
		} else {
			err = mainPackage(filepath.Join(modDir, filepath.FromSlash(rel)))
		}
		if err != nil {
			ps = append(ps, problem{File: r.fileOf(ref.Object.Kind, ref.Object.Name), Object: ref.Object.String(), Field: ref.Field,
				Msg: fmt.Sprintf(" = %q: %v", koPrefix+ref.ImportPath, err)})
		}
	}
	return ps
}

// koConfig is the part of ko.yaml the checks read.
type koConfig struct {
	DefaultBaseImage string `json:"defaultBaseImage"`
	Builds           []struct {
		ID      string   `json:"id"`
		Dir     string   `json:"dir"`
		Main    string   `json:"main"`
		Flags   []string `json:"flags"`
		Ldflags []string `json:"ldflags"`
	} `json:"builds"`
}

// checkKoConfig: the production base is pinned by digest, and every ko://
// path has a builds entry with the version ldflags (ko would otherwise build
// it silently without them).
func checkKoConfig(cfg koConfig, refs []koRef, modPath string) []problem {
	var ps []problem
	if !strings.Contains(cfg.DefaultBaseImage, "@sha256:") {
		ps = append(ps, problem{File: "ko.yaml", Field: "defaultBaseImage", Msg: fmt.Sprintf(" = %q, want a reference pinned by @sha256: digest", cfg.DefaultBaseImage)})
	}
	if strings.Contains(cfg.DefaultBaseImage, "offline.invalid") {
		ps = append(ps, problem{File: "ko.yaml", Field: "defaultBaseImage", Msg: ": the offline base is for make resolve only (KO_DEFAULTBASEIMAGE)"})
	}
	builds := map[string]int{}
	for i, b := range cfg.Builds {
		p := filepath.ToSlash(filepath.Join(modPath, b.Dir, b.Main))
		builds[p] = i
		ld := strings.Join(b.Ldflags, " ")
		for _, want := range []string{"-s", "-w", "-X main.version="} {
			if !strings.Contains(ld, want) {
				ps = append(ps, problem{File: "ko.yaml", Object: "build " + b.ID, Field: "ldflags", Msg: fmt.Sprintf(" lack %q", want)})
			}
		}
		if !strings.Contains(strings.Join(b.Flags, " "), "-trimpath") {
			ps = append(ps, problem{File: "ko.yaml", Object: "build " + b.ID, Field: "flags", Msg: ` lack "-trimpath" (flags replace ko's defaults)`})
		}
	}
	seen := map[string]bool{}
	for _, ref := range refs {
		if _, ok := builds[ref.ImportPath]; !ok && !seen[ref.ImportPath] {
			ps = append(ps, problem{File: "ko.yaml", Field: "builds", Msg: fmt.Sprintf(": no entry for %s (used by %s)", ref.ImportPath, ref.Object)})
		}
		seen[ref.ImportPath] = true
	}
	return ps
}

func TestKoPathsAreMainPackages(t *testing.T) {
	t.Parallel()
	modDir, modPath := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(modDir, "ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg koConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("ko.yaml: %v", err)
	}
	all := map[string]bool{}
	for _, r := range renderAll(t) {
		dir := r.Dir
		refs := koRefs(r)
		if len(refs) == 0 {
			t.Errorf("%s: no ko:// image at all", dir)
		}
		for _, ref := range refs {
			all[ref.ImportPath] = true
		}
		report(t, dir, checkKoPaths(r, modDir, modPath))
		report(t, dir, checkKoConfig(cfg, refs, modPath))
	}
	var paths []string
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	t.Logf("ko:// images: %s", strings.Join(paths, ", "))
}

func TestKoPathMutationsAreCaught(t *testing.T) {
	t.Parallel()
	// A synthetic module: cmd/good is main, pkg/lib is a library, cmd/gone is missing.
	mod := t.TempDir()
	for name, src := range map[string]string{
		"cmd/good/main.go": "package main\n\nfunc main() {}\n",
		"pkg/lib/lib.go":   "package lib\n",
	} {
		p := filepath.Join(mod, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const modPath = "example.com/m"
	tests := []struct {
		image, want string
	}{
		{"ko://example.com/m/cmd/good", ""},
		{"ko://example.com/m/pkg/lib", `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].image = "ko://example.com/m/pkg/lib": package lib, not main`},
		{"ko://example.com/m/cmd/gone", `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].image = "ko://example.com/m/cmd/gone": no Go package there`},
		{"ko://example.org/other/cmd/x", `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].image = "ko://example.org/other/cmd/x": not a package of module example.com/m`},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tr.editDoc("base/locations-api.yaml", "Service", "locations-api", func(m map[string]any) {
				list(m, "spec", "template", "spec", "containers")[0].(map[string]any)["image"] = tt.image
			})
			r, err := tr.render("base")
			if err != nil {
				t.Fatal(err)
			}
			var ps []problem
			for _, p := range checkKoPaths(r, mod, modPath) {
				if p.Object == "Service locations-api" {
					ps = append(ps, p)
				}
			}
			if tt.want == "" {
				report(t, "synthetic", ps)
				return
			}
			mustContain(t, ps, tt.want)
		})
	}
}

func TestKoConfigMutationsAreCaught(t *testing.T) {
	t.Parallel()
	var cfg koConfig
	cfg.DefaultBaseImage = "gcr.io/distroless/static-debian12:nonroot"
	refs := []koRef{{ImportPath: "example.com/m/cmd/new", Object: object{Kind: "Service", Name: "new-api"}}}
	ps := checkKoConfig(cfg, refs, "example.com/m")
	mustContain(t, ps, `ko.yaml: defaultBaseImage = "gcr.io/distroless/static-debian12:nonroot", want a reference pinned by @sha256: digest`)
	mustContain(t, ps, "ko.yaml: builds: no entry for example.com/m/cmd/new (used by Service new-api)")
}

// imageForbidden are the module prefixes no image may link (design.md §3): Knative's and
// Kubernetes' Go packages belong to tests and developer tools, never to a shipped binary.
var imageForbidden = []string{"knative.dev/", "k8s.io/", "sigs.k8s.io/"}

// TestImagesLinkNoKnative builds nothing: `go list` reads the imports of every ko.yaml build
// as ko builds it (its -tags, CGO_ENABLED=0, linux) and fails on a forbidden package.
func TestImagesLinkNoKnative(t *testing.T) {
	t.Parallel()
	modDir, _ := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(modDir, "ko.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg koConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("ko.yaml: %v", err)
	}
	byTags := map[string][]string{} // -tags value → mains built with it
	for _, bld := range cfg.Builds {
		tags := ""
		for _, f := range bld.Flags {
			if v, ok := strings.CutPrefix(f, "-tags="); ok {
				tags = v
			}
		}
		byTags[tags] = append(byTags[tags], bld.Main)
	}
	for tags, mains := range byTags {
		args := append([]string{"list", "-tags=" + tags, "-f", "{{.ImportPath}} {{join .Deps \" \"}}"}, mains...)
		cmd := exec.Command("go", args...)
		cmd.Dir = modDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %s: %v", strings.Join(args, " "), err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			var bad []string
			for _, dep := range fields[1:] {
				for _, prefix := range imageForbidden {
					if strings.HasPrefix(dep, prefix) {
						bad = append(bad, dep)
						break
					}
				}
			}
			if len(bad) > 0 {
				t.Errorf("%s (tags %q) links %d of Knative's and Kubernetes' packages, e.g. %s: they stay out of images (design.md §3)",
					fields[0], tags, len(bad), strings.Join(bad[:min(3, len(bad))], ", "))
			}
		}
	}
}
