package knative_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	eventingauth "knative.dev/eventing/pkg/auth"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/orangecarrental/orange/functions/host"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
)

// Trust between processes (design.md §9) as the manifests carry it: one
// ServiceAccount per Service, the OIDC audiences of every delivery, the
// producers' Broker token, the settings that point the code at the issuers.

const (
	// issuerDiscoveryBinding lets the functions read the cluster issuer's
	// discovery document and keys (base/service-accounts.yaml).
	issuerDiscoveryBinding = "orange-service-account-issuer-discovery"
	issuerDiscoveryRole    = "system:service-account-issuer-discovery"
	// brokerTokenVolume is the projected token a producer's relay sends its
	// events to the Broker with, mounted at brokerTokenDir.
	brokerTokenVolume = "broker-token"
	brokerTokenDir    = "/var/run/secrets/orange/broker"
	brokerTokenTTL    = 3600
	// The Broker every producer sends to.
	brokerName = "default"
)

// noServiceClient names the functions that have no OAuth client of their
// own (no Keycloak client, no OIDC_CLIENT_SECRET), and why.
var noServiceClient = map[string]string{
	gatewayService:       "forwards the caller's own token; never calls on its own behalf",
	"notifications-api":  "calls no other function: everything it needs is in the notifier schema",
	"dead-letter":        "calls no other function: its replays leave through its outbox to the Broker",
	"report-worker":      "calls no other function: its model is fed by events, report.frozen leaves through its outbox",
	"sync-worker":        "calls no other function: webhooks go to partners' endpoints, inbound events leave through its outbox",
	"call-center-portal": "calls the functions as the signed-in user (the session's token), never on its own behalf",
	"public-portal":      "calls the functions as the signed-in user (the session's token) or anonymously for guests, never on its own behalf",
}

var (
	serviceGVK    = servingv1.SchemeGroupVersion.WithKind("Service")
	brokerGVK     = eventingv1.SchemeGroupVersion.WithKind("Broker")
	triggerGVK    = eventingv1.SchemeGroupVersion.WithKind("Trigger")
	pingSourceGVK = sourcesv1.SchemeGroupVersion.WithKind("PingSource")
)

// serviceAudience is the OIDC audience of Knative Service name, as the Go
// code computes it (auth.ServiceAudience) — and as Knative Eventing would,
// which the tests hold it to.
func serviceAudience(name string) string { return auth.ServiceAudience(namespace, name) }

// envDefault finds the field of struct type t (nested structs included)
// whose `env` tag names the variable name, and returns its default.
func envDefault(t reflect.Type, name string) (def string, found bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("env")
		parts := strings.Split(tag, ",")
		if strings.TrimSpace(parts[0]) == name && tag != "" {
			for _, p := range parts[1:] {
				if d, ok := strings.CutPrefix(strings.TrimSpace(p), "default="); ok {
					return d, true
				}
			}
			return "", true
		}
		if f.Type.Kind() == reflect.Struct && tag == "" {
			if d, ok := envDefault(f.Type, name); ok {
				return d, true
			}
		}
	}
	return "", false
}

// checkServiceAccounts: every Knative Service runs as the ServiceAccount of
// its own name, which the tree holds; no ServiceAccount of the tree is
// unused; a Service that runs no code of ours gets no token at all (none
// since issue 14 made the dead-letter sink a function), the functions
// keep theirs (they read the issuer's keys with it).
func checkServiceAccounts(r *rendered) []problem {
	var ps []problem
	accounts := map[string]object{}
	for _, sa := range r.byKind("ServiceAccount") {
		accounts[sa.Name] = sa
	}
	used := map[string]bool{}
	for _, o := range r.Objects {
		var p []string
		switch o.Kind {
		case "Service", "Job":
			p = []string{"spec", "template", "spec", "serviceAccountName"}
		case "CronJob":
			p = []string{"spec", "jobTemplate", "spec", "template", "spec", "serviceAccountName"}
		default:
			continue
		}
		if name := str(o.M, p...); name != "" {
			used[name] = true
		}
	}
	for _, svc := range r.knativeServices() {
		p := []string{"spec", "template", "spec", "serviceAccountName"}
		file := r.origin("Service", svc.Name, p...)
		if file == "" {
			file = r.fileOf("Service", svc.Name)
		}
		got := str(svc.M, p...)
		if got != svc.Name {
			ps = append(ps, problem{File: file, Object: svc.String(), Field: fieldName(p...),
				Msg: wantGot(got, svc.Name) + " (one identity per Service, design.md §9)"})
			continue
		}
		sa, ok := accounts[got]
		if !ok {
			ps = append(ps, problem{File: "base/service-accounts.yaml", Object: "ServiceAccount " + got, Field: "metadata.name",
				Msg: fmt.Sprintf(": missing; Service %s runs as it", svc.Name)})
			continue
		}
		auto, set := lookup(sa.M, "automountServiceAccountToken")
		switch {
		case isFunction(svc) && set && auto != true:
			ps = append(ps, problem{File: r.fileOf("ServiceAccount", sa.Name), Object: sa.String(), Field: "automountServiceAccountToken",
				Msg: fmt.Sprintf(" = %v: function %s reads the cluster issuer's keys with its token", auto, svc.Name)})
		case !isFunction(svc) && auto != false:
			got := ""
			if set {
				got = fmt.Sprint(auto)
			}
			ps = append(ps, problem{File: r.fileOf("ServiceAccount", sa.Name), Object: sa.String(), Field: "automountServiceAccountToken",
				Msg: wantGot(got, "false") + fmt.Sprintf(" (%s runs no code of ours and needs no token)", svc.Name)})
		}
	}
	for _, name := range sortedKeys(accounts) {
		if !used[name] {
			ps = append(ps, problem{File: r.fileOf("ServiceAccount", name), Object: "ServiceAccount " + name, Field: "metadata.name",
				Msg: ": no workload of " + r.Dir + " runs as it; delete it"})
		}
	}
	return ps
}

// checkIssuerDiscoveryBinding: the one ClusterRoleBinding grants
// system:service-account-issuer-discovery to exactly the functions'
// ServiceAccounts (not a Service's that runs no code of ours).
func checkIssuerDiscoveryBinding(r *rendered) []problem {
	var want []string
	for _, svc := range r.knativeServices() {
		if isFunction(svc) {
			want = append(want, namespace+"/"+svc.Name)
		}
	}
	slices.Sort(want)
	var ps []problem
	found := false
	for _, b := range r.byKind("ClusterRoleBinding") {
		if b.Name != issuerDiscoveryBinding {
			continue
		}
		found = true
		file := r.fileOf(b.Kind, b.Name)
		if g, k, n := str(b.M, "roleRef", "apiGroup"), str(b.M, "roleRef", "kind"), str(b.M, "roleRef", "name"); g != "rbac.authorization.k8s.io" || k != "ClusterRole" || n != issuerDiscoveryRole {
			ps = append(ps, problem{File: file, Object: b.String(), Field: "roleRef", Msg: fmt.Sprintf(" = %s %s %s, want ClusterRole %s (and nothing broader)", g, k, n, issuerDiscoveryRole)})
		}
		var got []string
		for _, s := range list(b.M, "subjects") {
			m, _ := s.(map[string]any)
			if str(m, "kind") != "ServiceAccount" {
				ps = append(ps, problem{File: file, Object: b.String(), Field: "subjects", Msg: fmt.Sprintf(": %s %s: only the functions' ServiceAccounts", str(m, "kind"), str(m, "name"))})
				continue
			}
			got = append(got, str(m, "namespace")+"/"+str(m, "name"))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			ps = append(ps, problem{File: file, Object: b.String(), Field: "subjects", Msg: fmt.Sprintf(" = %v, want the functions' ServiceAccounts %v", got, want)})
		}
	}
	if !found {
		ps = append(ps, problem{File: "base/service-accounts.yaml", Object: "ClusterRoleBinding " + issuerDiscoveryBinding, Field: "metadata.name",
			Msg: fmt.Sprintf(": missing in %s; the functions fetch the cluster issuer's keys with their own token", r.Dir)})
	}
	return ps
}

// refEnv checks that env var name of c comes from kind ("configMapKeyRef" or
// "secretKeyRef") object/key, optional or not.
func refEnv(env map[string]map[string]any, name, kind, object, key string, optional bool) string {
	e, ok := env[name]
	if !ok {
		return " is not set"
	}
	ref := mapAt(e, "valueFrom", kind)
	opt, _ := lookup(ref, "optional")
	if ref == nil || str(ref, "name") != object || str(ref, "key") != key || (opt == true) != optional {
		o := ""
		if optional {
			o = ", optional: true"
		}
		return fmt.Sprintf(": want valueFrom.%s name %s, key %s%s", kind, object, key, o)
	}
	return ""
}

// checkTrustSettings: every function reads the event issuer from
// orange-environment (optional: the code defaults to the in-cluster issuer);
// every function with a client of its own reads its secret from its own
// Secret (required) and the token endpoint from orange-environment
// (optional); a function without one has neither.
func checkTrustSettings(r *rendered) []problem {
	var ps []problem
	for _, svc := range r.knativeServices() {
		if !isFunction(svc) {
			continue
		}
		env := envOf(firstContainer(svc))
		add := func(name, msg string) {
			keys := containerPath(svc, "env["+name+"]")
			f := r.origin("Service", svc.Name, "spec", "template", "spec", "containers")
			if f == "" {
				f = r.fileOf("Service", svc.Name)
			}
			ps = append(ps, problem{File: f, Object: svc.String(), Field: fieldName(keys...), Msg: msg})
		}
		if msg := refEnv(env, "EVENTS_OIDC_ISSUER_URL", "configMapKeyRef", "orange-environment", "events-oidc-issuer-url", true); msg != "" {
			add("EVENTS_OIDC_ISSUER_URL", msg)
		}
		if why := noServiceClient[svc.Name]; why != "" {
			for _, name := range []string{"OIDC_CLIENT_SECRET", "OIDC_TOKEN_URL"} {
				if _, ok := env[name]; ok {
					add(name, fmt.Sprintf(": %s has no client of its own (%s)", svc.Name, why))
				}
			}
			continue
		}
		if msg := refEnv(env, "OIDC_CLIENT_SECRET", "secretKeyRef", svc.Name+"-oidc-client", "client-secret", false); msg != "" {
			add("OIDC_CLIENT_SECRET", msg+" (its own client's secret, docs/deploy.md)")
		}
		if msg := refEnv(env, "OIDC_TOKEN_URL", "configMapKeyRef", "orange-environment", "oidc-token-url", true); msg != "" {
			add("OIDC_TOKEN_URL", msg)
		}
	}
	return ps
}

// sinkBroker is the Broker the broker-sink SinkBinding gives the producers
// as K_SINK: the audience of their Broker token.
func sinkBroker(r *rendered) string {
	for _, sb := range r.byKind("SinkBinding") {
		if str(sb.M, "spec", "sink", "ref", "kind") == "Broker" {
			return str(sb.M, "spec", "sink", "ref", "name")
		}
	}
	return ""
}

// checkBrokerToken: a Service with the emits-events label mounts a token of
// its own ServiceAccount for the Broker's audience, read-only at
// brokerTokenDir (not /oidc, the SinkBinding's); a Service without the label
// has no such token.
func checkBrokerToken(r *rendered) []problem {
	var ps []problem
	audience := auth.BrokerAudience(namespace, sinkBroker(r))
	for _, svc := range r.knativeServices() {
		file := r.fileOf("Service", svc.Name)
		add := func(keys []string, msg string) {
			ps = append(ps, problem{File: file, Object: svc.String(), Field: fieldName(keys...), Msg: msg})
		}
		var vol map[string]any
		for _, v := range list(svc.M, "spec", "template", "spec", "volumes") {
			if m, _ := v.(map[string]any); str(m, "name") == brokerTokenVolume {
				vol = m
			}
		}
		var mount map[string]any
		for _, m := range list(firstContainer(svc), "volumeMounts") {
			if mm, _ := m.(map[string]any); str(mm, "name") == brokerTokenVolume {
				mount = mm
			}
		}
		volPath := []string{"spec", "template", "spec", "volumes[" + brokerTokenVolume + "]"}
		if str(svc.M, "metadata", "labels", emitsEventsKey) != "true" {
			if vol != nil || mount != nil {
				add(volPath, ": only producers (label "+emitsEventsKey+") hold a token for the Broker")
			}
			continue
		}
		if vol == nil {
			add(volPath, fmt.Sprintf(" is not set: a producer sends its events with its own token (projected serviceAccountToken, audience %s)", audience))
			continue
		}
		srcs := list(vol, "projected", "sources")
		var tok map[string]any
		if len(srcs) == 1 {
			tok = mapAt(srcs[0].(map[string]any), "serviceAccountToken")
		}
		if tok == nil {
			add(append(volPath, "projected", "sources"), ": want exactly one serviceAccountToken source")
		} else {
			if got := str(tok, "audience"); got != audience {
				add(append(volPath, "projected", "sources[0]", "serviceAccountToken", "audience"), wantGot(got, audience)+" (the Broker's, auth.BrokerAudience)")
			}
			if got := str(tok, "path"); got != "token" {
				add(append(volPath, "projected", "sources[0]", "serviceAccountToken", "path"), wantGot(got, "token"))
			}
			if got, _ := lookup(tok, "expirationSeconds"); fmt.Sprint(got) != fmt.Sprint(brokerTokenTTL) {
				add(append(volPath, "projected", "sources[0]", "serviceAccountToken", "expirationSeconds"), wantGot(fmt.Sprint(got), fmt.Sprint(brokerTokenTTL)))
			}
		}
		mountPath := containerPath(svc, "volumeMounts["+brokerTokenVolume+"]")
		switch {
		case mount == nil:
			add(mountPath, fmt.Sprintf(" is not set: mount it at %s", brokerTokenDir))
		case str(mount, "mountPath") != brokerTokenDir:
			add(append(mountPath, "mountPath"), wantGot(str(mount, "mountPath"), brokerTokenDir)+" (BROKER_TOKEN_FILE's directory; /oidc is the SinkBinding's)")
		case mount["readOnly"] != true:
			add(append(mountPath, "readOnly"), wantGot(fmt.Sprint(mount["readOnly"]), "true"))
		}
	}
	return ps
}

// destinations lists every Destination of the tree that Knative Eventing
// delivers to with a token: Trigger subscribers and dead-letter sinks, the
// Broker's dead-letter sink, PingSource sinks.
type destination struct {
	Object object
	Path   []string
}

func destinations(r *rendered) []destination {
	var out []destination
	for _, o := range r.Objects {
		var paths [][]string
		switch o.Kind {
		case "Trigger":
			paths = [][]string{{"spec", "subscriber"}, {"spec", "delivery", "deadLetterSink"}}
		case "Broker":
			paths = [][]string{{"spec", "delivery", "deadLetterSink"}}
		case "PingSource":
			paths = [][]string{{"spec", "sink"}}
		}
		for _, p := range paths {
			if mapAt(o.M, p...) != nil {
				out = append(out, destination{Object: o, Path: p})
			}
		}
	}
	return out
}

// checkAudiences: every Destination names its receiver's audience, the
// Knative Service's in Eventing's format. Serving publishes none, so
// without it Eventing attaches no token and the receiver refuses the
// delivery (401, retried, dead-lettered).
func checkAudiences(r *rendered) []problem {
	var ps []problem
	for _, d := range destinations(r) {
		ref := mapAt(d.Object.M, append(d.Path, "ref")...)
		if str(ref, "kind") != "Service" || str(ref, "apiVersion") != "serving.knative.dev/v1" {
			continue // checkTriggers and checkSources report those
		}
		ns := str(ref, "namespace")
		if ns == "" {
			ns = d.Object.Namespace
		}
		want := auth.ServiceAudience(ns, str(ref, "name"))
		keys := append(append([]string{}, d.Path...), "audience")
		got := str(d.Object.M, keys...)
		if got == want {
			continue
		}
		f := r.origin(d.Object.Kind, d.Object.Name, keys...)
		if f == "" {
			f = r.fileOf(d.Object.Kind, d.Object.Name)
		}
		ps = append(ps, problem{File: f, Object: d.Object.String(), Field: fieldName(keys...),
			Msg: wantGot(got, want) + " (the receiver's OIDC audience: Knative Serving publishes none)"})
	}
	return ps
}

func TestTrustBetweenProcessesIsWired(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkServiceAccounts(r))
		report(t, r.Dir, checkIssuerDiscoveryBinding(r))
		report(t, r.Dir, checkTrustSettings(r))
		report(t, r.Dir, checkBrokerToken(r))
		report(t, r.Dir, checkAudiences(r))
	}
}

// TestAudiencesAreEventingsFormat holds the Go code's audiences to Knative
// Eventing's own function (pkg/auth GetAudience) for every receiver and
// Broker of the tree: the receivers verify the tokens for
// auth.ServiceAudience, the Triggers ask Eventing for this string.
func TestAudiencesAreEventingsFormat(t *testing.T) {
	t.Parallel()
	r := renderAll(t)[0]
	n := 0
	for _, d := range destinations(r) {
		ref := mapAt(d.Object.M, append(d.Path, "ref")...)
		name := str(ref, "name")
		got := str(d.Object.M, append(d.Path, "audience")...)
		want := eventingauth.GetAudience(serviceGVK, metav1.ObjectMeta{Namespace: namespace, Name: name})
		if got != want || serviceAudience(name) != want {
			t.Errorf("%s %s: audience %q, auth.ServiceAudience %q, Eventing's GetAudience %q", d.Object, fieldName(d.Path...), got, serviceAudience(name), want)
		}
		n++
	}
	if n < 10 {
		t.Errorf("only %d destinations in base; the walk is broken", n)
	}
	for _, b := range r.byKind("Broker") {
		want := eventingauth.GetAudience(brokerGVK, metav1.ObjectMeta{Namespace: b.Namespace, Name: b.Name})
		if got := auth.BrokerAudience(b.Namespace, b.Name); got != want {
			t.Errorf("Broker %s: auth.BrokerAudience = %q, Eventing sets %q", b.Name, got, want)
		}
	}
	if sinkBroker(r) != brokerName {
		t.Errorf("the broker-sink SinkBinding sends to Broker %q, want %q", sinkBroker(r), brokerName)
	}
}

// TestSenderServiceAccountsAreEventings: platform.Sender reimplements the
// name of the ServiceAccount Knative Eventing creates for a Trigger or
// PingSource (pkg/auth GetOIDCServiceAccountNameForResource), which a
// receiver's route table admits. For every Trigger and PingSource of base,
// and for names long enough to take kmeta.ChildName's hashing branches,
// both must agree.
func TestSenderServiceAccountsAreEventings(t *testing.T) {
	t.Parallel()
	type sender struct {
		gvk  schema.GroupVersionKind
		name string
	}
	var senders []sender
	r := renderAll(t)[0]
	for _, tg := range r.byKind("Trigger") {
		senders = append(senders, sender{triggerGVK, tg.Name})
	}
	for _, p := range r.byKind("PingSource") {
		senders = append(senders, sender{pingSourceGVK, p.Name})
	}
	if len(senders) < 20 {
		t.Fatalf("only %d Triggers and PingSources in base", len(senders))
	}
	for _, name := range []string{
		"a", "reservations-sweep",
		strings.Repeat("x", 31), strings.Repeat("y", 32), strings.Repeat("z", 40), strings.Repeat("q", 63), strings.Repeat("w", 120),
		"notification-worker-reservation-no-show-with-a-longer-tail",
		"Mixed-Case-Name",
	} {
		senders = append(senders, sender{triggerGVK, name}, sender{pingSourceGVK, name})
	}
	for _, s := range senders {
		var got string
		switch s.gvk.Kind {
		case "Trigger":
			got = platform.Trigger(s.name).ServiceAccount()
		case "PingSource":
			got = platform.PingSource(s.name).ServiceAccount()
		}
		want := eventingauth.GetOIDCServiceAccountNameForResource(s.gvk, metav1.ObjectMeta{Namespace: namespace, Name: s.name})
		if got != want {
			t.Errorf("%s %q: platform's ServiceAccount() = %q, Eventing names it %q", s.gvk.Kind, s.name, got, want)
		}
	}
}

// TestTrustSettingsAreReadByTheCode: the variables the manifests set for
// trust are the ones the code reads (host.Config), and the Broker token is
// mounted where BROKER_TOKEN_FILE looks by default.
func TestTrustSettingsAreReadByTheCode(t *testing.T) {
	t.Parallel()
	cfg := reflect.TypeOf(host.Config{})
	for _, name := range []string{"EVENTS_OIDC_ISSUER_URL", "OIDC_CLIENT_SECRET", "OIDC_TOKEN_URL", "OIDC_ISSUER_URL"} {
		if _, ok := envDefault(cfg, name); !ok {
			t.Errorf("the manifests set %s, but host.Config reads no such variable", name)
		}
	}
	def, ok := envDefault(cfg, "BROKER_TOKEN_FILE")
	if want := brokerTokenDir + "/token"; !ok || def != want {
		t.Errorf("host.Config BROKER_TOKEN_FILE defaults to %q (found %v); the manifests mount the Broker token at %s", def, ok, want)
	}
}

func TestTrustMutationsAreCaught(t *testing.T) {
	t.Parallel()
	svcDoc := func(file, name string, edit func(m map[string]any)) func(*tree) {
		return func(tr *tree) { tr.editDoc(file, "Service", name, edit) }
	}
	container0 := func(m map[string]any) map[string]any {
		return list(m, "spec", "template", "spec", "containers")[0].(map[string]any)
	}
	dropEnv := func(name string) func(m map[string]any) {
		return func(m map[string]any) {
			c := container0(m)
			var keep []any
			for _, e := range list(c, "env") {
				if str(e.(map[string]any), "name") != name {
					keep = append(keep, e)
				}
			}
			c["env"] = keep
		}
	}
	tests := []struct {
		name   string
		mutate func(*tree)
		check  func(*rendered) []problem
		want   string
	}{
		{
			name:   "service runs as the namespace's default account",
			mutate: svcDoc("base/pricing-api.yaml", "pricing-api", func(m map[string]any) { delete(mapAt(m, "spec", "template", "spec"), "serviceAccountName") }),
			check:  checkServiceAccounts,
			want:   `base/pricing-api.yaml: Service pricing-api: spec.template.spec.serviceAccountName is not set, want "pricing-api" (one identity per Service, design.md §9)`,
		},
		{
			name:   "two services share an account",
			mutate: svcDoc("base/customers-api.yaml", "customers-api", func(m map[string]any) { mapAt(m, "spec", "template", "spec")["serviceAccountName"] = "payments-api" }),
			check:  checkServiceAccounts,
			want:   `base/customers-api.yaml: Service customers-api: spec.template.spec.serviceAccountName = "payments-api", want "customers-api" (one identity per Service, design.md §9)`,
		},
		{
			name: "account missing",
			mutate: func(tr *tree) {
				tr.write("base/service-accounts.yaml", []byte(strings.Replace(string(tr.read("base/service-accounts.yaml")), "name: vehicles-api\n", "name: vehicle-api\n", 1)))
			},
			check: checkServiceAccounts,
			want:  "base/service-accounts.yaml: ServiceAccount vehicles-api: metadata.name: missing; Service vehicles-api runs as it",
		},
		{
			// dead-letter runs our code since issue 14: it verifies its deliveries' tokens.
			name: "sink loses its token",
			mutate: func(tr *tree) {
				tr.editDoc("base/service-accounts.yaml", "ServiceAccount", "dead-letter", func(m map[string]any) { m["automountServiceAccountToken"] = false })
			},
			check: checkServiceAccounts,
			want:  `base/service-accounts.yaml: ServiceAccount dead-letter: automountServiceAccountToken = false: function dead-letter reads the cluster issuer's keys with its token`,
		},
		{
			name: "binding grants a stranger",
			mutate: func(tr *tree) {
				tr.editDoc("base/service-accounts.yaml", "ClusterRoleBinding", issuerDiscoveryBinding, func(m map[string]any) {
					m["subjects"] = append(list(m, "subjects"), map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": "orange"})
				})
			},
			check: checkIssuerDiscoveryBinding,
			want:  "base/service-accounts.yaml: ClusterRoleBinding orange-service-account-issuer-discovery: subjects = …",
		},
		{
			name: "binding to a broader role",
			mutate: func(tr *tree) {
				tr.editDoc("base/service-accounts.yaml", "ClusterRoleBinding", issuerDiscoveryBinding, func(m map[string]any) { mapAt(m, "roleRef")["name"] = "view" })
			},
			check: checkIssuerDiscoveryBinding,
			want:  "base/service-accounts.yaml: ClusterRoleBinding orange-service-account-issuer-discovery: roleRef = rbac.authorization.k8s.io ClusterRole view, want ClusterRole system:service-account-issuer-discovery (and nothing broader)",
		},
		{
			name:   "no event issuer setting",
			mutate: svcDoc("base/notification-worker.yaml", "notification-worker", dropEnv("EVENTS_OIDC_ISSUER_URL")),
			check:  checkTrustSettings,
			want:   "base/notification-worker.yaml: Service notification-worker: spec.template.spec.containers[app].env[EVENTS_OIDC_ISSUER_URL] is not set",
		},
		{
			name: "client secret of another function",
			mutate: svcDoc("base/reservations-api.yaml", "reservations-api", func(m map[string]any) {
				for _, e := range list(container0(m), "env") {
					if str(e.(map[string]any), "name") == "OIDC_CLIENT_SECRET" {
						mapAt(e.(map[string]any), "valueFrom", "secretKeyRef")["name"] = "customers-api-oidc-client"
					}
				}
			}),
			check: checkTrustSettings,
			want:  "base/reservations-api.yaml: Service reservations-api: spec.template.spec.containers[app].env[OIDC_CLIENT_SECRET]: want valueFrom.secretKeyRef name reservations-api-oidc-client, key client-secret (its own client's secret, docs/deploy.md)",
		},
		{
			name: "gateway with a client",
			mutate: svcDoc("base/api-gateway.yaml", "api-gateway", func(m map[string]any) {
				c := container0(m)
				c["env"] = append(list(c, "env"), map[string]any{"name": "OIDC_CLIENT_SECRET", "valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "api-gateway-oidc-client", "key": "client-secret"}}})
			}),
			check: checkTrustSettings,
			want:  "base/api-gateway.yaml: Service api-gateway: spec.template.spec.containers[app].env[OIDC_CLIENT_SECRET]: api-gateway has no client of its own (forwards the caller's own token; never calls on its own behalf)",
		},
		{
			name:   "producer without its broker token",
			mutate: svcDoc("base/payments-api.yaml", "payments-api", func(m map[string]any) { delete(mapAt(m, "spec", "template", "spec"), "volumes") }),
			check:  checkBrokerToken,
			want:   "base/payments-api.yaml: Service payments-api: spec.template.spec.volumes[broker-token] is not set: a producer sends its events with its own token (projected serviceAccountToken, audience eventing.knative.dev/broker/orange/default)",
		},
		{
			name: "broker token for the wrong audience",
			mutate: svcDoc("base/customers-api.yaml", "customers-api", func(m map[string]any) {
				v := list(m, "spec", "template", "spec", "volumes")[0].(map[string]any)
				mapAt(list(v, "projected", "sources")[0].(map[string]any), "serviceAccountToken")["audience"] = "orange-api"
			}),
			check: checkBrokerToken,
			want:  `base/customers-api.yaml: Service customers-api: spec.template.spec.volumes[broker-token].projected.sources[0].serviceAccountToken.audience = "orange-api", want "eventing.knative.dev/broker/orange/default" (the Broker's, auth.BrokerAudience)`,
		},
		{
			name: "broker token mounted where the SinkBinding mounts its own",
			mutate: svcDoc("base/vehicles-api.yaml", "vehicles-api", func(m map[string]any) {
				list(container0(m), "volumeMounts")[0].(map[string]any)["mountPath"] = "/oidc"
			}),
			check: checkBrokerToken,
			want:  `base/vehicles-api.yaml: Service vehicles-api: spec.template.spec.containers[app].volumeMounts[broker-token].mountPath = "/oidc", want "/var/run/secrets/orange/broker" (BROKER_TOKEN_FILE's directory; /oidc is the SinkBinding's)`,
		},
		{
			name: "trigger without the subscriber's audience",
			mutate: func(tr *tree) {
				tr.editDoc("base/vehicles-api.yaml", "Trigger", "vehicles-api-reservation-created", func(m map[string]any) {
					delete(mapAt(m, "spec", "subscriber"), "audience")
				})
			},
			check: checkAudiences,
			want:  `base/vehicles-api.yaml: Trigger vehicles-api-reservation-created: spec.subscriber.audience is not set, want "serving.knative.dev/service/orange/vehicles-api" (the receiver's OIDC audience: Knative Serving publishes none)`,
		},
		{
			name: "dead letters addressed to the subscriber",
			mutate: func(tr *tree) {
				tr.editDoc("base/payments-api.yaml", "Trigger", "payments-api-reservation-created", func(m map[string]any) {
					mapAt(m, "spec", "delivery", "deadLetterSink")["audience"] = serviceAudience("payments-api")
				})
			},
			check: checkAudiences,
			want:  `base/payments-api.yaml: Trigger payments-api-reservation-created: spec.delivery.deadLetterSink.audience = "serving.knative.dev/service/orange/payments-api", want "serving.knative.dev/service/orange/dead-letter" (the receiver's OIDC audience: Knative Serving publishes none)`,
		},
		{
			name: "ping without audience",
			mutate: func(tr *tree) {
				tr.editDoc("base/reservations-api.yaml", "PingSource", "reservations-sweep", func(m map[string]any) { delete(mapAt(m, "spec", "sink"), "audience") })
			},
			check: checkAudiences,
			want:  `base/reservations-api.yaml: PingSource reservations-sweep: spec.sink.audience is not set, want "serving.knative.dev/service/orange/reservations-api" (the receiver's OIDC audience: Knative Serving publishes none)`,
		},
		{
			name: "broker dead letters without audience",
			mutate: func(tr *tree) {
				tr.editDoc("base/broker.yaml", "Broker", "default", func(m map[string]any) { delete(mapAt(m, "spec", "delivery", "deadLetterSink"), "audience") })
			},
			check: checkAudiences,
			want:  `base/broker.yaml: Broker default: spec.delivery.deadLetterSink.audience is not set, want "serving.knative.dev/service/orange/dead-letter" (the receiver's OIDC audience: Knative Serving publishes none)`,
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
			mustContain(t, tt.check(r), tt.want)
		})
	}
}
