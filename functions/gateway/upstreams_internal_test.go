package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The per-function limit: multiplicative decrease on a function's refusal (once per window
// of requests), additive increase on its other answers, never below the floor nor above
// the start, and nothing learnt from answers the gateway gave itself.
func TestUpstreamLimitAdapts(t *testing.T) {
	t.Parallel()
	l := &upstreamLimit{service: "vehicles-api", max: 10, limit: 10}
	var held []*slot
	for range 10 {
		s, ok := l.acquire()
		require.True(t, ok)
		held = append(held, s)
	}
	_, ok := l.acquire()
	require.False(t, ok, "at the limit: refused by the gateway")
	assert.EqualValues(t, 1, l.refused)

	// All ten are refused by the function: one signal, one decrease to 0.9 × in flight.
	for _, s := range held {
		s.forwarded, s.overload = true, true
		l.release(s)
	}
	assert.Equal(t, 9, l.Limit())

	// Answers the gateway gave itself (a 401, a 429) say nothing about the function.
	s, ok := l.acquire()
	require.True(t, ok)
	l.release(s)
	assert.Equal(t, 9, l.Limit())

	// Nine answers of the function raise the limit by about one.
	for range 9 {
		s, ok := l.acquire()
		require.True(t, ok)
		s.forwarded = true
		l.release(s)
	}
	assert.InDelta(t, 9.95, l.limit, 0.05)
	for range 100 {
		s, _ := l.acquire()
		s.forwarded = true
		l.release(s)
	}
	assert.Equal(t, 10, l.Limit(), "never above where it started")

	// Refusals in window after window (one request in flight each) halve it at most each
	// time, down to the floor and no further.
	s, _ = l.acquire()
	s.forwarded, s.overload = true, true
	l.release(s)
	assert.Equal(t, 4, l.Limit(), "10 → 0.9 × 5 = 4.5")
	for range 50 {
		s, _ := l.acquire()
		s.forwarded, s.overload = true, true
		l.release(s)
	}
	assert.Equal(t, minUpstreamLimit, l.Limit())
}

func TestUpstreamOfPath(t *testing.T) {
	t.Parallel()
	u := newUpstreams(8)
	for path, want := range map[string]string{
		"/api/vehicles":            "vehicles-api",
		"/api/vehicles/1":          "vehicles-api",
		"/api/vehiclesX":           "",
		"/api/partners/p/webhooks": "sync-worker",
		"/api/nothing":             "",
		"/healthz":                 "",
	} {
		got := ""
		if l := u.of(path); l != nil {
			got = l.service
		}
		assert.Equal(t, want, got, path)
	}
}
