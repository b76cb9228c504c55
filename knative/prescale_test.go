package knative_test

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The pre-scaling schedule (design.md §6; the seed's "0 8 * * 5"): up on
// Friday 08:00 before the weekend peak, back to the production min on
// Saturday 20:00, both in Berlin time whatever the cluster's clock zone.
const (
	prescaleImage    = "ko://github.com/orangecarrental/orange/tools/prescale"
	prescaleTimeZone = "Europe/Berlin"
	prescaleUp       = "0 8 * * 5"
	prescaleDown     = "0 20 * * 6"
	prescalerAccount = "orange-prescaler"
)

// prescaleArgs is what a CronJob must pass to tools/prescale: one
// "service=min-scale" per pre-scaled Service of the tree, sorted. The tool
// (tools/prescale, its test pins the request) turns each into a JSON merge
// patch of spec.template.metadata.annotations[autoscaling.knative.dev/min-scale]
// on that Knative Service.
func prescaleArgs(r *rendered, table []scaleRow, up bool) []string {
	var args []string
	for _, row := range table {
		if row.PeakMin == 0 || !r.hasKnativeService(row.Service) {
			continue
		}
		n := row.ProdMin
		if up {
			n = row.PeakMin
		}
		args = append(args, row.Service+"="+strconv.Itoa(n))
	}
	sort.Strings(args)
	return args
}

// checkPrescale checks the production pre-scaling: two CronJobs running
// tools/prescale on the right schedule, zone and arguments, and RBAC that
// lets their ServiceAccount get and patch exactly those Knative Services.
func checkPrescale(r *rendered, table []scaleRow) []problem {
	var ps []problem
	add := func(o object, keys []string, msg string) {
		f := r.origin(o.Kind, o.Name, keys...)
		if f == "" {
			f = r.fileOf(o.Kind, o.Name)
		}
		ps = append(ps, problem{File: f, Object: o.String(), Field: fieldName(keys...), Msg: msg})
	}
	services := prescaledServices(r, table)

	found := map[string]bool{}
	for _, cj := range r.byKind("CronJob") {
		cs := containersOf(cj)
		if len(cs) != 1 || str(cs[0].M, "image") != prescaleImage {
			continue
		}
		schedule := str(cj.M, "spec", "schedule")
		var up bool
		switch schedule {
		case prescaleUp:
			up = true
		case prescaleDown:
		default:
			add(cj, []string{"spec", "schedule"}, fmt.Sprintf(" = %q, want %q (Friday 08:00 up) or %q (Saturday 20:00 down)", schedule, prescaleUp, prescaleDown))
			continue
		}
		found[schedule] = true
		if got := str(cj.M, "spec", "timeZone"); got != prescaleTimeZone {
			add(cj, []string{"spec", "timeZone"}, wantGot(got, prescaleTimeZone))
		}
		if got := str(cj.M, "spec", "concurrencyPolicy"); got != "Forbid" {
			add(cj, []string{"spec", "concurrencyPolicy"}, wantGot(got, "Forbid"))
		}
		podSpec := []string{"spec", "jobTemplate", "spec", "template", "spec"}
		if got := str(cj.M, append(podSpec, "serviceAccountName")...); got != prescalerAccount {
			add(cj, append(podSpec, "serviceAccountName"), wantGot(got, prescalerAccount))
		}
		var args []string
		for _, a := range list(cs[0].M, "args") {
			args = append(args, fmt.Sprint(a))
		}
		if want := prescaleArgs(r, table, up); !slices.Equal(args, want) {
			add(cj, append(cs[0].Path, "args"), fmt.Sprintf(" = %q, want %q (scale table: %s)", args, want, map[bool]string{true: "PeakMin", false: "ProdMin"}[up]))
		}
	}
	if len(services) > 0 {
		for _, s := range []string{prescaleUp, prescaleDown} {
			if !found[s] {
				ps = append(ps, problem{File: r.Dir + "/prescale.yaml", Object: "CronJob", Field: "spec.schedule", Msg: fmt.Sprintf(": no pre-scaling CronJob with schedule %q", s)})
			}
		}
	}
	ps = append(ps, checkPrescaleRBAC(r, services)...)
	return ps
}

// checkPrescaleRBAC: the only RBAC in the tree is one Role with one rule —
// get and patch on serving.knative.dev services, limited by resourceNames to
// the pre-scaled Services — bound to the prescaler ServiceAccount alone,
// which only the pre-scaling CronJobs use; besides it, only the
// issuer-discovery ClusterRoleBinding of the functions (checked by
// checkIssuerDiscoveryBinding).
func checkPrescaleRBAC(r *rendered, services []string) []problem {
	var ps []problem
	add := func(o object, keys []string, msg string) {
		f := r.origin(o.Kind, o.Name, keys...)
		if f == "" {
			f = r.fileOf(o.Kind, o.Name)
		}
		ps = append(ps, problem{File: f, Object: o.String(), Field: fieldName(keys...), Msg: msg})
	}
	strs := func(v []any) []string {
		var out []string
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
		sort.Strings(out)
		return out
	}
	for _, kind := range []string{"ClusterRole", "ClusterRoleBinding"} {
		for _, o := range r.byKind(kind) {
			if kind == "ClusterRoleBinding" && o.Name == issuerDiscoveryBinding {
				continue
			}
			add(o, []string{"kind"}, ": no cluster-wide RBAC; the prescaler needs a namespaced Role")
		}
	}
	for _, role := range r.byKind("Role") {
		if role.Name != prescalerAccount {
			add(role, []string{"metadata", "name"}, fmt.Sprintf(" = %q: the only Role is %s", role.Name, prescalerAccount))
			continue
		}
		rules := list(role.M, "rules")
		if len(rules) != 1 {
			add(role, []string{"rules"}, fmt.Sprintf(": %d rules, want exactly 1", len(rules)))
			continue
		}
		rule, _ := rules[0].(map[string]any)
		for _, c := range []struct {
			field string
			want  []string
		}{
			{"apiGroups", []string{"serving.knative.dev"}},
			{"resources", []string{"services"}},
			{"verbs", []string{"get", "patch"}},
			{"resourceNames", services},
		} {
			if got := strs(list(rule, c.field)); !slices.Equal(got, c.want) {
				add(role, []string{"rules[0]", c.field}, fmt.Sprintf(" = %q, want exactly %q", got, c.want))
			}
		}
		for k := range rule {
			if !slices.Contains([]string{"apiGroups", "resources", "verbs", "resourceNames"}, k) {
				add(role, []string{"rules[0]", k}, ": unexpected field")
			}
		}
	}
	for _, rb := range r.byKind("RoleBinding") {
		if str(rb.M, "roleRef", "kind") != "Role" || str(rb.M, "roleRef", "name") != prescalerAccount {
			add(rb, []string{"roleRef"}, fmt.Sprintf(" = %s %s, want Role %s", str(rb.M, "roleRef", "kind"), str(rb.M, "roleRef", "name"), prescalerAccount))
		}
		subjects := list(rb.M, "subjects")
		if len(subjects) != 1 {
			add(rb, []string{"subjects"}, fmt.Sprintf(": %d subjects, want exactly ServiceAccount %s", len(subjects), prescalerAccount))
			continue
		}
		s, _ := subjects[0].(map[string]any)
		if str(s, "kind") != "ServiceAccount" || str(s, "name") != prescalerAccount || str(s, "namespace") != namespace {
			add(rb, []string{"subjects[0]"}, fmt.Sprintf(" = %s %s/%s, want ServiceAccount %s/%s", str(s, "kind"), str(s, "namespace"), str(s, "name"), namespace, prescalerAccount))
		}
	}
	// Only the pre-scaling CronJobs run as the prescaler.
	for _, o := range r.Objects {
		var sa []string
		switch o.Kind {
		case "CronJob":
			sa = []string{"spec", "jobTemplate", "spec", "template", "spec", "serviceAccountName"}
		case "Job", "Service":
			sa = []string{"spec", "template", "spec", "serviceAccountName"}
		default:
			continue
		}
		cs := containersOf(o)
		isPrescaler := o.Kind == "CronJob" && len(cs) == 1 && str(cs[0].M, "image") == prescaleImage
		if str(o.M, sa...) == prescalerAccount && !isPrescaler {
			add(o, sa, fmt.Sprintf(" = %q: only the pre-scaling CronJobs may use it", prescalerAccount))
		}
	}
	return ps
}

func TestPrescaleSchedulePatchAndRBAC(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		dir := r.Dir
		report(t, dir, checkPrescaleRBAC(r, prescaledServices(r, scaleTable)))
		if r.env() != "production" {
			if n := len(r.byKind("CronJob")); n != 0 {
				t.Errorf("%s: %d CronJobs; pre-scaling is production's", dir, n)
			}
			continue
		}
		ps := checkPrescale(r, scaleTable)
		report(t, dir, ps)
		// The exact manifest values today, spelled out once more so a reader
		// sees what the checks above derive from the table.
		var args []string
		for _, cj := range r.byKind("CronJob") {
			args = append(args, str(cj.M, "spec", "schedule")+" "+str(cj.M, "spec", "timeZone")+" "+fmt.Sprint(list(containersOf(cj)[0].M, "args")))
		}
		sort.Strings(args)
		want := []string{
			"0 20 * * 6 Europe/Berlin [api-gateway=3 vehicles-api=5]",
			"0 8 * * 5 Europe/Berlin [api-gateway=4 vehicles-api=6]",
		}
		if !slices.Equal(args, want) {
			t.Errorf("%s: CronJobs = %q, want %q", dir, args, want)
		}
	}
}

// prescaledServices names the Services of the tree with a peak min, sorted.
func prescaledServices(r *rendered, table []scaleRow) []string {
	var out []string
	for _, a := range prescaleArgs(r, table, true) {
		name, _, _ := strings.Cut(a, "=")
		out = append(out, name)
	}
	return out
}

func TestPrescaleMutationsAreCaught(t *testing.T) {
	t.Parallel()
	const f = "overlays/production/prescale.yaml"
	cronArgs := func(m map[string]any) map[string]any {
		return list(m, "spec", "jobTemplate", "spec", "template", "spec", "containers")[0].(map[string]any)
	}
	tests := []struct {
		name   string
		mutate func(*tree)
		want   string
	}{
		{
			name: "extra verb",
			mutate: func(tr *tree) {
				tr.editDoc(f, "Role", prescalerAccount, func(m map[string]any) {
					list(m, "rules")[0].(map[string]any)["verbs"] = []any{"get", "patch", "update"}
				})
			},
			want: `overlays/production/prescale.yaml: Role orange-prescaler: rules[0].verbs = ["get" "patch" "update"], want exactly ["get" "patch"]`,
		},
		{
			name: "any service",
			mutate: func(tr *tree) {
				tr.editDoc(f, "Role", prescalerAccount, func(m map[string]any) { delete(list(m, "rules")[0].(map[string]any), "resourceNames") })
			},
			want: `overlays/production/prescale.yaml: Role orange-prescaler: rules[0].resourceNames = [], want exactly ["api-gateway" "vehicles-api"]`,
		},
		{
			name: "second rule",
			mutate: func(tr *tree) {
				tr.editDoc(f, "Role", prescalerAccount, func(m map[string]any) {
					m["rules"] = append(list(m, "rules"), map[string]any{"apiGroups": []any{""}, "resources": []any{"secrets"}, "verbs": []any{"get"}})
				})
			},
			want: `overlays/production/prescale.yaml: Role orange-prescaler: rules: 2 rules, want exactly 1`,
		},
		{
			name: "schedule moved",
			mutate: func(tr *tree) {
				tr.editDoc(f, "CronJob", "prescale-friday-up", func(m map[string]any) { m["spec"].(map[string]any)["schedule"] = "0 9 * * 5" })
			},
			want: `overlays/production/prescale.yaml: CronJob prescale-friday-up: spec.schedule = "0 9 * * 5", want "0 8 * * 5" (Friday 08:00 up) or "0 20 * * 6" (Saturday 20:00 down)`,
		},
		{
			name: "time zone dropped",
			mutate: func(tr *tree) {
				tr.editDoc(f, "CronJob", "prescale-saturday-down", func(m map[string]any) { delete(m["spec"].(map[string]any), "timeZone") })
			},
			want: `overlays/production/prescale.yaml: CronJob prescale-saturday-down: spec.timeZone is not set, want "Europe/Berlin"`,
		},
		{
			name: "wrong value",
			mutate: func(tr *tree) {
				tr.editDoc(f, "CronJob", "prescale-friday-up", func(m map[string]any) {
					cronArgs(m)["args"] = []any{"api-gateway=6", "vehicles-api=6"}
				})
			},
			want: `overlays/production/prescale.yaml: CronJob prescale-friday-up: spec.jobTemplate.spec.template.spec.containers[prescale].args = ["api-gateway=6" "vehicles-api=6"], want ["api-gateway=4" "vehicles-api=6"] (scale table: PeakMin)`,
		},
		{
			name: "binding to the default account",
			mutate: func(tr *tree) {
				tr.editDoc(f, "RoleBinding", prescalerAccount, func(m map[string]any) {
					list(m, "subjects")[0].(map[string]any)["name"] = "default"
				})
			},
			want: `overlays/production/prescale.yaml: RoleBinding orange-prescaler: subjects[0] = ServiceAccount orange/default, want ServiceAccount orange/orange-prescaler`,
		},
		{
			name: "a function runs as the prescaler",
			mutate: func(tr *tree) {
				tr.editDoc("base/locations-api.yaml", "Service", "locations-api", func(m map[string]any) {
					mapAt(m, "spec", "template", "spec")["serviceAccountName"] = prescalerAccount
				})
			},
			want: `base/locations-api.yaml: Service locations-api: spec.template.spec.serviceAccountName = "orange-prescaler": only the pre-scaling CronJobs may use it`,
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
			mustContain(t, checkPrescale(r, scaleTable), tt.want)
		})
	}
}
