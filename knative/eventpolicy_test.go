package knative_test

import (
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	eventingauth "knative.dev/eventing/pkg/auth"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/knative"
)

// Producer policies (base/event-policies.yaml): which identity may send
// which events to the Broker. The checks evaluate the policies with Knative
// Eventing's own code (pkg/auth SubjectAndFiltersPass, which runs the
// SubscriptionsAPI filters of pkg/eventfilter/subscriptionsapi), the way the
// Broker's ingress does when authentication-oidc is on.

const serviceAccountSubject = "system:serviceaccount:"

// subjectOf is the token subject of ServiceAccount name in namespace orange.
func subjectOf(name string) string { return serviceAccountSubject + namespace + ":" + name }

// eventPolicy is one rendered EventPolicy in Knative's type.
type eventPolicy struct {
	Object object
	Spec   eventingv1alpha1.EventPolicySpec
}

func eventPolicies(r *rendered) ([]eventPolicy, []problem) {
	var out []eventPolicy
	var ps []problem
	for _, o := range r.byKind("EventPolicy") {
		var ep eventingv1alpha1.EventPolicy
		b, err := json.Marshal(o.M)
		if err == nil {
			err = json.Unmarshal(b, &ep)
		}
		if err != nil {
			ps = append(ps, problem{File: r.fileOf(o.Kind, o.Name), Object: o.String(), Field: "(document)", Msg: ": does not decode: " + err.Error()})
			continue
		}
		out = append(out, eventPolicy{Object: o, Spec: ep.Spec})
	}
	return out, ps
}

// subjectsWithFilters is what the Broker's ingress evaluates: per policy
// that applies to the Broker, its subjects and its filters, in order.
func subjectsWithFilters(pols []eventPolicy) []eventingauth.SubjectsWithFilters {
	var out []eventingauth.SubjectsWithFilters
	for _, p := range pols {
		var subs []string
		for _, f := range p.Spec.From {
			if f.Sub != nil {
				subs = append(subs, *f.Sub)
			}
		}
		out = append(out, eventingauth.SubjectsWithFilters{Subjects: subs, Filters: p.Spec.Filters})
	}
	return out
}

// subjectMatches is Knative's subject comparison (pkg/auth
// SubjectAndFiltersPass): equal ignoring case, or, for a policy subject
// ending in `*`, a prefix.
func subjectMatches(policySub, sub string) bool {
	return strings.EqualFold(policySub, sub) || (strings.HasSuffix(policySub, "*") && strings.HasPrefix(sub, strings.TrimSuffix(policySub, "*")))
}

// admission evaluates the policies as the Broker's ingress does (pkg/auth
// SubjectAndFiltersPass): the first policy with a subject matching the
// sender decides, by its filters, which Knative's own code evaluates
// (pkg/eventfilter/subscriptionsapi CreateSubscriptionsAPIFilters).
//
// It does not call SubjectAndFiltersPass for the filters, because that one
// cleans its filters up after every event, and in Eventing v0.50 the
// all/any filters' Cleanup reads their filter list without the lock under
// which their optimizer's goroutine reorders it: a data race (make test runs
// with -race) that can even clean a nested filter up twice and panic
// ("close of closed channel") — for payments-api's policy, when the type
// passes and the source does not. So each filter is built per (policy, type,
// source), evaluated once, cached, and never cleaned up (one idle goroutine
// each, a few hundred per run). TestAdmissionDecidesAsKnative holds the
// subject matching and the first-match rule to SubjectAndFiltersPass, with
// filters that cannot race.
type admission struct {
	swf   []eventingauth.SubjectsWithFilters
	cache map[string]bool
}

func newAdmission(pols []eventPolicy) *admission {
	return &admission{swf: subjectsWithFilters(pols), cache: map[string]bool{}}
}

// admits reports whether the Broker's ingress lets sub send an event of typ
// from source.
func (a *admission) admits(sub, typ, source string) bool {
	i := a.decider(sub)
	return i >= 0 && a.passes(i, typ, source)
}

// decider is the index of the policy that decides for sub, -1 for none.
func (a *admission) decider(sub string) int {
	for i, p := range a.swf {
		for _, s := range p.Subjects {
			if subjectMatches(s, sub) {
				return i
			}
		}
	}
	return -1
}

func (a *admission) passes(policy int, typ, source string) bool {
	key := fmt.Sprint(policy, "\x00", typ, "\x00", source)
	if v, ok := a.cache[key]; ok {
		return v
	}
	f := subscriptionsapi.CreateSubscriptionsAPIFilters(zap.NewNop(), a.swf[policy].Filters)
	v := f.Filter(context.Background(), testEvent(typ, source)) != eventfilter.FailFilter
	a.cache[key] = v
	return v
}

func testEvent(typ, source string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID("test")
	e.SetType(typ)
	e.SetSource(source)
	return e
}

// replayers are the producers that send no events of their own but others'
// again, with the original source (events.RecordReplay): the one-producer and
// own-source rules do not hold them; checkReplayerPolicies holds each to the
// union of the producers' policies instead.
var replayers = map[string]string{
	"dead-letter": "replays dead letters: the original events, with their producers' sources",
}

// producer is what the code of one function package says about the events
// it records (events.Emit, events.New).
type producer struct {
	Dir     string   // "functions/fleet"
	Sources []string // the source values; "" for one that is not a constant
}

// producerSources scans the non-test Go files of every package under
// functions/ for the events it records and returns them by the package's
// ServiceName constant (its Knative Service).
func producerSources(t testing.TB) map[string]producer {
	t.Helper()
	modDir, modPath := moduleRoot(t)
	sc := &constScanner{modDir: modDir, modPath: modPath, fset: token.NewFileSet(), pkgs: map[string]*parsedPackage{}}
	eventsPath := modPath + "/events"
	out := map[string]producer{}
	err := filepath.WalkDir(filepath.Join(modDir, "functions"), func(dir string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		pkg, err := sc.parse(dir)
		if err != nil || pkg == nil {
			return err
		}
		rel, _ := filepath.Rel(modDir, dir)
		service, _ := sc.resolve(pkg, ast.NewIdent("ServiceName"), nil)
		if service == "" {
			service = filepath.ToSlash(rel)
		}
		for _, f := range pkg.files {
			eventsName := importName(f, eventsPath)
			if eventsName == "" {
				continue
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				x, ok := sel.X.(*ast.Ident)
				arg, known := map[string]int{"Emit": 3, "New": 0}[sel.Sel.Name]
				if !ok || x.Name != eventsName || !known || arg >= len(call.Args) {
					return true
				}
				src, ok := sc.resolve(pkg, call.Args[arg], f)
				if !ok {
					t.Logf("%s: events.%s with a source that is not a constant", sc.fset.Position(call.Pos()), sel.Sel.Name)
				}
				p := out[service]
				p.Dir = filepath.ToSlash(rel)
				if !slices.Contains(p.Sources, src) {
					p.Sources = append(p.Sources, src)
				}
				out[service] = p
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// constScanner resolves string constants across the packages of this module
// from their syntax: literals, constants of the package, and constants of
// other packages of the module (customers.ServiceName = customersapi.Service).
type constScanner struct {
	modDir, modPath string
	fset            *token.FileSet
	pkgs            map[string]*parsedPackage
}

type parsedPackage struct {
	dir    string
	files  []*ast.File
	consts map[string]constDef
}

type constDef struct {
	expr ast.Expr
	file *ast.File
}

// parse reads the non-test files of the package in dir (nil if none).
func (sc *constScanner) parse(dir string) (*parsedPackage, error) {
	if p, ok := sc.pkgs[dir]; ok {
		return p, nil
	}
	pkgs, err := parser.ParseDir(sc.fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		return nil, err
	}
	var p *parsedPackage
	for _, pkg := range pkgs {
		p = &parsedPackage{dir: dir, consts: map[string]constDef{}}
		for _, f := range pkg.Files {
			p.files = append(p.files, f)
			for _, decl := range f.Decls {
				gd, ok := decl.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							p.consts[n.Name] = constDef{expr: vs.Values[i], file: f}
						}
					}
				}
			}
		}
	}
	sc.pkgs[dir] = p
	return p, nil
}

// resolve returns the string value of e, an expression of file f in pkg.
func (sc *constScanner) resolve(pkg *parsedPackage, e ast.Expr, f *ast.File) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		v, err := strconv.Unquote(e.Value)
		return v, err == nil
	case *ast.Ident:
		def, ok := pkg.consts[e.Name]
		if !ok {
			return "", false
		}
		return sc.resolve(pkg, def.expr, def.file)
	case *ast.SelectorExpr:
		x, ok := e.X.(*ast.Ident)
		if !ok || f == nil {
			return "", false
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			rel, inModule := strings.CutPrefix(path, sc.modPath+"/")
			if !inModule || importName(f, path) != x.Name {
				continue
			}
			other, err := sc.parse(filepath.Join(sc.modDir, filepath.FromSlash(rel)))
			if err != nil || other == nil {
				return "", false
			}
			return sc.resolve(other, ast.NewIdent(e.Sel.Name), nil)
		}
	}
	return "", false
}

// importName is the name file f uses for import path ("" when it does not
// import it); without an explicit name, the path's last element.
func importName(f *ast.File, path string) string {
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			if imp.Name != nil {
				return imp.Name.Name
			}
			return path[strings.LastIndex(path, "/")+1:]
		}
	}
	return ""
}

// checkEventPolicies holds the policies to design.md §9:
//   - each applies to the Broker of the tree and nothing else;
//   - its subjects are ServiceAccounts of the tree's producers (Services
//     labelled emits-events), named exactly (no wildcard);
//   - every producer has a policy, every subject is in exactly one policy
//     (Knative lets the first policy whose subject matches decide, so a
//     second one would silently never apply — or apply instead);
//   - when a producer's code records its events with one fixed source
//     (sources: source values per producer, "" for a non-constant), its
//     policy pins that source with an exact filter, and only then.
func checkEventPolicies(r *rendered, sources map[string]producer) []problem {
	pols, ps := eventPolicies(r)
	producers := map[string]bool{}
	for _, svc := range r.knativeServices() {
		if str(svc.M, "metadata", "labels", emitsEventsKey) == "true" {
			producers[svc.Name] = true
		}
	}
	bySubject := map[string][]string{}
	for _, p := range pols {
		file := r.fileOf(p.Object.Kind, p.Object.Name)
		add := func(field, msg string) {
			ps = append(ps, problem{File: file, Object: p.Object.String(), Field: field, Msg: msg})
		}
		if len(p.Spec.To) != 1 || p.Spec.To[0].Ref == nil || p.Spec.To[0].Ref.APIVersion != "eventing.knative.dev/v1" || p.Spec.To[0].Ref.Kind != "Broker" || p.Spec.To[0].Ref.Name != sinkBroker(r) {
			add("spec.to", fmt.Sprintf(": want exactly [ref: eventing.knative.dev/v1 Broker %s] (an empty `to` would apply to every receiver of the namespace)", sinkBroker(r)))
		}
		var services []string
		for i, f := range p.Spec.From {
			field := fmt.Sprintf("spec.from[%d]", i)
			if f.Sub == nil {
				add(field, ": name the producer's subject in sub (system:serviceaccount:orange:<service>)")
				continue
			}
			sub := *f.Sub
			bySubject[strings.ToLower(sub)] = append(bySubject[strings.ToLower(sub)], p.Object.Name)
			svc, ok := strings.CutPrefix(sub, serviceAccountSubject+namespace+":")
			switch {
			case strings.Contains(sub, "*"):
				add(field+".sub", fmt.Sprintf(" = %q: name one ServiceAccount, no wildcard", sub))
			case !ok:
				add(field+".sub", fmt.Sprintf(" = %q: want %s<service>", sub, serviceAccountSubject+namespace+":"))
			case !producers[svc]:
				add(field+".sub", fmt.Sprintf(" = %q: %s is no producer of %s (no Knative Service with %s: \"true\")", sub, svc, r.Dir, emitsEventsKey))
			default:
				services = append(services, svc)
			}
		}
		if len(p.Spec.Filters) == 0 {
			add("spec.filters", ": not set: a policy without filters lets its subjects send every type")
		}
		// The source pin: an exact filter on source at the top level.
		var pinned []string
		for _, f := range p.Spec.Filters {
			if s, ok := f.Exact["source"]; ok {
				pinned = append(pinned, s)
			}
		}
		for _, svc := range services {
			prod, emits := sources[svc]
			fixed := emits && len(prod.Sources) == 1 && prod.Sources[0] != ""
			switch {
			case replayers[svc] != "":
				// What it admits: checkReplayerPolicies.
			case !emits:
				add("spec.from", fmt.Sprintf(": no package under functions/ with ServiceName %q records events", svc))
			case fixed && !slices.Equal(pinned, prod.Sources):
				add("spec.filters", fmt.Sprintf(": exact source = %q, want %q (%s records every event with that source)", pinned, prod.Sources[0], prod.Dir))
			case !fixed && len(pinned) > 0:
				add("spec.filters", fmt.Sprintf(": pins source %q, but %s records events with sources %q; drop the pin or make the source one constant", pinned, prod.Dir, prod.Sources))
			}
		}
	}
	for sub, names := range bySubject {
		if len(names) > 1 {
			slices.Sort(names)
			ps = append(ps, problem{File: "base/event-policies.yaml", Object: "subject " + sub, Field: "spec.from",
				Msg: fmt.Sprintf(": in %d policies %v; Knative lets the first matching one decide, so name each subject once", len(names), names)})
		}
	}
	for sub := range bySubject {
		for other := range bySubject {
			if sub != other && strings.HasSuffix(sub, "*") && subjectMatches(sub, other) {
				ps = append(ps, problem{File: "base/event-policies.yaml", Object: "subject " + other, Field: "spec.from",
					Msg: fmt.Sprintf(": also matched by %q", sub)})
			}
		}
	}
	for _, p := range sortedKeys(producers) {
		if len(bySubject[strings.ToLower(subjectOf(p))]) == 0 {
			ps = append(ps, problem{File: "base/event-policies.yaml", Object: "producer " + p, Field: "spec.from",
				Msg: fmt.Sprintf(": no EventPolicy names %s; once any policy applies to the Broker, its events are refused", subjectOf(p))})
		}
	}
	return ps
}

// metaOf is the ObjectMeta Knative's functions name an object by.
func metaOf(o object) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name}
}

// identities are the token subjects the admission matrix tries: every
// ServiceAccount of the tree, the accounts Knative Eventing gives the
// Triggers and PingSources, and strangers (the namespace's default account,
// a producer's name in another namespace).
func identities(r *rendered) []string {
	var out []string
	for _, sa := range r.byKind("ServiceAccount") {
		out = append(out, subjectOf(sa.Name))
	}
	for _, tg := range r.byKind("Trigger") {
		out = append(out, subjectOf(eventingauth.GetOIDCServiceAccountNameForResource(triggerGVK, metaOf(tg))))
	}
	for _, p := range r.byKind("PingSource") {
		out = append(out, subjectOf(eventingauth.GetOIDCServiceAccountNameForResource(pingSourceGVK, metaOf(p))))
	}
	return append(out, subjectOf("default"), serviceAccountSubject+"other:payments-api", "system:anonymous")
}

// checkAdmissionMatrix: every type of the catalogue (but what comes from
// outside, like PingSource's) is admitted at the Broker for exactly one
// identity, sending with its own Service name as source, and for nobody
// with any other source: each event type has exactly one producer, and a
// producer cannot pass its events off as another's.
func checkAdmissionMatrix(r *rendered, types []string) []problem {
	pols, ps := eventPolicies(r)
	adm := newAdmission(pols)
	ids := identities(r)
	var names []string // every Service's name: the sources one could claim
	for _, svc := range r.knativeServices() {
		names = append(names, svc.Name)
	}
	for _, typ := range types {
		var admitted []string
		for _, id := range ids {
			name := id[strings.LastIndex(id, ":")+1:]
			if replayers[name] != "" && strings.HasPrefix(id, serviceAccountSubject+namespace+":") {
				continue // sends others' events again (replayers)
			}
			if adm.admits(id, typ, name) {
				admitted = append(admitted, id)
			}
			for _, src := range names {
				if src != name && adm.admits(id, typ, src) {
					ps = append(ps, problem{File: "base/event-policies.yaml", Object: "event type " + typ, Field: "source",
						Msg: fmt.Sprintf(": %s may send it with source %q, another identity's name", id, src)})
				}
			}
		}
		switch len(admitted) {
		case 1:
		case 0:
			ps = append(ps, problem{File: "base/event-policies.yaml", Object: "event type " + typ, Field: "producers",
				Msg: ": no identity may send it to the Broker; its producer's policy must admit it"})
		default:
			ps = append(ps, problem{File: "base/event-policies.yaml", Object: "event type " + typ, Field: "producers",
				Msg: fmt.Sprintf(": %d identities may send it %v; exactly one produces it", len(admitted), admitted)})
		}
	}
	return ps
}

// checkReplayerPolicies: a replayer may send exactly what some producer may
// send — a type only with a source a producer's policy admits it with — so
// its replays get through, and its identity cannot forge a source or a type
// no producer may send. Probed with every catalogue type, a made-up type of
// ours within and outside the producers' families, and a ping, each with
// every Service's name and a stranger's as source.
func checkReplayerPolicies(r *rendered, types []string) []problem {
	pols, ps := eventPolicies(r)
	adm := newAdmission(pols)
	var names []string
	for _, svc := range r.knativeServices() {
		names = append(names, svc.Name)
	}
	probes := append(slices.Clone(types), "com.orangecarrental.customer.made_up.v1", "com.orangecarrental.made_up.v1", events.Ping)
	probes = append(probes, sortedKeys(events.Inbound)...) // partners' types, published by sync-worker
	for _, rep := range sortedKeys(replayers) {
		for _, typ := range probes {
			// A partner's events come through sync-worker under a partner-scoped source
			// (sync-worker/partners/<client>): replayed with it, they were refused by the
			// Broker while the dead-letter API answered "replayed".
			for _, src := range append(slices.Clone(names), "someone-else", "sync-worker/partners/dev-garage", "sync-worker/partners") {
				want := false
				for _, p := range names {
					if replayers[p] == "" && adm.admits(subjectOf(p), typ, src) {
						want = true
						break
					}
				}
				switch got := adm.admits(subjectOf(rep), typ, src); {
				case got && !want:
					ps = append(ps, problem{File: "base/event-policies.yaml", Object: "event type " + typ, Field: "source",
						Msg: fmt.Sprintf(": replayer %s may send it with source %q, which no producer may", rep, src)})
				case want && !got:
					ps = append(ps, problem{File: "base/event-policies.yaml", Object: "event type " + typ, Field: "source",
						Msg: fmt.Sprintf(": replayer %s may not send it with source %q, which its producer may: a replay would be refused", rep, src)})
				}
			}
		}
	}
	return ps
}

// catalogueTypes is every type of events.Types a function of this system
// produces (events.External come from outside: PingSource's ping).
func catalogueTypes() []string {
	_, emitted := eventCatalogue()
	return sortedKeys(emitted)
}

func TestEventPoliciesFollowTheRules(t *testing.T) {
	t.Parallel()
	sources := producerSources(t)
	if len(sources) < 5 {
		t.Fatalf("found events.Emit calls in %d packages of functions/; the scan is broken: %v", len(sources), sources)
	}
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkEventPolicies(r, sources))
	}
}

// TestEveryEventTypeHasExactlyOneProducer is the table of design.md §9 in
// Knative's own evaluation: every catalogue type × every identity, admitted
// only for its producer. The expected producer per aggregate is spelled out
// once more here, so a change of ownership is a visible diff.
func TestEveryEventTypeHasExactlyOneProducer(t *testing.T) {
	t.Parallel()
	owner := map[string]string{
		"customer": "customers-api", "location": "locations-api", "vehicle": "vehicles-api",
		"reservation": "reservations-api", "payment": "payments-api", "invoice": "payments-api",
		"report": "report-worker",
	}
	types := catalogueTypes()
	if len(types) < 20 || slices.Contains(types, events.Ping) {
		t.Fatalf("catalogue types: %v", types)
	}
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkAdmissionMatrix(r, types))
		report(t, r.Dir, checkReplayerPolicies(r, types))
		pols, _ := eventPolicies(r)
		adm := newAdmission(pols)
		for _, typ := range types {
			agg := strings.Split(strings.TrimPrefix(typ, "com.orangecarrental."), ".")[0]
			want := owner[agg]
			if want == "" {
				t.Errorf("%s: %s: no owner for aggregate %q in this test's table", r.Dir, typ, agg)
				continue
			}
			if !adm.admits(subjectOf(want), typ, want) {
				t.Errorf("%s: %s refused from its producer %s", r.Dir, typ, want)
			}
		}
		// What comes from outside is nobody's to send to the Broker.
		for _, id := range identities(r) {
			name := id[strings.LastIndex(id, ":")+1:]
			if adm.admits(id, events.Ping, name) {
				t.Errorf("%s: %s may send %s to the Broker", r.Dir, id, events.Ping)
			}
		}
	}
}

// TestAdmissionDecidesAsKnative: for every identity (and a few look-alikes)
// the policy admission lets decide is the one Knative's SubjectAndFiltersPass
// lets decide. Each policy's filters are replaced by one exact filter on a
// type naming the policy: a single exact filter has no optimizer goroutine,
// so nothing races, and only the deciding policy's marker passes.
func TestAdmissionDecidesAsKnative(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		pols, ps := eventPolicies(r)
		report(t, r.Dir, ps)
		adm := newAdmission(pols)
		var marked []eventingauth.SubjectsWithFilters
		for i, p := range adm.swf {
			marked = append(marked, eventingauth.SubjectsWithFilters{Subjects: p.Subjects,
				Filters: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": fmt.Sprint("policy-", i)}}}})
		}
		ids := append(identities(r), strings.ToUpper(subjectOf("payments-api")), subjectOf("payments-api-x"), subjectOf("payments"), "")
		decided := 0
		for _, id := range ids {
			knative := -1
			for i := range marked {
				e := testEvent(fmt.Sprint("policy-", i), "test")
				if eventingauth.SubjectAndFiltersPass(context.Background(), id, marked, &e, zap.NewNop().Sugar()) {
					knative = i
					break
				}
			}
			if got := adm.decider(id); got != knative {
				t.Errorf("%s: %q: policy %d decides, Knative lets policy %d decide", r.Dir, id, got, knative)
			}
			if knative >= 0 {
				decided++
			}
		}
		if decided < len(pols)+1 {
			t.Errorf("%s: only %d identities are decided by a policy", r.Dir, decided)
		}
	}
}

// TestInProcessBrokerReadsBase: the in-process broker of `orange dev` reads
// Triggers, PingSources and EventPolicies from knative/base without
// kustomize, skipping every other kind (ServiceAccounts, NetworkPolicies,
// the ClusterRoleBinding); it must read all of them, and the same subjects.
func TestInProcessBrokerReadsBase(t *testing.T) {
	t.Parallel()
	r := renderAll(t)[0]
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	if err != nil {
		t.Fatalf("LoadTriggers: %v", err)
	}
	if len(triggers) != len(r.byKind("Trigger")) {
		t.Errorf("LoadTriggers read %d Triggers, base has %d", len(triggers), len(r.byKind("Trigger")))
	}
	pings, err := broker.LoadPingSources(knative.Manifests, "base")
	if err != nil {
		t.Fatalf("LoadPingSources: %v", err)
	}
	if len(pings) != len(r.byKind("PingSource")) {
		t.Errorf("LoadPingSources read %d PingSources, base has %d", len(pings), len(r.byKind("PingSource")))
	}
	loaded, err := broker.LoadEventPolicies(knative.Manifests, "base")
	if err != nil {
		t.Fatalf("LoadEventPolicies: %v", err)
	}
	pols, _ := eventPolicies(r)
	want := map[string][]string{}
	for _, p := range pols {
		for _, f := range p.Spec.From {
			want[p.Object.Name] = append(want[p.Object.Name], *f.Sub)
		}
	}
	got := map[string][]string{}
	for _, p := range loaded {
		got[p.Name] = p.From
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LoadEventPolicies read subjects %v, base has %v", got, want)
	}
}

func TestEventPolicyMutationsAreCaught(t *testing.T) {
	t.Parallel()
	sources := producerSources(t)
	const file = "base/event-policies.yaml"
	editPolicy := func(name string, edit func(m map[string]any)) func(*tree) {
		return func(tr *tree) { tr.editDoc(file, "EventPolicy", name, edit) }
	}
	setFrom := func(name, sub string) func(*tree) {
		return editPolicy(name, func(m map[string]any) { mapAt(m, "spec")["from"] = []any{map[string]any{"sub": sub}} })
	}
	tests := []struct {
		name   string
		mutate func(*tree)
		check  func(*rendered) []problem
		want   string
	}{
		{
			name:   "a subject in two policies",
			mutate: setFrom("locations-api-publishes", subjectOf("customers-api")),
			check:  func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:   "base/event-policies.yaml: subject system:serviceaccount:orange:customers-api: spec.from: in 2 policies [customers-api-publishes locations-api-publishes]; Knative lets the first matching one decide, so name each subject once",
		},
		{
			name:   "a producer without a policy",
			mutate: setFrom("locations-api-publishes", subjectOf("customers-api")),
			check:  func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:   "base/event-policies.yaml: producer locations-api: spec.from: no EventPolicy names system:serviceaccount:orange:locations-api; once any policy applies to the Broker, its events are refused",
		},
		{
			name:   "a wildcard subject",
			mutate: setFrom("payments-api-publishes", "system:serviceaccount:orange:*"),
			check:  func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:   `base/event-policies.yaml: EventPolicy payments-api-publishes: spec.from[0].sub = "system:serviceaccount:orange:*": name one ServiceAccount, no wildcard`,
		},
		{
			name:   "a subject that produces nothing",
			mutate: setFrom("payments-api-publishes", subjectOf("pricing-api")),
			check:  func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:   `base/event-policies.yaml: EventPolicy payments-api-publishes: spec.from[0].sub = "system:serviceaccount:orange:pricing-api": pricing-api is no producer of overlays/production (no Knative Service with orange.carrental/emits-events: "true")`,
		},
		{
			name:   "a policy for every receiver",
			mutate: editPolicy("vehicles-api-publishes", func(m map[string]any) { delete(mapAt(m, "spec"), "to") }),
			check:  func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:   "base/event-policies.yaml: EventPolicy vehicles-api-publishes: spec.to: want exactly [ref: eventing.knative.dev/v1 Broker default] (an empty `to` would apply to every receiver of the namespace)",
		},
		{
			name: "source pin dropped",
			mutate: editPolicy("reservations-api-publishes", func(m map[string]any) {
				mapAt(m, "spec")["filters"] = list(m, "spec", "filters")[:1]
			}),
			check: func(r *rendered) []problem { return checkEventPolicies(r, sources) },
			want:  `base/event-policies.yaml: EventPolicy reservations-api-publishes: spec.filters: exact source = [], want "reservations-api" (functions/reservations records every event with that source)`,
		},
		{
			name: "prefix too broad",
			mutate: editPolicy("customers-api-publishes", func(m map[string]any) {
				mapAt(list(m, "spec", "filters")[0].(map[string]any), "prefix")["type"] = "com.orangecarrental."
			}),
			check: func(r *rendered) []problem { return checkAdmissionMatrix(r, catalogueTypes()) },
			want:  "base/event-policies.yaml: event type com.orangecarrental.invoice.issued.v1: producers: 2 identities may send it [system:serviceaccount:orange:customers-api system:serviceaccount:orange:payments-api]; exactly one produces it",
		},
		{
			name: "invoices forgotten",
			mutate: editPolicy("payments-api-publishes", func(m map[string]any) {
				list(m, "spec", "filters")[0] = map[string]any{"prefix": map[string]any{"type": "com.orangecarrental.payment."}}
			}),
			check: func(r *rendered) []problem { return checkAdmissionMatrix(r, catalogueTypes()) },
			want:  "base/event-policies.yaml: event type com.orangecarrental.invoice.issued.v1: producers: no identity may send it to the Broker; its producer's policy must admit it",
		},
		{
			name: "source not pinned: anyone's name will do",
			mutate: editPolicy("vehicles-api-publishes", func(m map[string]any) {
				mapAt(m, "spec")["filters"] = list(m, "spec", "filters")[:1]
			}),
			check: func(r *rendered) []problem { return checkAdmissionMatrix(r, catalogueTypes()) },
			want:  `base/event-policies.yaml: event type com.orangecarrental.vehicle.created.v1: source: system:serviceaccount:orange:vehicles-api may send it with source "api-gateway", another identity's name`,
		},
		{
			name: "replays from any source",
			mutate: editPolicy("dead-letter-replays", func(m map[string]any) {
				mapAt(m, "spec")["filters"] = []any{map[string]any{"prefix": map[string]any{"type": "com.orangecarrental."}}}
			}),
			check: func(r *rendered) []problem { return checkReplayerPolicies(r, catalogueTypes()) },
			want:  `base/event-policies.yaml: event type com.orangecarrental.payment.captured.v1: source: replayer dead-letter may send it with source "reservations-api", which no producer may`,
		},
		{
			name: "replays of invoices forgotten",
			mutate: editPolicy("dead-letter-replays", func(m map[string]any) {
				families := list(m, "spec", "filters")[0].(map[string]any)
				families["any"] = list(families, "any")[:5] // without prefix type com.orangecarrental.invoice.
			}),
			check: func(r *rendered) []problem { return checkReplayerPolicies(r, catalogueTypes()) },
			want:  `base/event-policies.yaml: event type com.orangecarrental.invoice.issued.v1: source: replayer dead-letter may not send it with source "payments-api", which its producer may: a replay would be refused`,
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
