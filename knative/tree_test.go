// Package knative_test checks the manifests in knative/ the way a cluster
// would see them: every overlay is rendered with kustomize's Go API from an
// in-memory copy of knative.Manifests, then held to Knative's own
// validation, the scale table, the event catalogue and the deployment rules
// of design.md. Every finding names the file and the field to change.
package knative_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
	"sigs.k8s.io/yaml"

	"github.com/orangecarrental/orange/knative"
)

// root is where the tree lives inside the in-memory file system.
const root = "/knative"

// tree is a private, mutable copy of the manifests: mutation tests edit it
// without touching the files on disk or other tests' copies.
type tree struct {
	t  testing.TB
	fs filesys.FileSystem
}

func newTree(t testing.TB) *tree {
	t.Helper()
	tr := &tree{t: t, fs: filesys.MakeFsInMemory()}
	if err := copyManifests(tr.fs); err != nil {
		t.Fatalf("copying knative.Manifests: %v", err)
	}
	return tr
}

func copyManifests(dst filesys.FileSystem) error {
	return fs.WalkDir(knative.Manifests, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(knative.Manifests, p)
		if err != nil {
			return err
		}
		return dst.WriteFile(path.Join(root, p), b)
	})
}

// pristine renders the unmodified tree once per test binary: base and every
// overlay, keyed by directory. Read-only tests share it; mutation tests build
// their own tree.
var pristine = sync.OnceValues(func() (map[string]*rendered, error) {
	tr := &tree{fs: filesys.MakeFsInMemory()} // render never reports through t
	if err := copyManifests(tr.fs); err != nil {
		return nil, err
	}
	dirs := []string{"base"}
	ents, err := fs.ReadDir(knative.Manifests, "overlays")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, "overlays/"+e.Name())
		}
	}
	out := map[string]*rendered{}
	for _, d := range dirs {
		r, err := tr.render(d)
		if err != nil {
			return nil, err
		}
		out[d] = r
	}
	return out, nil
})

// renderAll returns the pristine renders of base and every overlay, base first.
func renderAll(t testing.TB) []*rendered {
	t.Helper()
	m, err := pristine()
	if err != nil {
		t.Fatal(err)
	}
	out := []*rendered{m["base"]}
	for _, d := range overlays(t) {
		out = append(out, m[d])
	}
	return out
}

// overlays lists the directories under overlays/ (each is rendered and
// checked; adding an environment needs no test change).
func overlays(t testing.TB) []string {
	t.Helper()
	ents, err := fs.ReadDir(knative.Manifests, "overlays")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, "overlays/"+e.Name())
		}
	}
	if len(out) == 0 {
		t.Fatal("no overlays under knative/overlays")
	}
	return out
}

func (tr *tree) read(rel string) []byte {
	tr.t.Helper()
	b, err := tr.fs.ReadFile(path.Join(root, rel))
	if err != nil {
		tr.t.Fatalf("reading %s: %v", rel, err)
	}
	return b
}

func (tr *tree) write(rel string, b []byte) {
	tr.t.Helper()
	if err := tr.fs.WriteFile(path.Join(root, rel), b); err != nil {
		tr.t.Fatalf("writing %s: %v", rel, err)
	}
}

// addResource writes a new file into dir and lists it in dir's kustomization.
func (tr *tree) addResource(dir, name, content string) {
	tr.t.Helper()
	tr.write(path.Join(dir, name), []byte(content))
	tr.editKustomization(dir, func(k map[string]any) {
		res, _ := k["resources"].([]any)
		k["resources"] = append(res, name)
	})
}

// addPatch writes a strategic merge patch file into dir and lists it under
// patches.
func (tr *tree) addPatch(dir, name, content string) {
	tr.t.Helper()
	tr.write(path.Join(dir, name), []byte(content))
	tr.editKustomization(dir, func(k map[string]any) {
		ps, _ := k["patches"].([]any)
		k["patches"] = append(ps, map[string]any{"path": name})
	})
}

func (tr *tree) editKustomization(dir string, edit func(map[string]any)) {
	tr.t.Helper()
	rel := path.Join(dir, "kustomization.yaml")
	var k map[string]any
	if err := yaml.Unmarshal(tr.read(rel), &k); err != nil {
		tr.t.Fatalf("%s: %v", rel, err)
	}
	edit(k)
	b, err := yaml.Marshal(k)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.write(rel, b)
}

// editDoc changes the document of kind/name in file rel (comments are lost,
// which mutation tests do not mind).
func (tr *tree) editDoc(rel, kind, name string, edit func(map[string]any)) {
	tr.t.Helper()
	docs := splitDocs(tr.read(rel))
	found := false
	var out [][]byte
	for _, d := range docs {
		var m map[string]any
		if err := yaml.Unmarshal(d, &m); err != nil {
			tr.t.Fatalf("%s: %v", rel, err)
		}
		if m != nil && str(m, "kind") == kind && str(m, "metadata", "name") == name {
			edit(m)
			found = true
			b, err := yaml.Marshal(m)
			if err != nil {
				tr.t.Fatal(err)
			}
			d = b
		}
		out = append(out, d)
	}
	if !found {
		tr.t.Fatalf("%s: no %s %s", rel, kind, name)
	}
	tr.write(rel, bytes.Join(out, []byte("\n---\n")))
}

// object is one rendered Kubernetes object.
type object struct {
	Kind, APIVersion, Name, Namespace string
	M                                 map[string]any
}

func (o object) String() string { return o.Kind + " " + o.Name }

func (o object) group() string {
	g, _, found := strings.Cut(o.APIVersion, "/")
	if !found {
		return ""
	}
	return g
}

// rendered is the output of one kustomization plus an index of the source
// documents, to name the file a finding has to be fixed in.
type rendered struct {
	Dir     string // "base" or "overlays/<env>"
	Objects []object
	docs    []sourceDoc // overlay's own files first, then its bases'
}

// env is the overlay name ("staging", "production"; "base" for base).
func (r *rendered) env() string { return path.Base(r.Dir) }

func (r *rendered) byKind(kind string) []object {
	var out []object
	for _, o := range r.Objects {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (r *rendered) knativeServices() []object {
	var out []object
	for _, o := range r.byKind("Service") {
		if o.group() == "serving.knative.dev" {
			out = append(out, o)
		}
	}
	return out
}

func (r *rendered) hasKnativeService(name string) bool {
	return slices.ContainsFunc(r.knativeServices(), func(o object) bool { return o.Name == name })
}

// sourceDoc is one YAML document of a source file.
type sourceDoc struct {
	File string // relative to knative/, e.g. "overlays/production/scale.yaml"
	M    map[string]any
}

// warmOpenAPI parses kustomize's built-in OpenAPI schema once, before any
// render. kyaml parses it lazily into package globals and reads them without
// its lock (kubernetes-sigs/kustomize#5805), so parallel tests whose renders
// raced the first parse tripped the race detector now and then. Once parsed,
// nothing in a render writes those globals again.
var warmOpenAPI = sync.OnceFunc(func() { openapi.Schema() })

// render builds dir ("base" or "overlays/<env>") with kustomize.
func (tr *tree) render(dir string) (*rendered, error) {
	warmOpenAPI()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(tr.fs, path.Join(root, dir))
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	r := &rendered{Dir: dir}
	for _, res := range m.Resources() {
		mm, err := res.Map()
		if err != nil {
			return nil, err
		}
		r.Objects = append(r.Objects, object{
			Kind: res.GetKind(), APIVersion: res.GetApiVersion(),
			Name: res.GetName(), Namespace: res.GetNamespace(), M: mm,
		})
	}
	r.docs, err = tr.sources(dir, map[string]bool{})
	return r, err
}

// sources reads the documents of dir and, after them, of every directory it
// lists under resources (its bases), depth first.
func (tr *tree) sources(dir string, seen map[string]bool) ([]sourceDoc, error) {
	if seen[dir] {
		return nil, nil
	}
	seen[dir] = true
	var k struct {
		Resources []string `json:"resources"`
	}
	kb, err := tr.fs.ReadFile(path.Join(root, dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(kb, &k); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	files, err := tr.fs.Glob(path.Join(root, dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []sourceDoc
	for _, f := range files {
		rel := strings.TrimPrefix(f, root+"/")
		if path.Base(rel) == "kustomization.yaml" {
			continue
		}
		b, err := tr.fs.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, d := range splitDocs(b) {
			var m map[string]any
			if err := yaml.Unmarshal(d, &m); err != nil {
				// JSON 6902 patch files are lists; they carry no kind/name.
				continue
			}
			if m != nil {
				out = append(out, sourceDoc{File: rel, M: m})
			}
		}
	}
	for _, res := range k.Resources {
		sub := path.Clean(path.Join(dir, res))
		if tr.fs.IsDir(path.Join(root, sub)) {
			more, err := tr.sources(sub, seen)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
		}
	}
	return out, nil
}

// origin names the first source file (overlay before base) whose document
// for kind/name sets the field at fieldPath, or "" when none does.
func (r *rendered) origin(kind, name string, fieldPath ...string) string {
	for _, d := range r.docs {
		if str(d.M, "kind") != kind || str(d.M, "metadata", "name") != name {
			continue
		}
		if _, ok := lookup(d.M, fieldPath...); ok {
			return d.File
		}
	}
	return ""
}

// fileOf names the source file that defines kind/name (the document with
// the most specific origin: the base file, not a patch).
func (r *rendered) fileOf(kind, name string) string {
	file := ""
	for _, d := range r.docs {
		if str(d.M, "kind") == kind && str(d.M, "metadata", "name") == name {
			file = d.File // the last one is the deepest base
		}
	}
	if file == "" {
		return r.Dir
	}
	return file
}

func splitDocs(b []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---")) {
		// A separator line may carry trailing text (---\n, --- # x); drop the rest of it.
		if i := bytes.IndexByte(d, '\n'); i >= 0 && len(out) > 0 {
			d = d[i+1:]
		}
		if len(bytes.TrimSpace(d)) > 0 {
			out = append(out, d)
		}
	}
	return out
}

// lookup walks nested maps.
func lookup(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[k]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// str returns the string at keys, "" if absent or not a string.
func str(m map[string]any, keys ...string) string {
	v, _ := lookup(m, keys...)
	s, _ := v.(string)
	return s
}

func list(m map[string]any, keys ...string) []any {
	v, _ := lookup(m, keys...)
	l, _ := v.([]any)
	return l
}

func mapAt(m map[string]any, keys ...string) map[string]any {
	v, _ := lookup(m, keys...)
	mm, _ := v.(map[string]any)
	return mm
}

// fieldName formats a path the way kubectl explains fields, with keys that
// contain dots or slashes in brackets: spec.template.metadata.annotations[a.b/c].
func fieldName(keys ...string) string {
	var b strings.Builder
	for i, k := range keys {
		switch {
		case strings.HasPrefix(k, "["):
			b.WriteString(k)
		case strings.ContainsAny(k, "./"):
			b.WriteString("[" + k + "]")
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(k)
		}
	}
	return b.String()
}
