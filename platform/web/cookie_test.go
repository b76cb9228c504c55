package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(b byte) []byte {
	k := make([]byte, 32)
	k[0] = b
	return k
}

// TestCodec: a sealed value opens only with the same portal, purpose and a configured key.
func TestCodec(t *testing.T) {
	t.Parallel()
	seal, err := newCodec([][]byte{key(1)}, "public-portal", "session")
	require.NoError(t, err)
	v, err := seal.seal(map[string]string{"csrf": "t"})
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(v, "v1."))
	assert.NotContains(t, v, "csrf", "encrypted, not just signed")

	cases := []struct {
		name    string
		keys    [][]byte
		service string
		purpose string
		ok      bool
	}{
		{"same", [][]byte{key(1)}, "public-portal", "session", true},
		{"rotated: old key second", [][]byte{key(2), key(1)}, "public-portal", "session", true},
		{"key dropped", [][]byte{key(2)}, "public-portal", "session", false},
		{"other portal, same keys", [][]byte{key(1)}, "call-center-portal", "session", false},
		{"other purpose", [][]byte{key(1)}, "public-portal", "login", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := newCodec(tc.keys, tc.service, tc.purpose)
			require.NoError(t, err)
			var out map[string]string
			err = c.open(v, &out)
			if tc.ok {
				require.NoError(t, err)
				assert.Equal(t, "t", out["csrf"])
			} else {
				assert.ErrorIs(t, err, errBadCookie)
			}
		})
	}
	for _, bad := range []string{"", "v1.", "v2." + v[3:], v + "x", v[:len(v)-1], "v1.!!!"} {
		var out map[string]string
		assert.ErrorIs(t, seal.open(bad, &out), errBadCookie, bad)
	}
}

// TestChunks: a value longer than one cookie holds is split and read back whole; a shorter
// value written later removes the chunks the longer one left.
func TestChunks(t *testing.T) {
	t.Parallel()
	jar := cookieJar{name: "p-session", path: "/", hostOnly: true}
	long := strings.Repeat("a", chunkSize) + strings.Repeat("b", chunkSize) + "c"

	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, jar.write(w, r, long, 0))
	set := w.Result().Cookies()
	require.Len(t, set, 3)
	assert.Equal(t, []string{"p-session", "p-session-1", "p-session-2"}, []string{set[0].Name, set[1].Name, set[2].Name})
	for _, c := range set {
		assert.LessOrEqual(t, len(c.String()), 4000, "each cookie stays under the browsers' limit")
	}

	back := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range set {
		back.AddCookie(c)
	}
	assert.Equal(t, long, jar.read(back))

	// A missing chunk is no value at all.
	partial := httptest.NewRequest(http.MethodGet, "/", nil)
	partial.AddCookie(set[0])
	partial.AddCookie(set[2])
	assert.Empty(t, jar.read(partial))

	// A first cookie that claims more chunks than a portal ever writes, or fewer than two,
	// or no number, is no value: nothing beyond maxChunks cookies is read.
	for _, head := range []string{"6~a", "99999999~a", "1~a", "0~a", "-2~a", "x~a"} {
		many := httptest.NewRequest(http.MethodGet, "/", nil)
		many.AddCookie(&http.Cookie{Name: "p-session", Value: head})
		for i := 1; i < 8; i++ {
			many.AddCookie(&http.Cookie{Name: "p-session-" + strconv.Itoa(i), Value: "b"})
		}
		assert.Empty(t, jar.read(many), head)
	}

	// Shorter again: the stale chunks are deleted.
	w = httptest.NewRecorder()
	require.NoError(t, jar.write(w, back, "short", 0))
	got := map[string]int{}
	for _, c := range w.Result().Cookies() {
		got[c.Name] = c.MaxAge
	}
	assert.Equal(t, map[string]int{"p-session": 0, "p-session-1": -1, "p-session-2": -1}, got)

	// Too long for maxChunks cookies: refused rather than cut.
	assert.Error(t, jar.write(httptest.NewRecorder(), r, strings.Repeat("x", chunkSize*maxChunks+1), 0))
}

// TestSharedMessages: the layout and error pages speak both languages completely.
func TestSharedMessages(t *testing.T) {
	t.Parallel()
	assert.Empty(t, sharedMessages.Missing())
	m := sharedMessages.merge(Messages{"en": {"only.en": "x"}})
	assert.Equal(t, []string{"de:only.en"}, m.Missing())
	assert.Equal(t, "x", m.text("de", "only.en"), "a missing German text falls back to English")
	assert.Equal(t, "no.such.key", m.text("de", "no.such.key"))
	assert.Equal(t, "Angemeldet als Ada", m.text("de", "layout.signedinas", "Ada"))
}

// TestSafeNext: only paths of the portal itself are followed after sign-in.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	s := &Site{base: "/call-center/"}
	for next, want := range map[string]string{
		"/call-center/customers?q=a": "/call-center/customers?q=a",
		"/call-center/":              "/call-center/",
		"/":                          "/call-center/",
		"/call-centerx":              "/call-center/",
		"//evil.test/call-center/":   "/call-center/",
		"https://evil.test/":         "/call-center/",
		"/call-center/\\evil":        "/call-center/",
		"/call-center/\r\nx":         "/call-center/",
		"/call-center/../x":          "/call-center/",
		"/call-center/%2e%2e/x":      "/call-center/",
		"/call-center/.%2e/x":        "/call-center/",
		"/call-center/%2f/evil.test": "/call-center/",
		"/call-center/%5cevil.test":  "/call-center/",
	} {
		assert.Equal(t, want, s.safeNext(next), next)
	}
}
