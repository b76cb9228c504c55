package contract_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

type scenario struct {
	name  string
	build func(t *testing.T) plan
	// check holds one mode's outcome to what the scenario expects; both modes must then
	// agree on everything.
	check func(t *testing.T, p plan, o outcome, c *consumer)
}

func ids(es ...cloudevents.Event) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// requireDeadLetter checks the one dead letter of e: the original event plus Knative's
// error extensions naming the subscriber, the status and the consumer's problem answer.
func requireDeadLetter(t *testing.T, dl deadLetter, e cloudevents.Event, code int) {
	t.Helper()
	require.Equal(t, e.ID(), dl.ID)
	require.Equal(t, e.Type(), dl.Type)
	require.Equal(t, e.Source(), dl.Source)
	require.Equal(t, e.Subject(), dl.Subject)
	require.Equal(t, string(e.Data()), dl.Data)
	require.Equal(t, fmt.Sprint(code), dl.Code)
	require.Equal(t, "subscriber", dl.Dest)
	require.EqualValues(t, code, dl.Problem["status"], "the consumer's problem answer: %v", dl.Problem)
	require.Equal(t, events.ReceivePath, dl.Problem["instance"])
}

func noDeadLetters(t *testing.T, o outcome) {
	t.Helper()
	require.Empty(t, o.DeadLetters)
	for i, err := range o.PublishErrors {
		require.Empty(t, err, "publish %d", i)
	}
}

var scenarios = []scenario{
	{
		name: "success",
		build: func(t *testing.T) plan {
			return plan{deliveries: []cloudevents.Event{vehicleEvent(t, "v-1", 1, "available")}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			e := p.deliveries[0]
			require.Equal(t, map[string][]int{e.ID(): {202}}, o.Attempts)
			require.Equal(t, map[string]int{e.ID(): 1}, o.Effects)
			require.Equal(t, ids(e), o.Inbox)
			require.Equal(t, map[string]vehicle{"v-1": {1, "available"}}, o.ReadModel)
			noDeadLetters(t, o)
		},
	},
	{
		name: "the same event delivered twice has one effect",
		build: func(t *testing.T) plan {
			e := vehicleEvent(t, "v-1", 1, "available")
			return plan{deliveries: []cloudevents.Event{e, e}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			e := p.deliveries[0]
			require.Equal(t, map[string][]int{e.ID(): {202, 200}}, o.Attempts, "the duplicate is answered 2xx")
			require.Equal(t, map[string]int{e.ID(): 1}, o.Effects)
			require.Equal(t, ids(e), o.Inbox)
			noDeadLetters(t, o)
		},
	},
	{
		name: "500 twice then success is retried to one effect",
		build: func(t *testing.T) plan {
			e := vehicleEvent(t, "v-1", 1, "available")
			return plan{deliveries: []cloudevents.Event{e}, script: script{failFirst: map[string]int{e.ID(): 2}}}
		},
		check: func(t *testing.T, p plan, o outcome, c *consumer) {
			e := p.deliveries[0]
			require.Equal(t, map[string][]int{e.ID(): {500, 500, 202}}, o.Attempts)
			require.Equal(t, map[string]int{e.ID(): 1}, o.Effects)
			require.Equal(t, ids(e), o.Inbox, "the failed attempts rolled their inbox row back")
			noDeadLetters(t, o)
			retryGaps(t, c, e)
		},
	},
	{
		name: "always 500 is retried per the spec then dead-lettered",
		build: func(t *testing.T) plan {
			e := vehicleEvent(t, "v-1", 1, "available")
			return plan{deliveries: []cloudevents.Event{e}, script: script{failFirst: map[string]int{e.ID(): 1 << 30}}}
		},
		check: func(t *testing.T, p plan, o outcome, c *consumer) {
			e := p.deliveries[0]
			retry := deliveryFor(t, e.Type()).Retry
			require.Equal(t, 3, retry)
			require.Equal(t, map[string][]int{e.ID(): slices.Repeat([]int{500}, 1+retry)}, o.Attempts)
			require.Empty(t, o.Effects)
			require.Empty(t, o.Inbox)
			require.Len(t, o.DeadLetters, 1)
			requireDeadLetter(t, o.DeadLetters[0], e, 500)
			require.Equal(t, []string{""}, o.PublishErrors, "dead-lettered is finished")
			retryGaps(t, c, e)
		},
	},
	{
		name: "a permanent refusal (400) is dead-lettered without retry",
		build: func(t *testing.T) plan {
			e := vehicleEvent(t, "v-1", 1, "available")
			return plan{deliveries: []cloudevents.Event{e}, script: script{refuse: map[string]bool{e.ID(): true}}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			e := p.deliveries[0]
			require.Equal(t, map[string][]int{e.ID(): {400}}, o.Attempts)
			require.Empty(t, o.Effects)
			require.Empty(t, o.Inbox)
			require.Len(t, o.DeadLetters, 1)
			requireDeadLetter(t, o.DeadLetters[0], e, 400)
			require.Contains(t, o.DeadLetters[0].Problem["detail"], "is refused")
			require.Equal(t, []string{""}, o.PublishErrors)
		},
	},
	{
		name: "malformed data is dead-lettered without retry",
		build: func(t *testing.T) plan {
			base := func(id string) cloudevents.Event { return vehicleEvent(t, id, 1, "available") }
			return plan{deliveries: []cloudevents.Event{
				withData(t, base("v-wrong-shape"), []byte(`{"vehicleId": 42, "version": "one"}`)),
				withData(t, base("v-not-json"), []byte(`vehicle v-1, version 1`)),
				withData(t, base("v-null"), []byte(`null`)),
				withData(t, base("v-no-data"), nil),
				withData(t, base("v-array"), []byte(`[1, 2, 3]`)),
			}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			want := map[string][]int{}
			for _, e := range p.deliveries {
				want[e.ID()] = []int{400}
			}
			require.Equal(t, want, o.Attempts, "each refused at once")
			require.Empty(t, o.Effects)
			require.Empty(t, o.Inbox)
			require.Empty(t, o.ReadModel)
			require.Len(t, o.DeadLetters, len(p.deliveries))
			for _, e := range p.deliveries {
				i := slices.IndexFunc(o.DeadLetters, func(d deadLetter) bool { return d.ID == e.ID() })
				require.GreaterOrEqual(t, i, 0, "dead letter of %s", e.Subject())
				requireDeadLetter(t, o.DeadLetters[i], e, 400)
			}
			require.Equal(t, make([]string, len(p.deliveries)), o.PublishErrors)
		},
	},
	{
		name: "an event the Trigger does not match never reaches the consumer",
		build: func(t *testing.T) plan {
			other, err := events.New("/functions/fleet", events.VehicleCreated, "v-1", events.Vehicle{VehicleID: "v-1", Version: 1, Status: "available"})
			require.NoError(t, err)
			return plan{deliveries: []cloudevents.Event{other}}
		},
		check: func(t *testing.T, _ plan, o outcome, _ *consumer) {
			require.Empty(t, o.Attempts)
			require.Empty(t, o.Inbox)
			noDeadLetters(t, o)
		},
	},
	{
		name: "an attempt beyond the Trigger's timeout is retried to one effect",
		build: func(t *testing.T) plan {
			e := statusChange(t, "v-1", 2, "out-of-service")
			return plan{deliveries: []cloudevents.Event{e}, script: script{hang: map[string]int{e.ID(): 1}}}
		},
		check: func(t *testing.T, p plan, o outcome, c *consumer) {
			e := p.deliveries[0]
			// The consumer's own record of the abandoned attempt: 499, its caller gone before
			// the answer (platform.StatusClientClosed); the Broker saw no answer at all.
			require.Equal(t, map[string][]int{e.ID(): {platform.StatusClientClosed, 202}}, o.Attempts, "the abandoned attempt rolled back")
			require.Equal(t, map[string]int{e.ID(): 1}, o.Effects)
			require.Equal(t, ids(e), o.Inbox)
			require.Equal(t, map[string]vehicle{"v-1": {2, "out-of-service"}}, o.ReadModel)
			noDeadLetters(t, o)
			retryGaps(t, c, e)
		},
	},
	{
		name: "attempts always beyond the timeout are retried per the spec then dead-lettered",
		build: func(t *testing.T) plan {
			e := statusChange(t, "v-1", 2, "out-of-service")
			return plan{deliveries: []cloudevents.Event{e}, script: script{hang: map[string]int{e.ID(): 1 << 30}}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			e := p.deliveries[0]
			retry := deliveryFor(t, e.Type()).Retry
			require.Equal(t, 1, retry)
			require.Equal(t, map[string][]int{e.ID(): slices.Repeat([]int{platform.StatusClientClosed}, 1+retry)}, o.Attempts)
			require.Empty(t, o.Effects)
			require.Empty(t, o.Inbox)
			require.Len(t, o.DeadLetters, 1)
			dl := o.DeadLetters[0]
			require.Equal(t, e.ID(), dl.ID)
			require.Equal(t, string(e.Data()), dl.Data)
			require.Equal(t, "500", dl.Code, "no answer: Knative records 500")
			require.Equal(t, "subscriber", dl.Dest)
			require.Nil(t, dl.Problem)
			require.Regexp(t, `^dispatch error: Post "[^"]+": <timeout>$`, dl.ErrorText)
			require.Equal(t, []string{""}, o.PublishErrors)
		},
	},
	{
		name: "a reply event in the answer is delivered as a new event",
		build: func(t *testing.T) plan {
			e := vehicleEvent(t, "v-1", 1, "available")
			return plan{deliveries: []cloudevents.Event{e}, script: script{reply: map[string]bool{e.ID(): true}}, later: []string{"reply-to-" + e.ID()}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			e := p.deliveries[0]
			reply := "reply-to-" + e.ID()
			require.Equal(t, map[string][]int{e.ID(): {200}, reply: {202}}, o.Attempts, "200 with the reply, then the reply itself")
			require.Equal(t, map[string]int{e.ID(): 1, reply: 1}, o.Effects)
			require.Equal(t, []string{e.ID(), reply}, o.Inbox)
			require.Equal(t, map[string]vehicle{"v-1": {2, "replied"}}, o.ReadModel)
			noDeadLetters(t, o)
		},
	},
	{
		name: "1000 events each delivered twice in shuffled order have 1000 effects",
		build: func(t *testing.T) plan {
			const n = 1000
			var ds []cloudevents.Event
			for i := range n {
				e := vehicleEvent(t, fmt.Sprintf("v-%04d", i), 1, "available")
				ds = append(ds, e, e)
			}
			r := rand.New(rand.NewPCG(6, 9))
			r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			return plan{deliveries: ds, concurrency: 16}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			all := ids(p.deliveries...)
			require.Len(t, all, 1000)
			require.Len(t, o.Effects, 1000)
			for id, n := range o.Effects {
				require.Equal(t, 1, n, "effects of %s", id)
			}
			require.Len(t, o.Attempts, 1000)
			for id, statuses := range o.Attempts {
				require.Equal(t, []int{200, 202}, statuses, "%s: one done, one duplicate", id)
			}
			require.Equal(t, all, o.Inbox)
			require.Len(t, o.ReadModel, 1000)
			noDeadLetters(t, o)
		},
	},
	{
		name: "version-ordered updates out of order end in the newest state",
		build: func(t *testing.T) plan {
			statuses := []string{"", "available", "reserved", "rented", "returned", "maintenance"}
			v1 := map[int64]cloudevents.Event{}
			v2 := map[int64]cloudevents.Event{}
			for v := int64(1); v <= 5; v++ {
				v1[v] = vehicleEvent(t, "v-1", v, statuses[v])
			}
			for v := int64(1); v <= 3; v++ {
				v2[v] = vehicleEvent(t, "v-2", v, statuses[v])
			}
			// The newest of v-1 first, its older ones after; v-2's newest in the middle; a
			// redelivered old one and a retried newer one (500 once) among them.
			ds := []cloudevents.Event{v1[5], v2[2], v1[3], v2[1], v1[1], v2[3], v1[4], v2[1], v1[2]}
			return plan{deliveries: ds, script: script{failFirst: map[string]int{v2[3].ID(): 1}}}
		},
		check: func(t *testing.T, p plan, o outcome, _ *consumer) {
			require.Equal(t, map[string]vehicle{"v-1": {5, "maintenance"}, "v-2": {3, "rented"}}, o.ReadModel)
			require.Len(t, o.Effects, 8, "every distinct event once")
			require.Equal(t, 3, o.Applied, "v-1@5, v-2@2 and v-2@3 changed the read model; the older ones did not")
			require.Equal(t, []int{500, 202}, o.Attempts[p.deliveries[5].ID()])
			require.Equal(t, []int{202, 200}, o.Attempts[p.deliveries[3].ID()], "the redelivered v-2@1")
			noDeadLetters(t, o)
		},
	},
	{
		name: "versioned updates published concurrently in shuffled order end in the newest state",
		build: func(t *testing.T) plan {
			var ds []cloudevents.Event
			for v := range 10 {
				for version := int64(1); version <= 20; version++ {
					ds = append(ds, vehicleEvent(t, fmt.Sprintf("v-%d", v), version, fmt.Sprintf("status-%d", version)))
				}
			}
			r := rand.New(rand.NewPCG(11, 5))
			r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			return plan{deliveries: ds, concurrency: 8}
		},
		check: func(t *testing.T, _ plan, o outcome, _ *consumer) {
			want := map[string]vehicle{}
			for v := range 10 {
				want[fmt.Sprintf("v-%d", v)] = vehicle{20, "status-20"}
			}
			require.Equal(t, want, o.ReadModel)
			require.Len(t, o.Effects, 200)
			noDeadLetters(t, o)
		},
	},
}
