package contract_test

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// plan is a scenario's input, built once and run in both modes: the deliveries in the
// order they are published, and how the consumer misbehaves.
type plan struct {
	deliveries []cloudevents.Event
	script     script
	// concurrency publishes with that many goroutines; 0 publishes one after another, so
	// the order of everything is fixed and compared exactly.
	concurrency int
	// later names events that reach the consumer after Publish returned (replies).
	later []string
}

// outcome is everything of a run a consumer or an operator can observe. Both modes must
// produce equal outcomes.
type outcome struct {
	// PublishErrors is Publish's error per delivery ("" for nil).
	PublishErrors []string
	// Attempts is what the consumer answered to each attempt, per event id (in order when
	// published sequentially, sorted otherwise); "" keys requests not in binary mode.
	Attempts map[string][]int
	// Wire counts the deliveries' HTTP forms (encoding, headers) at the consumer.
	Wire map[string]int
	// Effects counts effect rows per event id; Applied counts those that changed the read
	// model (-1 when published concurrently: then it depends on the interleaving).
	Effects map[string]int
	Applied int
	// Inbox is the ids in the consumer's inbox, sorted.
	Inbox []string
	// ReadModel is the consumer's vehicles table.
	ReadModel map[string]vehicle
	// DeadLetters is what reached the dead-letter sink, by event id.
	DeadLetters []deadLetter
	// Senders is the sender (the service account its token names) of the deliveries the
	// consumer handled, per event id.
	Senders map[string]string
}

type vehicle struct {
	Version int64
	Status  string
}

type deadLetter struct {
	ID, Type, Source, Subject, Data string
	// Code is knativeerrorcode; Dest is knativeerrordest with the subscriber's URL written
	// "subscriber"; Problem is knativeerrordata decoded when it is the consumer's problem
	// answer, ErrorText when it is the dispatcher's error (there was no answer).
	Code, Dest string
	Problem    map[string]any
	ErrorText  string
	// Wire is the dead-letter delivery's HTTP form.
	Wire string
	// Sender is the service account the dead-letter delivery's token names.
	Sender string
}

// run plays p in mode m against a fresh consumer and returns what came of it.
func run(t *testing.T, m mode, p plan) (outcome, *consumer) {
	t.Helper()
	id := authtest.New(t)
	c := newConsumer(t, id, p.script)
	dls := &deadLetterSink{}
	pub, subscriberURL := m.start(t, id, c.handler(), dls.handler(id, c.senders))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]string, len(p.deliveries))
	if p.concurrency == 0 {
		for i, e := range p.deliveries {
			errs[i] = errString(pub.Publish(ctx, e))
		}
	} else {
		next := make(chan int)
		var wg sync.WaitGroup
		for range p.concurrency {
			wg.Go(func() {
				for i := range next {
					errs[i] = errString(pub.Publish(ctx, p.deliveries[i]))
				}
			})
		}
		for i := range p.deliveries {
			next <- i
		}
		close(next)
		wg.Wait()
	}
	// Publish returned: every delivery finished (acked or dead-lettered) in both modes.
	return observe(t, c, dls, subscriberURL, p, errs), c
}

// observe collects the outcome of a run from the consumer's probe and database and the
// dead-letter sink.
func observe(t *testing.T, c *consumer, dls *deadLetterSink, subscriberURL string, p plan, errs []string) outcome {
	t.Helper()
	c.settle(t, p.later)
	o := outcome{PublishErrors: errs, Attempts: map[string][]int{}, Wire: map[string]int{}, Effects: map[string]int{}, ReadModel: map[string]vehicle{}}
	c.mu.Lock()
	for _, r := range c.requests {
		o.Attempts[r.id] = append(o.Attempts[r.id], r.status)
		o.Wire[r.wire]++
	}
	o.Senders = maps.Clone(c.sentBy)
	c.mu.Unlock()
	if p.concurrency > 0 {
		for _, s := range o.Attempts {
			slices.Sort(s)
		}
	}

	bg := context.Background()
	rows, err := c.db.Pool.Query(bg, `SELECT event_id, applied FROM ctsink.effects`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var applied bool
		require.NoError(t, rows.Scan(&id, &applied))
		o.Effects[id]++
		if applied {
			o.Applied++
		}
	}
	require.NoError(t, rows.Err())
	if p.concurrency > 0 {
		o.Applied = -1
	}
	rows, err = c.db.Pool.Query(bg, `SELECT id FROM ctsink.inbox ORDER BY id`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		o.Inbox = append(o.Inbox, id)
	}
	require.NoError(t, rows.Err())
	rows, err = c.db.Pool.Query(bg, `SELECT id, version, status FROM ctsink.vehicles`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		var v vehicle
		require.NoError(t, rows.Scan(&id, &v.Version, &v.Status))
		o.ReadModel[id] = v
	}
	require.NoError(t, rows.Err())

	for _, r := range dls.letters() {
		e := r.event
		ext := e.Extensions()
		dl := deadLetter{ID: e.ID(), Type: e.Type(), Source: e.Source(), Subject: e.Subject(), Data: string(e.Data()),
			Code: fmt.Sprint(ext[broker.ExtErrorCode]), Dest: fmt.Sprint(ext[broker.ExtErrorDest]), Wire: r.wire, Sender: r.sender}
		assert.Equal(t, senderFor(t, e.Type()).ServiceAccount(), dl.Sender, "the dead letter of %s comes from the Trigger of its type", e.ID())
		if dl.Dest == subscriberURL {
			dl.Dest = "subscriber"
		}
		if data, ok := ext[broker.ExtErrorData]; ok {
			dl.Problem, dl.ErrorText = errorData(t, fmt.Sprint(data))
			if dl.ErrorText != "" {
				// How Go words a timeout depends on where it caught the request.
				t.Logf("knativeerrordata of %s: %s", dl.ID, dl.ErrorText)
				dl.ErrorText = strings.ReplaceAll(dl.ErrorText, subscriberURL, "<subscriber>")
				dl.ErrorText = timeoutCause.ReplaceAllString(dl.ErrorText, "<timeout>")
			}
		}
		o.DeadLetters = append(o.DeadLetters, dl)
	}
	slices.SortFunc(o.DeadLetters, func(a, b deadLetter) int { return strings.Compare(a.ID, b.ID) })

	// Every delivery the consumer handled came from the Trigger of its event's type.
	types := map[string]string{}
	for _, e := range p.deliveries {
		types[e.ID()] = e.Type()
	}
	for _, id := range p.later {
		types[id] = events.VehicleStatusChanged // the replies
	}
	for id, sender := range o.Senders {
		require.Contains(t, types, id, "the consumer handled an event nobody published")
		assert.Equal(t, senderFor(t, types[id]).ServiceAccount(), sender, "the deliveries of %s come from the Trigger of its type", id)
	}
	return o
}

// retryGaps checks the consumer saw the retries of id no sooner than the Trigger's backoff
// schedule allows (a lower bound: it holds however slow the machine is).
func retryGaps(t *testing.T, c *consumer, e cloudevents.Event) {
	t.Helper()
	id := e.ID()
	schedule := deliveryFor(t, e.Type()).Schedule()
	c.mu.Lock()
	var arrived []time.Time
	for _, r := range c.requests {
		if r.id == id {
			arrived = append(arrived, r.arrived)
		}
	}
	c.mu.Unlock()
	for n := 1; n < len(arrived); n++ {
		gap := arrived[n].Sub(arrived[n-1])
		assert.GreaterOrEqual(t, gap, schedule[n-1], "retry %d of %s came %s after the attempt before; the spec waits %s", n, id, gap, schedule[n-1])
	}
}

// TestContract runs every scenario through both modes and requires each mode to meet the
// scenario's expectations and the two outcomes to be equal.
func TestContract(t *testing.T) {
	t.Parallel()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			p := sc.build(t)
			outcomes := make([]outcome, len(modes))
			t.Run("modes", func(t *testing.T) {
				for i, m := range modes {
					t.Run(m.name, func(t *testing.T) {
						t.Parallel()
						o, c := run(t, m, p)
						sc.check(t, p, o, c)
						outcomes[i] = o
					})
				}
			})
			if t.Failed() {
				return
			}
			for i := 1; i < len(modes); i++ {
				require.Equal(t, outcomes[0], outcomes[i], "%s and %s disagree", modes[0].name, modes[i].name)
			}
		})
	}
}

var (
	timeoutCause = regexp.MustCompile(`(context deadline exceeded|net/http: request canceled)( \(Client\.Timeout exceeded [^)]*\))?$`)
)
