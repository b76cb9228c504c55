package syncworker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Sign returns the Standard Webhooks signature header value of body sent as message id at
// ts (Unix seconds) with secret: "v1," + base64(HMAC-SHA256(key, id.ts.body)).
func Sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := secretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts)
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// due is a claimed delivery.
type due struct {
	id, subscription, url, secret string
	payload                       []byte
	attempts, triesLeft           int
}

// claimDue takes up to $1 due deliveries of active subscriptions — at most one of each, and
// none of the subscriptions in $3 (those with as many requests in flight as they may have) —
// and moves their next_attempt_at past the lease $2, so another sender (a second replica)
// leaves them alone and a crash mid-attempt only delays them. Each subscription offers its
// oldest due delivery; the oldest of those go first.
const claimDue = `WITH picked AS MATERIALIZED (
    SELECT d2.id FROM sync.subscriptions s2
    CROSS JOIN LATERAL (
        SELECT d3.id, d3.next_attempt_at FROM sync.deliveries d3
        WHERE d3.subscription_id = s2.id AND d3.status = 'pending' AND d3.next_attempt_at <= now()
        ORDER BY d3.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) d2
    WHERE s2.status = 'active' AND s2.id <> ALL ($3::uuid[])
    ORDER BY d2.next_attempt_at LIMIT $1)
UPDATE sync.deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
FROM sync.subscriptions s
WHERE s.id = d.subscription_id AND d.id IN (SELECT id FROM picked)
RETURNING d.id::text, s.id::text, s.url, s.secret, d.payload, d.attempts, d.tries_left`

// Run is the background sender: it sends due deliveries every Poll, at most Concurrency at
// a time, until ctx ends, then waits for the requests in flight.
func (s *Service) Run(ctx context.Context) error {
	// The inbound schemas are compiled here, after the host has become ready (schema.go),
	// so that the first partner's request does not wait for them.
	if _, err := inboundSchemas(); err != nil {
		s.logger.ErrorContext(ctx, "inbound event schemas do not compile: /api/events answers 500", slog.String("error", err.Error()))
	}
	tick := time.NewTicker(s.cfg.Poll)
	defer tick.Stop()
	for {
		s.SendDue(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// SendDue sends what is due now and returns when it has been sent and nothing more is due
// (tests call it; Run calls it every Poll). At most Concurrency requests are in flight, and
// at most half of them (perSubscription) to one subscription: a slot is filled again as soon
// as its request ends, so one endpoint that answers slowly or times out holds back neither
// the other partners' deliveries nor, beyond its share of the slots, anything at all. (It
// claimed Concurrency × 2 deliveries and waited for the whole batch: a batch of timeouts
// held every other partner for the timeout.)
func (s *Service) SendDue(ctx context.Context) {
	lease := (2*s.cfg.Timeout + 5*time.Second).Seconds()
	perSubscription := max(1, s.cfg.Concurrency/2)
	var (
		mu       sync.Mutex
		running  int
		inFlight = map[string]int{} // requests in flight by subscription
		ended    = make(chan struct{}, s.cfg.Concurrency)
		wg       sync.WaitGroup
	)
	defer wg.Wait()
	for ctx.Err() == nil {
		mu.Lock()
		free := s.cfg.Concurrency - running
		full := []string{}
		for sub, n := range inFlight {
			if n >= perSubscription {
				full = append(full, sub)
			}
		}
		mu.Unlock()
		if free > 0 {
			batch, err := s.claim(ctx, free, lease, full)
			if err != nil {
				if ctx.Err() == nil {
					s.logger.ErrorContext(ctx, "claim webhook deliveries", slog.String("error", err.Error()))
				}
				return
			}
			if len(batch) > 0 {
				mu.Lock()
				running += len(batch)
				for _, d := range batch {
					inFlight[d.subscription]++
				}
				mu.Unlock()
				for _, d := range batch {
					wg.Go(func() {
						s.attempt(ctx, d)
						mu.Lock()
						running--
						if inFlight[d.subscription]--; inFlight[d.subscription] == 0 {
							delete(inFlight, d.subscription)
						}
						mu.Unlock()
						select {
						case ended <- struct{}{}:
						default:
						}
					})
				}
				continue
			}
		}
		mu.Lock()
		idle := running == 0
		mu.Unlock()
		if idle {
			return // nothing in flight, nothing due
		}
		// Slots or subscriptions busy: claim again when a request ends, or when the poll
		// would have (a delivery that falls due meanwhile).
		select {
		case <-ctx.Done():
		case <-ended:
		case <-time.After(s.cfg.Poll):
		}
	}
}

func (s *Service) claim(ctx context.Context, limit int, lease float64, full []string) ([]due, error) {
	rows, err := s.db.Pool.Query(ctx, claimDue, limit, lease, full)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (due, error) {
		var d due
		err := row.Scan(&d.id, &d.subscription, &d.url, &d.secret, &d.payload, &d.attempts, &d.triesLeft)
		return d, err
	})
}

// attempt posts one delivery and records the outcome. A request cut short by shutdown is
// not recorded: the lease brings it back.
func (s *Service) attempt(ctx context.Context, d due) {
	start := s.now()
	code, err := s.post(ctx, d, start)
	if ctx.Err() != nil {
		return
	}
	elapsed := s.now().Sub(start)
	ok := err == nil && code >= 200 && code < 300
	msg := ""
	switch {
	case err != nil:
		msg = err.Error()
	case !ok:
		msg = "answered " + strconv.Itoa(code)
	}
	if len(msg) > 500 {
		msg = msg[:500]
	}
	var status *int
	if err == nil {
		status = &code
	}
	// The outcome is recorded even if shutdown begins now: the attempt was made.
	rctx := context.WithoutCancel(ctx)
	rerr := s.db.InTx(rctx, func(tx pgx.Tx) error {
		return s.record(rctx, tx, d, ok, status, elapsed, msg)
	})
	if rerr != nil {
		s.logger.ErrorContext(ctx, "record webhook attempt", slog.String("delivery", d.id), slog.String("error", rerr.Error()))
	}
}

// post sends the delivery and returns the answer's status; the answer's body is drained
// (a little of it) and dropped, never stored.
func (s *Service) post(ctx context.Context, d due, at time.Time) (int, error) {
	ts := at.Unix()
	sig, err := Sign(d.secret, d.id, ts, d.payload)
	if err != nil {
		return 0, err
	}
	if err := s.guard.CheckURL(ctx, d.url); err != nil {
		return 0, fmt.Errorf("endpoint refused: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "orange-webhooks/1")
	req.Header.Set("webhook-id", d.id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// record writes the attempt and moves the delivery and its subscription on: delivered and
// the failures cleared; or retried after a backoff, failed for good when no try is left,
// and the subscription disabled once DisableAfter attempts failed in a row over at least
// DisableFailing.
func (s *Service) record(ctx context.Context, tx pgx.Tx, d due, ok bool, status *int, elapsed time.Duration, msg string) error {
	n := d.attempts + 1
	if _, err := tx.Exec(ctx, `INSERT INTO sync.attempts (delivery_id, attempt, status_code, duration_ms, error) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT DO NOTHING`, d.id, n, status, elapsed.Milliseconds(), msg); err != nil {
		return err
	}
	if ok {
		if _, err := tx.Exec(ctx, `UPDATE sync.deliveries SET status = 'delivered', attempts = $2, tries_left = greatest(tries_left - 1, 0),
delivered_at = now() WHERE id = $1`, d.id, n); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE sync.subscriptions SET consecutive_failures = 0, failing_since = NULL
WHERE id = $1 AND consecutive_failures <> 0`, d.subscription)
		return err
	}
	wait := backoff(s.cfg.RetryBase, s.cfg.RetryMax, n)
	if _, err := tx.Exec(ctx, `UPDATE sync.deliveries SET attempts = $2, tries_left = greatest(tries_left - 1, 0),
status = CASE WHEN tries_left <= 1 THEN 'failed' ELSE 'pending' END, next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1`,
		d.id, n, wait.Seconds()); err != nil {
		return err
	}
	var disabled bool
	err := tx.QueryRow(ctx, disableOnFailure, d.subscription, s.cfg.DisableAfter, s.cfg.DisableFailing.Seconds()).Scan(&disabled)
	if err == nil && disabled {
		s.logger.WarnContext(ctx, "webhook subscription disabled after repeated failures", slog.String("subscription", d.subscription))
	}
	return err
}

// disableOnFailure counts a failed attempt against subscription $1 and disables it when $2
// attempts in a row have failed, the first at least $3 seconds ago.
const disableOnFailure = `WITH f AS (
    SELECT id, consecutive_failures + 1 >= $2 AND coalesce(failing_since, now()) <= now() - make_interval(secs => $3) AS over
    FROM sync.subscriptions WHERE id = $1 FOR UPDATE)
UPDATE sync.subscriptions s SET consecutive_failures = s.consecutive_failures + 1,
    failing_since = coalesce(s.failing_since, now()),
    status = CASE WHEN f.over THEN 'disabled' ELSE s.status END,
    disabled_reason = CASE WHEN f.over AND s.status = 'active' THEN 'failures' ELSE s.disabled_reason END,
    updated_at = CASE WHEN f.over AND s.status = 'active' THEN now() ELSE s.updated_at END
FROM f WHERE s.id = f.id RETURNING s.status = 'disabled'`

// backoff is the wait after failed attempt n: base·2^(n-1), at most limit, drawn from its
// upper half so that many deliveries failing together do not retry together.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2 // no overflow: Validate bounds limit to a day
	}
	d = min(d, limit)
	return d - d/2 + rand.N(d/2+1)
}
