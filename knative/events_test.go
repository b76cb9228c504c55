package knative_test

import "github.com/orangecarrental/orange/events"

// eventCatalogue reads the event catalogue of events/: known is every type
// a Trigger may filter on; emitted is what functions of this system produce
// (the catalogue minus the types that come from outside, like PingSource's).
func eventCatalogue() (known, emitted map[string]bool) {
	known, emitted = map[string]bool{}, map[string]bool{}
	for typ := range events.Types {
		known[typ] = true
		if !events.External[typ] {
			emitted[typ] = true
		}
	}
	return known, emitted
}

// awaitingConsumer documents the emitted types that no Trigger in the tree
// consumes yet, and who will. The issue that adds a consumer adds its
// Triggers and deletes the lines it covers; a line whose type has a Trigger
// fails the test, so this list only shrinks. sync-worker will consume every
// type (design.md §5: every change → webhooks), so no type stays unconsumed.
//
// Types that have a Trigger already but more consumers to come (their lines
// went with notification-worker's Triggers): customer.registered,
// customer.updated, customer.erased, payment.captured, payment.refunded,
// invoice.issued, reservation.confirmed (sync-worker);
// reservation.* (sync-worker; reservation.no_show also payments-api);
// payment.authorized (sync-worker); payment.failed (notification-worker,
// sync-worker) — their lines went with the Triggers of payments-api,
// reservations-api and vehicles-api; vehicle.created, updated,
// status_changed, moved (sync-worker) went with report-worker's.
var awaitingConsumer = map[string]string{
	// Not offered to partners' webhooks (docs/webhooks.md: customer events are about a person).
	events.CustomerStatusChanged: "nobody yet: sync-worker offers no customer events",
}
