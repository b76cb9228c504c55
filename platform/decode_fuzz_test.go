package platform_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
)

// fuzzBody is a request body with the field shapes handlers decode: strings, numbers,
// booleans, times as strings, nested objects, lists and pointers.
type fuzzBody struct {
	Name    string            `json:"name"`
	Count   int               `json:"count"`
	Amount  float64           `json:"amount"`
	OK      *bool             `json:"ok"`
	Tags    []string          `json:"tags"`
	Extras  map[string]int    `json:"extras"`
	Nested  *fuzzBody         `json:"nested"`
	Labels  map[string]string `json:"labels"`
	Version json.Number       `json:"version"`
}

// FuzzDecodeJSON checks DecodeJSON against encoding/json used strictly by hand: it never
// panics, answers only 415/413/400 kinds, accepts exactly the bodies that are valid UTF-8,
// within the limit and one JSON value that decodes into the struct without unknown fields,
// and then fills dst as that decoding does.
func FuzzDecodeJSON(f *testing.F) {
	seeds := []struct {
		ct   string
		body string
		max  int64
	}{
		{"application/json", `{"name":"Ada","count":2,"amount":1.5,"ok":true,"tags":["a"],"extras":{"gps":1},"nested":{"name":"x"}}`, 0},
		{"application/json; charset=utf-8", `{"name":"Ada"}`, 0},
		{"application/json", `{"name":"Ada"} {}`, 0},
		{"application/json", `{"name":"Ada"}   `, 0},
		{"application/json", `{"nmae":"Ada"}`, 0},
		{"application/json", `{"count":"2"}`, 0},
		{"application/json", `{"count":1e400}`, 0},
		{"application/json", `{"nested":{"nested":{"extras":{"a":"b"}}}}`, 0},
		{"application/json", "{\"name\":\"\xff\"}", 0},
		{"application/json", "{\"name\":\"\\ud800\"}", 0},
		{"application/json", `{"name":"Ada"`, 0},
		{"application/json", ``, 0},
		{"application/json", `null`, 0},
		{"application/json", `[]`, 0},
		{"application/json", `{"name":"0123456789"}`, 8},
		{"text/plain", `{"name":"Ada"}`, 0},
		{"", `{}`, 0},
		{"application/json; charset", `{}`, 0},
		{"APPLICATION/JSON", `{"version":12}`, 0},
		{"application/json", `{"version":"12"}`, 0},
		{"application/json", `{"Name":"case-insensitive"}`, 0},
		{"application/json", `{"name":"a","nested":{"name":"b","name":"c"},"extras":{"A":1,"a":2}}`, 0},
		{"application/json; charset=latin1", `{"name":"Ada"}`, 0},
		{"application/json", "\ufeff{}", 0},
		{"application/json", `{"name":"a\u0000"}`, 0},
		{"application/json", `{"name":"\\u0000"}`, 0},
		{"application/json", `{"name":"\ud83d\ude97","tags":["\udc00"]}`, 0},
		{"application/json", `{"name":"\u00d6\"\\\/\t\ufffd"}`, 0},
	}
	for _, s := range seeds {
		f.Add(s.ct, []byte(s.body), s.max)
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte, maxBytes int64) {
		if maxBytes > 1<<20 || maxBytes < -1 {
			maxBytes = maxBytes % (1 << 20)
		}
		req := httptest.NewRequest(http.MethodPost, "/x", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		var got fuzzBody
		err := platform.DecodeJSON(httptest.NewRecorder(), req, &got, maxBytes)

		limit := maxBytes
		if limit <= 0 {
			limit = platform.DefaultMaxBodyBytes
		}
		if err != nil {
			var perr *platform.Error
			if !errors.As(err, &perr) {
				t.Fatalf("error %v (%T) is not a *platform.Error", err, err)
			}
			switch perr.Kind {
			case platform.KindUnsupportedMedia, platform.KindTooLarge, platform.KindInvalid:
			default:
				t.Fatalf("error kind %q: want 415, 413 or 400", perr.Kind)
			}
			if perr.Kind == platform.KindTooLarge && int64(len(body)) <= limit {
				t.Fatalf("413 for a %d-byte body under the %d-byte limit", len(body), limit)
			}
		}

		// The oracle: the same checks done by hand with encoding/json.
		var want fuzzBody
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		wantErr := dec.Decode(&want)
		if wantErr == nil && dec.More() {
			wantErr = errors.New("trailing data")
		}
		if wantErr == nil {
			// More reports only values; a stray delimiter or garbage is a syntax error.
			var rest json.RawMessage
			if e := dec.Decode(&rest); e == nil || e.Error() != "EOF" {
				wantErr = errors.New("trailing data")
			}
		}
		mediaOK := isJSONMedia(contentType)
		accept := mediaOK && int64(len(body)) <= limit && utf8.Valid(body) && wantErr == nil
		if accept {
			dec := json.NewDecoder(bytes.NewReader(body))
			accept = !ambiguousKeys(dec, "body")
		}
		if accept {
			unmeant, sure := unmeantText(body)
			if !sure {
				return // a U+FFFD was sent too: the oracle cannot tell it from a lone surrogate's
			}
			accept = !unmeant
		}
		if accept != (err == nil) {
			t.Fatalf("DecodeJSON(%q, %q, max %d) error = %v; oracle says accept=%v (decode error %v, media ok %v)",
				contentType, body, maxBytes, err, accept, wantErr, mediaOK)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v, encoding/json decoded %+v", got, want)
		}
	})
}

func isJSONMedia(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	cs, named := params["charset"]
	return err == nil && mt == "application/json" && (!named || strings.EqualFold(cs, "utf-8"))
}

// fuzzFields are fuzzBody's keys, as its tags spell them.
var fuzzFields = []string{"name", "count", "amount", "ok", "tags", "extras", "nested", "labels", "version"}

// ambiguousKeys is the oracle of the key rule, by encoding/json's tokens: reading one value
// of dec as a fuzzBody ("body"), a map ("map") or anything else, is a key named twice in an
// object, or a fuzzBody key in another case than its tag's?
func ambiguousKeys(dec *json.Decoder, as string) bool {
	tok, err := dec.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			k, _ := dec.Token()
			key := k.(string)
			if seen[key] {
				return true
			}
			seen[key] = true
			child := "any"
			if as == "body" {
				for _, f := range fuzzFields {
					if strings.EqualFold(f, key) && f != key {
						return true
					}
				}
				switch key {
				case "nested":
					child = "body"
				case "extras", "labels":
					child = "map"
				}
			}
			if ambiguousKeys(dec, child) {
				return true
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		for dec.More() {
			if ambiguousKeys(dec, "any") {
				return true
			}
		}
		_, _ = dec.Token()
	}
	return false
}

// FuzzIfMatch checks the If-Match parser: it never panics, accepts only "" and "*" (as 0)
// or a positive version, and reads back every ETag that WriteVersioned writes.
func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{``, `*`, `"3"`, `3`, ` "3" `, `W/"3"`, `"0"`, `"-1"`, `"9223372036854775807"`,
		`"9223372036854775808"`, `""`, `"`, `"3", "4"`, `"+3"`, `"0x10"`, `"1_000"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodPut, "/x", nil)
		req.Header.Set("If-Match", header)
		v, err := platform.IfMatch(req)
		if err != nil {
			var perr *platform.Error
			if !errors.As(err, &perr) || perr.Kind != platform.KindInvalid {
				t.Fatalf("IfMatch(%q) error %v: want a 400", header, err)
			}
			if v != 0 {
				t.Fatalf("IfMatch(%q) = %d with an error", header, v)
			}
			return
		}
		if v < 0 {
			t.Fatalf("IfMatch(%q) = %d", header, v)
		}
		if v > 0 {
			// The version must be the ETag WriteVersioned makes for it.
			rec := httptest.NewRecorder()
			if err := platform.WriteVersioned(rec, http.StatusOK, v, struct{}{}); err != nil {
				t.Fatal(err)
			}
			etag := rec.Header().Get("ETag")
			if etag != strconv.Quote(strconv.FormatInt(v, 10)) {
				t.Fatalf("ETag %q for version %d", etag, v)
			}
			back := httptest.NewRequest(http.MethodPut, "/x", nil)
			back.Header.Set("If-Match", etag)
			if again, err := platform.IfMatch(back); err != nil || again != v {
				t.Fatalf("IfMatch(%q) = %d, %v; want %d", etag, again, err, v)
			}
		}
	})
}

// unmeantText is the oracle's reading of what DecodeJSON refuses in well-formed JSON: a
// string (key or value) holding NUL, or a U+FFFD the body never sent — what encoding/json
// makes of an escaped lone surrogate. sure is false when the body sends U+FFFD itself.
func unmeantText(body []byte) (unmeant, sure bool) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false, true
	}
	var nul, replacement bool
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			nul = nul || strings.ContainsRune(v, 0)
			replacement = replacement || strings.ContainsRune(v, utf8.RuneError)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				walk(k)
				walk(e)
			}
		}
	}
	walk(v)
	switch {
	case nul:
		return true, true
	case !replacement:
		return false, true
	case bytes.Contains(body, []byte("\xef\xbf\xbd")) || bytes.Contains(bytes.ToLower(body), []byte(`\ufffd`)):
		return false, false
	default:
		return true, true
	}
}
