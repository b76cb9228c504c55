package up

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/orangecarrental/orange/internal/kpa"
	"github.com/orangecarrental/orange/knative"
)

// Service is one Knative Service of the rendered overlay, as `orange up` runs it.
type Service struct {
	Name string
	// Spec is the KPA's view of the revision template (min/max-scale, target …).
	Spec kpa.Spec
	// Env is the container's literal environment (DB_MAX_CONNS, LOG_LEVEL …); variables
	// taken from Secrets and ConfigMaps on the cluster are what `orange up` provides.
	Env map[string]string
}

// LoadServices renders overlay (knative/overlays/<overlay>, with the same kustomize API as
// tools/render) and returns its Knative Services, those named in only if it is not empty.
// annotations are set on every revision template before the KPA reads it (a test's short
// stable window, say).
func LoadServices(overlay string, only []string, annotations map[string]string) ([]Service, error) {
	svcs, err := renderServices(overlay)
	if err != nil {
		return nil, err
	}
	var out []Service
	for _, svc := range svcs {
		if svc.Spec.Template.Annotations == nil {
			svc.Spec.Template.Annotations = map[string]string{}
		}
		for k, v := range annotations {
			svc.Spec.Template.Annotations[k] = v
		}
		spec, err := kpa.SpecFromService(svc)
		if err != nil {
			return nil, err
		}
		s := Service{Name: svc.Name, Spec: spec, Env: map[string]string{}}
		for _, c := range svc.Spec.Template.Spec.Containers {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					s.Env[e.Name] = e.Value
				}
			}
		}
		out = append(out, s)
	}
	return selectServices(overlay, out, only)
}

// selectServices is the Services of every named in only (all of them when only is empty).
func selectServices(overlay string, every []Service, only []string) ([]Service, error) {
	out := slices.DeleteFunc(slices.Clone(every), func(s Service) bool { return len(only) > 0 && !slices.Contains(only, s.Name) })
	for _, name := range only {
		if !slices.ContainsFunc(out, func(s Service) bool { return s.Name == name }) {
			return nil, fmt.Errorf("overlay %s has no Knative Service %q", overlay, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("overlay %s has no Knative Service", overlay)
	}
	return out, nil
}

// renderMu serializes renders: kustomize parses its built-in OpenAPI schema into package
// globals on first use, unguarded (two renders at once race there).
var renderMu sync.Mutex

// renderServices runs kustomize over the embedded manifests.
func renderServices(overlay string) ([]*servingv1.Service, error) {
	renderMu.Lock()
	defer renderMu.Unlock()
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(knative.Manifests, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := fs.ReadFile(knative.Manifests, p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/knative", p), raw)
	})
	if err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, path.Join("/knative/overlays", overlay))
	if err != nil {
		return nil, fmt.Errorf("render overlay %s: %w", overlay, err)
	}
	var out []*servingv1.Service
	for _, r := range m.Resources() {
		if r.GetKind() != "Service" || r.GetApiVersion() != "serving.knative.dev/v1" {
			continue
		}
		raw, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		svc := &servingv1.Service{}
		if err := yaml.Unmarshal(raw, svc); err != nil {
			return nil, fmt.Errorf("%s: %w", r.GetName(), err)
		}
		out = append(out, svc)
	}
	return out, nil
}
