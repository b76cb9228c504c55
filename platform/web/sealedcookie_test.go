package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/web"
)

// TestSealedCookie: what a portal keeps in the browser outside the session opens only in
// the same portal, under the same name, untouched — and shows nothing of itself.
func TestSealedCookie(t *testing.T) {
	t.Parallel()
	keys := []string{newKey()}
	site := func(service, base string, keys []string) *web.Site {
		s, err := web.New(context.Background(), web.Options{Service: service, BasePath: base, Config: web.Config{
			SessionKeys: keys, IssuerURL: "https://id.example.com/realms/orange-car-rental", Audience: "orange-api", SessionTTL: time.Hour}})
		require.NoError(t, err)
		return s
	}
	public := site("public-portal", "/", keys)
	guest, err := public.SealedCookie("guest-booking", "/bookings/")
	require.NoError(t, err)
	type held struct{ Email string }
	rec := httptest.NewRecorder()
	require.NoError(t, guest.Set(rec, httptest.NewRequest(http.MethodPost, "/book", nil), held{Email: "zelda@example.org"}))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	c := cookies[0]
	assert.Equal(t, "/bookings/", c.Path)
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.NotContains(t, strings.ToLower(c.Value), "zelda", "the value is sealed, not encoded")

	carrying := func(c *http.Cookie) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/bookings/x", nil)
		r.AddCookie(c)
		return r
	}
	var got held
	require.True(t, guest.Get(carrying(c), &got))
	assert.Equal(t, "zelda@example.org", got.Email)

	tampered := *c
	tampered.Value = c.Value[:len(c.Value)-2] + "AA"
	otherName, err := public.SealedCookie("guest-link", "/bookings/")
	require.NoError(t, err)
	otherPortal, err := site("call-center-portal", "/call-center/", keys).SealedCookie("guest-booking", "/bookings/")
	require.NoError(t, err)
	retired, err := site("public-portal", "/", []string{newKey()}).SealedCookie("guest-booking", "/bookings/")
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		c    *web.SealedCookie
		with *http.Cookie
	}{
		"tampered":              {guest, &tampered},
		"another cookie's name": {otherName, renamed(c, otherName)},
		"another portal":        {otherPortal, c},
		"a key no longer kept":  {retired, c},
	} {
		var v held
		assert.False(t, tc.c.Get(carrying(tc.with), &v), name)
		assert.Empty(t, v.Email, name)
	}
	assert.False(t, guest.Get(httptest.NewRequest(http.MethodGet, "/bookings/x", nil), &got), "no cookie")
}

// renamed is c under the name the other sealed cookie uses, so only the seal tells them apart.
func renamed(c *http.Cookie, other *web.SealedCookie) *http.Cookie {
	probe := httptest.NewRecorder()
	_ = other.Set(probe, httptest.NewRequest(http.MethodGet, "/", nil), struct{}{})
	cp := *c
	cp.Name = probe.Result().Cookies()[0].Name
	return &cp
}
