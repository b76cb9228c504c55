package host

import (
	"context"
	"testing"
	"time"
)

// TestRunnerWaitsForReady: a Runner of a host with a ready gate starts once the last
// readiness check has passed, not before; one whose process stops first does not start.
func TestRunnerWaitsForReady(t *testing.T) {
	ready, mark := readyGate()
	b := &background{ready: ready}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan bool, 1)
	go func() { done <- b.awaitReady(ctx) }()
	select {
	case <-done:
		t.Fatal("the Runner started before the process was ready")
	case <-time.After(50 * time.Millisecond):
	}
	_ = mark(ctx)
	_ = mark(ctx) // every later probe passes through it too
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("awaitReady said stop while the process runs")
		}
	case <-time.After(readyWait / 2):
		t.Fatal("the Runner did not start once ready")
	}

	stopped, stop := context.WithCancel(context.Background())
	stop()
	if (&background{ready: make(chan struct{})}).awaitReady(stopped) {
		t.Error("a Runner started after the process stopped")
	}
	if !(&background{}).awaitReady(ctx) {
		t.Error("without a gate (orange dev) a Runner waits")
	}
}
