package broker_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
)

// Publishes that arrive together share the durable ingress's INSERT (group commit, issue
// 19): 64 concurrent publishes to two Triggers cost far fewer write transactions than 64,
// and each Trigger still gets every event once. Not parallel: it counts the cluster's
// transaction ids, which parallel tests would move too.
func TestDurableConcurrentPublishesShareInserts(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	br, db := startDurable(t, []broker.Trigger{
		trigger("a", events.ReservationCreated, "a", 0, ""), trigger("b", events.ReservationCreated, "b", 0, ""),
	}, broker.Options{}, map[string]http.Handler{"a": a, "b": b})
	xid := func() int64 {
		var x int64
		require.NoError(t, db.Pool.QueryRow(context.Background(), `SELECT txid_current()`).Scan(&x))
		return x
	}
	const n = 64
	sent := map[string]int{}
	evs := make([]cloudevents.Event, n)
	for i := range evs {
		evs[i] = event(events.ReservationCreated)
		sent[evs[i].ID()] = 1
	}
	before := xid()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, e := range evs {
		wg.Go(func() {
			<-start
			assert.NoError(t, br.Publish(ctxTimeout(t, 10*time.Second), e))
		})
	}
	close(start)
	wg.Wait()
	inserts := xid() - before - 1
	t.Logf("%d publishes queued in %d write transactions (deliveries' acks included)", n, inserts)
	finished(t, br, db, n, "a", "b")
	assert.Equal(t, sent, a.ids(), "Trigger a got every event once")
	assert.Equal(t, sent, b.ids(), "Trigger b got every event once")
	assert.Less(t, inserts, int64(n), "publishes share INSERTs")
}
