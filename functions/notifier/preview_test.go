package notifier_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
	"github.com/orangecarrental/orange/platform/openapitest"
)

// TestPreview: every template is listed; a preview renders it with sample data in German or
// English; staff only.
func TestPreview(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	list := decodeJSON[struct {
		Items []notifier.TemplateInfo `json:"items"`
	}](t, a.call("carla", "GET", "/api/notifications/templates", ""))
	keys := make([]string, len(list.Items))
	for i, info := range list.Items {
		keys[i] = info.Key
		assert.Equal(t, []string{"de", "en"}, info.Languages, info.Key)
	}
	for _, key := range []string{events.ReservationConfirmed, events.InvoiceIssued, events.CustomerRegistered, "verify-address"} {
		assert.Contains(t, keys, key)
	}
	i := slices.IndexFunc(list.Items, func(ti notifier.TemplateInfo) bool { return ti.Key == "verify-address" })
	assert.False(t, list.Items[i].Sendable, "its link is the event's to make")

	preview := func(key, query string) notifier.Preview {
		t.Helper()
		r := a.call("carla", "GET", "/api/notifications/templates/"+key+"/preview"+query, "")
		require.Equal(t, http.StatusOK, r.status, string(r.body))
		return decodeJSON[notifier.Preview](t, r)
	}
	de := preview(events.ReservationConfirmed, "")
	en := preview(events.ReservationConfirmed, "?lang=en")
	assert.Equal(t, "de", de.Language)
	assert.Contains(t, de.Subject, "ist bestätigt")
	assert.Contains(t, de.Body, "Guten Tag Erika Mustermann,")
	assert.Contains(t, de.Body, "142,76 €")
	assert.Contains(t, en.Subject, "is confirmed")
	assert.Contains(t, en.Body, "Hello Erika Mustermann,")
	assert.Contains(t, en.Body, "€142.76")
	smsKeys := 0
	for _, info := range list.Items { // whatever keys exist render, by every channel they have
		for _, lang := range []string{"de", "en"} {
			assert.NotEmpty(t, preview(info.Key, "?lang="+lang).Body, info.Key)
			if slices.Contains(info.Channels, "sms") {
				smsKeys++
				p := preview(info.Key, "?channel=sms&lang="+lang)
				assert.Equal(t, "sms", p.Channel)
				assert.Empty(t, p.Subject, "an SMS has no subject")
				assert.LessOrEqual(t, notifier.SMSSegments(p.Body), notifier.MaxSMSSegments, info.Key)
			}
		}
	}
	assert.Positive(t, smsKeys, "the pickup reminder has an SMS text")
	assert.NotContains(t, keys, "sms/pickup-reminder", "an SMS text is a channel of its key, not a key")

	tests := []struct {
		name, user, path string
		want             int
	}{
		{"a language we lack", "carla", "/api/notifications/templates/" + events.ReservationConfirmed + "/preview?lang=fr", http.StatusBadRequest},
		{"a channel we lack", "carla", "/api/notifications/templates/" + events.ReservationConfirmed + "/preview?channel=fax", http.StatusBadRequest},
		{"unknown parameter", "carla", "/api/notifications/templates/" + events.ReservationConfirmed + "/preview?language=en", http.StatusBadRequest},
		{"unknown template", "carla", "/api/notifications/templates/nope/preview", http.StatusNotFound},
		{"no SMS text", "carla", "/api/notifications/templates/" + events.InvoiceIssued + "/preview?channel=sms", http.StatusNotFound},
		{"a customer", "alice", "/api/notifications/templates/" + events.ReservationConfirmed + "/preview", http.StatusForbidden},
		{"a customer's list", "alice", "/api/notifications/templates", http.StatusForbidden},
		{"an admin", "ada", "/api/notifications/templates/" + events.ReservationConfirmed + "/preview?lang=en", http.StatusOK},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, a.call(tc.user, "GET", tc.path, "").status, tc.name)
	}
}

// TestAPIOpenAPI holds notifications-api's document to its route table and its answers.
func TestAPIOpenAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t, nil)
	r := a.call("", "GET", "/api/notifications/openapi.json", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, r.body, a.call("", "GET", "/openapi.json", "").body)
	doc := openapitest.Load(t, r.body)
	openapitest.CheckRoutes(t, doc, a.api.Routes())

	a.register(alice, "Alice", "de", "+49 170 1234567")
	v := openapitest.NewValidator(t, doc)
	calls := []struct{ user, method, path, body string }{
		{"alice", "GET", "/api/notifications", ""},
		{"carla", "GET", "/api/notifications?status=bogus", ""},
		{"carla", "POST", "/api/notifications", `{"customerId":"` + alice + `","subject":"Hallo","body":"Text"}`},
		{"carla", "POST", "/api/notifications", `{"customerId":"` + alice + `"}`},
		{"carla", "GET", "/api/notifications/templates", ""},
		{"carla", "GET", "/api/notifications/templates/" + events.ReservationCancelled + "/preview?lang=en", ""},
		{"alice", "GET", "/api/notifications/preferences", ""},
		{"alice", "PUT", "/api/notifications/preferences", `{"email":true,"sms":true}`},
		{"carla", "GET", "/api/notifications/00000000-0000-4000-8000-0000000000ff", ""},
		{"carla", "POST", "/api/notifications/00000000-0000-4000-8000-0000000000ff/resend", ""},
	}
	for _, c := range calls {
		r := a.call(c.user, c.method, c.path, c.body)
		v.Check(t, c.method, c.path, r.header, r.status, r.header, r.body)
	}
	first := decodeJSON[page](t, a.call("alice", "GET", "/api/notifications", "")).Items[0]
	r = a.call("alice", "GET", "/api/notifications/"+first.ID, "")
	v.Check(t, "GET", "/api/notifications/"+first.ID, nil, r.status, r.header, r.body)
}
