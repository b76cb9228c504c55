package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orangecarrental/orange/platform"
)

// FuzzUnverifiedIssuer checks the issuer peek that routes a token to its verifier: it never
// panics, names an issuer only for a three-part token whose middle part is base64url JSON
// carrying that `iss`, and reads back the issuer of every token built around a claims set.
func FuzzUnverifiedIssuer(f *testing.F) {
	enc := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		"", ".", "..", "...", "a.b.c",
		"eyJhbGciOiJSUzI1NiJ9." + enc([]byte(`{"iss":"http://issuer.test/realms/orange-car-rental","sub":"x"}`)) + ".sig",
		"h." + enc([]byte(`{"iss":1}`)) + ".s",
		"h." + enc([]byte(`{"iss":"a","iss":"b"}`)) + ".s",
		"h." + enc([]byte(`{"ISS":"a"}`)) + ".s",
		"h." + enc([]byte(`{"iss":"a"}`)) + "=.s",
		"h." + base64.StdEncoding.EncodeToString([]byte(`{"iss":"a?>"}`)) + ".s",
		"h." + enc([]byte(`null`)) + ".s",
		"h." + enc([]byte("{\"iss\":\"\xff\"}")) + ".s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		iss := unverifiedIssuer(token)
		if iss != "" {
			parts := strings.Split(token, ".")
			if len(parts) != 3 {
				t.Fatalf("issuer %q from a token of %d parts", iss, len(parts))
			}
			raw, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatalf("issuer %q from a payload that is not base64url: %v", iss, err)
			}
			var c map[string]any
			if err := json.Unmarshal(raw, &c); err != nil {
				t.Fatalf("issuer %q from a payload that is not a JSON object: %v", iss, err)
			}
		}
		// Whatever the fuzzer made of the token, the same claims with the fuzzed string as
		// issuer must be read back (as encoding/json round-trips it).
		payload, err := json.Marshal(map[string]string{"iss": token})
		if err != nil {
			t.Fatal(err)
		}
		var want struct{ Iss string }
		_ = json.Unmarshal(payload, &want)
		built := "h." + base64.RawURLEncoding.EncodeToString(payload) + ".s"
		if got := unverifiedIssuer(built); got != want.Iss {
			t.Fatalf("unverifiedIssuer(%q) = %q, want %q", built, got, want.Iss)
		}
	})
}

// FuzzBearer checks the Authorization header parser: it never panics; no header is no
// token and no error; otherwise either an unauthorized error or the trimmed, non-empty
// token after a case-insensitive "Bearer " scheme.
func FuzzBearer(f *testing.F) {
	for _, s := range []string{"", "Bearer abc", "bearer abc", "BEARER  abc ", "Bearer", "Bearer ", "Bearer  ",
		"Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Bearerabc", "Bearer\tabc", "Bearer a b", " Bearer abc", "Bearer \u00a0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		token, err := bearer(r)
		switch {
		case header == "":
			if token != "" || err != nil {
				t.Fatalf("no header: got %q, %v", token, err)
			}
		case err != nil:
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindUnauthorized {
				t.Fatalf("bearer(%q) error %v: want unauthorized", header, err)
			}
			if token != "" {
				t.Fatalf("bearer(%q) = %q with an error", header, token)
			}
		default:
			scheme, rest, ok := strings.Cut(header, " ")
			if !ok || !strings.EqualFold(scheme, "bearer") {
				t.Fatalf("bearer(%q) = %q: the scheme is not Bearer", header, token)
			}
			if token == "" || token != strings.TrimSpace(token) || token != strings.TrimSpace(rest) {
				t.Fatalf("bearer(%q) = %q", header, token)
			}
		}
	})
}
