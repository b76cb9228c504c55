// Package all lists every function of the system. `orange dev` runs them together, `orange
// migrate` migrates them, and system-wide tests (authorization, manifests) walk them. A
// function's own binary (cmd/<service>) imports only its function, not this list.
package all

import (
	"github.com/orangecarrental/orange/functions/callcenter"
	"github.com/orangecarrental/orange/functions/cleanup"
	"github.com/orangecarrental/orange/functions/customers"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/functions/fleet"
	"github.com/orangecarrental/orange/functions/gateway"
	"github.com/orangecarrental/orange/functions/locations"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/functions/payments"
	"github.com/orangecarrental/orange/functions/pricing"
	"github.com/orangecarrental/orange/functions/publicportal"
	"github.com/orangecarrental/orange/functions/reports"
	"github.com/orangecarrental/orange/functions/reservations"
	"github.com/orangecarrental/orange/functions/syncworker"
	"github.com/orangecarrental/orange/platform"
)

// Functions returns every function, each freshly described.
func Functions() []platform.Function {
	return []platform.Function{
		callcenter.Function(),
		cleanup.Function(),
		customers.Function(),
		deadletter.Function(),
		fleet.Function(),
		gateway.Function(),
		locations.Function(),
		notifier.Function(),
		notifier.APIFunction(),
		payments.Function(),
		pricing.Function(),
		publicportal.Function(),
		reports.Function(),
		reservations.Function(),
		syncworker.Function(),
	}
}

// Registry indexes Functions.
func Registry() (*platform.Registry, error) {
	return platform.NewRegistry(Functions()...)
}
