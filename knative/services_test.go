package knative_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
)

const (
	visibilityKey = "networking.knative.dev/visibility"
	koPrefix      = "ko://"
	namespace     = "orange"
)

// isFunction reports whether a Knative Service runs one of our functions
// (an image ko builds from this module) rather than a third-party sink.
func isFunction(svc object) bool {
	c := firstContainer(svc)
	return strings.HasPrefix(str(c, "image"), koPrefix)
}

func firstContainer(svc object) map[string]any {
	cs := list(svc.M, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		return nil
	}
	c, _ := cs[0].(map[string]any)
	return c
}

func containerPath(svc object, keys ...string) []string {
	return append([]string{"spec", "template", "spec", "containers[" + str(firstContainer(svc), "name") + "]"}, keys...)
}

// checkVisibility: only api-gateway and the portals are public; every other
// Service carries networking.knative.dev/visibility: cluster-local.
func checkVisibility(r *rendered) []problem {
	var ps []problem
	p := []string{"metadata", "labels", visibilityKey}
	for _, svc := range r.knativeServices() {
		got := str(svc.M, p...)
		want := "cluster-local"
		if publicServices[svc.Name] {
			want = ""
		}
		if got == want {
			continue
		}
		file := r.origin("Service", svc.Name, p...)
		if file == "" {
			file = r.fileOf("Service", svc.Name)
		}
		msg := wantGot(got, want)
		if want == "" {
			msg = fmt.Sprintf(" = %q: %s is public (design.md §3), remove the label", got, svc.Name)
		}
		ps = append(ps, problem{File: file, Object: svc.String(), Field: fieldName(p...), Msg: msg})
	}
	return ps
}

// checkFunctionServices holds every function Service to design.md §6/§7:
// concurrency-based KPA autoscaling with a 70 % utilisation target, CPU
// 500m/1000m, a memory request and limit, /readyz and /healthz probes, a
// request timeout, the database URL (if any) from the orange-database
// secret, the token issuer from the orange-environment ConfigMap, and
// MIGRATE_ON_START=false in production (the Job migrates there).
func checkFunctionServices(r *rendered) []problem {
	var ps []problem
	for _, svc := range r.knativeServices() {
		if !isFunction(svc) {
			continue
		}
		file := r.fileOf("Service", svc.Name)
		add := func(keys []string, msg string) {
			f := r.origin("Service", svc.Name, keys...)
			if f == "" {
				f = file
			}
			ps = append(ps, problem{File: f, Object: svc.String(), Field: fieldName(keys...), Msg: msg})
		}
		eq := func(keys []string, want string) {
			if got := str(svc.M, keys...); got != want {
				add(keys, wantGot(got, want))
			}
		}
		eq(annotationPath("autoscaling.knative.dev/class"), "kpa.autoscaling.knative.dev")
		eq(annotationPath("autoscaling.knative.dev/metric"), "concurrency")
		eq(annotationPath("autoscaling.knative.dev/target-utilization-percentage"), "70")
		targetPath := annotationPath("autoscaling.knative.dev/target")
		target, err := strconv.Atoi(str(svc.M, targetPath...))
		if err != nil || target < 1 {
			add(targetPath, fmt.Sprintf(" = %q, want a positive soft concurrency target", str(svc.M, targetPath...)))
		}
		ccPath := []string{"spec", "template", "spec", "containerConcurrency"}
		if cc, ok := lookup(svc.M, ccPath...); ok {
			n, _ := strconv.Atoi(fmt.Sprint(cc))
			if n > 0 && target > n {
				add(targetPath, fmt.Sprintf(" = %d, above the hard limit containerConcurrency %d", target, n))
			}
		}
		if _, ok := lookup(svc.M, "spec", "template", "spec", "timeoutSeconds"); !ok {
			add([]string{"spec", "template", "spec", "timeoutSeconds"}, " is not set; every Service states its request timeout")
		}

		c := firstContainer(svc)
		quantity := func(keys []string, want string) {
			got := str(c, keys...)
			g, err1 := resource.ParseQuantity(got)
			w := resource.MustParse(want)
			if err1 != nil || g.Cmp(w) != 0 {
				add(containerPath(svc, keys...), wantGot(got, want))
			}
		}
		quantity([]string{"resources", "requests", "cpu"}, "500m")
		quantity([]string{"resources", "limits", "cpu"}, "1000m")
		memReq, err1 := resource.ParseQuantity(str(c, "resources", "requests", "memory"))
		memLim, err2 := resource.ParseQuantity(str(c, "resources", "limits", "memory"))
		switch {
		case err1 != nil:
			add(containerPath(svc, "resources", "requests", "memory"), " is not set; size it from measured use (docs/capacity.md)")
		case err2 != nil:
			add(containerPath(svc, "resources", "limits", "memory"), " is not set; size it from measured use (docs/capacity.md)")
		case memReq.Cmp(memLim) > 0:
			add(containerPath(svc, "resources", "requests", "memory"), " is above the memory limit")
		}
		if got := str(c, "readinessProbe", "httpGet", "path"); got != "/readyz" {
			add(containerPath(svc, "readinessProbe", "httpGet", "path"), wantGot(got, "/readyz"))
		}
		if got := str(c, "livenessProbe", "httpGet", "path"); got != "/healthz" {
			add(containerPath(svc, "livenessProbe", "httpGet", "path"), wantGot(got, "/healthz"))
		}

		env := envOf(c)
		// Not every function has a database (the gateway has none); one that has
		// takes it from the orange-database secret.
		if e, ok := env["DATABASE_URL"]; ok && (str(e, "valueFrom", "secretKeyRef", "name") != "orange-database" || str(e, "valueFrom", "secretKeyRef", "key") != "url") {
			add(containerPath(svc, "env[DATABASE_URL]", "valueFrom", "secretKeyRef"), " must reference secret orange-database, key url")
		}
		// Every function verifies tokens and refuses to start without the issuer.
		if e := env["OIDC_ISSUER_URL"]; str(e, "valueFrom", "configMapKeyRef", "name") != "orange-environment" || str(e, "valueFrom", "configMapKeyRef", "key") != "oidc-issuer-url" {
			add(containerPath(svc, "env[OIDC_ISSUER_URL]", "valueFrom", "configMapKeyRef"), " must reference ConfigMap orange-environment, key oidc-issuer-url")
		}
		wantMigrate := ""
		if r.env() == "production" {
			wantMigrate = "false"
		}
		if e, ok := env["MIGRATE_ON_START"]; wantMigrate != "" && (!ok || str(e, "value") != wantMigrate) {
			f := r.Dir + "/migrate-on-start.yaml"
			ps = append(ps, problem{File: f, Object: svc.String(), Field: fieldName(containerPath(svc, "env[MIGRATE_ON_START]", "value")...),
				Msg: wantGot(str(e, "value"), wantMigrate)})
		}
	}
	return ps
}

// envOf indexes a container's env by name; a duplicate name is kept as the
// last entry, as Kubernetes does.
func envOf(c map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, e := range list(c, "env") {
		if m, ok := e.(map[string]any); ok {
			out[str(m, "name")] = m
		}
	}
	return out
}

var secretish = regexp.MustCompile(`(?i)(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|DATABASE_URL|DSN)`)

// notSecret are the env var names secretish matches that hold no secret,
// and why; they may come from a ConfigMap.
var notSecret = map[string]string{
	"OIDC_TOKEN_URL": "the token endpoint's address (the client's secret is OIDC_CLIENT_SECRET)",
}

// checkSecretsByReference: no Secret objects or generators in the tree, and
// every secret-looking env var of every workload comes from a secretKeyRef.
func checkSecretsByReference(r *rendered) []problem {
	var ps []problem
	for _, o := range r.Objects {
		if o.Kind == "Secret" {
			ps = append(ps, problem{File: r.fileOf("Secret", o.Name), Object: o.String(), Field: "kind",
				Msg: ": secrets are referenced, never shipped in knative/ (docs/deploy.md says how to create them)"})
		}
		for _, c := range containersOf(o) {
			for _, e := range list(c.M, "env") {
				m, _ := e.(map[string]any)
				name := str(m, "name")
				if !secretish.MatchString(name) || notSecret[name] != "" {
					continue
				}
				if _, ok := lookup(m, "valueFrom", "secretKeyRef"); !ok {
					ps = append(ps, problem{File: r.fileOf(o.Kind, o.Name), Object: o.String(),
						Field: fieldName(append(c.Path, "env["+name+"]")...), Msg: ": must come from valueFrom.secretKeyRef"})
				}
			}
		}
	}
	return ps
}

type container struct {
	Path []string
	M    map[string]any
}

// containersOf finds the containers of any workload kind in the tree.
func containersOf(o object) []container {
	var prefix []string
	switch o.Kind {
	case "Service", "Job", "Deployment":
		prefix = []string{"spec", "template", "spec"}
	case "CronJob":
		prefix = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil
	}
	var out []container
	for _, key := range []string{"initContainers", "containers"} {
		for _, c := range list(o.M, append(prefix, key)...) {
			m, _ := c.(map[string]any)
			out = append(out, container{Path: append(append([]string{}, prefix...), key+"["+str(m, "name")+"]"), M: m})
		}
	}
	return out
}

// clusterScoped are the kinds of the tree that live in no namespace.
var clusterScoped = map[string]bool{"Namespace": true, "ClusterRole": true, "ClusterRoleBinding": true}

// checkNamespace: every namespaced object lives in namespace orange.
func checkNamespace(r *rendered) []problem {
	var ps []problem
	for _, o := range r.Objects {
		if clusterScoped[o.Kind] {
			continue
		}
		if o.Namespace != namespace {
			ps = append(ps, problem{File: r.fileOf(o.Kind, o.Name), Object: o.String(), Field: "metadata.namespace", Msg: wantGot(o.Namespace, namespace)})
		}
	}
	return ps
}

func TestServicesFollowTheRules(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkVisibility(r))
		report(t, r.Dir, checkFunctionServices(r))
		report(t, r.Dir, checkSecretsByReference(r))
		report(t, r.Dir, checkNamespace(r))
	}
}

func TestServiceMutationsAreCaught(t *testing.T) {
	t.Parallel()
	svcDoc := func(edit func(m map[string]any)) func(*tree) {
		return func(tr *tree) { tr.editDoc("base/locations-api.yaml", "Service", "locations-api", edit) }
	}
	container0 := func(m map[string]any) map[string]any {
		return list(m, "spec", "template", "spec", "containers")[0].(map[string]any)
	}
	tests := []struct {
		name   string
		dir    string
		mutate func(*tree)
		check  func(*rendered) []problem
		want   string
	}{
		{
			name: "cluster-local label dropped", dir: "overlays/production", check: checkVisibility,
			mutate: svcDoc(func(m map[string]any) { delete(mapAt(m, "metadata", "labels"), visibilityKey) }),
			want:   `base/locations-api.yaml: Service locations-api: metadata.labels[networking.knative.dev/visibility] is not set, want "cluster-local"`,
		},
		{
			name: "metric switched to rps", dir: "overlays/staging", check: checkFunctionServices,
			mutate: svcDoc(func(m map[string]any) { mapAt(m, templateAnnotations...)["autoscaling.knative.dev/metric"] = "rps" }),
			want:   `base/locations-api.yaml: Service locations-api: spec.template.metadata.annotations[autoscaling.knative.dev/metric] = "rps", want "concurrency"`,
		},
		{
			name: "cpu limit changed", dir: "overlays/staging", check: checkFunctionServices,
			mutate: svcDoc(func(m map[string]any) { mapAt(container0(m), "resources", "limits")["cpu"] = "2" }),
			want:   `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].resources.limits.cpu = "2", want "1000m"`,
		},
		{
			name: "readiness probe on /healthz", dir: "overlays/staging", check: checkFunctionServices,
			mutate: svcDoc(func(m map[string]any) { mapAt(container0(m), "readinessProbe", "httpGet")["path"] = "/healthz" }),
			want:   `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].readinessProbe.httpGet.path = "/healthz", want "/readyz"`,
		},
		{
			name: "database URL inlined", dir: "overlays/staging", check: checkSecretsByReference,
			mutate: svcDoc(func(m map[string]any) {
				c := container0(m)
				c["env"] = append(list(c, "env"), map[string]any{"name": "DATABASE_URL", "value": "postgres://u:p@db/orange"})
			}),
			want: `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].env[DATABASE_URL]: must come from valueFrom.secretKeyRef`,
		},
		{
			name: "issuer inlined", dir: "overlays/staging", check: checkFunctionServices,
			mutate: svcDoc(func(m map[string]any) {
				c := container0(m)
				for _, e := range list(c, "env") {
					if str(e.(map[string]any), "name") == "OIDC_ISSUER_URL" {
						delete(e.(map[string]any), "valueFrom")
						e.(map[string]any)["value"] = "https://keycloak.example.com/realms/orange-car-rental"
					}
				}
			}),
			want: `base/locations-api.yaml: Service locations-api: spec.template.spec.containers[app].env[OIDC_ISSUER_URL].valueFrom.configMapKeyRef must reference ConfigMap orange-environment, key oidc-issuer-url`,
		},
		{
			name: "production migrates on start", dir: "overlays/production", check: checkFunctionServices,
			mutate: func(tr *tree) {
				tr.editKustomization("overlays/production", func(k map[string]any) {
					var keep []any
					for _, p := range list(k, "patches") {
						if str(p.(map[string]any), "path") != "migrate-on-start.yaml" {
							keep = append(keep, p)
						}
					}
					k["patches"] = keep
				})
			},
			want: `overlays/production/migrate-on-start.yaml: Service locations-api: spec.template.spec.containers[app].env[MIGRATE_ON_START].value is not set, want "false"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			r, err := tr.render(tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, tt.check(r), tt.want)
		})
	}
}
