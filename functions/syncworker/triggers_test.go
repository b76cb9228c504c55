package syncworker_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/functions/syncworker"
	"github.com/orangecarrental/orange/knative"
)

// TestTriggersAreTheManifests holds Subscribable to knative/base: one Trigger per type,
// named TriggerName(type), delivering to sync-worker's /cloudevents — nothing more. A type
// without its Trigger could be subscribed to and never be sent; a Trigger without its type
// would deliver events the receiver refuses.
func TestTriggersAreTheManifests(t *testing.T) {
	t.Parallel()
	triggers, err := broker.LoadTriggers(knative.Manifests, "base")
	require.NoError(t, err)
	got := map[string]string{}
	for _, tg := range triggers {
		if tg.Subscriber.Service == syncworker.ServiceName {
			got[tg.Name] = tg.Filter["type"]
		}
	}
	want := map[string]string{}
	for _, typ := range syncworker.Subscribable {
		want[syncworker.TriggerName(typ)] = typ
	}
	assert.Equal(t, want, got)
	assert.True(t, slices.IsSorted(syncworker.Triggers()))
}
