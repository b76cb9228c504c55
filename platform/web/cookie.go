package web

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// codec seals values into cookie values: JSON, encrypted and authenticated with AES-256-GCM
// under a key derived (HKDF-SHA256) from each configured session key for one portal and one
// purpose. The first key seals; every key opens, so keys rotate without signing anybody out.
type codec struct {
	aeads []cipher.AEAD
	// aad binds a sealed value to its portal and purpose, on top of the derived key.
	aad []byte
}

// cookieVersion prefixes every sealed value, so a future format can tell old cookies apart.
const cookieVersion = "v1."

func decodeKeys(raw []string) ([][]byte, error) {
	var out [][]byte
	for i, k := range raw {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("PORTAL_SESSION_KEYS: key %d is not 32 bytes in base64", i+1)
		}
		out = append(out, b)
	}
	return out, nil
}

func newCodec(keys [][]byte, service, purpose string) (*codec, error) {
	info := "orange-car-rental portal cookie/" + service + "/" + purpose
	c := &codec{aad: []byte(info)}
	for _, k := range keys {
		derived, err := hkdf.Key(sha256.New, k, nil, info, 32)
		if err != nil {
			return nil, err
		}
		block, err := aes.NewCipher(derived)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.aeads = append(c.aeads, aead)
	}
	if len(c.aeads) == 0 {
		return nil, errors.New("web: no session key")
	}
	return c, nil
}

// seal returns v sealed as a cookie-safe string.
func (c *codec) seal(v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	aead := c.aeads[0]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	sealed := aead.Seal(nonce, nonce, plain, c.aad)
	return cookieVersion + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// errBadCookie is any cookie that does not open: tampered, of another portal or purpose,
// sealed with a key no longer configured, or malformed. Callers treat it as no cookie.
var errBadCookie = errors.New("web: cookie does not open")

// open decodes a value seal made into v.
func (c *codec) open(s string, v any) error {
	body, ok := strings.CutPrefix(s, cookieVersion)
	if !ok {
		return errBadCookie
	}
	sealed, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return errBadCookie
	}
	for _, aead := range c.aeads {
		if len(sealed) < aead.NonceSize()+aead.Overhead() {
			return errBadCookie
		}
		plain, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], c.aad)
		if err != nil {
			continue
		}
		if json.Unmarshal(plain, v) != nil {
			return errBadCookie
		}
		return nil
	}
	return errBadCookie
}

// chunkSize keeps each cookie (name, value and attributes) under the 4096 bytes every
// browser stores; maxChunks bounds what a request may make us read.
const (
	chunkSize = 3800
	maxChunks = 5
)

// cookieJar writes and reads one logical cookie of a portal, split across several real
// cookies when its value is long (Keycloak's three tokens together can pass 4 KB): the first
// cookie holds "<n>~" and the first part, <name>-1 … <name>-<n-1> the rest.
type cookieJar struct {
	name string // without the __Host-/__Secure- prefix
	path string
	// hostOnly: Path=/ allows the __Host- prefix over TLS (no Domain, Secure, Path=/);
	// under a narrower Path only __Secure- is possible.
	hostOnly bool
}

// cookieName is the real name of chunk i for a request over TLS or not.
func (j cookieJar) cookieName(secure bool, i int) string {
	n := j.name
	if i > 0 {
		n += "-" + strconv.Itoa(i)
	}
	switch {
	case secure && j.hostOnly:
		return "__Host-" + n
	case secure:
		return "__Secure-" + n
	}
	return n
}

// read returns the logical value the request carries ("" when none or malformed).
func (j cookieJar) read(r *http.Request) string {
	secure := requestTLS(r)
	first, err := r.Cookie(j.cookieName(secure, 0))
	if err != nil {
		return ""
	}
	countStr, rest, chunked := strings.Cut(first.Value, "~")
	if !chunked {
		return first.Value
	}
	n, err := strconv.Atoi(countStr)
	if err != nil || n < 2 || n > maxChunks {
		return ""
	}
	var b strings.Builder
	b.WriteString(rest)
	for i := 1; i < n; i++ {
		c, err := r.Cookie(j.cookieName(secure, i))
		if err != nil {
			return ""
		}
		b.WriteString(c.Value)
	}
	return b.String()
}

// write sets value (maxAge 0: until the browser closes), deleting chunks a longer earlier
// value left behind.
func (j cookieJar) write(w http.ResponseWriter, r *http.Request, value string, maxAge int) error {
	secure := requestTLS(r)
	var parts []string
	for len(value) > chunkSize {
		parts = append(parts, value[:chunkSize])
		value = value[chunkSize:]
	}
	parts = append(parts, value)
	if len(parts) > maxChunks {
		return fmt.Errorf("web: cookie %s would need %d parts", j.name, len(parts))
	}
	if len(parts) > 1 {
		parts[0] = strconv.Itoa(len(parts)) + "~" + parts[0]
	}
	for i, p := range parts {
		http.SetCookie(w, j.cookie(secure, i, p, maxAge))
	}
	for i := len(parts); i < maxChunks; i++ {
		if _, err := r.Cookie(j.cookieName(secure, i)); err == nil {
			http.SetCookie(w, j.cookie(secure, i, "", -1))
		}
	}
	return nil
}

// clear deletes the logical cookie and every chunk of it the request carries.
func (j cookieJar) clear(w http.ResponseWriter, r *http.Request) {
	secure := requestTLS(r)
	for i := range maxChunks {
		if _, err := r.Cookie(j.cookieName(secure, i)); err == nil {
			http.SetCookie(w, j.cookie(secure, i, "", -1))
		}
	}
}

func (j cookieJar) cookie(secure bool, i int, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: j.cookieName(secure, i), Value: value, Path: j.path, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	}
}

// SealedCookie is a small value a portal keeps in the browser outside the session — e.g.
// what a guest without a session needs on the next page — sealed like the session (AES-256-GCM
// under a key of this portal and this cookie's name): the browser carries it but can neither
// read nor change it, and a copy from disk shows nothing. HttpOnly, SameSite=Lax, Secure
// over TLS, only on path, gone when the browser closes.
type SealedCookie struct {
	jar   cookieJar
	codec *codec
}

// SealedCookie returns the portal's sealed cookie name, sent only to pages under path.
func (s *Site) SealedCookie(name, path string) (*SealedCookie, error) {
	c, err := newCodec(s.keys, s.opts.Service, "cookie "+name)
	if err != nil {
		return nil, err
	}
	return &SealedCookie{jar: cookieJar{name: s.cookieBase() + "-" + name, path: path, hostOnly: path == "/"}, codec: c}, nil
}

// Set seals v into the cookie.
func (c *SealedCookie) Set(w http.ResponseWriter, r *http.Request, v any) error {
	sealed, err := c.codec.seal(v)
	if err != nil {
		return err
	}
	return c.jar.write(w, r, sealed, 0)
}

// Get opens the request's cookie into v; false when there is none or it does not open
// (tampered, another portal's or another cookie's, sealed with a retired key).
func (c *SealedCookie) Get(r *http.Request, v any) bool {
	raw := c.jar.read(r)
	return raw != "" && c.codec.open(raw, v) == nil
}
