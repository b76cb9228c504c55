package platform_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/platform"
)

type booking struct {
	Name   string `json:"name"`
	Seats  int    `json:"seats"`
	Pickup struct {
		Code string `json:"code"`
	} `json:"pickup"`
	Extras []struct {
		Code     string `json:"code"`
		Quantity int    `json:"quantity"`
	} `json:"extras,omitempty"`
}

// decodeMax is the body limit of the decode tests: small, so oversize bodies stay small too.
const decodeMax = 64

// decodeHandler decodes a booking and echoes it.
func decodeHandler() platform.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var b booking
		if err := platform.DecodeJSON(w, r, &b, decodeMax); err != nil {
			return err
		}
		return platform.WriteJSON(w, http.StatusOK, b)
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	// The wrapper reports the Content-Length the server saw, to prove which requests had none.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Content-Length", strconv.FormatInt(r.ContentLength, 10))
		decodeHandler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name        string
		contentType string
		body        string
		// unsized sends the body without a Content-Length (chunked over the network).
		unsized   bool
		wantKind  platform.Kind // "" means success
		wantField string
		wantName  string
	}{
		{name: "good body", contentType: "application/json", body: `{"name":"Ada","seats":4}`, wantName: "Ada"},
		{name: "charset parameter accepted", contentType: "application/json; charset=utf-8", body: `{"name":"Bo"}`, wantName: "Bo"},
		{name: "trailing whitespace accepted", contentType: "application/json", body: "{\"name\":\"Cy\"}\n\n", wantName: "Cy"},
		{name: "missing content type", contentType: "", body: `{"name":"Ada"}`, wantKind: platform.KindUnsupportedMedia},
		{name: "wrong content type", contentType: "text/plain", body: `{"name":"Ada"}`, wantKind: platform.KindUnsupportedMedia},
		{name: "json look-alike content type", contentType: "application/jsonp", body: `{"name":"Ada"}`, wantKind: platform.KindUnsupportedMedia},
		{name: "malformed content type", contentType: "application/json; =", body: `{"name":"Ada"}`, wantKind: platform.KindUnsupportedMedia},
		{name: "oversize with content length", contentType: "application/json", body: `{"name":"` + strings.Repeat("a", decodeMax) + `"}`, wantKind: platform.KindTooLarge},
		{name: "oversize without content length", contentType: "application/json", body: `{"name":"` + strings.Repeat("a", decodeMax) + `"}`, unsized: true, wantKind: platform.KindTooLarge},
		{name: "oversize after the first value", contentType: "application/json", body: `{"name":"a"}` + strings.Repeat(" ", decodeMax), unsized: true, wantKind: platform.KindTooLarge},
		{name: "malformed JSON", contentType: "application/json", body: `{"name":"Ada",}`, wantKind: platform.KindInvalid},
		{name: "truncated JSON", contentType: "application/json", body: `{"name":"Ada"`, wantKind: platform.KindInvalid},
		{name: "empty body", contentType: "application/json", body: ``, wantKind: platform.KindInvalid},
		{name: "unknown field", contentType: "application/json", body: `{"name":"Ada","colour":"red"}`, wantKind: platform.KindInvalid, wantField: "colour"},
		{name: "wrong type", contentType: "application/json", body: `{"seats":"four"}`, wantKind: platform.KindInvalid, wantField: "seats"},
		{name: "wrong nested type", contentType: "application/json", body: `{"pickup":{"code":5}}`, wantKind: platform.KindInvalid, wantField: "pickup.code"},
		// The path names the item: encoding/json's own Field leaves the index out.
		{name: "wrong type in a list", contentType: "application/json", body: `{"extras":[{"quantity":1},{"quantity":"2"}]}`, wantKind: platform.KindInvalid, wantField: "extras[1].quantity"},
		{name: "wrong type, a list in a list's item", contentType: "application/json", body: ` {"seats":1, "extras":[{},{"code":[1]}]}`, wantKind: platform.KindInvalid, wantField: "extras[1].code"},
		{name: "an object for a string", contentType: "application/json", body: `{"name":{"first":"Ada"}}`, wantKind: platform.KindInvalid, wantField: "name"},
		// A number beyond float64's range: still the item's path, not encoding/json's Go names.
		{name: "a number out of range in a list", contentType: "application/json", body: `{"extras":[{"quantity":1e400}]}`, wantKind: platform.KindInvalid, wantField: "extras[0].quantity"},
		{name: "an array for the body", contentType: "application/json", body: `[]`, wantKind: platform.KindInvalid},
		{name: "two JSON values", contentType: "application/json", body: `{"name":"Ada"}{"name":"Bo"}`, wantKind: platform.KindInvalid},
		{name: "value then garbage", contentType: "application/json", body: `{"name":"Ada"} x`, wantKind: platform.KindInvalid},
		// encoding/json turns each invalid UTF-8 byte inside a string into U+FFFD and carries
		// on: the attack stores a name the caller never sent. Every one is refused whole.
		{name: "any script accepted", contentType: "application/json", body: `{"name":"Zoë 山田 Ólafsdóttir"}`, wantName: "Zoë 山田 Ólafsdóttir"},
		{name: "invalid UTF-8 in a string", contentType: "application/json", body: "{\"name\":\"Ad\xffa\"}", wantKind: platform.KindInvalid},
		{name: "invalid UTF-8 in a nested string", contentType: "application/json", body: "{\"pickup\":{\"code\":\"BER\xc3\"}}", wantKind: platform.KindInvalid},
		{name: "overlong encoding", contentType: "application/json", body: "{\"name\":\"\xc0\xafetc\"}", wantKind: platform.KindInvalid},
		{name: "UTF-8 encoded surrogate", contentType: "application/json", body: "{\"name\":\"\xed\xa0\x80\"}", wantKind: platform.KindInvalid},
		{name: "invalid UTF-8 in an unknown key", contentType: "application/json", body: "{\"name\":\"Ada\",\"\xfe\":1}", wantKind: platform.KindInvalid},
		{name: "invalid UTF-8 after the value", contentType: "application/json", body: "{\"name\":\"Ada\"}\n\x80", wantKind: platform.KindInvalid},
		// PostgreSQL's text refuses NUL; encoding/json turns a lone surrogate into U+FFFD.
		{name: "NUL escaped in a string", contentType: "application/json", body: `{"name":"Ad\u0000a"}`, wantKind: platform.KindInvalid},
		{name: "NUL escaped in a nested string", contentType: "application/json", body: `{"pickup":{"code":"\u0000"}}`, wantKind: platform.KindInvalid},
		{name: "lone high surrogate", contentType: "application/json", body: `{"name":"\ud800x"}`, wantKind: platform.KindInvalid},
		{name: "lone low surrogate", contentType: "application/json", body: `{"name":"\uDC00"}`, wantKind: platform.KindInvalid},
		{name: "surrogate pair accepted", contentType: "application/json", body: `{"name":"\ud83d\ude97"}`, wantName: "🚗"},
		// One body, one meaning: encoding/json takes the last of a key named twice and a key
		// in any case, where another reader of the bytes may take the first or none.
		{name: "a key named twice", contentType: "application/json", body: `{"name":"Ada","name":"Bo"}`, wantKind: platform.KindInvalid, wantField: "name"},
		{name: "a key twice in a nested object", contentType: "application/json", body: `{"pickup":{"code":"A","code":"B"}}`, wantKind: platform.KindInvalid, wantField: "pickup.code"},
		{name: "a key twice in a list's item", contentType: "application/json", body: `{"extras":[{},{"code":"A","code":"B"}]}`, wantKind: platform.KindInvalid, wantField: "extras[1].code"},
		{name: "a key in another case", contentType: "application/json", body: `{"NAME":"Ada"}`, wantKind: platform.KindInvalid, wantField: "NAME"},
		{name: "a nested key in another case", contentType: "application/json", body: `{"pickup":{"Code":"A"}}`, wantKind: platform.KindInvalid, wantField: "pickup.Code"},
		{name: "a key and its other case", contentType: "application/json", body: `{"name":"Ada","Name":"Bo"}`, wantKind: platform.KindInvalid, wantField: "Name"},
		{name: "another charset", contentType: "application/json; charset=latin1", body: `{"name":"Ada"}`, wantKind: platform.KindUnsupportedMedia},
		{name: "charset in capitals accepted", contentType: "application/json; charset=UTF-8", body: `{"name":"Ada"}`, wantName: "Ada"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()

			// Directly: the kind and the field of the returned error.
			req := httptest.NewRequest(http.MethodPost, "/bookings", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.unsized {
				req.ContentLength = -1
			}
			var got booking
			err := platform.DecodeJSON(httptest.NewRecorder(), req, &got, decodeMax)
			if tc.wantKind == "" {
				require.NoError(t, err)
				assert.Equal(t, tc.wantName, got.Name)
			} else {
				require.Error(t, err)
				assert.Equal(t, tc.wantKind, platform.KindOf(err), "error: %v", err)
				if tc.wantField != "" {
					var pe *platform.Error
					require.ErrorAs(t, err, &pe)
					require.Len(t, pe.Fields, 1)
					assert.Equal(t, tc.wantField, pe.Fields[0].Field)
				}
			}

			// Over the network: the status and the problem document the caller sees.
			var body io.Reader = strings.NewReader(tc.body)
			if tc.unsized {
				body = io.NopCloser(body) // hides the length, so the client sends it chunked
			}
			hreq, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/bookings", body)
			require.NoError(t, err)
			if tc.unsized {
				hreq.ContentLength = -1
			}
			if tc.contentType != "" {
				hreq.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := srv.Client().Do(hreq)
			require.NoError(t, err)
			defer resp.Body.Close()
			if tc.unsized {
				require.Equal(t, "-1", resp.Header.Get("X-Seen-Content-Length"), "request must arrive without a Content-Length")
			} else {
				require.Equal(t, strconv.Itoa(len(tc.body)), resp.Header.Get("X-Seen-Content-Length"))
			}

			if tc.wantKind == "" {
				raw, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", raw)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Contains(t, string(raw), `"name":"`+tc.wantName+`"`)
				return
			}
			p := readProblem(t, resp, tc.wantKind.Status())
			assert.True(t, strings.HasSuffix(p.Type, "/"+string(tc.wantKind)), "type %q must end with the kind %q", p.Type, tc.wantKind)
			assert.Equal(t, "/bookings", p.Instance)
			assert.NotEmpty(t, p.Detail)
			// Go's type names are ours, not the caller's: "must be a whole number", never "int".
			assert.NotRegexp(t, `\b(int|int64|float64|booking|struct)\b`, p.Detail)
			if tc.wantField != "" {
				require.Len(t, p.Errors, 1)
				assert.Equal(t, tc.wantField, p.Errors[0].Field)
				assert.NotEmpty(t, p.Errors[0].Reason)
				assert.NotRegexp(t, `\b(int|int64|float64|booking|struct)\b`, p.Errors[0].Reason)
			} else {
				assert.Empty(t, p.Errors)
			}
		})
	}
}

func TestDecodeJSONStatuses(t *testing.T) {
	t.Parallel()
	// The kinds above must mean these statuses; a change to the table must show here.
	assert.Equal(t, http.StatusUnsupportedMediaType, platform.KindUnsupportedMedia.Status())
	assert.Equal(t, http.StatusRequestEntityTooLarge, platform.KindTooLarge.Status())
	assert.Equal(t, http.StatusBadRequest, platform.KindInvalid.Status())
}

func TestDecodeJSONDefaultLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		size     int
		wantKind platform.Kind
	}{
		{name: "just under the default limit", size: platform.DefaultMaxBodyBytes - 16},
		{name: "over the default limit", size: platform.DefaultMaxBodyBytes + 1, wantKind: platform.KindTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A JSON string padded to size bytes in all.
			body := `{"name":"` + strings.Repeat("a", tc.size-len(`{"name":""}`)) + `"}`
			require.Len(t, body, tc.size)
			req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body)))
			req.Header.Set("Content-Type", "application/json")
			var got booking
			err := platform.DecodeJSON(httptest.NewRecorder(), req, &got, 0)
			if tc.wantKind == "" {
				require.NoError(t, err)
				return
			}
			assert.Equal(t, tc.wantKind, platform.KindOf(err))
		})
	}
}
