package deadletter_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/knative"
	"github.com/orangecarrental/orange/platform"
)

// TestTriggersAreTheManifests holds the list of Triggers whose dead letters the function
// admits (triggers.go) to knative/base: exactly the Triggers whose dead-letter sink (their
// own or the Broker's) is this Service. A Trigger added to the manifests without a line
// there would have its dead letters refused (403) and dropped.
func TestTriggersAreTheManifests(t *testing.T) {
	t.Parallel()
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	require.NoError(t, err)
	var want []string
	for _, tg := range triggers {
		if dls := tg.Delivery.DeadLetterSink; dls != nil && dls.Service == deadletter.ServiceName {
			want = append(want, tg.Name)
		}
	}
	slices.Sort(want)
	got := deadletter.Triggers()
	for _, name := range want {
		assert.Contains(t, got, name, "Trigger %s dead-letters to %s: add it to functions/deadletter/triggers.go", name, deadletter.ServiceName)
	}
	for _, name := range got {
		assert.Contains(t, want, name, "no Trigger %s dead-letters to %s in knative/base: remove it from functions/deadletter/triggers.go", name, deadletter.ServiceName)
	}
	// Every Trigger's account maps back to it alone.
	accounts := map[string]string{}
	for _, name := range got {
		sa := platform.Trigger(name).ServiceAccount()
		require.NotContains(t, accounts, sa, "%s and %s share a service account", name, accounts[sa])
		accounts[sa] = name
	}
	assert.Contains(t, got, deadletter.ErasedTrigger)
}
