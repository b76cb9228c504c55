package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

func httpClient(conns int) *http.Client {
	return &http.Client{
		Timeout:   20 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns},
	}
}

// delivery is one raw HTTP request to the receiver.
type delivery struct {
	header  map[string]string
	body    string
	unsized bool // no Content-Length: chunked
}

func binaryHeaders(id string, override map[string]string) map[string]string {
	h := map[string]string{
		"Ce-Specversion": "1.0",
		"Ce-Id":          id,
		"Ce-Source":      source,
		"Ce-Type":        events.VehicleUpdated,
		"Ce-Subject":     "v-1",
		"Content-Type":   "application/json",
	}
	for k, v := range override {
		if v == "" {
			delete(h, k)
		} else {
			h[k] = v
		}
	}
	return h
}

// structured is a structured-mode body with the given attributes (nil removes one).
func structured(id string, override map[string]any) string {
	doc := map[string]any{
		"specversion":     "1.0",
		"id":              id,
		"source":          source,
		"type":            events.VehicleUpdated,
		"subject":         "v-1",
		"datacontenttype": "application/json",
		"data":            map[string]any{"vehicleId": "v-1", "version": 1},
	}
	for k, v := range override {
		if v == nil {
			delete(doc, k)
		} else {
			doc[k] = v
		}
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

const structuredType = "application/cloudevents+json; charset=utf-8"

func (d delivery) send(t *testing.T, hc *http.Client, url string) *http.Response {
	t.Helper()
	var body io.Reader = strings.NewReader(d.body)
	if d.unsized {
		body = io.MultiReader(body) // hides the length: sent chunked
	}
	req, err := http.NewRequest(http.MethodPost, url, body)
	require.NoError(t, err)
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func requireProblem(t *testing.T, resp *http.Response, status int) platform.Problem {
	t.Helper()
	require.Equal(t, status, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p platform.Problem
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	assert.Equal(t, status, p.Status)
	assert.True(t, strings.HasPrefix(p.Type, platform.ProblemTypeBase), p.Type)
	assert.Equal(t, events.ReceivePath, p.Instance)
	assert.NotEmpty(t, p.RequestID)
	return p
}

// TestReceiverStatuses: what a worker answers for each kind of delivery. Malformed events
// get 4xx, never 5xx: a 5xx makes a Knative Broker retry forever.
func TestReceiverStatuses(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sink := newConsumer(t, db, applyEffect)
	hc := httpClient(8)
	oversize := strings.Repeat(" ", events.MaxEventBytes) + `{"vehicleId":"v-1","version":1}`
	valid := `{"vehicleId":"v-1","version":1}`

	cases := []struct {
		name   string
		build  func(id string) delivery
		status int
	}{
		{"binary", func(id string) delivery { return delivery{header: binaryHeaders(id, nil), body: valid} }, 202},
		{"binary, chunked", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: valid, unsized: true}
		}, 202},
		{"structured", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, nil)}
		}, 202},

		{"binary without id", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Ce-Id": ""}), body: valid}
		}, 400},
		{"binary without source", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Ce-Source": ""}), body: valid}
		}, 400},
		{"binary without type", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Ce-Type": ""}), body: valid}
		}, 400},
		{"binary with unknown specversion", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Ce-Specversion": "2.0"}), body: valid}
		}, 400},
		{"binary without specversion", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Ce-Specversion": ""}), body: valid}
		}, 400},
		{"structured without id", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"id": nil})}
		}, 400},
		{"structured without source", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"source": nil})}
		}, 400},
		{"structured without type", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"type": nil})}
		}, 400},
		{"structured with unknown specversion", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"specversion": "2.0"})}
		}, 400},
		{"structured with broken JSON", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: `{"specversion":"1.0","id":"` + id + `","source":`}
		}, 400},
		{"structured, not an object", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: `[1, 2, 3]`}
		}, 400},
		{"batch mode", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, body: "[" + structured(id, nil) + "]"}
		}, 400},

		{"binary with malformed data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: `{"vehicleId":"v-1",`}
		}, 400},
		{"binary with wrong-shape data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: `{"vehicleId":42,"version":"one"}`}
		}, 400},
		{"binary with an array for data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: `[1, 2]`}
		}, 400},
		{"binary with text data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, map[string]string{"Content-Type": "text/plain"}), body: "hello"}
		}, 400},
		{"binary without data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: ""}
		}, 400},
		{"binary with null data", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: "null"}
		}, 400},
		{"structured without data", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"data": nil})}
		}, 400},
		{"structured with wrong-shape data", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"data": map[string]any{"version": "one"}})}
		}, 400},
		{"structured with a string for data", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"data": "v-1"})}
		}, 400},

		{"binary, oversize, with Content-Length", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: oversize}
		}, 413},
		{"binary, oversize, chunked", func(id string) delivery {
			return delivery{header: binaryHeaders(id, nil), body: oversize, unsized: true}
		}, 413},
		{"structured, oversize, with Content-Length", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"pad": oversize})}
		}, 413},
		{"structured, oversize, chunked", func(id string) delivery {
			return delivery{header: map[string]string{"Content-Type": structuredType}, body: structured(id, map[string]any{"pad": oversize}), unsized: true}
		}, 413},

		{"not a CloudEvent", func(string) delivery {
			return delivery{header: map[string]string{"Content-Type": "application/json"}, body: valid}
		}, 400},
		{"plain text", func(string) delivery {
			return delivery{header: map[string]string{"Content-Type": "text/plain"}, body: "hello"}
		}, 400},
		{"empty", func(string) delivery { return delivery{} }, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			id := uuid.NewString()
			resp := tc.build(id).send(t, hc, sink.sink())
			inbox := count(t, db, `SELECT count(*) FROM evsink.inbox WHERE id = $1`, id)
			if tc.status < 300 {
				require.Equal(t, tc.status, resp.StatusCode)
				assert.Equal(t, 1, effects(t, db, id))
				assert.Equal(t, 1, inbox)
				return
			}
			requireProblem(t, resp, tc.status)
			assert.Zero(t, effects(t, db, id))
			assert.Zero(t, inbox, "a refused event is not recorded")
		})
	}
}

// sender delivers events to c in binary mode, one at a time; the answers are closed when the
// test ends.
func sender(t *testing.T, c *consumerServer) func(cloudevents.Event) *http.Response {
	hc := httpClient(4)
	return func(e cloudevents.Event) *http.Response {
		resp, err := hc.Do(binaryRequest(t, context.Background(), c.sink(), e))
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
}

// TestReceiverHandlerOutcomes: what a worker answers for what its handler did.
func TestReceiverHandlerOutcomes(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	var failures atomic.Int32
	failures.Store(1)
	handler := func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
		switch e.Subject() {
		case "flaky":
			if failures.Add(-1) >= 0 {
				// Effect written, then the handler fails: the rollback takes it back.
				if _, err := applyEffect(ctx, tx, e); err != nil {
					return nil, err
				}
				return nil, errors.New("downstream unavailable: password=hunter2")
			}
		case "poison":
			return nil, events.Permanentf("vehicle %s does not exist", e.Subject())
		case "question":
			if _, err := applyEffect(ctx, tx, e); err != nil {
				return nil, err
			}
			reply, err := events.New("/functions/evsink", events.VehicleStatusChanged, e.Subject(), events.Vehicle{VehicleID: e.Subject(), Version: 2, Status: "blocked"})
			return &reply, err
		}
		return applyEffect(ctx, tx, e)
	}
	send := sender(t, newConsumer(t, db, handler))
	inbox := func(id string) int {
		return count(t, db, `SELECT count(*) FROM evsink.inbox WHERE id = $1`, id)
	}

	t.Run("a failing handler is retried", func(t *testing.T) {
		e := newChange(t, "flaky", 1)
		p := requireProblem(t, send(e), http.StatusInternalServerError)
		assert.NotContains(t, p.Detail, "hunter2", "internal errors stay internal")
		assert.Zero(t, inbox(e.ID()), "not recorded: the retry must run the handler")
		assert.Zero(t, effects(t, db, e.ID()))

		assert.Equal(t, http.StatusAccepted, send(e).StatusCode, "the retry succeeds")
		assert.Equal(t, 1, effects(t, db, e.ID()))

		assert.Equal(t, http.StatusOK, send(e).StatusCode, "a duplicate is done")
		assert.Equal(t, 1, effects(t, db, e.ID()), "and changes nothing")
		assert.Equal(t, 1, inbox(e.ID()))
	})

	t.Run("a permanent error is a 400", func(t *testing.T) {
		e := newChange(t, "poison", 1)
		p := requireProblem(t, send(e), http.StatusBadRequest)
		assert.Contains(t, p.Detail, "vehicle poison does not exist")
		assert.Zero(t, inbox(e.ID()))
	})

	t.Run("the same id from another source is another event", func(t *testing.T) {
		e := newChange(t, "v-9", 1)
		assert.Equal(t, http.StatusAccepted, send(e).StatusCode)
		e.SetSource("/functions/other")
		assert.Equal(t, http.StatusAccepted, send(e).StatusCode)
		assert.Equal(t, 2, effects(t, db, e.ID()))
	})

	t.Run("a reply goes back in binary mode", func(t *testing.T) {
		e := newChange(t, "question", 1)
		resp := send(e)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Equal(t, "1.0", resp.Header.Get("Ce-Specversion"), "binary mode")
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		reply, err := cloudevents.NewEventFromHTTPResponse(resp)
		require.NoError(t, err)
		require.NoError(t, reply.Validate())
		assert.Equal(t, events.VehicleStatusChanged, reply.Type())
		assert.Equal(t, "/functions/evsink", reply.Source())
		got, err := events.DecodeData[events.Vehicle](*reply)
		require.NoError(t, err)
		assert.Equal(t, events.Vehicle{VehicleID: "question", Version: 2, Status: "blocked"}, got)
		assert.Equal(t, 1, effects(t, db, e.ID()))
	})
}

// An event the Unwanted option turns away is acknowledged without the handler, a
// transaction or an inbox row; the option's failure is a 5xx that leaves nothing either, so
// the redelivery is judged again.
func TestReceiverUnwanted(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	var ran atomic.Int32
	handler := func(ctx context.Context, tx pgx.Tx, e cloudevents.Event) (*cloudevents.Event, error) {
		ran.Add(1)
		return applyEffect(ctx, tx, e)
	}
	var down atomic.Bool
	down.Store(true)
	sink := newConsumer(t, db, handler, events.Unwanted(func(ctx context.Context, e cloudevents.Event) (bool, error) {
		if e.Subject() == "wanted" {
			return false, nil
		}
		if down.Load() {
			return false, errors.New("subscriptions unreadable: password=hunter2")
		}
		return true, nil
	}))
	send := sender(t, sink)
	inbox := func(id string) int { return count(t, db, `SELECT count(*) FROM evsink.inbox WHERE id = $1`, id) }

	e := newChange(t, "unwanted", 1)
	p := requireProblem(t, send(e), http.StatusInternalServerError)
	assert.NotContains(t, p.Detail, "hunter2", "internal errors stay internal")
	down.Store(false)
	assert.Equal(t, http.StatusAccepted, send(e).StatusCode)
	assert.Zero(t, inbox(e.ID()))
	assert.Zero(t, effects(t, db, e.ID()))
	assert.Zero(t, ran.Load(), "the handler never ran")

	w := newChange(t, "wanted", 1)
	assert.Equal(t, http.StatusAccepted, send(w).StatusCode)
	assert.Equal(t, http.StatusOK, send(w).StatusCode, "a duplicate of a wanted event is one still")
	assert.Equal(t, 1, inbox(w.ID()))
	assert.Equal(t, 1, effects(t, db, w.ID()))
}

// TestReceiverAppliesEachEventOnce: 1,000 events, each delivered twice, in shuffled order,
// by 16 concurrent senders — 1,000 effects and 2,000 successful answers.
func TestReceiverAppliesEachEventOnce(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sink := newConsumer(t, db, applyEffect)
	const n, senders = 1000, 16

	var deliveries []cloudevents.Event
	for i := range n {
		e := newChange(t, fmt.Sprintf("v-%d", i%50), int64(i/50+1))
		deliveries = append(deliveries, e, e)
	}
	rand.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })

	hc := httpClient(senders)
	work := make(chan cloudevents.Event)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for e := range work {
				status, err := post(t, hc, sink.sink(), e)
				if err != nil {
					status = -1
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	for _, e := range deliveries {
		work <- e
	}
	close(work)
	wg.Wait()

	assert.Equal(t, map[int]int{http.StatusAccepted: n, http.StatusOK: n}, statuses, "every delivery 2xx: once done, once duplicate")
	assert.Equal(t, n, count(t, db, `SELECT count(*) FROM evsink.effects`))
	assert.Equal(t, n, count(t, db, `SELECT count(DISTINCT event_id) FROM evsink.effects`))
	assert.Equal(t, n, count(t, db, `SELECT count(*) FROM evsink.inbox`))
}

// TestReceiverUnderConcurrentLoad guards against the sdk-go receive handler's stall under
// concurrent requests (cloudevents/sdk-go#1224): 200 at once all get their answer.
func TestReceiverUnderConcurrentLoad(t *testing.T) {
	t.Parallel()
	db := newDB(t)
	sink := newConsumer(t, db, applyEffect)
	const n = 200
	hc := httpClient(n)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	start := make(chan struct{})
	results := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		e := newChange(t, fmt.Sprintf("v-%d", i), 1)
		wg.Go(func() {
			<-start
			resp, err := hc.Do(binaryRequest(t, ctx, sink.sink(), e))
			if err != nil {
				results <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	close(results)
	got := map[int]int{}
	for s := range results {
		got[s]++
	}
	require.NoError(t, ctx.Err(), "the receiver stalled")
	assert.Equal(t, map[int]int{http.StatusAccepted: n}, got)
	assert.Equal(t, n, count(t, db, `SELECT count(*) FROM evsink.effects`))
}
