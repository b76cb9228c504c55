package notifier_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orangecarrental/orange/functions/notifier"
)

// TestPreferences: a customer's own channels (staff name the customer); email only until
// chosen; SMS needs a known number; at least one channel; erased: nothing to set.
func TestPreferences(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "de", "")
	a.register(bob, "Bob", "de", "+49 170 7654321")
	const path = "/api/notifications/preferences"
	get := func(user, query string) notifier.Preferences {
		t.Helper()
		return decodeJSON[notifier.Preferences](t, a.call(user, "GET", path+query, ""))
	}
	p := get("alice", "")
	assert.Equal(t, alice, p.CustomerID)
	assert.True(t, *p.Email)
	assert.False(t, *p.SMS)
	assert.False(t, p.SMSAvailable)
	assert.True(t, get("carla", "?customerId="+bob).SMSAvailable)

	tests := []struct {
		name, user, query, body string
		want                    int
	}{
		{"SMS without a number", "alice", "", `{"email":true,"sms":true}`, http.StatusConflict},
		{"no channel at all", "bob", "", `{"email":false,"sms":false}`, http.StatusBadRequest},
		{"half a choice", "bob", "", `{"sms":true}`, http.StatusBadRequest},
		{"another customer's", "alice", "?customerId=" + bob, `{"email":true,"sms":false}`, http.StatusNotFound},
		{"staff without naming whose", "carla", "", `{"email":true,"sms":false}`, http.StatusBadRequest},
		{"a fleet manager", "frank", "?customerId=" + bob, `{"email":true,"sms":false}`, http.StatusForbidden},
		{"anonymous", "", "", `{"email":true,"sms":false}`, http.StatusUnauthorized},
		{"SMS only, with a number", "bob", "", `{"email":false,"sms":true}`, http.StatusOK},
		{"by an agent", "carla", "?customerId=" + alice, `{"email":true,"sms":false}`, http.StatusOK},
	}
	for _, tc := range tests {
		r := a.call(tc.user, "PUT", path+tc.query, tc.body)
		assert.Equal(t, tc.want, r.status, "%s: %s", tc.name, r.body)
	}
	b := get("bob", "")
	assert.False(t, *b.Email)
	assert.True(t, *b.SMS)
	assert.Equal(t, 0, a.count(`SELECT count(*) FROM notifier.preferences WHERE customer_id = $1 AND sms`, alice), "a refusal writes nothing")
	assert.Equal(t, http.StatusNotFound, a.call("alice", "GET", path+"?customerId="+bob, "").status)

	// Erasure deletes the choice; nothing can be set for an erased customer.
	a.erase(bob)
	assert.Equal(t, 0, a.count(`SELECT count(*) FROM notifier.preferences WHERE customer_id = $1`, bob))
	assert.Equal(t, http.StatusConflict, a.call("carla", "PUT", path+"?customerId="+bob, `{"email":true,"sms":false}`).status)
	assert.Equal(t, 0, a.count(`SELECT count(*) FROM notifier.preferences WHERE customer_id = $1`, bob))
	// SMS where the environment sends none.
	off := newAPI(t, map[string]string{"SMS_MODE": "off"})
	off.register(bob, "Bob", "de", "+49 170 7654321")
	assert.Equal(t, http.StatusConflict, off.call("bob", "PUT", path, `{"email":true,"sms":true}`).status)
}
