package syncworker_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/syncworker"
)

// verifyStandardWebhook checks a request the way the Standard Webhooks specification tells
// a receiver to (written from the spec, sharing no code with the sender): the secret is
// "whsec_" + base64 of the key; the signed content is "<webhook-id>.<webhook-timestamp>.<body>";
// webhook-signature is a space-delimited list of "v1,<base64 HMAC-SHA256>", any of which may
// match; the timestamp must be within five minutes of now.
func verifyStandardWebhook(secret string, h http.Header, body []byte) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	if id == "" || ts == "" || h.Get("webhook-signature") == "" {
		return errors.New("missing webhook headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return err
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp out of tolerance")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// receiver is a partner's endpoint: it verifies each request and answers from answers (the
// last one repeats).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	answers  []int
	requests []received
}

type received struct {
	id      string
	header  http.Header
	body    []byte
	sigErr  error
	attempt int
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	rc := &receiver{answers: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		n := len(rc.requests)
		rc.requests = append(rc.requests, received{id: r.Header.Get("webhook-id"), header: r.Header.Clone(), body: body, sigErr: verifyStandardWebhook(rc.secret, r.Header, body), attempt: n + 1})
		code := rc.answers[min(n, len(rc.answers)-1)]
		if code >= 300 && code < 400 {
			w.Header().Set("Location", "http://127.0.0.1:1/elsewhere")
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) got() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.requests...)
}

func (w *worker) delivery(sub string) map[string]any {
	w.t.Helper()
	r := w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub+"/deliveries", nil)
	require.Equal(w.t, http.StatusOK, r.status, string(r.body))
	items := r.json(w.t)["items"].([]any)
	require.Len(w.t, items, 1)
	id := items[0].(map[string]any)["id"].(string)
	assert.NotContains(w.t, items[0], "log", "the list shows no log (an empty one said the delivery was never tried)")
	r = w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub+"/deliveries/"+id, nil)
	require.Equal(w.t, http.StatusOK, r.status, string(r.body))
	d := r.json(w.t)
	assert.Contains(w.t, d, "log")
	return d
}

func statuses(d map[string]any) []any {
	var out []any
	for _, a := range d["log"].([]any) {
		out = append(out, a.(map[string]any)["statusCode"])
	}
	return out
}

// TestSignedDelivery: an event of a subscribed type reaches the endpoint once (a redelivery
// of the event queues nothing), signed per the spec, without the personal fields.
func TestSignedDelivery(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	rc := newReceiver(t, http.StatusNoContent)
	sub, secret := w.subscribe(rc.URL + "/hooks")
	rc.secret = secret
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	e := confirmed(t)
	require.Equal(t, http.StatusAccepted, w.deliver(e).status)
	require.Equal(t, http.StatusOK, w.deliver(e).status, "a redelivery is a duplicate")
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "delivered" })
	w.svc.SendDue(context.Background())

	got := rc.got()
	require.Len(t, got, 1)
	require.NoError(t, got[0].sigErr)
	var body struct {
		Type      string         `json:"type"`
		Timestamp time.Time      `json:"timestamp"`
		Data      map[string]any `json:"data"`
	}
	require.NoError(t, json.Unmarshal(got[0].body, &body))
	assert.Equal(t, events.ReservationConfirmed, body.Type)
	assert.Equal(t, "r-1", body.Data["reservationId"])
	for _, f := range events.PersonalFields {
		assert.NotContains(t, body.Data, f)
		assert.NotContains(t, body.Data["driver"], f)
	}
	for _, v := range []string{"alice@example.com", "bob@example.com", "+49 30", "Adler"} {
		assert.NotContains(t, string(got[0].body), v)
	}
	assert.Equal(t, "B", body.Data["driver"].(map[string]any)["licence"])
	assert.Contains(t, string(got[0].body), "12345678901234567", "numbers pass as sent, not through a float64")
	d := w.delivery(sub)
	assert.Equal(t, got[0].id, d["id"], "the webhook-id is the delivery's id")
	assert.Equal(t, []any{float64(204)}, statuses(d))

	// The independent check can fail: a tampered body, another secret, another id or
	// timestamp, or a stale timestamp each fail it.
	h := got[0].header
	require.NoError(t, verifyStandardWebhook(secret, h, got[0].body))
	assert.Error(t, verifyStandardWebhook(secret, h, append([]byte(" "), got[0].body...)), "tampered body")
	assert.Error(t, verifyStandardWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, got[0].body), "another secret")
	for name, value := range map[string]string{"Webhook-Id": "msg_other", "Webhook-Timestamp": strconv.FormatInt(time.Now().Unix()+1, 10)} {
		other := h.Clone()
		other.Set(name, value)
		assert.Error(t, verifyStandardWebhook(secret, other, got[0].body), name)
	}
	stale := h.Clone()
	stale.Set("Webhook-Timestamp", strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10))
	assert.Error(t, verifyStandardWebhook(secret, stale, got[0].body), "stale timestamp")

	// Replay: the same message id again, one attempt more in the log.
	r := w.admin_(http.MethodPost, syncworker.WebhooksPrefix+"/"+sub+"/deliveries/"+got[0].id+"/replay", nil)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	w.sendUntil(func() bool { return len(rc.got()) == 2 })
	w.sendUntil(func() bool { return len(statuses(w.delivery(sub))) == 2 })
	assert.Equal(t, got[0].id, rc.got()[1].id)
	assert.NoError(t, rc.got()[1].sigErr)
	r = w.admin_(http.MethodPost, syncworker.WebhooksPrefix+"/"+sub+"/deliveries/00000000-0000-4000-8000-000000000000/replay", nil)
	assert.Equal(t, http.StatusNotFound, r.status)
}

// TestUnsubscribedEventCostsNoCommit: an event of a type no partner subscribed to is
// acknowledged without a transaction — no inbox row, no delivery. Redelivered once a
// partner subscribed, it is queued for them once.
func TestUnsubscribedEventCostsNoCommit(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	rows := func(table string) int {
		var n int
		require.NoError(t, w.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM sync.`+table).Scan(&n))
		return n
	}
	e := confirmed(t)
	require.Equal(t, http.StatusAccepted, w.deliver(e).status)
	assert.Zero(t, rows("inbox"))
	assert.Zero(t, rows("deliveries"))

	rc := newReceiver(t, http.StatusNoContent)
	sub, secret := w.subscribe(rc.URL + "/hooks")
	rc.secret = secret
	require.Equal(t, http.StatusAccepted, w.deliver(e).status)
	require.Equal(t, http.StatusOK, w.deliver(e).status, "now a redelivery is a duplicate")
	assert.Equal(t, 1, rows("inbox"))
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "delivered" })
	assert.Len(t, rc.got(), 1)
}

// TestRetryThenSuccess: failures (5xx, a redirect, which is never followed) are retried with
// backoff until the endpoint answers 2xx; the log has every attempt.
func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	rc := newReceiver(t, http.StatusInternalServerError, http.StatusFound, http.StatusOK)
	sub, secret := w.subscribe(rc.URL)
	rc.secret = secret
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "delivered" })
	assert.Equal(t, []any{float64(500), float64(302), float64(200)}, statuses(w.delivery(sub)))
	assert.Len(t, rc.got(), 3, "the redirect was not followed")
	r := w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub, nil)
	assert.Equal(t, float64(0), r.json(t)["consecutiveFailures"])
}

// TestDisableAfterFailures: DisableAfter failed attempts in a row disable the subscription;
// nothing is sent to it then, replay is refused until an admin enables it again.
func TestDisableAfterFailures(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisableAfter = 3
	cfg.MaxAttempts = 10
	w := newWorker(t, cfg)
	rc := newReceiver(t, http.StatusServiceUnavailable)
	sub, secret := w.subscribe(rc.URL)
	rc.secret = secret
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	w.sendUntil(func() bool {
		return w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub, nil).json(t)["status"] == "disabled"
	})
	s := w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub, nil).json(t)
	assert.Equal(t, "failures", s["disabledReason"])
	time.Sleep(60 * time.Millisecond) // past any backoff
	w.svc.SendDue(context.Background())
	assert.Len(t, rc.got(), 3, "nothing is sent to a disabled subscription")
	d := w.delivery(sub)
	assert.Equal(t, "pending", d["status"], "its deliveries wait")
	r := w.admin_(http.MethodPost, syncworker.WebhooksPrefix+"/"+sub+"/deliveries/"+d["id"].(string)+"/replay", nil)
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))

	// Enabled again (the endpoint fixed), the waiting delivery goes out.
	rc.mu.Lock()
	rc.answers = []int{http.StatusOK}
	rc.mu.Unlock()
	r = w.admin_(http.MethodPatch, syncworker.WebhooksPrefix+"/"+sub, map[string]any{"status": "active"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "delivered" })
}

// TestShortOutageDoesNotDisable: many failures in a row within DisableFailing leave the
// subscription active; the next failure once the failing began long enough ago disables it.
func TestShortOutageDoesNotDisable(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.DisableAfter = 3
	cfg.DisableFailing = time.Hour
	w := newWorker(t, cfg)
	rc := newReceiver(t, http.StatusServiceUnavailable)
	sub, secret := w.subscribe(rc.URL)
	rc.secret = secret
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "failed" })
	s := w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub, nil).json(t)
	assert.Equal(t, "active", s["status"])
	assert.Equal(t, float64(cfg.MaxAttempts), s["consecutiveFailures"])

	_, err := w.db.Pool.Exec(context.Background(), `UPDATE sync.subscriptions SET failing_since = now() - interval '2 hours' WHERE id = $1`, sub)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	w.sendUntil(func() bool {
		return w.admin_(http.MethodGet, syncworker.WebhooksPrefix+"/"+sub, nil).json(t)["status"] == "disabled"
	})
}

// TestGivesUp: after MaxAttempts the delivery fails for good.
func TestGivesUp(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MaxAttempts = 2
	w := newWorker(t, cfg)
	rc := newReceiver(t, http.StatusBadRequest)
	sub, secret := w.subscribe(rc.URL)
	rc.secret = secret
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	w.sendUntil(func() bool { return w.delivery(sub)["status"] == "failed" })
	time.Sleep(60 * time.Millisecond)
	w.svc.SendDue(context.Background())
	assert.Len(t, rc.got(), 2)
}

// TestRunnerSends: the background sender the host runs delivers without being asked, and
// returns when its context ends.
func TestRunnerSends(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	rc := newReceiver(t, http.StatusOK)
	_, secret := w.subscribe(rc.URL)
	rc.secret = secret
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.svc.Run(ctx) }()
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	require.Eventually(t, func() bool { return len(rc.got()) == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.NoError(t, rc.got()[0].sigErr)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// TestBackoffBounds: the wait after failed attempt n lies in the upper half of
// base·2^(n-1), capped at the maximum, for every n (no overflow however many attempts).
func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	base, limit := 30*time.Second, 2*time.Hour
	for n := 1; n <= 100; n++ {
		want := limit
		if n <= 8 {
			want = min(base<<(n-1), limit)
		}
		for range 50 {
			got := syncworker.Backoff(base, limit, n)
			require.GreaterOrEqual(t, got, want/2, "attempt %d", n)
			require.LessOrEqual(t, got, want, "attempt %d", n)
		}
	}
}

// TestSignKnownVector: Sign reproduces the example of the Standard Webhooks specification.
func TestSignKnownVector(t *testing.T) {
	t.Parallel()
	sig, err := syncworker.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)
}

// TestSecretNotKeptForReplay: a create sent with an Idempotency-Key leaves no copy of the
// secret in the key store (its answer is the only place the secret is shown), and the
// listing and reading never show it.
func TestSecretNotKeptForReplay(t *testing.T) {
	t.Parallel()
	w := newWorker(t, testConfig())
	body := []byte(`{"url":"https://93.184.216.34/hook","types":["` + events.ReservationConfirmed + `"]}`)
	r := w.do(http.MethodPost, syncworker.WebhooksPrefix, w.admin, "application/json", body, "Idempotency-Key", "create-1")
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	v := r.json(t)
	secret := v["secret"].(string)
	require.True(t, strings.HasPrefix(secret, "whsec_"))
	var kept int
	require.NoError(t, w.db.Pool.QueryRow(context.Background(),
		`SELECT count(*) FROM sync.idempotency_keys WHERE position($1::bytea IN coalesce(body, ''::bytea)) > 0`, []byte(secret)).Scan(&kept))
	assert.Zero(t, kept)
	for _, path := range []string{syncworker.WebhooksPrefix, syncworker.WebhooksPrefix + "/" + v["id"].(string)} {
		r := w.admin_(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, r.status)
		assert.NotContains(t, string(r.body), secret, path)
		assert.NotContains(t, string(r.body), "whsec_", path)
	}
}

// TestASlowEndpointHoldsBackNoOther: one partner's endpoint that hangs takes at most half of
// the sender's slots; another partner's deliveries go out meanwhile, each as a slot frees,
// not after the slow batch has timed out (it held every partner for the timeout).
func TestASlowEndpointHoldsBackNoOther(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Timeout = 10 * time.Second
	w := newWorker(t, cfg)
	release := make(chan struct{})
	var slowGot atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		slowGot.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t, http.StatusOK)
	w.subscribe(slow.URL)
	_, fast.secret = w.subscribe(fast.URL)
	const n = 6
	for range n {
		require.Equal(t, http.StatusAccepted, w.deliver(confirmed(t)).status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { w.svc.SendDue(ctx); close(done) }()
	require.Eventually(t, func() bool { return len(fast.got()) == n }, 3*time.Second, 10*time.Millisecond,
		"the fast endpoint got %d of %d while the slow one hangs", len(fast.got()), n)
	assert.LessOrEqual(t, slowGot.Load(), int32(cfg.Concurrency/2), "the slow endpoint has at most half the slots")
	cancel()
	<-done
}
