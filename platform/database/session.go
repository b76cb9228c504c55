package database

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// A process keeps what must live as long as a PostgreSQL session — LISTEN for notifications
// and the relays' leadership locks — on one connection of its own, outside the pool
// (docs/events.md): holding them on pool connections took one connection per relay and
// the notifier's for good, 9 of `orange dev`'s 16. The session connects on first use,
// reconnects with backoff when it drops (the locks it held are then lost, and their
// holders told), and is closed by DB.Close. Notifications are hints: whoever waits for one
// polls too, and every subscriber is woken after a reconnect, for what it may have missed.

// Session tuning; variables so the tests can shorten them.
var (
	// sessionKeepalive is how long the session waits for a notification before it checks the
	// connection still answers: a peer gone without a word must not leave locks believed held.
	sessionKeepalive = 30 * time.Second
	// sessionBackoff is the first wait before a reconnect; it doubles up to sessionMaxBackoff.
	sessionBackoff    = 100 * time.Millisecond
	sessionMaxBackoff = 30 * time.Second
	// sessionStatement bounds one statement on the session (LISTEN, a lock, an unlock).
	sessionStatement = 10 * time.Second
)

// ErrSessionClosed answers what is asked of the session after DB.Close.
var ErrSessionClosed = errors.New("database session closed")

// Subscription wakes its holder when a notification on its channel (with its payload, if
// one was given) arrives. Wake-ups coalesce: C holds at most one.
type Subscription struct {
	// C receives a value after a matching notification, and after the session reconnected.
	C       <-chan struct{}
	c       chan struct{}
	channel string
	payload string
	s       *session
	leading atomic.Bool
}

// Lead says whether the subscriber acts on every matching notification itself (a relay
// holding its schema's lock): DB.Notify then wakes it in-process and sends nothing to
// PostgreSQL, no other process needing to hear.
func (sub *Subscription) Lead(on bool) { sub.leading.Store(on) }

// Close ends the subscription.
func (sub *Subscription) Close() { sub.s.unsubscribe(sub) }

func (sub *Subscription) wake() {
	select {
	case sub.c <- struct{}{}:
	default:
	}
}

// Lock is a session-level advisory lock held on the process's session connection.
type Lock struct {
	key  string
	s    *session
	lost chan struct{}
	once sync.Once
}

// Lost is closed when the session connection dropped and the lock with it: its holder no
// longer leads.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Release unlocks, waiting a bounded time for PostgreSQL to confirm (a lost lock needs
// nothing). It may be called more than once.
func (l *Lock) Release() {
	l.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), sessionStatement)
		defer cancel()
		_ = l.s.do(ctx, func(ctx context.Context, conn *pgx.Conn) (*Lock, error) {
			if l.s.locks[l.key] != l {
				return nil, nil // lost with a connection already
			}
			delete(l.s.locks, l.key)
			_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(hashtext($1))`, l.key)
			return nil, err
		})
	})
}

// Subscribe wakes the returned subscription on every notification on channel whose payload
// is payload ("" for any), until it is closed.
func (db *DB) Subscribe(channel, payload string) *Subscription {
	s := db.session()
	c := make(chan struct{}, 1)
	sub := &Subscription{C: c, c: c, channel: channel, payload: payload, s: s}
	s.mu.Lock()
	if s.subs[channel] == nil {
		s.subs[channel] = map[*Subscription]struct{}{}
	}
	s.subs[channel][sub] = struct{}{}
	s.mu.Unlock()
	s.kick()
	return sub
}

// TryLock takes the session-level advisory lock hashtext(key) without waiting: nil when
// another session — or another holder in this process — has it. The lock lasts until
// Release or until the session connection drops (Lock.Lost).
func (db *DB) TryLock(ctx context.Context, key string) (*Lock, error) {
	s := db.session()
	return s.doResult(ctx, func(ctx context.Context, conn *pgx.Conn) (*Lock, error) {
		if s.locks[key] != nil {
			return nil, nil // advisory locks are re-entrant per session: refuse a second holder here
		}
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&got); err != nil || !got {
			return nil, err
		}
		l := &Lock{key: key, s: s, lost: make(chan struct{})}
		s.locks[key] = l
		return l, nil
	})
}

// session returns db's session, starting it on first use.
func (db *DB) session() *session {
	db.sessMu.Lock()
	defer db.sessMu.Unlock()
	if db.sess == nil {
		cfg := db.Pool.Config().ConnConfig // a copy
		if cfg.RuntimeParams["application_name"] == "" {
			cfg.RuntimeParams["application_name"] = "orange-session"
		}
		logger := db.Logger
		if logger == nil {
			logger = slog.Default()
		}
		db.sess = newSession(cfg, logger)
	}
	return db.sess
}

// closeSession ends db's session, if it started; its connection closes and its locks end.
func (db *DB) closeSession() {
	db.sessMu.Lock()
	s := db.sess
	db.sessMu.Unlock()
	if s != nil {
		s.close()
	}
}

// request is work for the session's connection; it runs on the session's goroutine, which
// alone touches the connection and locks.
type request struct {
	run  func(ctx context.Context, conn *pgx.Conn) (*Lock, error)
	done chan result
}

type result struct {
	lock *Lock
	err  error
}

type session struct {
	cfg    *pgx.ConnConfig
	logger *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	kicks  chan struct{}

	mu      sync.Mutex
	subs    map[string]map[*Subscription]struct{} // channel → subscribers
	queue   []request
	stopped bool

	// Only the session's goroutine uses these.
	listening map[string]bool
	locks     map[string]*Lock
}

func newSession(cfg *pgx.ConnConfig, logger *slog.Logger) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{cfg: cfg, logger: logger, ctx: ctx, cancel: cancel, done: make(chan struct{}),
		kicks: make(chan struct{}, 1), subs: map[string]map[*Subscription]struct{}{},
		listening: map[string]bool{}, locks: map[string]*Lock{}}
	go s.run()
	return s
}

func (s *session) kick() {
	select {
	case s.kicks <- struct{}{}:
	default:
	}
}

func (s *session) unsubscribe(sub *Subscription) {
	s.mu.Lock()
	delete(s.subs[sub.channel], sub)
	if len(s.subs[sub.channel]) == 0 {
		delete(s.subs, sub.channel)
	}
	s.mu.Unlock()
	s.kick()
}

// do runs fn on the session connection and returns its error.
func (s *session) do(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) (*Lock, error)) error {
	_, err := s.doResult(ctx, fn)
	return err
}

// doResult queues fn and waits for it or for ctx. A caller that stops waiting releases the
// lock fn may still take, so no lock outlives its asker.
func (s *session) doResult(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) (*Lock, error)) (*Lock, error) {
	req := request{run: fn, done: make(chan result, 1)}
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil, ErrSessionClosed
	}
	s.queue = append(s.queue, req)
	s.mu.Unlock()
	s.kick()
	select {
	case res := <-req.done:
		return res.lock, res.err
	case <-ctx.Done():
		go func() {
			if res := <-req.done; res.lock != nil {
				res.lock.Release()
			}
		}()
		return nil, ctx.Err()
	}
}

// take empties the queue.
func (s *session) take() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

// fail answers every queued request with err.
func (s *session) fail(err error) {
	for _, req := range s.take() {
		req.done <- result{err: err}
	}
}

func (s *session) close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
}

// run connects, serves and reconnects until the session is closed.
func (s *session) run() {
	defer close(s.done)
	defer s.fail(ErrSessionClosed)
	wait := sessionBackoff
	for s.ctx.Err() == nil {
		conn, err := pgx.ConnectConfig(s.ctx, s.cfg)
		if err == nil {
			wait = sessionBackoff
			err = s.serve(conn)
			s.loseAll()
			closing, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(closing)
			cancel()
		}
		if s.ctx.Err() != nil {
			return
		}
		// Who asks meanwhile hears why at once rather than waiting out the backoff.
		s.fail(err)
		s.logger.Warn("database session lost; reconnecting (notifications wait, polling goes on)",
			slog.String("error", err.Error()), slog.Duration("retryIn", wait))
		timer := time.NewTimer(wait)
	backoff:
		for {
			select {
			case <-s.ctx.Done():
				timer.Stop()
				return
			case <-s.kicks:
				s.fail(err)
			case <-timer.C:
				break backoff
			}
		}
		wait = min(2*wait, sessionMaxBackoff)
	}
}

// serve LISTENs, answers requests and fans notifications out until the connection fails
// or the session closes.
func (s *session) serve(conn *pgx.Conn) error {
	clear(s.listening)
	first := true
	for {
		if err := s.reconcile(conn); err != nil {
			return err
		}
		if first {
			// Connected (again): what was notified meanwhile is lost, so everyone looks.
			s.wakeAll()
			first = false
		}
		for _, req := range s.take() {
			ctx, cancel := context.WithTimeout(s.ctx, sessionStatement)
			lock, err := req.run(ctx, conn)
			cancel()
			req.done <- result{lock: lock, err: err}
			if conn.IsClosed() {
				return errors.Join(errors.New("session connection closed"), err)
			}
		}
		waitCtx, cancel := context.WithTimeout(s.ctx, sessionKeepalive)
		watching := make(chan struct{})
		go func() {
			defer close(watching)
			select {
			case <-s.kicks:
				cancel()
			case <-waitCtx.Done():
			}
		}()
		n, err := conn.WaitForNotification(waitCtx)
		timedOut := errors.Is(waitCtx.Err(), context.DeadlineExceeded)
		cancel()
		<-watching
		switch {
		case err == nil:
			s.dispatch(n.Channel, n.Payload)
		case s.ctx.Err() != nil:
			return s.ctx.Err()
		case conn.IsClosed():
			return err
		case timedOut:
			ctx, cancel := context.WithTimeout(s.ctx, sessionStatement)
			err := conn.Ping(ctx)
			cancel()
			if err != nil {
				return err
			}
		}
		// Otherwise a kick interrupted the wait: requests or subscriptions changed.
	}
}

// reconcile LISTENs to every subscribed channel and UNLISTENs the abandoned ones.
func (s *session) reconcile(conn *pgx.Conn) error {
	s.mu.Lock()
	var add, drop []string
	for ch := range s.subs {
		if !s.listening[ch] {
			add = append(add, ch)
		}
	}
	for ch := range s.listening {
		if _, ok := s.subs[ch]; !ok {
			drop = append(drop, ch)
		}
	}
	s.mu.Unlock()
	for _, ch := range add {
		if err := s.exec(conn, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
		s.listening[ch] = true
	}
	for _, ch := range drop {
		if err := s.exec(conn, "UNLISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
		delete(s.listening, ch)
	}
	return nil
}

func (s *session) exec(conn *pgx.Conn, sql string) error {
	ctx, cancel := context.WithTimeout(s.ctx, sessionStatement)
	defer cancel()
	_, err := conn.Exec(ctx, sql)
	return err
}

// dispatch wakes channel's subscribers to payload and reports whether one of them leads.
func (s *session) dispatch(channel, payload string) (led bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sub := range s.subs[channel] {
		if sub.payload == "" || sub.payload == payload {
			sub.wake()
			led = led || sub.leading.Load()
		}
	}
	return led
}

func (s *session) wakeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, subs := range s.subs {
		for sub := range subs {
			sub.wake()
		}
	}
}

// loseAll tells every lock holder its lock went with the connection.
func (s *session) loseAll() {
	for key, l := range s.locks {
		close(l.lost)
		delete(s.locks, key)
	}
}
