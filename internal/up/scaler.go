package up

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/orangecarrental/orange/internal/kpa"
)

// scaler runs one Service's replicas: the Deployment and the KPA of its revision. Every
// kpa.ScrapeInterval it records the proxy's average concurrency, every kpa.TickInterval it
// asks Knative's decider for a replica count and starts or drains replicas to reach it; a
// replica that exits without being asked to is replaced, at once the first time, after
// the kubelet's CrashLoopBackOff when it keeps exiting (crashLoop).
type scaler struct {
	svc    Service
	url    string // the proxy's
	bin    string
	env    func(service string) []string
	logs   io.Writer
	logger *slog.Logger
	proxy  *proxy
	as     *kpa.Autoscaler
	grace  time.Duration // SIGTERM → SIGKILL

	mu        sync.Mutex
	replicas  []*replica // live: starting, ready or draining
	desired   int32
	last      kpa.Decision
	nextID    int
	restarts  int
	lastShare map[int]int64 // served count per replica at the last status table
	wake      chan struct{}
	// crashes counts the unexpected exits in a row of replicas that ran less than
	// crashLoopReset; no replica starts before backoffUntil (CrashLoopBackOff).
	crashes      int
	backoff      time.Duration // the last back-off decided
	backoffUntil time.Time
	backoffTimer *time.Timer
	drains       sync.WaitGroup
}

func newScaler(svc Service, bin string, env func(string) []string, logs io.Writer, logger *slog.Logger, holdLimit, grace time.Duration) *scaler {
	s := &scaler{svc: svc, bin: bin, env: env, logs: logs, logger: logger.With(slog.String("service", svc.Name)),
		as: kpa.New(svc.Spec), grace: grace, wake: make(chan struct{}, 1), lastShare: map[int]int64{}}
	s.proxy = newProxy(svc.Name, s.poke, holdLimit)
	s.desired = svc.Spec.Min
	return s
}

// poke is the activator's nudge: a request waits and nothing runs, so one replica starts
// now rather than at the next tick (the decider then keeps or drops it).
func (s *scaler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// run scales until ctx ends, then drains every replica.
func (s *scaler) run(ctx context.Context) {
	s.reconcile(ctx)
	scrape := time.NewTicker(kpa.ScrapeInterval)
	defer scrape.Stop()
	ticks := 0
	for {
		select {
		case <-ctx.Done():
			s.stopAll()
			return
		case <-s.wake:
			s.mu.Lock()
			if s.desired == 0 && s.live() == 0 {
				s.desired = 1
			}
			s.mu.Unlock()
			s.reconcile(ctx)
		case now := <-scrape.C:
			s.as.Record(now, s.proxy.conc.take())
			ticks++
			if ticks%int(kpa.TickInterval/kpa.ScrapeInterval) == 0 {
				d := s.as.Scale(now, s.readyCount())
				s.mu.Lock()
				s.last = d
				if d.Valid { // no data yet: Knative changes nothing either
					s.desired = d.Desired
				}
				s.mu.Unlock()
			}
			s.reconcile(ctx)
		}
	}
}

// reconcile removes exited replicas (counting the unexpected exits), then starts or
// drains replicas until as many run as desired.
func (s *scaler) reconcile(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	now := time.Now()
	s.replicas = slices.DeleteFunc(s.replicas, func(r *replica) bool {
		if r.alive() {
			return false
		}
		if !r.draining.Load() && ctx.Err() == nil {
			s.restarts++
			s.crashes, s.backoff = crashLoop(s.crashes, now.Sub(r.started))
			s.backoffUntil = now.Add(s.backoff)
			s.logger.Warn("replica exited; replacing it", slog.Int("replica", r.id), slog.Any("error", r.exitErr),
				slog.String("ran", now.Sub(r.started).Round(time.Millisecond).String()),
				slog.Int("exitsInARow", s.crashes), slog.String("backoff", s.backoff.String()))
		}
		changed = true
		return true
	})
	if s.crashes > 0 && slices.ContainsFunc(s.replicas, func(r *replica) bool { return now.Sub(r.started) >= crashLoopReset }) {
		s.crashes, s.backoff = 0, 0 // a replica stayed up: the back-off is forgotten
	}
	if wait := s.backoffUntil.Sub(now); wait > 0 && int32(s.live()) < s.desired && s.backoffTimer == nil {
		// One wake-up at the end of the back-off (the scrape ticks reconcile too, but
		// only every second).
		s.backoffTimer = time.AfterFunc(wait, func() {
			s.mu.Lock()
			s.backoffTimer = nil
			s.mu.Unlock()
			s.poke()
		})
	}
	for n := int32(s.live()); n < s.desired && !now.Before(s.backoffUntil); n++ {
		if ctx.Err() != nil {
			break
		}
		s.nextID++
		r, err := startReplica(ctx, s.svc.Name, s.nextID, s.bin, s.env(s.svc.Name), s.logs, func(*replica) { s.proxy.readied() })
		if err != nil {
			s.logger.Error("replica did not start", slog.Any("error", err))
			break
		}
		go func() { <-r.exited; s.poke() }() // a death is handled at once, not at the next tick
		s.replicas = append(s.replicas, r)
		changed = true
	}
	for n := int32(s.live()); n > s.desired; n-- {
		r := s.victim()
		r.draining.Store(true)
		r.ready.Store(false)
		s.drains.Add(1)
		go func() {
			defer s.drains.Done()
			if err := r.stop(s.grace); err != nil {
				s.logger.Warn("replica drain", slog.Int("replica", r.id), slog.Any("error", err))
			}
			s.poke()
		}()
		changed = true
	}
	if changed {
		s.proxy.setReplicas(slices.Clone(s.replicas))
	}
}

// live counts the replicas not draining. s.mu is held.
func (s *scaler) live() int {
	n := 0
	for _, r := range s.replicas {
		if !r.draining.Load() {
			n++
		}
	}
	return n
}

// victim picks the replica to drain: one not ready yet, else the least busy, newest
// first on a tie (Kubernetes removes not-ready and younger pods first). s.mu is held.
func (s *scaler) victim() *replica {
	var best *replica
	for _, r := range s.replicas {
		if r.draining.Load() {
			continue
		}
		switch {
		case best == nil:
			best = r
		case !r.ready.Load() && best.ready.Load():
			best = r
		case r.ready.Load() == best.ready.Load() && r.inFlight.Load() <= best.inFlight.Load():
			best = r
		}
	}
	return best
}

// readyCount is the number of ready replicas (the decider's pod count).
func (s *scaler) readyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.replicas {
		if r.ready.Load() {
			n++
		}
	}
	return n
}

// stopAll drains every replica and waits for them.
func (s *scaler) stopAll() {
	s.mu.Lock()
	s.desired = 0
	if s.backoffTimer != nil {
		s.backoffTimer.Stop()
	}
	rs := slices.Clone(s.replicas)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		if r.draining.Load() || !r.alive() {
			continue
		}
		wg.Go(func() { _ = r.stop(s.grace) })
	}
	wg.Wait()
	s.drains.Wait()
}

// Snapshot is one Service's state for the status table, the metrics and tests.
type Snapshot struct {
	Service       string
	Ready, Live   int
	Desired       int32
	Min, Max      int32
	Decision      kpa.Decision
	Restarts      int
	Requests      int64
	Retries       int64
	ProxyFailures int64
	InFlight      int64
	// ExitsInARow are the unexpected exits in a row (crashLoop); Backoff is how long the
	// Service still starts no replica (CrashLoopBackOff), 0 when it may.
	ExitsInARow int
	Backoff     time.Duration
	Replicas    []ReplicaState
}

// ReplicaState is one replica's part of a Snapshot.
type ReplicaState struct {
	ID       int
	PID      int
	Ready    bool
	Draining bool
	Served   int64 // since it started
	Recent   int64 // since the previous status line (StatusLine only)
	Started  time.Time
	ReadyAt  time.Time
}

func (s *scaler) snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Service: s.svc.Name, Desired: s.desired, Min: s.svc.Spec.Min, Max: s.svc.Spec.Max,
		Decision: s.last, Restarts: s.restarts, Live: s.live(),
		Requests: s.proxy.requests.Load(), Retries: s.proxy.retries.Load(), ProxyFailures: s.proxy.failures.Load(),
		InFlight: s.proxy.conc.current(), ExitsInARow: s.crashes}
	if wait := time.Until(s.backoffUntil); wait > 0 {
		snap.Backoff = wait
	}
	if snap.Decision.Target == 0 {
		snap.Decision.Target = s.svc.Spec.Target()
	}
	for _, r := range s.replicas {
		st := ReplicaState{ID: r.id, Ready: r.ready.Load(), Draining: r.draining.Load(), Served: r.served.Load(), Started: r.started}
		if r.cmd.Process != nil {
			st.PID = r.cmd.Process.Pid
		}
		r.mu.Lock()
		st.ReadyAt = r.readyAt
		r.mu.Unlock()
		if st.Ready {
			snap.Ready++
		}
		snap.Replicas = append(snap.Replicas, st)
	}
	return snap
}

// The kubelet's restart back-off (CrashLoopBackOff): 10 s, doubling to 5 minutes, forgotten
// once a container ran 10 minutes.
const (
	crashLoopFirst = 10 * time.Second
	crashLoopMax   = 5 * time.Minute
	crashLoopReset = 10 * time.Minute
)

// crashLoop is the restart policy for a replica that exited without being asked to, after
// it ran for ran, crashes being the exits in a row before it: the exits in a row now and
// how long the Service starts no replica. As on Kubernetes, whether the replica had been
// ready does not matter (a function that fails at its first request crash-loops just as one
// that fails at start): one that ran crashLoopReset or longer starts the count anew, the
// first exit in a row is replaced at once (a killed replica, as a ReplicaSet replaces a
// deleted pod), and each further one waits crashLoopFirst, doubling, at most crashLoopMax.
// The back-off is the Service's, not one replica's: its replicas run the same binary with
// the same environment, and the KPA's scale-ups wait for it too.
func crashLoop(crashes int, ran time.Duration) (int, time.Duration) {
	if ran >= crashLoopReset {
		crashes = 0
	}
	crashes++
	if crashes == 1 {
		return crashes, 0
	}
	d := crashLoopFirst
	for i := 2; i < crashes && d < crashLoopMax; i++ {
		d *= 2
	}
	return crashes, min(d, crashLoopMax)
}
