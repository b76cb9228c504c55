package auth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/auth/authtest"
)

// FuzzVerify hands fuzzed tokens, seeded with real ones, to the people's Verifier, the
// delivery verifier and the Authenticator in front of a function. None may panic; each
// refusal is an unauthorized error; and a token is accepted only if it carries, byte for
// byte, the header, claims and signature of a token the issuers signed (base64url has more
// than one spelling of some byte strings, so the text itself may differ).
func FuzzVerify(f *testing.F) {
	id := authtest.New(f)
	genuine := map[string]bool{}
	addGenuine := func(tok string) {
		genuine[decoded(tok)] = true
		f.Add(tok)
	}
	for _, user := range []string{"alice", "frank", "service:reservations-api"} {
		addGenuine(id.Token(f, user))
	}
	delivery := strings.TrimPrefix(id.DeliveryBearer(f, platform.Trigger("reservations-api-reservation-confirmed"), "payments-api"), "Bearer ")
	addGenuine(delivery)
	alice := id.Token(f, "alice")
	parts := strings.Split(alice, ".")
	enc := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{
		"", "a.b.c", "..", parts[0] + "." + parts[1] + ".",
		enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2],
		parts[0] + "." + enc([]byte(`{"iss":"`+authtest.IssuerURL+`","sub":"x","aud":"orange-api","exp":1e300}`)) + "." + parts[2],
		parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2],
		parts[0] + "." + parts[1] + "=." + parts[2],
		// Regression: the JWS JSON serialization of a genuine token, which go-jose parses and
		// the Verifier accepted (RFC 7519 allows only the compact form).
		jsonJWS(alice), jsonJWS(delivery),
	} {
		f.Add(s)
	}
	authn := id.Authenticator("payments-api")
	f.Fuzz(func(t *testing.T, token string) {
		ctx := context.Background()
		accepted := func(what string, err error) bool {
			if err == nil {
				return true
			}
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindUnauthorized {
				t.Fatalf("%s(%q): error %v, want unauthorized", what, token, err)
			}
			return false
		}
		check := func(what string, ok bool) {
			if ok && !genuine[decoded(token)] {
				t.Fatalf("%s accepted a token that is not one the issuers signed, as a compact JWT: %q", what, token)
			}
		}
		_, err := id.Verifier.Verify(ctx, token)
		check("Verifier.Verify", accepted("Verifier.Verify", err))
		_, err = id.Deliveries.Verify(ctx, token)
		check("DeliveryVerifier.Verify", accepted("DeliveryVerifier.Verify", err))

		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header["Authorization"] = []string{"Bearer " + token}
		c, err := authn.Authenticate(ctx, r)
		ok := accepted("Authenticate", err)
		if strings.TrimSpace(token) == "" {
			ok = ok && c.Subject != "" // a header without a token is a refusal, not a caller
		}
		check("Authenticate", ok)
	})
}

// jsonJWS re-wraps a compact JWS in the flattened JSON serialization.
func jsonJWS(tok string) string {
	p := strings.Split(tok, ".")
	return `{"protected":"` + p[0] + `","payload":"` + p[1] + `","signature":"` + p[2] + `"}`
}

// decoded is a JWS compact token's three parts decoded, so that tokens differing only in
// how base64url spells the same bytes compare equal; "" when it is not three such parts.
func decoded(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	var b bytes.Buffer
	for _, p := range parts {
		raw, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return ""
		}
		b.Write(raw)
		b.WriteByte(0)
	}
	return b.String()
}
