package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// journeyFunc runs one journey; it answers the journey's outcome: the status of the first
// request that failed (else of the last one) and that request's step, or a transport error.
type journeyFunc func(ctx context.Context, s *session) (status int, step string, err error)

// session is what the journeys of one run share.
type session struct {
	api     *apiClient
	cat     *catalog
	tokens  []string // signed-in dev users' bearer tokens, used in turn
	rec     *recorder
	booked  *bookedPool
	runID   string
	counter atomic.Uint64 // seeds, tokens in turn, Idempotency-Keys
}

// journeys are the journeys of issue 18 by name.
var journeys = map[string]journeyFunc{
	"search": searchJourney,
	"quote":  quoteJourney,
	"book":   bookJourney,
	"cancel": cancelJourney,
}

// Steps, the requests of the journeys as the report names them.
const (
	stepSearch   = "GET /api/vehicles"
	stepQuote    = "POST /api/pricing/quotes"
	stepTokenize = "POST /api/payments/methods"
	stepBook     = "POST /api/reservations"
	stepStatus   = "GET /api/reservations/{id}"
	stepCancel   = "POST /api/reservations/{id}/cancel"
)

func (s *session) rand() *rand.Rand {
	n := s.counter.Add(1)
	return rand.New(rand.NewPCG(n, uint64(time.Now().UnixNano())))
}

func (s *session) token() string {
	if len(s.tokens) == 0 {
		return ""
	}
	return s.tokens[s.counter.Add(1)%uint64(len(s.tokens))]
}

// searchJourney: the availability search at a branch for a rental period.
func searchJourney(ctx context.Context, s *session) (int, string, error) {
	r := s.rand()
	b := &s.cat.branches[r.IntN(len(s.cat.branches))]
	pickup, ret := b.period(time.Now(), r)
	q := url.Values{"location": {b.Code}, "pickup": {pickup.UTC().Format(time.RFC3339)},
		"return": {ret.UTC().Format(time.RFC3339)}, "pageSize": {"20"}}
	st, err := s.call(ctx, "search", stepSearch, http.MethodGet, "/api/vehicles?"+q.Encode(), "", nil, nil)
	return st, stepSearch, err
}

var insurances = []string{"LIABILITY", "PARTIAL", "FULL", "ZERO_EXCESS"}

// quoteJourney: the price of a car's category at its branch for a period, with cover.
func quoteJourney(ctx context.Context, s *session) (int, string, error) {
	r := s.rand()
	v := s.cat.vehicles[r.IntN(len(s.cat.vehicles))]
	pickup, ret := s.cat.byCode[v.LocationCode].period(time.Now(), r)
	body := map[string]any{"pickupLocation": v.LocationCode, "category": v.Category, "insurance": insurances[r.IntN(len(insurances))],
		"pickupAt": pickup.UTC().Format(time.RFC3339), "returnAt": ret.UTC().Format(time.RFC3339)}
	st, err := s.call(ctx, "quote", stepQuote, http.MethodPost, "/api/pricing/quotes", "", body, nil)
	return st, stepQuote, err
}

// bookJourney: a signed-in customer tokenizes the sandbox's paying card with payments, books
// a car with it (an Idempotency-Key, as the portal sends), then reads the booking's status.
func bookJourney(ctx context.Context, s *session) (int, string, error) {
	st, step, b, err := s.book(ctx, "book")
	if err == nil && st < 300 {
		s.booked.put(b)
	}
	return st, step, err
}

// book is the book journey's requests; it answers the booking and the token it was made with.
func (s *session) book(ctx context.Context, journey string) (int, string, booking, error) {
	r := s.rand()
	tok := s.token()
	var m struct{ ID string }
	card := map[string]any{"card": map[string]any{"number": "4242424242424242", "expMonth": 12,
		"expYear": time.Now().Year() + 2, "cvc": "123", "holder": "Load Tester"}}
	if st, err := s.call(ctx, journey, stepTokenize, http.MethodPost, "/api/payments/methods", tok, card, &m); err != nil || st >= 300 {
		return st, stepTokenize, booking{}, err
	}
	v := s.cat.vehicles[r.IntN(len(s.cat.vehicles))]
	pickup, ret := s.cat.byCode[v.LocationCode].period(time.Now(), r)
	body := map[string]any{"vehicleId": v.ID, "pickupLocation": v.LocationCode,
		"pickupAt": pickup.UTC().Format(time.RFC3339), "returnAt": ret.UTC().Format(time.RFC3339),
		"insurance": insurances[r.IntN(len(insurances))], "paymentMethodId": m.ID}
	var res struct{ ID string }
	if st, err := s.call(ctx, journey, stepBook, http.MethodPost, "/api/reservations", tok, body, &res); err != nil || st >= 300 {
		return st, stepBook, booking{}, err
	}
	b := booking{id: res.ID, token: tok}
	st, err := s.call(ctx, journey, stepStatus, http.MethodGet, "/api/reservations/"+url.PathEscape(res.ID), tok, nil, nil)
	return st, stepStatus, b, err
}

// cancelJourney: a customer looks a booking of theirs up and cancels it. The bookings are
// the run's own (the book journey's); when none is left the journey books one first —
// cancelling needs something to cancel — and those requests count as this journey's.
func cancelJourney(ctx context.Context, s *session) (int, string, error) {
	b, ok := s.booked.take()
	if !ok {
		st, step, nb, err := s.book(ctx, "cancel")
		if err != nil || st >= 300 {
			return st, step, err
		}
		b = nb
	}
	path := "/api/reservations/" + url.PathEscape(b.id)
	if st, err := s.call(ctx, "cancel", stepStatus, http.MethodGet, path, b.token, nil, nil); err != nil || st >= 300 {
		return st, stepStatus, err
	}
	st, err := s.call(ctx, "cancel", stepCancel, http.MethodPost, path+"/cancel", b.token, map[string]string{"reason": "load test: plans changed"}, nil)
	return st, stepCancel, err
}

// booking is a reservation the run made, and the token of its customer.
type booking struct{ id, token string }

// bookedPool keeps the run's latest bookings for the cancel journey (bounded: a long run
// does not grow it; the oldest are left alone — their holds lapse or stay booked).
type bookedPool struct {
	mu    sync.Mutex
	items []booking
}

const poolSize = 1024

func (p *bookedPool) put(b booking) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) == poolSize {
		p.items = p.items[1:]
	}
	p.items = append(p.items, b)
}

func (p *bookedPool) take() (booking, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) == 0 {
		return booking{}, false
	}
	b := p.items[len(p.items)-1]
	p.items = p.items[:len(p.items)-1]
	return b, true
}

// call sends one request of a journey and records it as its step; out, if given, receives
// a 2xx JSON answer. It answers the status, or a transport error (status 0).
func (s *session) call(ctx context.Context, journey, step, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.api.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if method == http.MethodPost {
		req.Header.Set("Idempotency-Key", fmt.Sprintf("load-%s-%d", s.runID, s.counter.Add(1)))
	}
	start := time.Now()
	status, err := s.api.do(req, out)
	s.rec.step(journey, step, start, time.Since(start), status, err)
	return status, err
}

// do sends req and reads the answer whole (a user's browser does); a 2xx JSON answer is
// decoded into out.
func (a *apiClient) do(req *http.Request, out any) (int, error) {
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return 0, fmt.Errorf("%w: %s %s answered %d with %.80q", errUnreadable, req.Method, req.URL.Path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, nil
}

var errUnreadable = errors.New("unreadable answer")

// getJSON is a set-up GET: anything but 200 is an error.
func (a *apiClient) getJSON(ctx context.Context, path string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, err
	}
	st, err := a.do(req, out)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("GET %s answered %d", path, st)
	}
	return st, err
}

// signIn gets a bearer token for a development user by the password grant of `orange dev`'s
// issuer (each demo user's password is its name; docs/auth.md).
func (a *apiClient) signIn(ctx context.Context, tokenURL, user string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {"public-portal"}, "username": {user}, "password": {user}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	st, err := a.do(req, &tok)
	if err != nil {
		return "", err
	}
	if st != http.StatusOK || tok.AccessToken == "" {
		return "", fmt.Errorf("signing in as %s at %s answered %d", user, tokenURL, st)
	}
	return tok.AccessToken, nil
}
