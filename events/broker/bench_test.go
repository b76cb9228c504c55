package broker_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/events/broker"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// BenchmarkBroker measures events/s through the in-process broker to a no-op consumer next
// to, in the same run, a bare Go channel hand-off of small structs and the sdk-go HTTP
// receiver on loopback (design.md §8: the broker must beat the receiver 10×). Each Publish
// waits for its delivery, so producers run in parallel (64 per CPU) as the relay's
// aggregates do. The durable queues `orange dev` runs (Options.DB) are measured beside one
// INSERT per operation on the same server and pool: their ingress alone (the accept rate)
// and from Publish to both of two Triggers' no-op subscribers (bench_durable_test.go).
//
//	go test -run '^$' -bench BenchmarkBroker ./events/broker/
func BenchmarkBroker(b *testing.B) {
	rates := map[string]float64{}
	var mu sync.Mutex
	record := func(b *testing.B) {
		rate := float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "events/s")
		mu.Lock()
		rates[b.Name()] = rate
		mu.Unlock()
	}
	noop := func(context.Context, broker.Destination, cloudevents.Event) (*cloudevents.Event, int, error) {
		return nil, http.StatusAccepted, nil
	}

	b.Run("broker-noop-consumer", func(b *testing.B) {
		benchBroker(b, noop, "")
		record(b)
	})
	b.Run("broker-http-in-process", func(b *testing.B) {
		// What `orange dev` does: binary CloudEvents over the in-process platform transport
		// to a handler that decodes the event and answers 202.
		tr := platform.NewTransport(nil, nil)
		tr.Mount("worker", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := cloudevents.NewEventFromHTTPRequest(r); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}))
		benchBroker(b, broker.HTTPDeliverer(tr, nil), "")
		record(b)
	})
	b.Run("broker-http-in-process-oidc", func(b *testing.B) {
		// The same with design.md §9's trust: the broker signs each delivery as its Trigger
		// (the token cached per sender and audience, as Knative's token provider does) and
		// the consumer verifies it — signature, issuer, audience, expiry, sender — before it
		// decodes the event.
		id := authtest.New(b)
		sign := func(s platform.Sender, ns, aud string) (string, error) {
			return id.Cluster.Token(devissuer.Subject(ns, s.ServiceAccount()), aud)
		}
		consumer := platform.RouteTable{{Name: "receiveEvent", Method: http.MethodPost, Path: "/cloudevents",
			Access: platform.Deliveries(platform.Trigger("bench")),
			Handler: func(w http.ResponseWriter, r *http.Request) error {
				if _, err := cloudevents.NewEventFromHTTPRequest(r); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return nil
				}
				w.WriteHeader(http.StatusAccepted)
				return nil
			}}}
		tr := platform.NewTransport(nil, nil)
		tr.Mount("worker", platform.Handler(consumer, id.Authenticator("worker")))
		benchBroker(b, broker.HTTPDeliverer(tr, sign), auth.ServiceAudience(authtest.Namespace, "worker"))
		record(b)
	})
	b.Run("postgres-insert-baseline", func(b *testing.B) {
		benchInsertBaseline(b)
		record(b)
	})
	b.Run("durable-ingress-accept", func(b *testing.B) {
		benchDurableIngress(b)
		record(b)
	})
	b.Run("durable-end-to-end-noop", func(b *testing.B) {
		benchDurableEndToEnd(b)
		record(b)
	})
	b.Run("durable-beside-failing-trigger", func(b *testing.B) {
		benchDurableBesideFailing(b)
		record(b)
	})
	b.Run("go-channel-handoff", func(b *testing.B) {
		type msg struct {
			id  int64
			typ string
		}
		ch := make(chan msg, 256)
		done := make(chan int64)
		go func() {
			var n int64
			for m := range ch {
				n += m.id & 1
			}
			done <- n
		}()
		b.ResetTimer()
		for i := range b.N {
			ch <- msg{id: int64(i), typ: events.CustomerRegistered}
		}
		close(ch)
		<-done
		b.StopTimer()
		record(b)
	})
	b.Run("sdk-go-http-receiver", func(b *testing.B) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		p, err := cloudevents.NewHTTP(cehttp.WithListener(ln))
		if err != nil {
			b.Fatal(err)
		}
		rc, err := cloudevents.NewClient(p)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { _ = rc.StartReceiver(ctx, func(cloudevents.Event) {}) }()
		loopbackLoad(b, "http://"+ln.Addr().String()+"/")
		record(b)
	})
	b.Run("net-http-receiver", func(b *testing.B) {
		// The same load against a plain net/http handler that decodes the event.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := cloudevents.NewEventFromHTTPRequest(r); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusAccepted)
		}))
		defer srv.Close()
		loopbackLoad(b, srv.URL+"/")
		record(b)
	})

	if insert := rates[b.Name()+"/postgres-insert-baseline"]; insert > 0 {
		b.Logf("durable queues (2 Triggers) vs one INSERT per operation: ingress accept %.2f×, end-to-end delivery %.2f×; end-to-end vs the in-memory broker %.3f×, vs the sdk-go receiver %.2f×",
			rates[b.Name()+"/durable-ingress-accept"]/insert, rates[b.Name()+"/durable-end-to-end-noop"]/insert,
			rates[b.Name()+"/durable-end-to-end-noop"]/rates[b.Name()+"/broker-noop-consumer"],
			rates[b.Name()+"/durable-end-to-end-noop"]/rates[b.Name()+"/sdk-go-http-receiver"])
		if both := rates[b.Name()+"/durable-end-to-end-noop"]; both > 0 {
			b.Logf("a healthy Trigger beside one whose subscriber fails every delivery: %.2f× the events/s of two healthy Triggers (one delivery per event instead of two: > 1 means the failing one costs its neighbour nothing)",
				rates[b.Name()+"/durable-beside-failing-trigger"]/both)
		}
	}
	base := rates[b.Name()+"/sdk-go-http-receiver"]
	if base > 0 {
		b.Logf("vs the sdk-go receiver: broker to a no-op consumer %.1f×, broker over the in-process HTTP transport %.1f× (signed and verified: %.1f×), net/http receiver %.1f×, channel hand-off %.1f×",
			rates[b.Name()+"/broker-noop-consumer"]/base, rates[b.Name()+"/broker-http-in-process"]/base,
			rates[b.Name()+"/broker-http-in-process-oidc"]/base,
			rates[b.Name()+"/net-http-receiver"]/base, rates[b.Name()+"/go-channel-handoff"]/base)
	}
}

// benchBroker publishes b.N events through a one-Trigger broker delivering with deliver, to
// a subscriber of the given OIDC audience ("": none, no token).
func benchBroker(b *testing.B, deliver broker.Deliverer, audience string) {
	tg := trigger("bench", events.CustomerRegistered, "worker", 0, "")
	tg.Subscriber.Audience = audience
	tg.Subscriber.Path = "/cloudevents"
	tg.Namespace = authtest.Namespace
	br := broker.New([]broker.Trigger{tg}, deliver, broker.Options{QueueSize: 1024, Workers: 16, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = br.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	var failed atomic.Int64
	b.SetParallelism(64)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		e := event(events.CustomerRegistered)
		for pb.Next() {
			if err := br.Publish(ctx, e); err != nil {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d publishes failed", failed.Load())
	}
}

// loopbackLoad POSTs one pre-encoded binary CloudEvent b.N times to url from 16 goroutines
// per CPU with plain net/http, so the receiver, not a CloudEvents client, is measured.
func loopbackLoad(b *testing.B, url string) {
	e := event(events.CustomerRegistered)
	probe, _ := http.NewRequest(http.MethodPost, url, nil)
	if err := cehttp.WriteRequest(binding.WithForceBinary(context.Background()), binding.ToMessage(&e), probe); err != nil {
		b.Fatal(err)
	}
	body := e.Data()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	var failed atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header = probe.Header.Clone()
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d sends failed", failed.Load(), b.N)
	}
}
