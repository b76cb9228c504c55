package auth

import (
	"testing"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// TestVerifiedCache: a verified token is remembered until its expiry or maxAge, whichever
// comes first, never past it; a flood of distinct tokens cannot grow it without bound.
func TestVerifiedCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	alice := platform.Caller{Subject: "a"}
	cases := []struct {
		name  string
		exp   time.Time
		at    time.Time
		found bool
	}{
		{"before expiry", now.Add(time.Hour), now.Add(time.Minute), true},
		{"at expiry", now.Add(2 * time.Minute), now.Add(2 * time.Minute), false},
		{"past maxAge though the token lives on", now.Add(time.Hour), now.Add(6 * time.Minute), false},
		{"already expired when verified", now.Add(-time.Second), now, false},
	}
	for _, tc := range cases {
		v := newVerified()
		v.put("tok", alice, tc.exp, now)
		c, ok := v.get("tok", tc.at)
		if ok != tc.found || ok && c.Subject != "a" {
			t.Errorf("%s: got %v %v, want found=%v", tc.name, c, ok, tc.found)
		}
		if _, ok := v.get("other", now); ok {
			t.Errorf("%s: an unknown token was found", tc.name)
		}
	}
	v := newVerified()
	v.limit = 3
	for _, tok := range []string{"1", "2", "3", "4"} {
		v.put(tok, alice, now.Add(time.Hour), now)
	}
	if len(v.entries) > 3 {
		t.Errorf("the cache grew to %d entries past its limit of 3", len(v.entries))
	}
	if _, ok := v.get("4", now); !ok {
		t.Error("the newest token is not kept")
	}
}
