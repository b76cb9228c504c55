package locationsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// ErrUnknown is locations-api's answer for a branch code it does not know.
var ErrUnknown = errors.New("no such branch")

// Cache reads branches through a Client and keeps each for a TTL, so a caller that needs a
// branch's status, time zone or hours per request (a booking, a mail) does not pay a call
// each time: a change made in locations-api is seen at most one TTL later.
type Cache struct {
	client  *Client
	timeout time.Duration
	ttl     time.Duration

	mu      sync.Mutex
	entries map[string]cached
}

type cached struct {
	branch Location
	until  time.Time
}

// NewCache returns a cache over client whose reads take at most timeout each and are kept
// for ttl.
func NewCache(client *Client, timeout, ttl time.Duration) *Cache {
	return &Cache{client: client, timeout: timeout, ttl: ttl, entries: map[string]cached{}}
}

// Location returns branch code, from the cache while it is fresh. An unknown code is
// ErrUnknown (not kept: a branch created a moment later is found); a branch whose answer
// is implausible (another code, a time zone this binary does not know) is an error, as is
// anything else that keeps locations-api from answering.
func (c *Cache) Location(ctx context.Context, code string) (Location, error) {
	c.mu.Lock()
	e, ok := c.entries[code]
	c.mu.Unlock()
	if ok && time.Now().Before(e.until) {
		return e.branch, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	l, err := c.client.Location(ctx, code)
	var ce *platform.CallError
	if errors.As(err, &ce) && ce.Status == http.StatusNotFound {
		return Location{}, ErrUnknown
	}
	if err != nil {
		return Location{}, err
	}
	if _, zerr := l.Zone(); l.Code != code || zerr != nil {
		return Location{}, fmt.Errorf("implausible branch %q for %s: %v", l.Code, code, zerr)
	}
	c.mu.Lock()
	c.entries[code] = cached{branch: l, until: time.Now().Add(c.ttl)}
	c.mu.Unlock()
	return l, nil
}

// Forget drops every kept branch: the next read asks locations-api again.
func (c *Cache) Forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}
