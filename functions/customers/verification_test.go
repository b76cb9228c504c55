package customers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/customers"
)

// registeredEvent is the latest customer event recorded about id.
func (a *api) latestEvent(id string) (string, events.Customer) {
	a.t.Helper()
	var typ string
	var e events.Customer
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT type, data FROM customers.outbox WHERE subject = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&typ, &e))
	return typ, e
}

// eligible asks reservations-api's question about customer id for a rental a month ahead.
func (a *api) eligible(id string) customers.Eligibility {
	a.t.Helper()
	p := time.Now().AddDate(0, 1, 0).UTC().Truncate(time.Hour)
	r := a.json(reservations, http.MethodPost, "/api/customers/"+id+"/eligibility",
		fmt.Sprintf(`{"pickupAt":%q,"returnAt":%q}`, p.Format(time.RFC3339), p.Add(72*time.Hour).Format(time.RFC3339)))
	require.Equal(a.t, http.StatusOK, r.status, string(r.body))
	return decode[customers.Eligibility](a.t, r)
}

func (a *api) verify(token string) response {
	a.t.Helper()
	return a.json(anonymous, http.MethodPost, "/api/customers/verify-email", fmt.Sprintf(`{"token":%q}`, token))
}

// TestAnAccountBooksOnlyWithAVerifiedAddress is issue 11's "claims that address": anyone
// could register any address and book with the account at once. Now a registration is an
// unverified account that eligibility refuses (the booking's check) until someone follows the
// link mailed to the address; the link is single-use, expires, and dies with the address.
func TestAnAccountBooksOnlyWithAVerifiedAddress(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.String())
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	c := decode[customers.Customer](t, r)
	assert.Equal(t, customers.KindAccount, c.Kind)
	assert.False(t, c.EmailVerified)

	// The attack: the account books straight away.
	e := a.eligible(c.ID)
	assert.False(t, e.Eligible)
	assert.Equal(t, []string{customers.ReasonEmailUnverified}, codes(e.Reasons))

	// customer.registered asks the notifier to mail the link; only its hash is stored.
	typ, ev := a.latestEvent(c.ID)
	assert.Equal(t, events.CustomerRegistered, typ)
	assert.Equal(t, "account", ev.Kind)
	assert.False(t, ev.EmailVerified)
	token := ev.VerificationToken
	require.NotEmpty(t, token)
	var stored int
	require.NoError(t, a.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM customers.email_verifications
		WHERE customer_id = $1 AND token_hash = sha256(convert_to($2, 'UTF8'))`, c.ID, token).Scan(&stored))
	assert.Equal(t, 1, stored)
	assert.NotContains(t, a.snapshotVerifications(), token, "the token itself is not stored")

	// Wrong tokens are one 400 naming the field, and change nothing.
	before := a.snapshot()
	for _, bad := range []string{"", "x", token + "x", token[1:]} {
		r := a.verify(bad)
		require.Equal(t, http.StatusBadRequest, r.status, "%q: %s", bad, r.body)
		assert.Equal(t, []string{"token"}, problemFields(t, r))
	}
	assert.Equal(t, before, a.snapshot())

	r = a.verify(token)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.JSONEq(t, `{"emailVerified":true}`, string(r.body), "the answer does not show the account")
	assert.True(t, a.get(agent, c.ID).EmailVerified)
	assert.True(t, a.eligible(c.ID).Eligible)
	typ, ev = a.latestEvent(c.ID)
	assert.Equal(t, events.CustomerUpdated, typ)
	assert.True(t, ev.EmailVerified)
	assert.NotContains(t, a.snapshot(), token, "a used token is scrubbed from the outbox")

	// Single-use.
	r = a.verify(token)
	require.Equal(t, http.StatusBadRequest, r.status, string(r.body))

	// Another spelling of the same address keeps it verified; a new address does not, and
	// gets its own link.
	profile := newCustomer.with("licence", nil)
	r = a.json(agent, http.MethodPut, "/api/customers/"+c.ID, profile.with("email", "Clara.Neumann@Example.DE").String())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.True(t, decode[customers.Customer](t, r).EmailVerified)
	_, ev = a.latestEvent(c.ID)
	assert.Empty(t, ev.VerificationToken)

	r = a.json(agent, http.MethodPut, "/api/customers/"+c.ID, profile.with("email", "clara@elsewhere.example").String())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.False(t, decode[customers.Customer](t, r).EmailVerified)
	assert.Equal(t, []string{customers.ReasonEmailUnverified}, codes(a.eligible(c.ID).Reasons))
	_, ev = a.latestEvent(c.ID)
	first := ev.VerificationToken
	require.NotEmpty(t, first)

	// That link dies with the address it was sent to.
	r = a.json(agent, http.MethodPut, "/api/customers/"+c.ID, profile.with("email", "clara@third.example").String())
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	_, ev = a.latestEvent(c.ID)
	second := ev.VerificationToken
	require.Equal(t, http.StatusBadRequest, a.verify(first).status)

	// And every link expires.
	_, err := a.db.Pool.Exec(context.Background(), `UPDATE customers.email_verifications SET expires_at = now() - interval '1 second' WHERE customer_id = $1`, c.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, a.verify(second).status)
	assert.False(t, a.get(agent, c.ID).EmailVerified)

	// A new link is asked for (by the account's owner or an agent; here the agent): a new
	// version whose customer.updated carries it for the notifier's mail. Another within a
	// minute is a 429 with Retry-After; another customer learns nothing (404); once verified,
	// there is nothing to send (409).
	path := "/api/customers/" + c.ID + "/verification"
	r = a.json(agent, http.MethodPost, path, "")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	typ, ev = a.latestEvent(c.ID)
	assert.Equal(t, events.CustomerUpdated, typ)
	third := ev.VerificationToken
	require.NotEmpty(t, third)
	again := a.json(agent, http.MethodPost, path, "")
	assert.Equal(t, http.StatusTooManyRequests, again.status, string(again.body))
	assert.NotEmpty(t, again.header.Get("Retry-After"))
	assert.Equal(t, http.StatusNotFound, a.json(bob, http.MethodPost, path, "").status)
	require.Equal(t, http.StatusOK, a.verify(third).status)
	assert.True(t, a.get(agent, c.ID).EmailVerified)
	r = a.json(agent, http.MethodPost, path, "")
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
	assert.Contains(t, string(r.body), `"code":"email_verified"`)
}

// snapshotVerifications is the verification table as text.
func (a *api) snapshotVerifications() string {
	a.t.Helper()
	var s string
	require.NoError(a.t, a.db.Pool.QueryRow(context.Background(),
		`SELECT coalesce(string_agg(row_to_json(v)::text, E'\n'), '') FROM customers.email_verifications v`).Scan(&s))
	return s
}

// TestGuestsAreRegisteredByGuestBookingsOnly: a guest gets no welcome mail, so registering
// one is reservations-api's (a guest booking's) alone; the guest record says so and its
// customer.registered carries no link.
func TestGuestsAreRegisteredByGuestBookingsOnly(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := newCustomer.with("email", "gina.gast@example.de").String()
	before := a.snapshot()
	for user, want := range map[string]int{anonymous: 401, alice: 403, agent: 403, fleet: 403, payments: 403} {
		r := a.json(user, http.MethodPost, "/api/customers/guests", body)
		assert.Equal(t, want, r.status, "%s: %s", user, r.body)
	}
	assert.Equal(t, before, a.snapshot())

	r := a.json(reservations, http.MethodPost, "/api/customers/guests", body)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	g := decode[customers.Customer](t, r)
	assert.Equal(t, customers.KindGuest, g.Kind)
	assert.False(t, g.EmailVerified)
	typ, ev := a.latestEvent(g.ID)
	assert.Equal(t, events.CustomerRegistered, typ)
	assert.Equal(t, "guest", ev.Kind)
	assert.Empty(t, ev.VerificationToken, "no welcome, no link")
	assert.NotContains(t, a.snapshotVerifications(), g.ID)

	// The booking decides for a guest (reservations' own limits); the record's address
	// rule is an account's.
	assert.True(t, a.eligible(g.ID).Eligible)

	// One address, one record, whatever kind.
	r = a.json(anonymous, http.MethodPost, "/api/customers", newCustomer.with("email", "Gina.Gast@example.de").String())
	assert.Equal(t, http.StatusConflict, r.status, string(r.body))
}

// TestErasureTakesTheLinksAlong: an erased account's pending links stop working and leave
// no token behind.
func TestErasureTakesTheLinksAlong(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	c := a.register(newCustomer.String())
	token := a.verificationToken(c.ID)
	require.Equal(t, http.StatusOK, a.do(agent, http.MethodPost, "/api/customers/"+c.ID+"/erasure", "", "").status)
	assert.Equal(t, http.StatusBadRequest, a.verify(token).status)
	assert.Empty(t, a.snapshotVerifications())
	assert.NotContains(t, a.snapshot(), token)
}
