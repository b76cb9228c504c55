package syncworker

import (
	"slices"
	"strings"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// Subscribable are the event types partners may subscribe to, each delivered here by a
// Trigger of its own (knative/base/sync-worker.yaml; a test holds the two equal): what a
// partner's system acts on — bookings, payments, invoices, branches, the fleet. Customer events are
// not offered (they are about a person, not a business fact), nor the inbound vehicle
// readings (partners sent them), nor internal requests such as payment_requested.
var Subscribable = []string{
	events.InvoiceIssued,
	events.LocationCreated,
	events.LocationStatusChanged,
	events.LocationUpdated,
	events.PaymentAuthorized,
	events.PaymentCaptured,
	events.PaymentCharged,
	events.PaymentFailed,
	events.PaymentRefunded,
	events.PaymentVoided,
	events.ReservationActivated,
	events.ReservationCancelled,
	events.ReservationChanged,
	events.ReservationCompleted,
	events.ReservationConfirmed,
	events.ReservationCreated,
	events.ReservationExpired,
	events.ReservationNoShow,
	events.VehicleCreated,
	events.VehicleMoved,
	events.VehicleStatusChanged,
	events.VehicleUpdated,
}

// TriggerName is the name of the Trigger that delivers typ to sync-worker:
// com.orangecarrental.reservation.no_show.v1 → sync-worker-reservation-no-show.
func TriggerName(typ string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(typ, "com.orangecarrental."), ".v1")
	return ServiceName + "-" + strings.NewReplacer(".", "-", "_", "-").Replace(name)
}

// Triggers returns the names of this function's Triggers.
func Triggers() []string {
	out := make([]string, len(Subscribable))
	for i, t := range Subscribable {
		out[i] = TriggerName(t)
	}
	slices.Sort(out)
	return out
}

func triggerSenders() []platform.Sender {
	var out []platform.Sender
	for _, name := range Triggers() {
		out = append(out, platform.Trigger(name))
	}
	return out
}

// subscribable reports whether partners may subscribe to typ.
func subscribable(typ string) bool { return slices.Contains(Subscribable, typ) }

// inboundTypes are the types partners may send, sorted.
func inboundTypes() []string {
	out := make([]string, 0, len(events.Inbound))
	for t := range events.Inbound {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}
