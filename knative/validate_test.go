package knative_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// knativeObject is what every Knative API type implements.
type knativeObject interface {
	apis.Defaultable
	apis.Validatable
}

// knativeTypes maps group/kind to a constructor of the Go type the Knative
// webhook would decode it into. A Knative kind missing here fails the test,
// so a new kind gets validated from the day it is added.
var knativeTypes = map[string]func() knativeObject{
	"serving.knative.dev/Service":    func() knativeObject { return &servingv1.Service{} },
	"eventing.knative.dev/Broker":    func() knativeObject { return &eventingv1.Broker{} },
	"eventing.knative.dev/Trigger":   func() knativeObject { return &eventingv1.Trigger{} },
	"sources.knative.dev/PingSource": func() knativeObject { return &sourcesv1.PingSource{} },
	"sources.knative.dev/SinkBinding": func() knativeObject {
		return &sourcesv1.SinkBinding{}
	},
}

var knativeGroups = map[string]bool{
	"serving.knative.dev": true, "eventing.knative.dev": true,
	"sources.knative.dev": true, "messaging.knative.dev": true, "flows.knative.dev": true,
}

// validationContext is what Knative's webhooks put in the context: Serving's
// defaults config (a default installation: no podspec feature flags, so the
// manifests need none) and Eventing's feature flags as a default installation
// ships them (delivery-timeout enabled; it is off when no flags are in the
// context at all).
func validationContext(t testing.TB) context.Context {
	t.Helper()
	flags, err := feature.NewFlagsConfigFromMap(map[string]string{feature.DeliveryTimeout: string(feature.Enabled)})
	if err != nil {
		t.Fatal(err)
	}
	return feature.ToContext(context.Background(), flags)
}

// checkKnativeValidation runs SetDefaults then Validate(WithinCreate) on every
// Knative object, as the admission webhooks do; warnings are allowed,
// errors are reported with the object's source file.
func checkKnativeValidation(ctx context.Context, r *rendered) []problem {
	var ps []problem
	for _, o := range r.Objects {
		if !knativeGroups[o.group()] {
			continue
		}
		file := r.fileOf(o.Kind, o.Name)
		newObj, ok := knativeTypes[o.group()+"/"+o.Kind]
		if !ok {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "kind",
				Msg: fmt.Sprintf(": no validator for %s/%s; add it to knativeTypes in knative/validate_test.go", o.group(), o.Kind)})
			continue
		}
		obj := newObj()
		b, err := json.Marshal(o.M)
		if err == nil {
			err = json.Unmarshal(b, obj)
		}
		if err != nil {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "(document)", Msg: ": does not decode: " + err.Error()})
			continue
		}
		obj.SetDefaults(ctx)
		errs := obj.Validate(apis.WithinCreate(ctx)).Filter(apis.ErrorLevel)
		for _, fe := range errs.WrappedErrors() {
			p := problem{File: file, Object: o.String(), Field: "(object)", Msg: ": Knative validation: " + fe.Message}
			if fe.Details != "" {
				p.Msg += ": " + fe.Details
			}
			for _, fp := range fe.Paths {
				keys := splitFieldPath(o.M, fp)
				if f := r.origin(o.Kind, o.Name, keys...); f != "" {
					p.File, p.Field = f, fieldName(keys...)
					break
				}
				if p.Field == "(object)" {
					p.Field = fieldName(keys...)
				}
			}
			ps = append(ps, p)
		}
	}
	return ps
}

func TestKnativeObjectsAreValid(t *testing.T) {
	t.Parallel()
	ctx := validationContext(t)
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkKnativeValidation(ctx, r))
	}
}

func TestKnativeValidationCatchesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*tree)
		want   string
	}{
		{
			name: "min-scale above max-scale",
			mutate: func(tr *tree) {
				tr.editDoc("overlays/production/scale.yaml", "Service", "locations-api", func(m map[string]any) {
					mapAt(m, templateAnnotations...)[minScaleKey] = "7"
				})
			},
			want: `overlays/production/scale.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]: Knative validation: max-scale=6 is less than min-scale=7`,
		},
		{
			name: "reserved PORT env",
			mutate: func(tr *tree) {
				tr.editDoc("base/locations-api.yaml", "Service", "locations-api", func(m map[string]any) {
					c := list(m, "spec", "template", "spec", "containers")[0].(map[string]any)
					c["env"] = append([]any{map[string]any{"name": "PORT", "value": "9090"}}, list(c, "env")...)
				})
			},
			want: `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[0].env[0].name: Knative validation: "PORT" is a reserved environment variable`,
		},
		{
			name: "broker delivery with a bad backoff delay",
			mutate: func(tr *tree) {
				tr.editDoc("base/broker.yaml", "Broker", "default", func(m map[string]any) {
					mapAt(m, "spec", "delivery")["backoffDelay"] = "half a second"
				})
			},
			want: "base/broker.yaml: Broker default: spec.delivery.backoffDelay: Knative validation: invalid value: half a second",
		},
	}
	ctx := validationContext(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			r, err := tr.render("overlays/production")
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, checkKnativeValidation(ctx, r), tt.want)
		})
	}
}

// splitFieldPath turns a Knative field path ("spec.template.metadata.
// annotations.autoscaling.knative.dev/min-scale") back into map keys by
// matching the longest key present at each level; it stops at lists.
func splitFieldPath(m map[string]any, fp string) []string {
	var keys []string
	cur := m
	for fp != "" && cur != nil {
		best := ""
		for k := range cur {
			if (fp == k || strings.HasPrefix(fp, k+".")) && len(k) > len(best) {
				best = k
			}
		}
		if best == "" {
			keys = append(keys, strings.Split(fp, ".")...)
			break
		}
		keys = append(keys, best)
		fp = strings.TrimPrefix(strings.TrimPrefix(fp, best), ".")
		cur, _ = cur[best].(map[string]any)
		if cur == nil && fp != "" {
			keys = append(keys, strings.Split(fp, ".")...)
			break
		}
	}
	return keys
}
