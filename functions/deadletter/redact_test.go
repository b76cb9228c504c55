package deadletter_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/deadletter"
	"github.com/orangecarrental/orange/platform"
)

// personal are the personal values of customerUpdated, and the words an answer may quote.
var personal = []string{"greta@example.com", "Greta", "Garbo", "+49 30 5550123", "5550123"}

// TestTheAPIShowsLettersRedacted: one letter shows its data with every personal field
// redacted and the rest as it was, and the subscriber's answer with the event's personal
// values masked — whole or word by word — and cut; a list shows neither. The store keeps
// the data whole, for a replay.
func TestTheAPIShowsLettersRedacted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	customer := newCustomer()
	answer := `{"type":"https://orangecarrental.com/problems/invalid","detail":"mail: no address in \"Greta Garbo \u003cgreta@example.com\u003e\"; call +49 30 5550123"}`
	e := failed(customerUpdated(t, customer, "Greta Garbo <greta@example.com>"), 400, answer)
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, e).status)
	id := s.letters("").Items[0].ID

	r := s.do(http.MethodGet, deadletter.Prefix+"/"+id, s.admin)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, p := range append(personal, "Greta Garbo <greta@example.com>") {
		assert.NotContains(t, string(r.body), p, "the view shows a personal value")
	}
	var got letter
	r.json(t, &got)
	var data map[string]any
	require.NoError(t, json.Unmarshal(got.Event.Data, &data))
	assert.Equal(t, map[string]any{"customerId": customer, "version": float64(2), "email": deadletter.Redacted,
		"firstName": deadletter.Redacted, "lastName": deadletter.Redacted, "phone": deadletter.Redacted, "preferredLanguage": "de",
		"emailVerified": false}, data)
	require.NotNil(t, got.Error.Data)
	assert.Contains(t, *got.Error.Data, "mail: no address in")
	assert.Contains(t, *got.Error.Data, deadletter.Redacted)
	assert.False(t, got.Error.Truncated)

	list := s.do(http.MethodGet, deadletter.Prefix, s.admin)
	for _, p := range personal {
		assert.NotContains(t, string(list.body), p, "the list shows a personal value")
	}

	var stored string
	require.NoError(t, s.db.Pool.QueryRow(context.Background(), `SELECT data->>'email' FROM deadletter.letters WHERE id = $1`, id).Scan(&stored))
	assert.Equal(t, "Greta Garbo <greta@example.com>", stored, "kept whole for a replay")
}

// TestALongAnswerIsCut: an answer as long as Knative lets it be (1024 base64 characters) is
// shown cut, without its last, maybe partial, word; data that is not JSON is never shown.
func TestALongAnswerIsCut(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := customerUpdated(t, newCustomer(), "greta@example.com")
	long := strings.Repeat("error word ", 200)
	e = failed(e, 500, long)
	e.SetExtension("knativeerrordata", e.Extensions()["knativeerrordata"].(string)[:1024])
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, e).status)

	raw := cloudevents.NewEvent()
	raw.SetID("ping-1")
	raw.SetSource("/apis/v1/namespaces/orange/pingsources/x")
	raw.SetType("dev.knative.sources.ping")
	require.NoError(t, raw.SetData("text/plain", []byte("Greta Garbo")))
	require.Equal(t, http.StatusAccepted, s.deadLetter("vehicles-api-reservation-created", raw).status)

	for _, l := range s.letters("").Items {
		r := s.do(http.MethodGet, deadletter.Prefix+"/"+l.ID, s.admin)
		require.Equal(t, http.StatusOK, r.status)
		var got letter
		r.json(t, &got)
		switch got.Event.Type {
		case events.CustomerUpdated:
			require.NotNil(t, got.Error.Data)
			assert.True(t, got.Error.Truncated)
			assert.LessOrEqual(t, len(*got.Error.Data), 300)
			assert.True(t, strings.HasSuffix(*got.Error.Data, "word") || strings.HasSuffix(*got.Error.Data, "error"), "whole words: %q", *got.Error.Data)
		default:
			assert.Nil(t, got.Event.Data)
			assert.Equal(t, len("Greta Garbo"), got.Event.DataBytes)
			assert.NotContains(t, string(r.body), "Greta")
		}
	}
}

// TestErasureScrubsTheLetters: customer.erased replaces the customer's personal fields in
// every letter about them (their own events and those naming them) and drops the answers,
// leaves other customers' letters alone, and scrubs a letter about them that arrives later;
// a redelivered erasure changes nothing.
func TestErasureScrubsTheLetters(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	erased, kept := newCustomer(), newCustomer()
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerUpdated(t, erased, "greta@example.com"), 400, "greta@example.com?")).status)
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(customerEvent(t, kept, events.Customer{Email: "kept@example.com", FirstName: "Karl", LastName: "Kept"}), 400, "kept@example.com?")).status)
	naming, err := events.New("reservations-api", events.ReservationCreated, newCustomer(), map[string]any{"customerId": erased, "email": "greta@example.com", "version": 1})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, s.deadLetter("payments-api-reservation-created", failed(naming, 400, "Greta")).status)
	// A replay of the customer's letter waits in the outbox.
	first := s.letters("?type=" + url.QueryEscape(events.CustomerUpdated) + "&source=customers-api&pageSize=100")
	for _, l := range first.Items {
		if l.Event.Subject == erased {
			require.Equal(t, http.StatusOK, s.do(http.MethodPost, deadletter.Prefix+"/"+l.ID+"/replay", s.admin).status)
		}
	}

	erasure, err := events.New("customers-api", events.CustomerErased, erased, events.CustomerErasure{CustomerID: erased, Version: 3})
	require.NoError(t, err)
	bearer := s.id.DeliveryBearer(t, platform.Trigger(deadletter.ErasedTrigger), deadletter.ServiceName)
	require.Equal(t, http.StatusAccepted, s.deliverAs(bearer, "/cloudevents", erasure).status)
	require.Equal(t, http.StatusOK, s.deliverAs(bearer, "/cloudevents", erasure).status, "a redelivery")

	// Later, another dead letter about the erased customer.
	late := failed(customerUpdated(t, erased, "greta@example.com"), 400, "greta@example.com")
	require.Equal(t, http.StatusAccepted, s.deadLetter("payments-api-customer-erased", late).status)

	dump := func() string {
		var all string
		require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT coalesce(string_agg(l::text, E'\n'), '') FROM deadletter.letters l`).Scan(&all))
		return all
	}
	all := dump()
	for _, p := range personal {
		assert.NotContains(t, all, p, "the erased customer is still in a letter")
	}
	for _, b64 := range []string{"Z3JldGFAZXhhbXBsZS5jb20", "R3JldGE"} { // base64 of the address and the name
		assert.NotContains(t, all, b64, "an answer about the erased customer is kept")
	}
	assert.Contains(t, all, events.ErasedEmail(erased))
	assert.Contains(t, all, "kept@example.com", "another customer's letter is untouched")
	var outbox string
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT string_agg(data::text, E'\n') FROM deadletter.outbox`).Scan(&outbox))
	assert.Contains(t, outbox, events.ErasedEmail(erased), "the replay is in the outbox")
	for _, p := range personal {
		assert.NotContains(t, outbox, p, "the erased customer is still in a replay")
	}
	var n int
	require.NoError(t, s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM deadletter.letters`).Scan(&n))
	assert.Equal(t, 4, n)
}

// TestAnswersAreMaskedInAnyCaseAndSpacing: an answer that quotes a personal value in
// another case, or a phone number spaced and punctuated otherwise than the event, is masked
// too — the event's "+49 30 5550123" as "+49 (30) 555-0123", its address in capitals.
func TestAnswersAreMaskedInAnyCaseAndSpacing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	answer := `could not mail GRETA@EXAMPLE.COM (GRETA garbo, tel +49 (30) 555-0123, also 4930 5550 123)`
	text := s.shownAnswer(t, failed(customerUpdated(t, newCustomer(), "greta@example.com"), 500, answer))
	assert.Contains(t, text, "could not mail")
	for _, p := range []string{"greta", "garbo", "5550", "555-0123", "0123"} {
		assert.NotContains(t, strings.ToLower(text), p, "masked: %q", text)
	}
}

// TestMaskingKeepsWholeValuesWhole: a personal value with digits in it (an address such as
// mallory1980@example.org) is masked whole, not around its digits, and a phone number
// quoted with a trunk "(0)" is masked too.
func TestMaskingKeepsWholeValuesWhole(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := customerEvent(t, newCustomer(), events.Customer{Email: "mallory19800101@example.org", FirstName: "Mallory", LastName: "Test", Phone: "+491701234567"})
	answer := `refused: mallory19800101@example.org is blocked; phone +49 (0)170 1234567`
	text := s.shownAnswer(t, failed(e, 500, answer))
	for _, p := range []string{"mallory", "example.org", "1234567", "170"} {
		assert.NotContains(t, strings.ToLower(text), p, "masked: %q", text)
	}
}

// TestAVerificationTokenIsMasked: a customer event's verificationToken verifies the address
// for whoever holds it: the letter shows it masked, in the data and in the answer.
func TestAVerificationTokenIsMasked(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	e := customerEvent(t, newCustomer(), events.Customer{Email: "vera@example.org", FirstName: "Vera", VerificationToken: "SECRETTOKEN1234567890ABCDEF"})
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, failed(e, 400, "bad token SECRETTOKEN1234567890ABCDEF")).status)
	r := s.do(http.MethodGet, deadletter.Prefix+"/"+s.letters("").Items[0].ID, s.admin)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.NotContains(t, string(r.body), "SECRETTOKEN")
}

// shownAnswer dead-letters e (the store's only letter) and returns the subscriber's answer
// as the API shows it.
func (s *store) shownAnswer(t *testing.T, e cloudevents.Event) string {
	t.Helper()
	require.Equal(t, http.StatusAccepted, s.deadLetter(trigger, e).status)
	r := s.do(http.MethodGet, deadletter.Prefix+"/"+s.letters("").Items[0].ID, s.admin)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var got letter
	r.json(t, &got)
	require.NotNil(t, got.Error.Data)
	return *got.Error.Data
}
