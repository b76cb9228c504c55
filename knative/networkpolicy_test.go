package knative_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// NetworkPolicies (base/network-policies.yaml): who may open a connection
// to the pods of the cluster-local Services. The checks evaluate the
// policies' selectors with Kubernetes' own label-selector code against the
// labels Knative puts on a Service's pods.

const (
	// serviceLabel is what Knative Serving labels every pod of a Service
	// with; the Service's own metadata labels do not reach its pods.
	serviceLabel = "serving.knative.dev/service"
	// nameLabel is the label the API server sets on every namespace.
	nameLabel = "kubernetes.io/metadata.name"
	// ingressPolicy is the one policy naming the networking layer's
	// namespace, the one an overlay patches for another layer than Kourier.
	ingressPolicy = "allow-from-knative-ingress"
)

// dataPlaneNamespaces are the namespaces whose pods (Knative's data plane)
// must reach every cluster-local pod, besides the networking layer's.
var dataPlaneNamespaces = []string{"knative-eventing", "knative-serving"}

// podLabels are the labels the pods of Knative Service svc carry: its
// template's labels plus Knative's.
func podLabels(svc object) labels.Set {
	set := labels.Set{serviceLabel: svc.Name}
	for k, v := range mapAt(svc.M, "spec", "template", "metadata", "labels") {
		set[k] = fmt.Sprint(v)
	}
	return set
}

type networkPolicy struct {
	Object object
	Spec   networkingv1.NetworkPolicySpec
}

func networkPolicies(r *rendered) ([]networkPolicy, []problem) {
	var out []networkPolicy
	var ps []problem
	for _, o := range r.byKind("NetworkPolicy") {
		var np networkingv1.NetworkPolicy
		b, err := json.Marshal(o.M)
		if err == nil {
			err = json.Unmarshal(b, &np)
		}
		if err != nil {
			ps = append(ps, problem{File: r.fileOf(o.Kind, o.Name), Object: o.String(), Field: "(document)", Msg: ": does not decode: " + err.Error()})
			continue
		}
		out = append(out, networkPolicy{Object: o, Spec: np.Spec})
	}
	return out, ps
}

// selector converts a LabelSelector, reporting an invalid one.
func selector(ls *metav1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(ls)
}

// reach is what the policies selecting one pod let in.
type reach struct {
	selectedBy []string        // policy names
	namespaces map[string]bool // peers by namespace name
	services   map[string]bool // same-namespace peers by Service name
	anywhere   []string        // why it is open to every source, if it is
}

// ingressOf evaluates the policies for a pod with labels pod. candidates are
// the Service names whose pods a same-namespace podSelector is tried on.
func ingressOf(pols []networkPolicy, pod labels.Set, candidates []string, add func(networkPolicy, string, string)) reach {
	rc := reach{namespaces: map[string]bool{}, services: map[string]bool{}}
	for _, p := range pols {
		sel, err := selector(&p.Spec.PodSelector)
		if err != nil {
			add(p, "spec.podSelector", ": "+err.Error())
			continue
		}
		types := p.Spec.PolicyTypes
		if len(types) == 0 {
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		}
		if !sel.Matches(pod) || !slices.Contains(types, networkingv1.PolicyTypeIngress) {
			continue
		}
		rc.selectedBy = append(rc.selectedBy, p.Object.Name)
		for i, rule := range p.Spec.Ingress {
			field := fmt.Sprintf("spec.ingress[%d]", i)
			if len(rule.From) == 0 {
				rc.anywhere = append(rc.anywhere, p.Object.Name+" "+field+" has no from")
			}
			for j, peer := range rule.From {
				pf := fmt.Sprintf("%s.from[%d]", field, j)
				switch {
				case peer.IPBlock != nil:
					rc.anywhere = append(rc.anywhere, p.Object.Name+" "+pf+" is an ipBlock")
				case peer.NamespaceSelector != nil && peer.PodSelector != nil:
					add(p, pf, ": namespaceSelector and podSelector in one peer; say one or the other")
				case peer.NamespaceSelector != nil:
					ns := peer.NamespaceSelector
					name, ok := ns.MatchLabels[nameLabel]
					if !ok || len(ns.MatchLabels) != 1 || len(ns.MatchExpressions) != 0 {
						add(p, pf+".namespaceSelector", fmt.Sprintf(": match exactly one namespace by matchLabels %s (set by the API server; other labels can be put on any namespace)", nameLabel))
						if len(ns.MatchLabels) == 0 && len(ns.MatchExpressions) == 0 {
							rc.anywhere = append(rc.anywhere, p.Object.Name+" "+pf+" selects every namespace")
						}
						continue
					}
					rc.namespaces[name] = true
				case peer.PodSelector != nil:
					psel, err := selector(peer.PodSelector)
					if err != nil {
						add(p, pf+".podSelector", ": "+err.Error())
						continue
					}
					for _, c := range candidates {
						if psel.Matches(labels.Set{serviceLabel: c}) {
							rc.services[c] = true
						}
					}
				}
			}
		}
	}
	return rc
}

// checkNetworkPolicies: every cluster-local Service's pods are selected and
// accept ingress from exactly Knative Serving's and Eventing's namespaces,
// the networking layer's namespace (named once, by ingressPolicy), and the
// pods of the public Services (gateway, portals) — from nothing else, and
// never from every source. No public Service is selected: it takes traffic
// from the external gateway, which the policies would have to name too.
func checkNetworkPolicies(r *rendered) []problem {
	pols, ps := networkPolicies(r)
	add := func(p networkPolicy, field, msg string) {
		f := r.fileOf(p.Object.Kind, p.Object.Name)
		ps = append(ps, problem{File: f, Object: p.Object.String(), Field: field, Msg: msg})
	}
	ingressNS := ""
	for _, p := range pols {
		if p.Object.Name != ingressPolicy {
			continue
		}
		var names []string
		for _, rule := range p.Spec.Ingress {
			for _, peer := range rule.From {
				if peer.NamespaceSelector != nil {
					names = append(names, peer.NamespaceSelector.MatchLabels[nameLabel])
				}
			}
		}
		if len(names) != 1 || names[0] == "" {
			add(p, "spec.ingress", fmt.Sprintf(": want exactly one peer, the networking layer's namespace by %s (got %q)", nameLabel, names))
		} else {
			ingressNS = names[0]
		}
	}
	if ingressNS == "" {
		ps = append(ps, problem{File: "base/network-policies.yaml", Object: "NetworkPolicy " + ingressPolicy, Field: "metadata.name",
			Msg: fmt.Sprintf(": missing in %s; it names the networking layer's namespace (kourier-system by default)", r.Dir)})
	}
	wantNS := slices.Sorted(slices.Values(append([]string{ingressNS}, dataPlaneNamespaces...)))
	var candidates []string
	for _, svc := range r.knativeServices() {
		candidates = append(candidates, svc.Name)
	}
	for name := range publicServices {
		if !slices.Contains(candidates, name) {
			candidates = append(candidates, name)
		}
	}
	sort.Strings(candidates)
	wantPeers := sortedKeys(publicServices)
	seen := map[string]bool{}
	for _, svc := range r.knativeServices() {
		file := r.fileOf("Service", svc.Name)
		rc := ingressOf(pols, podLabels(svc), candidates, func(p networkPolicy, field, msg string) {
			if key := p.Object.Name + field + msg; !seen[key] {
				seen[key] = true
				add(p, field, msg)
			}
		})
		obj := svc.String()
		if publicServices[svc.Name] {
			if len(rc.selectedBy) > 0 {
				ps = append(ps, problem{File: "base/network-policies.yaml", Object: obj, Field: "pods",
					Msg: fmt.Sprintf(": public, but selected by %v; the public entry points take traffic from the external gateway", rc.selectedBy)})
			}
			continue
		}
		if len(rc.selectedBy) == 0 {
			ps = append(ps, problem{File: file, Object: obj, Field: "pods",
				Msg: ": cluster-local, but no NetworkPolicy selects its pods: anything in the cluster reaches them (base/network-policies.yaml)"})
			continue
		}
		for _, why := range rc.anywhere {
			ps = append(ps, problem{File: "base/network-policies.yaml", Object: obj, Field: "pods", Msg: ": open to every source: " + why})
		}
		gotNS := sortedKeys(rc.namespaces)
		for _, ns := range wantNS {
			if ns != "" && !rc.namespaces[ns] {
				ps = append(ps, problem{File: "base/network-policies.yaml", Object: obj, Field: "pods",
					Msg: fmt.Sprintf(": accept no ingress from namespace %s (Knative's data plane)", ns)})
			}
		}
		for _, ns := range gotNS {
			if !slices.Contains(wantNS, ns) {
				ps = append(ps, problem{File: "base/network-policies.yaml", Object: obj, Field: "pods",
					Msg: fmt.Sprintf(": accept ingress from namespace %s, which is no part of Knative's data plane", ns)})
			}
		}
		if got := sortedKeys(rc.services); !slices.Equal(got, wantPeers) {
			ps = append(ps, problem{File: "base/network-policies.yaml", Object: obj, Field: "pods",
				Msg: fmt.Sprintf(": accept ingress from the pods of %v, want exactly the public entry points %v", got, wantPeers)})
		}
	}
	return ps
}

func TestNetworkPoliciesGuardClusterLocalServices(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkNetworkPolicies(r))
	}
}

// ingressPatch is the overlay patch docs/deploy.md shows for a networking
// layer other than Kourier.
const ingressPatch = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-from-knative-ingress
  namespace: orange
spec:
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              kubernetes.io/metadata.name: istio-system
`

// TestIngressNamespacePatch: the patch of docs/deploy.md moves the ingress
// rule to another namespace, and the result passes the checks.
func TestIngressNamespacePatch(t *testing.T) {
	t.Parallel()
	tr := newTree(t)
	tr.addPatch("overlays/production", "ingress-namespace.yaml", ingressPatch)
	r, err := tr.render("overlays/production")
	if err != nil {
		t.Fatal(err)
	}
	report(t, "patched production", checkNetworkPolicies(r))
	report(t, "patched production", checkBuiltinObjects(r))
	for _, o := range r.byKind("NetworkPolicy") {
		got := fmt.Sprint(o.M["spec"])
		if o.Name == ingressPolicy && !strings.Contains(got, "istio-system") || o.Name != ingressPolicy && strings.Contains(got, "istio-system") {
			t.Errorf("NetworkPolicy %s after the patch: %s", o.Name, got)
		}
	}
}

func TestNetworkPolicyMutationsAreCaught(t *testing.T) {
	t.Parallel()
	const file = "base/network-policies.yaml"
	edit := func(name string, fn func(m map[string]any)) func(*tree) {
		return func(tr *tree) { tr.editDoc(file, "NetworkPolicy", name, fn) }
	}
	from := func(m map[string]any) []any { return list(list(m, "spec", "ingress")[0].(map[string]any), "from") }
	tests := []struct {
		name   string
		mutate func(*tree)
		want   string
	}{
		{
			name: "eventing's rule dropped",
			mutate: func(tr *tree) {
				tr.write(file, []byte(strings.Replace(string(tr.read(file)), "kubernetes.io/metadata.name: knative-eventing", "kubernetes.io/metadata.name: knative-eventng", 1)))
			},
			want: "base/network-policies.yaml: Service notification-worker: pods: accept no ingress from namespace knative-eventing (Knative's data plane)",
		},
		{
			name: "dead-letter left out",
			mutate: func(tr *tree) {
				tr.write(file, []byte(strings.ReplaceAll(string(tr.read(file)), "values: [api-gateway, public-portal, call-center-portal]\n  policyTypes", "values: [api-gateway, public-portal, call-center-portal, dead-letter]\n  policyTypes")))
			},
			want: "base/dead-letter.yaml: Service dead-letter: pods: cluster-local, but no NetworkPolicy selects its pods: anything in the cluster reaches them (base/network-policies.yaml)",
		},
		{
			name: "gateway selected",
			mutate: edit("allow-from-knative-serving", func(m map[string]any) {
				mapAt(m, "spec")["podSelector"] = map[string]any{"matchExpressions": []any{map[string]any{"key": serviceLabel, "operator": "Exists"}}}
			}),
			want: "base/network-policies.yaml: Service api-gateway: pods: public, but selected by [allow-from-knative-serving]; the public entry points take traffic from the external gateway",
		},
		{
			name:   "every namespace",
			mutate: edit("allow-from-knative-eventing", func(m map[string]any) { from(m)[0] = map[string]any{"namespaceSelector": map[string]any{}} }),
			want:   "base/network-policies.yaml: Service customers-api: pods: open to every source: allow-from-knative-eventing spec.ingress[0].from[0] selects every namespace",
		},
		{
			name: "namespace by a label anyone can set",
			mutate: edit("allow-from-knative-serving", func(m map[string]any) {
				from(m)[0] = map[string]any{"namespaceSelector": map[string]any{"matchLabels": map[string]any{"team": "knative"}}}
			}),
			want: "base/network-policies.yaml: NetworkPolicy allow-from-knative-serving: spec.ingress[0].from[0].namespaceSelector: match exactly one namespace by matchLabels kubernetes.io/metadata.name (set by the API server; other labels can be put on any namespace)",
		},
		{
			name:   "rule without from",
			mutate: edit("allow-from-gateway-and-portals", func(m map[string]any) { delete(list(m, "spec", "ingress")[0].(map[string]any), "from") }),
			want:   "base/network-policies.yaml: Service pricing-api: pods: open to every source: allow-from-gateway-and-portals spec.ingress[0] has no from",
		},
		{
			name:   "ip block",
			mutate: edit("allow-from-gateway-and-portals", func(m map[string]any) { from(m)[0] = map[string]any{"ipBlock": map[string]any{"cidr": "0.0.0.0/0"}} }),
			want:   "base/network-policies.yaml: Service payments-api: pods: open to every source: allow-from-gateway-and-portals spec.ingress[0].from[0] is an ipBlock",
		},
		{
			name: "a function as peer",
			mutate: edit("allow-from-gateway-and-portals", func(m map[string]any) {
				e := mapAt(from(m)[0].(map[string]any), "podSelector")["matchExpressions"].([]any)[0].(map[string]any)
				e["values"] = append(e["values"].([]any), "reservations-api")
			}),
			want: "base/network-policies.yaml: Service customers-api: pods: accept ingress from the pods of [api-gateway call-center-portal public-portal reservations-api], want exactly the public entry points [api-gateway call-center-portal public-portal]",
		},
		{
			name:   "ingress policy gone",
			mutate: edit(ingressPolicy, func(m map[string]any) { mapAt(m, "metadata")["name"] = "allow-from-kourier" }),
			want:   "base/network-policies.yaml: NetworkPolicy allow-from-knative-ingress: metadata.name: missing in overlays/production; it names the networking layer's namespace (kourier-system by default)",
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
			mustContain(t, checkNetworkPolicies(r), tt.want)
		})
	}
}
