package deadletter_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth"
	"github.com/orangecarrental/orange/platform/auth/authtest"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
)

// TestADeadLetterIsStoredOnce: a dead letter is stored with its event, Knative's error
// extensions and the Trigger it failed at; the same letter redelivered is the same row
// (200), the same event dead-lettered by another Trigger is a letter of its own; the log
// names the letter without a word of its data or of the subscriber's answer.
func TestADeadLetterIsStoredOnce(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	customer := newCustomer()
	e := failed(customerUpdated(t, customer, "greta@example.com"), 400, `{"detail":"bad address greta@example.com of Greta Garbo"}`)

	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, e).status)
	for range 2 {
		require.Equal(t, http.StatusOK, s.deadLetter(trigger, e).status, "a redelivery")
	}
	list := s.letters("")
	require.Equal(t, 1, list.Total)
	l := list.Items[0]
	assert.Equal(t, trigger, l.Trigger)
	assert.Equal(t, deadletter.StatusStored, l.Status)
	assert.Equal(t, 1, l.Failures)
	assert.Equal(t, e.ID(), l.Event.ID)
	assert.Equal(t, "customers-api", l.Event.Source)
	assert.Equal(t, events.CustomerUpdated, l.Event.Type)
	assert.Equal(t, customer, l.Event.Subject)
	assert.Equal(t, map[string]any{"partitionkey": customer}, l.Event.Extensions, "Knative's error extensions have their own fields")
	assert.Equal(t, "http://notification-worker.orange.svc.cluster.local/cloudevents", l.Error.Destination)
	require.NotNil(t, l.Error.Code)
	assert.Equal(t, 400, *l.Error.Code)
	assert.Nil(t, l.Error.Data, "a list shows no answer")
	assert.Nil(t, l.Event.Data, "a list shows no data")

	// The same event, failed at another Trigger: its own letter.
	require.Equal(t, http.StatusAccepted, s.deadLetter("payments-api-customer-erased", e).status)
	assert.Equal(t, 2, s.letters("").Total)
	assert.Equal(t, 1, s.letters("?trigger=payments-api-customer-erased").Total)

	logs := s.logs.String()
	assert.Contains(t, logs, `"msg":"dead letter"`)
	assert.Contains(t, logs, e.ID())
	for _, personal := range []string{"greta@example.com", "Greta", "Garbo", "5550123"} {
		assert.NotContains(t, logs, personal, "the log shows personal data")
	}
}

// TestOnlyTheTriggersDeliverDeadLetters: no token, a token for another audience → 401; a
// person (an admin too), a function, a PingSource, a Trigger that does not dead-letter
// here → 403; nothing is stored. The customer.erased receiver admits its own Trigger only.
func TestOnlyTheTriggersDeliverDeadLetters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := failed(customerUpdated(t, newCustomer(), "x@example.com"), 400, "no")
	otherAudience, err := s.id.Cluster.Token(devissuer.Subject(authtest.Namespace, platform.Trigger(trigger).ServiceAccount()),
		auth.ServiceAudience(authtest.Namespace, "notification-worker"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"another audience", "Bearer " + otherAudience, http.StatusUnauthorized},
		{"a customer", s.id.Bearer(t, "alice"), http.StatusForbidden},
		{"an admin", s.admin, http.StatusForbidden},
		{"a function", "Bearer " + s.id.Token(t, "service:reservations-api"), http.StatusForbidden},
		{"a PingSource", s.id.DeliveryBearer(t, platform.PingSource("reservations-expire-holds"), deadletter.ServiceName), http.StatusForbidden},
		{"a stranger's Trigger", s.id.DeliveryBearer(t, platform.Trigger("somebody-else"), deadletter.ServiceName), http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, s.deliverAs(tc.auth, "/", e).status)
		})
	}
	var n int
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM deadletter.letters`).Scan(&n))
	assert.Zero(t, n, "nothing stored")

	erased, err := events.New("customers-api", events.CustomerErased, newCustomer(), events.CustomerErasure{CustomerID: newCustomer(), Version: 3})
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, s.deliverAs(s.id.DeliveryBearer(t, platform.Trigger(trigger), deadletter.ServiceName), "/cloudevents", erased).status,
		"a dead-letter Trigger delivers no erasure")
}

// TestNotACloudEventIsRefused: what cannot be stored is a 400 (the Broker does not retry
// it), and nothing is stored.
func TestNotACloudEventIsRefused(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	req, err := http.NewRequest(http.MethodPost, "/", strings.NewReader(`{"no":"event"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", s.id.DeliveryBearer(t, platform.Trigger(trigger), deadletter.ServiceName))
	r := s.serve(req)
	assert.Equal(t, http.StatusBadRequest, r.status, "%s", r.body)
	assert.Equal(t, 0, s.letters("").Total)
}

// TestDataPostgreSQLCannotKeepAsJSONIsKeptAsBytes: JSON with a NUL escape, half a surrogate
// pair or invalid UTF-8 is stored (as bytes, shown by size), not refused with a 500 the
// Broker would retry.
func TestDataPostgreSQLCannotKeepAsJSONIsKeptAsBytes(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for i, data := range [][]byte{[]byte(`{"note":"a\u0000b"}`), []byte("{\"note\":\"\xff\"}"),
		[]byte(`{"email":"\ud800"}`), []byte(`{"note":"\udc00x"}`)} {
		e := customerUpdated(t, newCustomer(), "a@example.com")
		require.NoError(t, e.SetData("application/json", data))
		r := s.deadLetter(trigger, e)
		require.Equal(t, http.StatusAccepted, r.status, "data %d: %s", i, r.body)
	}
	for _, l := range s.letters("").Items {
		r := s.do(http.MethodGet, deadletter.Prefix+"/"+l.ID, s.admin)
		var got letter
		r.json(t, &got)
		assert.Nil(t, got.Event.Data)
		assert.NotZero(t, got.Event.DataBytes)
	}
}
