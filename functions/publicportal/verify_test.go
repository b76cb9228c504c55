package publicportal_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// register registers an account with customers-api (public, no token) and returns its id and
// the verification token its customer.registered carries for the welcome mail.
func (s *system) register(email string) (id, token string) {
	s.t.Helper()
	body := `{"firstName":"Jana","lastName":"Vogel","email":"` + email + `","phone":"+49 341 1234567",` +
		`"dateOfBirth":"1993-02-11","address":{"street":"Markt 1","postalCode":"04109","city":"Leipzig"}}`
	req, err := http.NewRequest(http.MethodPost, "http://customers-api/api/customers", strings.NewReader(body))
	require.NoError(s.t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: s.m.Transport}).Do(req)
	require.NoError(s.t, err)
	resp.Body.Close()
	require.Equal(s.t, http.StatusCreated, resp.StatusCode)
	require.NoError(s.t, s.db.Pool.QueryRow(context.Background(), `SELECT subject, data->>'verificationToken'
		FROM customers.outbox WHERE type = 'com.orangecarrental.customer.registered.v1' ORDER BY seq DESC LIMIT 1`).Scan(&id, &token))
	require.NotEmpty(s.t, token)
	return id, token
}

// TestTheWelcomeMailsLinkVerifies: the welcome mail's link, /verify-email#token=…, opens a
// page (it was a 404, so no account could ever book); its form takes the token — portal.js
// from the fragment, or pasted — and the address is verified once. A bad, used or empty
// token is told on the page, in the page's language, and verifies nothing.
func TestTheWelcomeMailsLinkVerifies(t *testing.T) {
	s := start(t)
	id, token := s.register("jana.verify@example.com")
	verified := func() int {
		return s.count(`SELECT count(*) FROM customers.customers WHERE id = $1 AND email_verified_at IS NOT NULL`, id)
	}

	page := s.get("/verify-email")
	require.Equal(t, http.StatusOK, page.status, page.body)
	assert.Contains(t, page.body, `data-fragment-token`, "portal.js posts the fragment's token")
	assert.Contains(t, page.body, `name="token"`, "without scripts the token is pasted")
	assert.Equal(t, "no-referrer", page.header.Get("Referrer-Policy"))

	for name, tok := range map[string]string{"forged": "AAAAAAAAAAAAAAAAAAAAAAAAAA", "empty": " ", "too long": strings.Repeat("A", 101)} {
		bad := s.post(page, "/verify-email", url.Values{"token": {tok}})
		assert.Equal(t, http.StatusBadRequest, bad.status, name)
		assert.Contains(t, bad.body, "This link is invalid, already used or expired", name)
		assert.Zero(t, verified(), name)
	}

	done := s.post(page, "/verify-email", url.Values{"token": {"#token=" + token}}) // pasted with its prefix
	require.Equal(t, http.StatusOK, done.status, done.body)
	assert.Contains(t, done.body, `id="verify-done"`)
	assert.Equal(t, 1, verified())

	again := s.post(page, "/verify-email", url.Values{"token": {token}})
	assert.Equal(t, http.StatusBadRequest, again.status, "a link works once")

	// In German.
	req, _ := http.NewRequest(http.MethodGet, "http://"+portalHost+"/verify-email", nil)
	req.Header.Set("Accept-Language", "de")
	de := s.do(req)
	assert.Contains(t, de.body, "E-Mail-Adresse bestätigen")
}
