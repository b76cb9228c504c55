package knative_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/orangecarrental/orange/events"
)

// Erasure (design.md §9, docs/security.md "Erasure"): customer.erased must reach every
// function that keeps a copy of a person.

// holdsPersonalData names the functions whose own tables keep personal data of customers
// (beyond the customer's id), and what: each must consume customer.erased.
var holdsPersonalData = map[string]string{
	"reservations-api":    "the email of the public lookup, cancel reasons, guest-hold records",
	"notification-worker": "recipients, notifications, reminders, mail and SMS files",
	"payments-api":        "payment methods (provider token, brand, last four digits, expiry)",
	"dead-letter":         "dead letters (the events whole, for replay), the answers that refused them",
}

// erasesInItsOwnTransaction names the producers of personal payloads that need no Trigger:
// customers-api scrubs its outbox in the transaction that erases the customer.
var erasesInItsOwnTransaction = map[string]bool{"customers-api": true}

// checkErasureReachesCopies: every function of holdsPersonalData, and every producer of an
// event type whose payload has personal fields (personal; its outbox keeps the events),
// is the subscriber of a Trigger on customer.erased.
func checkErasureReachesCopies(r *rendered, personal func(typ string) []string) []problem {
	hear := map[string]bool{}
	for _, tg := range r.byKind("Trigger") {
		if str(tg.M, "spec", "filter", "attributes", "type") == events.CustomerErased {
			hear[str(tg.M, "spec", "subscriber", "ref", "name")] = true
		}
	}
	need := map[string]string{}
	for svc, what := range holdsPersonalData {
		need[svc] = "it keeps " + what
	}
	pols, ps := eventPolicies(r)
	adm := newAdmission(pols)
	for _, typ := range catalogueTypes() {
		fields := personal(typ)
		if len(fields) == 0 {
			continue
		}
		for _, svc := range r.knativeServices() {
			if adm.admits(subjectOf(svc.Name), typ, svc.Name) && !erasesInItsOwnTransaction[svc.Name] && need[svc.Name] == "" {
				need[svc.Name] = fmt.Sprintf("its outbox keeps %s with personal fields %v", typ, fields)
			}
		}
	}
	names := make([]string, 0, len(need))
	for svc := range need {
		names = append(names, svc)
	}
	sort.Strings(names)
	for _, svc := range names {
		if !hear[svc] {
			ps = append(ps, problem{File: r.Dir, Object: "Service " + svc, Field: "Triggers",
				Msg: fmt.Sprintf(": no Trigger delivers %s to it, but %s", events.CustomerErased, need[svc])})
		}
	}
	return ps
}

func TestErasureReachesEveryCopy(t *testing.T) {
	t.Parallel()
	for _, r := range renderAll(t) {
		report(t, r.Dir, checkErasureReachesCopies(r, events.PersonalFieldsOf))
	}
}

func TestErasureMutationsAreCaught(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mutate   func(*tree)
		personal func(string) []string
		want     string
	}{
		{
			name: "reservations stops hearing the erasure",
			mutate: func(tr *tree) {
				tr.editDoc("base/reservations-api.yaml", "Trigger", "reservations-api-customer-erased", func(m map[string]any) {
					mapAt(m, "spec", "filter", "attributes")["type"] = events.CustomerUpdated
				})
			},
			personal: events.PersonalFieldsOf,
			want:     "overlays/staging: Service reservations-api: Triggers: no Trigger delivers " + events.CustomerErased + " to it, but it keeps …",
		},
		{
			name: "the notifier's erasure goes elsewhere",
			mutate: func(tr *tree) {
				tr.editDoc("base/notification-worker.yaml", "Trigger", "notification-worker-customer-erased", func(m map[string]any) {
					mapAt(m, "spec", "subscriber", "ref")["name"] = "vehicles-api"
				})
			},
			personal: events.PersonalFieldsOf,
			want:     "overlays/staging: Service notification-worker: Triggers: no Trigger delivers " + events.CustomerErased + " to it, but it keeps recipients, notifications, reminders, mail and SMS files",
		},
		{
			name: "payments starts copying an address into its events, and stops hearing the erasure",
			mutate: func(tr *tree) {
				tr.editDoc("base/payments-api.yaml", "Trigger", "payments-api-customer-erased", func(m map[string]any) {
					mapAt(m, "spec", "filter", "attributes")["type"] = events.CustomerUpdated
				})
			},
			personal: func(typ string) []string {
				if typ == events.InvoiceIssued {
					return []string{"email"}
				}
				return events.PersonalFieldsOf(typ)
			},
			want: "overlays/staging: Service payments-api: Triggers: no Trigger delivers " + events.CustomerErased +
				" to it, but it keeps payment methods (provider token, brand, last four digits, expiry)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tr := newTree(t)
			tt.mutate(tr)
			r, err := tr.render("overlays/staging")
			if err != nil {
				t.Fatal(err)
			}
			mustContain(t, checkErasureReachesCopies(r, tt.personal), tt.want)
		})
	}
}
