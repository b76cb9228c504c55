package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Config is one run.
type Config struct {
	// URL is the target's public base URL: the gateway (`orange dev`, `orange up`, a cluster's ingress).
	URL     string
	Profile *Profile
	Mix     *Mix
	// Workers caps the journeys in flight (vegeta's MaxWorkers); 0 starts as many as the
	// schedule needs. A cap makes hits wait: their wait is in the latency (doc.go).
	Workers uint64
	// Timeout bounds a whole journey.
	Timeout time.Duration
	// Users are the development users the book and cancel journeys sign in as; TokenURL
	// their issuer's token endpoint (default: `orange dev`'s at URL).
	Users    []string
	TokenURL string

	// journeys replaces the journeys (tests, the overhead benchmark): no discovery, no sign-in.
	journeys map[string]journeyFunc
}

// sendGrace is how long past the profile's end a late generator may still send.
const sendGrace = time.Second

// ErrUnreachable is a target that does not answer at all (the command's exit status 1).
var ErrUnreachable = errors.New("the target is unreachable")

// Run runs cfg's profile against its target and reports what happened. It fails only when
// the run cannot start (the target unreachable or unreadable, a sign-in refused); whatever
// the target answers during the run is the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	base := strings.TrimRight(cfg.URL, "/")
	inner := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        0,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
	}
	defer inner.CloseIdleConnections()
	api := &apiClient{base: base, client: &http.Client{Transport: inner}}
	s := &session{api: api, rec: newRecorder(cfg.Profile), booked: &bookedPool{},
		runID: strconv.FormatInt(time.Now().UnixNano(), 36)}

	fns := cfg.journeys
	if fns == nil {
		fns = journeys
		setup, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		cat, err := discover(setup, api, time.Now())
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, base, err)
			}
			return nil, err
		}
		s.cat = cat
		if cfg.Mix.Share("book") > 0 || cfg.Mix.Share("cancel") > 0 {
			tokenURL := cfg.TokenURL
			if tokenURL == "" {
				tokenURL = base + "/realms/orange-car-rental/protocol/openid-connect/token"
			}
			for _, u := range cfg.Users {
				tok, err := api.signIn(setup, tokenURL, u)
				if err != nil {
					return nil, fmt.Errorf("the book and cancel journeys sign in: %w (set -users and -token-url, or leave them out of -mix)", err)
				}
				s.tokens = append(s.tokens, tok)
			}
			if len(s.tokens) == 0 {
				return nil, errors.New("the book and cancel journeys need at least one user (-users)")
			}
		}
	}
	for _, n := range cfg.Mix.Names() {
		if fns[n] == nil {
			return nil, fmt.Errorf("no journey %q", n)
		}
	}

	pc := &pacer{p: cfg.Profile}
	workers := uint64(vegeta.DefaultWorkers)
	maxWorkers := uint64(vegeta.DefaultMaxWorkers)
	if cfg.Workers > 0 {
		maxWorkers = cfg.Workers
		workers = min(workers, maxWorkers)
	}
	atk := vegeta.NewAttacker(
		vegeta.Client(&http.Client{Transport: &journeyTransport{s: s, fns: fns}, Timeout: cfg.Timeout}),
		vegeta.Workers(workers), vegeta.MaxWorkers(maxWorkers), vegeta.MaxBody(256))
	// The URL names the journey and the hit (never sent: journeyTransport runs the journey),
	// so that a result — a failed one too, which has no response — says what it was.
	var hits atomic.Uint64 // vegeta's workers call the targeter at once
	targeter := func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, fmt.Sprintf("%s/?journey=%s&hit=%d", base, cfg.Mix.Next(), hits.Add(1))
		return nil
	}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	start := time.Now()
	// A generator that falls behind its schedule catches up (vegeta sends the overdue hits at
	// once) for at most sendGrace past the profile's end; what it has not sent by then is the
	// difference between offered and sent.
	for res := range atk.Attack(targeter, pc, cfg.Profile.Duration()+sendGrace, "orange-load") {
		s.rec.journey(res, pc.intended(res.Seq), pc.start())
	}
	return s.rec.report(cfg, base, start, time.Since(start)), nil
}

// journeyTransport runs a hit's journey in place of an HTTP exchange: vegeta's worker, its
// timing and its client's timeout stay as they are, the "response" is the journey's outcome
// (the failing step in X-Orange-Step and the body).
type journeyTransport struct {
	s   *session
	fns map[string]journeyFunc
}

func (jt *journeyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	q := req.URL.Query()
	name := q.Get("journey")
	fn := jt.fns[name]
	if fn == nil {
		return nil, fmt.Errorf("no journey %q", name)
	}
	st, step, err := fn(req.Context(), jt.s)
	if err != nil {
		jt.s.rec.failed.Store(q.Get("hit"), failure{step: step, err: err.Error()})
		return nil, fmt.Errorf("%s: %w", step, err)
	}
	return &http.Response{
		StatusCode: st, Status: fmt.Sprintf("%d %s", st, http.StatusText(st)),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"X-Orange-Step": {step}},
		Body:    io.NopCloser(strings.NewReader(step)),
		Request: req,
	}, nil
}
