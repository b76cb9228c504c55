package deadletter

import "github.com/orangecarrental/orange/platform"

// triggers are the Triggers of knative/base whose dead-letter sink is this Service — every
// Trigger of the namespace today, its own included — written out because a route table is
// static and a delivery's token names only a service account: Knative derives a Trigger's
// account from its name (platform.Sender.ServiceAccount), hashing names that are too long,
// so an account can be mapped back to its Trigger only through a list like this one, and
// "any Trigger" cannot be told from any other account of the namespace. A test holds the
// list equal to the manifests (TestTriggersAreTheManifests).
var triggers = []string{
	"dead-letter-customer-erased",
	"notification-worker-customer-erased",
	"notification-worker-customer-registered",
	"notification-worker-customer-updated",
	"notification-worker-invoice-issued",
	"notification-worker-payment-captured",
	"notification-worker-payment-charged",
	"notification-worker-payment-refunded",
	"notification-worker-reservation-activated",
	"notification-worker-reservation-cancelled",
	"notification-worker-reservation-changed",
	"notification-worker-reservation-completed",
	"notification-worker-reservation-confirmed",
	"notification-worker-reservation-created",
	"notification-worker-reservation-expired",
	"notification-worker-reservation-no-show",
	"notification-worker-report-frozen",
	"payments-api-customer-erased",
	"payments-api-reservation-cancelled",
	"payments-api-reservation-changed",
	"payments-api-reservation-completed",
	"payments-api-reservation-created",
	"payments-api-reservation-expired",
	"payments-api-reservation-no-show",
	"payments-api-reservation-payment-requested",
	"report-worker-invoice-issued",
	"report-worker-payment-captured",
	"report-worker-payment-charged",
	"report-worker-payment-refunded",
	"report-worker-reservation-activated",
	"report-worker-reservation-cancelled",
	"report-worker-reservation-changed",
	"report-worker-reservation-completed",
	"report-worker-reservation-confirmed",
	"report-worker-reservation-created",
	"report-worker-reservation-expired",
	"report-worker-reservation-no-show",
	"report-worker-vehicle-created",
	"report-worker-vehicle-moved",
	"report-worker-vehicle-status-changed",
	"report-worker-vehicle-updated",
	"reservations-api-customer-erased",
	"reservations-api-payment-authorized",
	"reservations-api-payment-failed",
	"sync-worker-invoice-issued",
	"sync-worker-location-created",
	"sync-worker-location-status-changed",
	"sync-worker-location-updated",
	"sync-worker-payment-authorized",
	"sync-worker-payment-captured",
	"sync-worker-payment-charged",
	"sync-worker-payment-failed",
	"sync-worker-payment-refunded",
	"sync-worker-payment-voided",
	"sync-worker-reservation-activated",
	"sync-worker-reservation-cancelled",
	"sync-worker-reservation-changed",
	"sync-worker-reservation-completed",
	"sync-worker-reservation-confirmed",
	"sync-worker-reservation-created",
	"sync-worker-reservation-expired",
	"sync-worker-reservation-no-show",
	"sync-worker-vehicle-created",
	"sync-worker-vehicle-moved",
	"sync-worker-vehicle-status-changed",
	"sync-worker-vehicle-updated",
	"vehicles-api-reservation-activated",
	"vehicles-api-reservation-cancelled",
	"vehicles-api-reservation-changed",
	"vehicles-api-reservation-completed",
	"vehicles-api-reservation-confirmed",
	"vehicles-api-reservation-created",
	"vehicles-api-reservation-expired",
	"vehicles-api-reservation-no-show",
	"vehicles-api-vehicle-damage-reported",
	"vehicles-api-vehicle-fuel-read",
	"vehicles-api-vehicle-odometer-read",
	"vehicles-api-vehicle-position-read",
	"vehicles-api-vehicle-repair-completed",
}

// Triggers returns the names of the Triggers whose dead letters this function admits.
func Triggers() []string { return append([]string(nil), triggers...) }

// deadLetterSenders is the access of the dead-letter route: the listed Triggers' deliveries.
func deadLetterSenders() platform.Access {
	senders := make([]platform.Sender, len(triggers))
	for i, name := range triggers {
		senders[i] = platform.Trigger(name)
	}
	return platform.Deliveries(senders...)
}

// triggerOf maps a delivery's sender (its service account) back to the Trigger's name; ok
// is false for an account of no listed Trigger (the route's access refused it already).
func triggerOf(serviceAccount string) (name string, ok bool) {
	for _, t := range triggers {
		if platform.Trigger(t).ServiceAccount() == serviceAccount {
			return t, true
		}
	}
	return "", false
}
