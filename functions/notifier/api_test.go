package notifier_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/devissuer"
	"github.com/orangecarrental/orange/platform/idempotency"
)

// The demo people of the development issuer the API tests call as.
const (
	alice = devissuer.CustomerAlice
	bob   = devissuer.CustomerBob
	// carlaSubject is the agent's token subject: requested_by of what she asks for.
	carlaSubject = "ca71a000-0000-4000-8000-000000000003"
)

// apiT is notifications-api over a fresh notifier schema, served as hosts serve it, beside
// a notification worker on the same database (not sending until started): the worker's
// receiver makes the notifications and recipients the API shows, the way events do.
type apiT struct {
	*worker
	api     *notifier.APIService
	handler http.Handler
}

func newAPI(t *testing.T, env map[string]string) *apiT {
	t.Helper()
	return newAPIBeside(t, newWorker(t, nil), env)
}

// newAPIBeside is notifications-api over worker w's database.
func newAPIBeside(t *testing.T, w *worker, env map[string]string) *apiT {
	t.Helper()
	var cfg notifier.APIConfig
	require.NoError(t, platform.LoadConfig(context.Background(), envconfig.MapLookuper(env), &cfg))
	logger := platform.NewLogger(io.Discard, "error", notifier.APIServiceName)
	svc, err := notifier.NewAPI(context.Background(), cfg, platform.Deps{DB: w.db, Logger: logger})
	require.NoError(t, err)
	return &apiT{worker: w, api: svc,
		handler: platform.Observe(logger, platform.Handler(svc, w.id.Authenticator(notifier.APIServiceName)))}
}

// call sends a request as user ("" for anonymous) with a JSON body when body is not empty
// and the extra headers given as name, value pairs.
func (a *apiT) call(user, method, path, body string, headers ...string) response {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", a.id.Bearer(a.t, user))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// register makes customer id known to notifications through its customer.registered
// event (with a mobile number when phone is set), as customers-api would.
func (a *apiT) register(id, first, lang, phone string) {
	a.t.Helper()
	c := events.Customer{CustomerID: id, Version: 1, Email: strings.ToLower(first) + "@example.com", FirstName: first,
		LastName: "Muster", PreferredLanguage: lang, Phone: phone}
	require.Equal(a.t, http.StatusAccepted, a.deliver(registered(a.t, c)).status)
}

// confirm delivers reservation.confirmed of a booking of customer id.
func (a *apiT) confirm(customerID, reservationID string) {
	a.t.Helper()
	r := reservation(customerID)
	r.ReservationID = reservationID
	require.Equal(a.t, http.StatusAccepted, a.deliver(event(a.t, events.ReservationConfirmed, r.ReservationID, r)).status)
}

// erase delivers customer.erased of customer id.
func (a *apiT) erase(id string) {
	a.t.Helper()
	e := event(a.t, events.CustomerErased, id, events.CustomerErasure{CustomerID: id, Version: 9})
	require.Equal(a.t, http.StatusAccepted, a.deliver(e).status)
}

// markSent marks every pending notification sent, as the worker's sender would.
func (a *apiT) markSent() {
	a.t.Helper()
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE notifier.notifications SET status = 'sent', sent_at = now(), attempts = 1 WHERE status = 'pending'`)
	require.NoError(a.t, err)
}

type page struct {
	Items []notifier.Notification `json:"items"`
	Count int                     `json:"count"`
	Total int                     `json:"total"`
}

type problem struct {
	Detail string                `json:"detail"`
	Errors []platform.FieldError `json:"errors"`
}

func fieldsOf(t *testing.T, r response) []string {
	t.Helper()
	var p problem
	require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// TestResend: an agent's resend is one new queued row with the same content, resend_of and
// requested_by set, in the history; the same Idempotency-Key again answers the same and
// writes nothing; the worker sends it. What cannot be resent is refused, writing nothing.
func TestResend(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "en", "")
	a.confirm(alice, "3f2a1b9c-0000-4000-8000-00000000aaaa")
	a.markSent()
	all := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?customerId="+alice, ""))
	require.Len(t, all.Items, 2)
	orig := all.Items[0] // newest first: the confirmation
	require.Equal(t, events.ReservationConfirmed, orig.Type)

	first := a.call("carla", "POST", "/api/notifications/"+orig.ID+"/resend", "", idempotency.Header, "resend-1")
	require.Equal(t, http.StatusAccepted, first.status, string(first.body))
	re := decodeJSON[notifier.Notification](t, first)
	assert.Equal(t, orig.ID, re.ResendOf)
	assert.Equal(t, carlaSubject, re.RequestedBy)
	assert.Equal(t, notifier.StatusQueued, re.Status)
	assert.Equal(t, orig.Subject, re.Subject)
	assert.Equal(t, orig.Body, re.Body)
	assert.Equal(t, "alice@example.com", re.Recipient)
	assert.Equal(t, "/api/notifications/"+re.ID, first.header.Get("Location"))

	again := a.call("carla", "POST", "/api/notifications/"+orig.ID+"/resend", "", idempotency.Header, "resend-1")
	assert.Equal(t, http.StatusAccepted, again.status)
	assert.Equal(t, first.body, again.body, "the retry answers the first answer")
	assert.Equal(t, 3, a.count(`SELECT count(*) FROM notifier.notifications`), "one resend, however often asked with the key")

	// The history shows it; the customer sees it too, without who asked.
	mine := decodeJSON[page](t, a.call("alice", "GET", "/api/notifications", ""))
	require.Len(t, mine.Items, 3)
	assert.Equal(t, re.ID, mine.Items[0].ID)
	assert.Equal(t, orig.ID, mine.Items[0].ResendOf)
	assert.Empty(t, mine.Items[0].RequestedBy)

	// Still queued: a second resend would only duplicate it.
	r := a.call("carla", "POST", "/api/notifications/"+re.ID+"/resend", "")
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Equal(t, 3, a.count(`SELECT count(*) FROM notifier.notifications`))

	// The worker sends it.
	a.start()
	waitFor(t, 5*time.Second, "the resend sent", func() bool {
		return a.count(`SELECT count(*) FROM notifier.notifications WHERE id = $1 AND status = 'sent'`, re.ID) == 1
	})
	assert.Contains(t, a.readFile(re.ID+".eml"), "alice@example.com")
}

// TestResendRefusals: who may not resend, what does not exist, and an erased customer's
// notification (its content is gone): refused, nothing written.
func TestResendRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	a.register(alice, "Alice", "de", "")
	a.register(bob, "Bob", "de", "")
	a.markSent()
	items := decodeJSON[page](t, a.call("carla", "GET", "/api/notifications?customerId="+alice, "")).Items
	require.Len(t, items, 1)
	aliceMail := items[0].ID
	// An answer stored for a retry shows her address and text: the erasure removes it; bob's stays.
	r := a.call("carla", "POST", "/api/notifications/"+aliceMail+"/resend", "", idempotency.Header, "before-erasure")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	require.Equal(t, http.StatusAccepted, a.call("carla", "POST", "/api/notifications", `{"customerId":"`+bob+`","subject":"s","body":"b"}`,
		idempotency.Header, "bob").status)
	a.erase(alice)
	assert.Equal(t, 1, a.count(`SELECT count(*) FROM notifier.idempotency_keys`), "bob's answer stays")
	r = a.call("carla", "POST", "/api/notifications/"+aliceMail+"/resend", "", idempotency.Header, "before-erasure")
	assert.Equal(t, http.StatusConflict, r.status, "the retry runs again, and finds her erased")
	before := a.count(`SELECT count(*) FROM notifier.notifications`)

	tests := []struct {
		name, user, id string
		want           int
	}{
		{"anonymous", "", aliceMail, http.StatusUnauthorized},
		{"the customer herself", "alice", aliceMail, http.StatusForbidden},
		{"a fleet manager", "frank", aliceMail, http.StatusForbidden},
		{"no such notification", "carla", "00000000-0000-4000-8000-0000000000ff", http.StatusNotFound},
		{"not an id", "carla", "welcome", http.StatusNotFound},
		{"an erased customer's", "carla", aliceMail, http.StatusConflict},
		{"an erased customer's, as admin", "ada", aliceMail, http.StatusConflict},
	}
	for i, tc := range tests {
		r := a.call(tc.user, "POST", "/api/notifications/"+tc.id+"/resend", "", idempotency.Header, fmt.Sprintf("k-%d", i))
		assert.Equal(t, tc.want, r.status, "%s: %s", tc.name, r.body)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), tc.name)
	}
	assert.Equal(t, before, a.count(`SELECT count(*) FROM notifier.notifications`), "nothing written")
}

// TestMigratingTwice: both process types migrate the one schema (each Service on start):
// the second finds nothing to do, and a registry takes the two functions with one schema.
func TestMigratingTwice(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	n, err := a.db.Migrate(context.Background(), notifier.Migrations)
	require.NoError(t, err)
	assert.Zero(t, n)
	reg, err := platform.NewRegistry(notifier.Function(), notifier.APIFunction())
	require.NoError(t, err)
	require.Len(t, reg.Migrations(), 1)
	assert.Equal(t, "notifier", reg.Migrations()[0].Schema)
}
