package capacity

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// Overlay is a rendered overlay's Knative Services and its Friday pre-scaling.
type Overlay struct {
	Services map[string]*servingv1.Service
	// FridayMin is the min-scale prescale-friday-up sets (production only), by Service.
	FridayMin map[string]int
}

// renderMu serializes renders: kustomize's kyaml initializes its global OpenAPI schema
// without a lock.
var renderMu sync.Mutex

// LoadOverlay renders knative/overlays/<env> under root with kustomize's Go API (as
// tools/render and the manifest tests do).
func LoadOverlay(root, env string) (Overlay, error) {
	renderMu.Lock()
	defer renderMu.Unlock()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "knative", "overlays", env))
	if err != nil {
		return Overlay{}, err
	}
	raw, err := res.AsYaml()
	if err != nil {
		return Overlay{}, err
	}
	o := Overlay{Services: map[string]*servingv1.Service{}, FridayMin: map[string]int{}}
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var head struct {
			APIVersion, Kind string
			Metadata         struct{ Name string }
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return Overlay{}, err
		}
		switch {
		case head.Kind == "Service" && strings.HasPrefix(head.APIVersion, "serving.knative.dev/"):
			var svc servingv1.Service
			if err := yaml.Unmarshal(doc, &svc); err != nil {
				return Overlay{}, fmt.Errorf("%s: %w", head.Metadata.Name, err)
			}
			o.Services[svc.Name] = &svc
		case head.Kind == "CronJob" && head.Metadata.Name == "prescale-friday-up":
			var cj struct {
				Spec struct {
					JobTemplate struct {
						Spec struct {
							Template struct {
								Spec struct {
									Containers []struct{ Args []string }
								}
							}
						}
					}
				}
			}
			if err := yaml.Unmarshal(doc, &cj); err != nil {
				return Overlay{}, err
			}
			for _, c := range cj.Spec.JobTemplate.Spec.Template.Spec.Containers {
				for _, a := range c.Args {
					svc, n, ok := strings.Cut(a, "=")
					if v, err := strconv.Atoi(n); ok && err == nil {
						o.FridayMin[svc] = v
					}
				}
			}
		}
	}
	return o, nil
}
