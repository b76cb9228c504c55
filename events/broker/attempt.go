package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// worker holds what one delivery goroutine reuses between attempts: a single timer for the
// per-attempt timeout. context.WithTimeout per attempt costs a timer and a registration
// with the parent context each time — half the broker's cost at no-op speed.
type worker struct {
	hard    context.Context // attempts end with it (the drain timeout)
	timer   *time.Timer
	current atomic.Pointer[attemptContext]
}

func newWorker(hard context.Context) *worker {
	w := &worker{hard: hard}
	w.timer = time.AfterFunc(time.Hour, w.expire)
	w.timer.Stop()
	context.AfterFunc(hard, func() {
		if c := w.current.Load(); c != nil {
			c.cancel(context.Canceled)
		}
	})
	return w
}

// expire ends the current attempt once its deadline passed; a stale firing meant for an
// earlier attempt finds the deadline ahead and does nothing.
func (w *worker) expire() {
	if c := w.current.Load(); c != nil && !time.Now().Before(c.deadline) {
		c.cancel(context.DeadlineExceeded)
	}
}

func noop() {}

// attempt returns the context of one attempt bounded by timeout (none when 0) and the
// function that ends it.
func (w *worker) attempt(timeout time.Duration) (context.Context, func()) {
	if timeout <= 0 {
		return w.hard, noop
	}
	c := &attemptContext{parent: w.hard, deadline: time.Now().Add(timeout)}
	w.current.Store(c)
	if w.hard.Err() != nil {
		c.cancel(context.Canceled)
	}
	w.timer.Reset(timeout)
	return c, func() {
		w.timer.Stop()
		w.current.Store(nil)
		c.cancel(context.Canceled) // like a CancelFunc: whatever still holds it sees it ended
	}
}

// attemptContext is a context with a deadline that the worker's timer cancels; it never
// registers with its parent.
type attemptContext struct {
	parent   context.Context
	deadline time.Time
	mu       sync.Mutex
	done     chan struct{} // made on first use
	err      error
}

var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func (c *attemptContext) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *attemptContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		if c.err != nil {
			return closedChan
		}
		c.done = make(chan struct{})
	}
	return c.done
}

func (c *attemptContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *attemptContext) Value(key any) any { return c.parent.Value(key) }

func (c *attemptContext) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = err
	if c.done != nil {
		close(c.done)
	}
}
