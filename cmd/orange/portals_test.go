package main_test

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform/proctest"
)

// TestPortalSignIn is the portals' mounting in `orange dev`: the public portal answers at
// /, the call center at /call-center/, the JSON index moved to /dev/; an agent signs in
// through the development issuer's login page (authorization code + PKCE, the callback
// registered for this port, the issuer reached in-process), then signs out.
func TestPortalSignIn(t *testing.T) {
	bin := proctest.Build(t, ".")
	p := proctest.Start(t, bin, []string{"dev"}, "PORT=0", "DATABASE_URL="+pg.NewDatabaseURL(t), "ORANGE_DATA_DIR="+t.TempDir())
	proctest.WaitReady(t, p.Addr)
	base := "http://" + p.Addr

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(target string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(target)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	follow := func(resp *http.Response, body string) (*http.Response, string) {
		t.Helper()
		for i := 0; resp.StatusCode >= 300 && resp.StatusCode < 400; i++ {
			require.Less(t, i, 10)
			loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
			require.NoError(t, err)
			resp, body = get(loc.String())
		}
		return resp, body
	}

	resp, body := get(base + "/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, body, `<html lang="de">`)
	resp, body = get(base + "/dev/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, body, `"system":"orange-car-rental"`)
	resp, _ = get(base + "/call-center")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)

	// The sign-in: the portal sends the browser to the issuer's login page, whose form goes
	// back with a code to the portal's callback.
	resp, body = follow(get(base + "/call-center/auth/login?next=%2Fcall-center%2F"))
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	form.Set("username", "carla")
	form.Set("password", "carla")
	resp, err = c.PostForm(resp.Request.URL.String(), form)
	require.NoError(t, err)
	resp.Body.Close()
	resp, body = follow(resp, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, base+"/call-center/", resp.Request.URL.String())
	assert.Contains(t, body, "Angemeldet als Carla Agent")

	_, body = get(base + "/call-center/")
	assert.Contains(t, body, "Angemeldet als Carla Agent", "the session cookie is kept")

	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, token)
	resp, err = c.PostForm(base+"/call-center/auth/logout", url.Values{"csrf": {token[1]}})
	require.NoError(t, err)
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "the page that posts on to the issuer")
	end := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(string(out), -1) {
		end.Set(m[1], html.UnescapeString(m[2]))
	}
	action := regexp.MustCompile(`action="([^"]+)" id="signout-form"`).FindStringSubmatch(string(out))
	require.NotNil(t, action, string(out))
	resp, err = c.PostForm(html.UnescapeString(action[1]), end) // the issuer's end-session endpoint
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, base+"/call-center/", resp.Header.Get("Location"))
	// Signed out: the call center's home sends a guest to sign in again.
	resp, _ = get(base + "/call-center/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/call-center/auth/login"), resp.Header.Get("Location"))
	stop(t, p)
}
