package knative_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/all"
	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/platform"
)

// awaitingService names the functions of functions/all that have no Knative
// Service in the tree yet, and who adds it. Like awaitingConsumer it only
// shrinks: the change that adds a Service deletes its line (a line for a
// Service in the tree, or for no function at all, fails the test).
var awaitingService = map[string]string{}

// checkFunctionsDeployed: every function of the system (functions/all, what
// `orange dev` runs) has its Knative Service in the tree, built by ko from
// cmd/<service>, and is public exactly when publicServices says so, unless
// awaiting names it. Without this a function can land with no manifest and
// every other check stays green, because they only see the Services that
// exist.
func checkFunctionsDeployed(r *rendered, fns []platform.Function, modPath string, awaiting map[string]string) []problem {
	var ps []problem
	functionNames := map[string]bool{}
	for _, fn := range fns {
		functionNames[fn.Service] = true
	}
	for _, name := range sortedKeys(awaiting) {
		switch {
		case !functionNames[name]:
			ps = append(ps, problem{File: "knative/functions_test.go", Object: "awaitingService", Field: name, Msg: ": not a function of functions/all; delete the line"})
		case r.hasKnativeService(name):
			ps = append(ps, problem{File: "knative/functions_test.go", Object: "awaitingService", Field: name, Msg: fmt.Sprintf(": %s has its Knative Service now; delete the line", r.Dir)})
		}
	}
	for _, fn := range fns {
		obj := "function " + fn.Service
		if awaiting[fn.Service] != "" && !r.hasKnativeService(fn.Service) {
			continue
		}
		var svc *object
		for _, s := range r.knativeServices() {
			if s.Name == fn.Service {
				svc = &s
				break
			}
		}
		if svc == nil {
			ps = append(ps, problem{File: "knative/base", Object: obj, Field: "Service",
				Msg: fmt.Sprintf(": no Knative Service in %s; add base/%s.yaml and list it in base/kustomization.yaml (docs/deploy.md, Adding a Service), or a line to awaitingService in knative/functions_test.go", r.Dir, fn.Service)})
			continue
		}
		if want, got := koPrefix+modPath+"/cmd/"+fn.Service, str(firstContainer(*svc), "image"); got != want {
			ps = append(ps, problem{File: r.fileOf("Service", svc.Name), Object: svc.String(), Field: fieldName(containerPath(*svc, "image")...), Msg: wantGot(got, want)})
		}
		if fn.Public != publicServices[fn.Service] {
			ps = append(ps, problem{File: "knative/scale_table_test.go", Object: obj, Field: "publicServices",
				Msg: fmt.Sprintf(": Function.Public is %v but publicServices says %v", fn.Public, publicServices[fn.Service])})
		}
	}
	return ps
}

const emitsEventsKey = "orange.carrental/emits-events"

// outboxUnused names the functions whose schema has the events package's
// outbox but that write nothing into it, and why; every other function with
// an outbox emits events and needs K_SINK.
var outboxUnused = map[string]string{
	"notification-worker": "consumes events only; the inbox migration brings the outbox with it",
	"notifications-api":   "shares notification-worker's schema and emits nothing either",
}

// checkEmitsEventsLabel: a function that records events in an outbox carries
// orange.carrental/emits-events: "true", so the broker-sink SinkBinding
// injects K_SINK and its relay publishes (without it the events stay in the
// outbox for good); a function that emits nothing does not carry it.
func checkEmitsEventsLabel(r *rendered, fns []platform.Function) []problem {
	var ps []problem
	p := []string{"metadata", "labels", emitsEventsKey}
	for _, fn := range fns {
		want := ""
		if events.HasOutbox(fn.Migrations) && outboxUnused[fn.Service] == "" {
			want = "true"
		}
		for _, svc := range r.knativeServices() {
			if svc.Name != fn.Service {
				continue
			}
			got := str(svc.M, p...)
			if got == want {
				continue
			}
			file := r.origin("Service", svc.Name, p...)
			if file == "" {
				file = r.fileOf("Service", svc.Name)
			}
			msg := wantGot(got, want) + " (its schema has an outbox: without K_SINK from the broker-sink SinkBinding its events never leave it)"
			if want == "" {
				msg = fmt.Sprintf(" = %q: %s emits no events (no outbox, or outboxUnused in knative/functions_test.go); remove the label", got, fn.Service)
			}
			ps = append(ps, problem{File: file, Object: svc.String(), Field: fieldName(p...), Msg: msg})
		}
	}
	return ps
}

// gatewayService is the Knative Service that forwards to the upstreams.
const gatewayService = "api-gateway"

// checkGatewayUpstreams: the gateway names every upstream it forwards to
// (gateway.Upstreams) by its cluster-local URL, <SERVICE>_URL =
// http://<service>.orange.svc.cluster.local, and that Service is in the tree
// (unless awaiting names it: its URL comes with its Service).
func checkGatewayUpstreams(r *rendered, upstreams []gateway.Upstream, awaiting map[string]string) []problem {
	var gw *object
	for _, s := range r.knativeServices() {
		if s.Name == gatewayService {
			gw = &s
			break
		}
	}
	if gw == nil {
		return []problem{{File: "knative/base", Object: "Service " + gatewayService, Field: "metadata.name", Msg: fmt.Sprintf(": not in %s", r.Dir)}}
	}
	var ps []problem
	env := envOf(firstContainer(*gw))
	for _, u := range upstreams {
		if awaiting[u.Service] != "" && !r.hasKnativeService(u.Service) {
			continue // its URL comes with its Service
		}
		key := platform.ServiceURLKey(u.Service)
		want := fmt.Sprintf("http://%s.%s.svc.cluster.local", u.Service, namespace)
		keys := containerPath(*gw, "env["+key+"]", "value")
		if got := str(env[key], "value"); got != want {
			ps = append(ps, problem{File: r.fileOf("Service", gw.Name), Object: gw.String(), Field: fieldName(keys...),
				Msg: wantGot(got, want) + fmt.Sprintf(" (gateway.Upstreams forwards %s to %s)", u.Prefix, u.Service)})
		}
		if !r.hasKnativeService(u.Service) {
			ps = append(ps, problem{File: r.fileOf("Service", gw.Name), Object: gw.String(), Field: fieldName(keys...),
				Msg: fmt.Sprintf(": upstream %s is not a Knative Service in %s", u.Service, r.Dir)})
		}
	}
	return ps
}

func TestEveryFunctionIsDeployed(t *testing.T) {
	t.Parallel()
	_, modPath := moduleRoot(t)
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkFunctionsDeployed(r, all.Functions(), modPath, awaitingService))
		report(t, r.Dir, checkGatewayUpstreams(r, gateway.Upstreams, awaitingService))
		report(t, r.Dir, checkEmitsEventsLabel(r, all.Functions()))
	}
}

func TestFunctionDeploymentMutationsAreCaught(t *testing.T) {
	t.Parallel()
	_, modPath := moduleRoot(t)
	tests := []struct {
		name   string
		dir    string // rendered; "" = overlays/production
		mutate func(*tree)
		check  func(*rendered) []problem
		want   string
	}{
		{
			// base: an overlay without the Service fails to build on its scale patch.
			name: "function without a Service", dir: "base",
			mutate: func(tr *tree) {
				tr.editKustomization("base", func(k map[string]any) {
					var keep []any
					for _, res := range list(k, "resources") {
						if res != "pricing-api.yaml" {
							keep = append(keep, res)
						}
					}
					k["resources"] = keep
				})
			},
			check: func(r *rendered) []problem {
				return checkFunctionsDeployed(r, all.Functions(), modPath, awaitingService)
			},
			want: "knative/base: function pricing-api: Service: no Knative Service in base; add base/pricing-api.yaml and list it in base/kustomization.yaml (docs/deploy.md, Adding a Service), or a line to awaitingService in knative/functions_test.go",
		},
		{
			name: "Service built from another main",
			mutate: func(tr *tree) {
				tr.editDoc("base/customers-api.yaml", "Service", "customers-api", func(m map[string]any) {
					list(m, "spec", "template", "spec", "containers")[0].(map[string]any)["image"] = "ko://github.com/orangecarrental/orange/cmd/locations-api"
				})
			},
			check: func(r *rendered) []problem {
				return checkFunctionsDeployed(r, all.Functions(), modPath, awaitingService)
			},
			want: `base/customers-api.yaml: Service customers-api: spec.template.spec.containers[app].image = "ko://github.com/orangecarrental/orange/cmd/locations-api", want "ko://github.com/orangecarrental/orange/cmd/customers-api"`,
		},
		{
			name: "gateway without an upstream URL",
			mutate: func(tr *tree) {
				tr.editDoc("base/api-gateway.yaml", "Service", "api-gateway", func(m map[string]any) {
					c := list(m, "spec", "template", "spec", "containers")[0].(map[string]any)
					var keep []any
					for _, e := range list(c, "env") {
						if str(e.(map[string]any), "name") != "VEHICLES_API_URL" {
							keep = append(keep, e)
						}
					}
					c["env"] = keep
				})
			},
			check: func(r *rendered) []problem { return checkGatewayUpstreams(r, gateway.Upstreams, awaitingService) },
			want:  `base/api-gateway.yaml: Service api-gateway: spec.template.spec.containers[app].env[VEHICLES_API_URL].value is not set, want "http://vehicles-api.orange.svc.cluster.local" (gateway.Upstreams forwards /api/vehicles to vehicles-api)`,
		},
		{
			name: "emitter without the label",
			mutate: func(tr *tree) {
				tr.editDoc("base/customers-api.yaml", "Service", "customers-api", func(m map[string]any) {
					delete(mapAt(m, "metadata", "labels"), emitsEventsKey)
				})
			},
			check: func(r *rendered) []problem { return checkEmitsEventsLabel(r, all.Functions()) },
			want:  `base/customers-api.yaml: Service customers-api: metadata.labels[orange.carrental/emits-events] is not set, want "true" (its schema has an outbox: without K_SINK from the broker-sink SinkBinding its events never leave it)`,
		},
		{
			name: "label on a function that emits nothing",
			mutate: func(tr *tree) {
				tr.editDoc("base/pricing-api.yaml", "Service", "pricing-api", func(m map[string]any) {
					mapAt(m, "metadata", "labels")[emitsEventsKey] = "true"
				})
			},
			check: func(r *rendered) []problem { return checkEmitsEventsLabel(r, all.Functions()) },
			want:  `base/pricing-api.yaml: Service pricing-api: metadata.labels[orange.carrental/emits-events] = "true": pricing-api emits no events (no outbox, or outboxUnused in knative/functions_test.go); remove the label`,
		},
		{
			name:   "upstream not in the tree",
			mutate: func(*tree) {},
			check: func(r *rendered) []problem {
				more := slices.Concat(gateway.Upstreams, []gateway.Upstream{{Prefix: "/api/returns", Service: "returns-api"}})
				return checkGatewayUpstreams(r, more, awaitingService)
			},
			want: "base/api-gateway.yaml: Service api-gateway: spec.template.spec.containers[app].env[RETURNS_API_URL].value: upstream returns-api is not a Knative Service in overlays/production",
		},
		{
			name:   "stale awaitingService line: Service exists",
			mutate: func(*tree) {},
			check: func(r *rendered) []problem {
				return checkFunctionsDeployed(r, all.Functions(), modPath, map[string]string{"locations-api": "someone"})
			},
			want: "knative/functions_test.go: awaitingService: locations-api: overlays/production has its Knative Service now; delete the line",
		},
		{
			name:   "stale awaitingService line: no such function",
			mutate: func(*tree) {},
			check: func(r *rendered) []problem {
				return checkFunctionsDeployed(r, all.Functions(), modPath, map[string]string{"returns-api": "someone"})
			},
			want: "knative/functions_test.go: awaitingService: returns-api: not a function of functions/all; delete the line",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			dir := tt.dir
			if dir == "" {
				dir = "overlays/production"
			}
			r, err := tr.render(dir)
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, tt.check(r), tt.want)
		})
	}
}
