package knative_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	kjson "sigs.k8s.io/json"
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
	"eventing.knative.dev/EventPolicy": func() knativeObject { return &eventingv1alpha1.EventPolicy{} },
}

var knativeGroups = map[string]bool{
	"serving.knative.dev": true, "eventing.knative.dev": true,
	"sources.knative.dev": true, "messaging.knative.dev": true, "flows.knative.dev": true,
}

// validationContext is what Knative's webhooks put in the context: Serving's
// defaults config (a default installation: no podspec feature flags, so the
// manifests need none) and Eventing's feature flags as a default installation
// ships them (delivery-timeout enabled; it is off when no flags are in the
// context at all) plus the one flag the cluster must turn on,
// authentication-oidc (design.md §9, docs/deploy.md): EventPolicy's webhook
// refuses to create a policy without it.
func validationContext(t testing.TB) context.Context {
	t.Helper()
	return featureContext(t, map[string]string{
		feature.DeliveryTimeout:    string(feature.Enabled),
		feature.OIDCAuthentication: string(feature.Enabled),
	})
}

func featureContext(t testing.TB, flags map[string]string) context.Context {
	t.Helper()
	f, err := feature.NewFlagsConfigFromMap(flags)
	if err != nil {
		t.Fatal(err)
	}
	return feature.ToContext(context.Background(), f)
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
		{
			name: "event policy subject with an inner wildcard",
			mutate: func(tr *tree) {
				tr.editDoc("base/event-policies.yaml", "EventPolicy", "payments-api-publishes", func(m map[string]any) {
					list(m, "spec", "from")[0].(map[string]any)["sub"] = "system:serviceaccount:*:payments-api"
				})
			},
			want: "base/event-policies.yaml: EventPolicy payments-api-publishes: spec.from[0].sub: Knative validation: invalid value: system:serviceaccount:*:payments-api: '*' is only allowed as suffix",
		},
		{
			name: "event policy filter with two dialects",
			mutate: func(tr *tree) {
				tr.editDoc("base/event-policies.yaml", "EventPolicy", "customers-api-publishes", func(m map[string]any) {
					f := list(m, "spec", "filters")[0].(map[string]any)
					f["exact"] = map[string]any{"source": "customers-api"}
				})
			},
			want: "base/event-policies.yaml: EventPolicy customers-api-publishes: (object): Knative validation: multiple dialects found, filters can have only one dialect set",
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

// TestEventPoliciesNeedOIDC: with Eventing's flags as a default installation
// ships them (authentication-oidc off), the webhook refuses every
// EventPolicy — the cluster must enable the feature (docs/deploy.md).
func TestEventPoliciesNeedOIDC(t *testing.T) {
	t.Parallel()
	ctx := featureContext(t, map[string]string{feature.DeliveryTimeout: string(feature.Enabled)})
	ps := checkKnativeValidation(ctx, renderAll(t)[0])
	mustContain(t, ps, "base/event-policies.yaml: EventPolicy payments-api-publishes: (object): Knative validation: oidc-authentication feature not enabled")
	for _, p := range ps {
		if !strings.HasPrefix(p.Object, "EventPolicy ") {
			t.Errorf("without OIDC only EventPolicies should fail, got %s", p)
		}
	}
}

// builtinTypes maps the Kubernetes kinds the tree may hold (group/kind, ""
// for the core group) to their k8s.io/api types. A kind missing here fails
// the test, like knativeTypes.
var builtinTypes = map[string]func() any{
	"/Namespace":                                   func() any { return &corev1.Namespace{} },
	"/ServiceAccount":                              func() any { return &corev1.ServiceAccount{} },
	"networking.k8s.io/NetworkPolicy":              func() any { return &networkingv1.NetworkPolicy{} },
	"rbac.authorization.k8s.io/Role":               func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/RoleBinding":        func() any { return &rbacv1.RoleBinding{} },
	"rbac.authorization.k8s.io/ClusterRoleBinding": func() any { return &rbacv1.ClusterRoleBinding{} },
	"batch/Job":                                    func() any { return &batchv1.Job{} },
	"batch/CronJob":                                func() any { return &batchv1.CronJob{} },
}

// checkBuiltinObjects decodes every object outside Knative's groups strictly
// into its k8s.io/api type, as the API server does with strict field
// validation: an unknown or duplicate field (a typo, a field at the wrong
// level) is a problem, where a lax decoder would silently drop it.
func checkBuiltinObjects(r *rendered) []problem {
	var ps []problem
	for _, o := range r.Objects {
		if knativeGroups[o.group()] {
			continue
		}
		file := r.fileOf(o.Kind, o.Name)
		newObj, ok := builtinTypes[o.group()+"/"+o.Kind]
		if !ok {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "kind",
				Msg: fmt.Sprintf(": no decoder for %s %s; add it to builtinTypes in knative/validate_test.go", o.APIVersion, o.Kind)})
			continue
		}
		b, err := json.Marshal(o.M)
		if err != nil {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "(document)", Msg: ": " + err.Error()})
			continue
		}
		strict, err := kjson.UnmarshalStrict(b, newObj(), kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
		if err != nil {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "(document)", Msg: ": does not decode: " + err.Error()})
			continue
		}
		for _, e := range strict {
			ps = append(ps, problem{File: file, Object: o.String(), Field: "(document)", Msg: ": " + e.Error()})
		}
	}
	return ps
}

func TestBuiltinObjectsDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkBuiltinObjects(r))
	}
}

func TestBuiltinDecodingCatchesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*tree)
		want   string
	}{
		{
			name: "network policy: from at the wrong level",
			mutate: func(tr *tree) {
				tr.editDoc("base/network-policies.yaml", "NetworkPolicy", "allow-from-knative-eventing", func(m map[string]any) {
					mapAt(m, "spec")["from"] = list(m, "spec", "ingress")[0].(map[string]any)["from"]
				})
			},
			want: `base/network-policies.yaml: NetworkPolicy allow-from-knative-eventing: (document): unknown field "spec.from"`,
		},
		{
			name: "service account: misspelt automount",
			mutate: func(tr *tree) {
				tr.editDoc("base/service-accounts.yaml", "ServiceAccount", "dead-letter", func(m map[string]any) {
					m["automountServiceAccountTokens"] = false
				})
			},
			want: `base/service-accounts.yaml: ServiceAccount dead-letter: (document): unknown field "automountServiceAccountTokens"`,
		},
		{
			name: "cluster role binding: subject with a role",
			mutate: func(tr *tree) {
				tr.editDoc("base/service-accounts.yaml", "ClusterRoleBinding", "orange-service-account-issuer-discovery", func(m map[string]any) {
					list(m, "subjects")[0].(map[string]any)["role"] = "admin"
				})
			},
			want: `base/service-accounts.yaml: ClusterRoleBinding orange-service-account-issuer-discovery: (document): unknown field "subjects[0].role"`,
		},
		{
			name: "a kind without a decoder",
			mutate: func(tr *tree) {
				tr.addResource("base", "quota.yaml", "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: orange\n  namespace: orange\n")
			},
			want: "base/quota.yaml: ResourceQuota orange: kind: no decoder for v1 ResourceQuota; add it to builtinTypes in knative/validate_test.go",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			r, err := tr.render("overlays/production")
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, checkBuiltinObjects(r), tt.want)
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
