package notifier_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
)

// TestHistoryVisibility: a customer sees their own notifications only — another's, by id or
// by filter, is a 404 as if it did not exist, never a 403 — staff see everyone's, with the
// addresses masked in a list of everyone's and the mail server's words kept from customers.
func TestHistoryVisibility(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "de", "")
	a.confirm(alice, "3f2a1b9c-0000-4000-8000-00000000aaaa")
	a.register(bob, "Bob", "en", "")
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE notifier.notifications SET status = 'failed', attempts = 3,
		last_error = '550 5.1.1 <alice@example.com>: mailbox unknown' WHERE type = $1`, events.ReservationConfirmed)
	require.NoError(t, err)

	mine := decodeJSON[page](t, a.call("alice", "GET", "/api/notifications", ""))
	require.Equal(t, 2, mine.Total)
	for _, n := range mine.Items {
		assert.Equal(t, alice, n.CustomerID)
		assert.Equal(t, "alice@example.com", n.Recipient, "her own address, unmasked")
	}
	failed := mine.Items[0]
	require.Equal(t, notifier.StatusFailed, failed.Status)
	assert.True(t, failed.Retried)
	assert.Equal(t, "the message could not be delivered", failed.FailureReason, "not the server's words")

	bobs := decodeJSON[page](t, a.call("bob", "GET", "/api/notifications", ""))
	require.Equal(t, 1, bobs.Total)
	bobMail := bobs.Items[0].ID
	assert.Equal(t, http.StatusNotFound, a.call("alice", "GET", "/api/notifications/"+bobMail, "").status)
	assert.Equal(t, http.StatusNotFound, a.call("alice", "GET", "/api/notifications?customerId="+bob, "").status)
	assert.Equal(t, http.StatusOK, a.call("bob", "GET", "/api/notifications/"+bobMail, "").status)
	assert.Equal(t, http.StatusBadRequest, a.call("bob", "GET", "/api/notifications/"+bobMail+"?fields=all", "").status, "a strict query")
	assert.Equal(t, http.StatusUnauthorized, a.call("", "GET", "/api/notifications", "").status)
	assert.Equal(t, http.StatusForbidden, a.call("frank", "GET", "/api/notifications", "").status)

	for _, staff := range []string{"carla", "ada"} {
		everyone := decodeJSON[page](t, a.call(staff, "GET", "/api/notifications", ""))
		assert.Equal(t, 3, everyone.Total, staff)
		for _, n := range everyone.Items {
			assert.NotContains(t, n.Recipient, "alice@", "%s: masked in a list of everyone's", staff)
		}
		one := decodeJSON[notifier.Notification](t, a.call(staff, "GET", "/api/notifications/"+failed.ID, ""))
		assert.Equal(t, "alice@example.com", one.Recipient)
		assert.Contains(t, one.FailureReason, "550 5.1.1", "staff read the reason as recorded")
		hers := decodeJSON[page](t, a.call(staff, "GET", "/api/notifications?customerId="+alice, ""))
		assert.Equal(t, 2, hers.Total)
		assert.Equal(t, "alice@example.com", hers.Items[0].Recipient, "one customer's list: a deliberate lookup")
	}
	assert.Equal(t, http.StatusNotFound, a.call("carla", "GET", "/api/notifications/00000000-0000-4000-8000-0000000000ff", "").status)
}

// TestHistoryFilters: every filter, alone and together, and the pages.
func TestHistoryFilters(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	const b1, b2 = "3f2a1b9c-0000-4000-8000-0000000000b1", "3f2a1b9c-0000-4000-8000-0000000000b2"
	a.register(alice, "Alice", "de", "+49 170 1234567")
	a.confirm(alice, b1)
	a.confirm(alice, b2)
	a.register(bob, "Bob", "en", "")
	ctx := context.Background()
	// Spread the rows over time, and give them every status and both channels.
	_, err := a.db.Pool.Exec(ctx, `UPDATE notifier.notifications SET created_at = '2026-01-01T00:00:00Z' WHERE customer_id = $1 AND reservation_id IS NULL`, alice)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, `UPDATE notifier.notifications SET status = 'sent', sent_at = now(), attempts = 1, created_at = '2026-02-01T00:00:00Z' WHERE reservation_id = $1`, b1)
	require.NoError(t, err)
	_, err = a.db.Pool.Exec(ctx, `UPDATE notifier.notifications SET status = 'failed', attempts = 10, last_error = 'x', channel = 'sms', created_at = '2026-03-01T00:00:00Z' WHERE reservation_id = $1`, b2)
	require.NoError(t, err)

	tests := []struct {
		query string
		want  int
	}{
		{"", 4},
		{"customerId=" + alice, 3},
		{"customerId=" + bob, 1},
		{"reservationId=" + b1, 1},
		{"channel=sms", 1},
		{"channel=email", 3},
		{"status=sent", 1},
		{"status=failed", 1},
		{"status=queued", 2},
		{"from=2026-02-01T00:00:00Z", 3},
		{"from=2026-01-15T00:00:00Z&to=2026-02-15T00:00:00Z", 1},
		{"to=" + url.QueryEscape("2026-01-01T01:00:00+01:00"), 0},
		{"to=2026-01-01T00:00:01Z", 1},
		{"customerId=" + alice + "&channel=email&status=queued", 1},
	}
	for _, tc := range tests {
		p := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?"+tc.query, ""))
		assert.Equal(t, tc.want, p.Total, tc.query)
		assert.Equal(t, tc.want, p.Count, tc.query)
	}
	p1 := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?pageSize=3", ""))
	p2 := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?pageSize=3&page=2", ""))
	p3 := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?pageSize=3&page=3", ""))
	assert.Equal(t, []int{3, 1, 0}, []int{p1.Count, p2.Count, p3.Count})
	assert.Equal(t, []int{4, 4, 4}, []int{p1.Total, p2.Total, p3.Total})
	assert.True(t, !p1.Items[0].CreatedAt.Before(p1.Items[2].CreatedAt), "newest first")
	assert.NotEqual(t, p1.Items[2].ID, p2.Items[0].ID)
}

// TestHistoryBadQuery: a bad query is a 400 naming every bad parameter.
func TestHistoryBadQuery(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	tests := []struct {
		query  string
		fields []string
	}{
		{"status=pending", []string{"status"}},
		{"channel=fax", []string{"channel"}},
		{"customerId=42", []string{"customerId"}},
		{"reservationId=abc", []string{"reservationId"}},
		{"from=yesterday", []string{"from"}},
		{"from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", []string{"to"}},
		{"page=0&pageSize=1000", []string{"page", "pageSize"}},
		{"sort=createdAt", []string{"sort"}},
		{"status=sent&status=failed", []string{"status"}},
		{"page=1;pageSize=2", []string{"page"}},
	}
	for _, tc := range tests {
		for _, user := range []string{"alice", "carla"} {
			r := a.call(user, "GET", "/api/notifications?"+tc.query, "")
			assert.Equal(t, http.StatusBadRequest, r.status, "%s as %s", tc.query, user)
			assert.ElementsMatch(t, tc.fields, fieldsOf(t, r), "%s as %s", tc.query, user)
		}
	}
}
