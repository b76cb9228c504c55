package deadletter

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/orangecarrental/orange/events"
)

// Redacted is what the admin API shows in place of a personal value.
const Redacted = "[redacted]"

// errorTextMax bounds the subscriber's answer as the admin API shows it.
const errorTextMax = 300

// letterView is a letter as the admin API shows it: the event with its personal fields
// redacted, the error extensions with the subscriber's answer masked and cut.
type letterView struct {
	ID           string     `json:"id"`
	Trigger      string     `json:"trigger"`
	Status       string     `json:"status"`
	ReceivedAt   time.Time  `json:"receivedAt"`
	Failures     int        `json:"failures"`
	LastFailedAt time.Time  `json:"lastFailedAt"`
	ReplayCount  int        `json:"replayCount"`
	ReplayedAt   *time.Time `json:"replayedAt,omitempty"`
	ReplayedBy   *string    `json:"replayedBy,omitempty"`
	DiscardedAt  *time.Time `json:"discardedAt,omitempty"`
	DiscardedBy  *string    `json:"discardedBy,omitempty"`
	Event        eventView  `json:"event"`
	Error        errorView  `json:"error"`
}

type eventView struct {
	ID              string         `json:"id"`
	Source          string         `json:"source"`
	Type            string         `json:"type"`
	Subject         string         `json:"subject,omitempty"`
	Time            *time.Time     `json:"time,omitempty"`
	DataContentType string         `json:"datacontenttype,omitempty"`
	Extensions      map[string]any `json:"extensions"`
	// Data is the event's JSON data with every personal field redacted (get only).
	Data json.RawMessage `json:"data,omitempty"`
	// DataBytes is the size of data that is not JSON, which is never shown.
	DataBytes int `json:"dataBytes,omitempty"`
}

type errorView struct {
	Destination string `json:"destination,omitempty"`
	Code        *int   `json:"code,omitempty"`
	// Data is the subscriber's answer as text, personal values of the event masked, cut to
	// errorTextMax bytes (get only); Truncated says it was cut (here or by Knative).
	Data      *string `json:"data,omitempty"`
	Truncated bool    `json:"truncated,omitempty"`
}

// summary is the view of a letter in a list: no data, no answer.
func summary(l *Letter) letterView {
	v := letterView{ID: l.ID, Trigger: l.Trigger, Status: l.Status, ReceivedAt: l.ReceivedAt, Failures: l.Failures,
		LastFailedAt: l.LastFailedAt, ReplayCount: l.ReplayCount, ReplayedAt: l.ReplayedAt, ReplayedBy: l.ReplayedBy,
		DiscardedAt: l.DiscardedAt, DiscardedBy: l.DiscardedBy,
		Event: eventView{ID: l.EventID, Source: l.Source, Type: l.Type, Subject: l.Subject, Time: l.Time,
			DataContentType: l.ContentType, Extensions: l.Extensions, DataBytes: len(l.DataBytes)},
		Error: errorView{Destination: l.ErrorDest, Code: l.ErrorCode},
	}
	if v.Event.Extensions == nil {
		v.Event.Extensions = map[string]any{}
	}
	return v
}

// detail is the view of one letter: the summary plus the redacted data and the masked
// answer.
func detail(l *Letter) letterView {
	v := summary(l)
	var personal []string
	if l.Data != nil {
		v.Event.Data, personal = redact(l.Data)
	}
	if l.ErrorData != nil {
		text, cut := errorText(*l.ErrorData, personal)
		v.Error.Data, v.Error.Truncated = &text, cut
	}
	return v
}

// redact returns data with the value of every personal field (events.PersonalFields, at any
// depth: a stranger's event may nest them) replaced by Redacted, and the values it replaced.
func redact(data json.RawMessage) (json.RawMessage, []string) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, nil
	}
	var found []string
	events.EachPersonal(v, func(obj map[string]any, key string) {
		if obj[key] != nil {
			collect(obj[key], &found)
			obj[key] = Redacted
		}
	})
	maskCredentials(v, &found)
	out, err := json.Marshal(v)
	if err != nil {
		return nil, found
	}
	return out, found
}

// collect gathers the text of a personal value (nested values too).
func collect(x any, into *[]string) {
	switch t := x.(type) {
	case string:
		*into = append(*into, t)
	case map[string]any:
		for _, v := range t {
			collect(v, into)
		}
	case []any:
		for _, v := range t {
			collect(v, into)
		}
	default:
		raw, _ := json.Marshal(t)
		*into = append(*into, string(raw))
	}
}

// errorText decodes knativeerrordata (base64 of the subscriber's answer, which Knative cuts
// to 1024 characters), masks every personal value of the event in it — whole, and each of
// its words, since an answer may quote a name apart from the address — and cuts it to
// errorTextMax bytes. A cut text loses its last, maybe partial, word too: half an address
// is still an address.
func errorText(encoded string, personal []string) (string, bool) {
	cut := len(encoded) >= 1024
	n := len(encoded) / 4 * 4
	raw, err := base64.StdEncoding.DecodeString(encoded[:n])
	if err != nil {
		raw = []byte(encoded) // not base64: shown as text, masked and cut alike
	}
	text := strings.ToValidUTF8(string(raw), "\uFFFD")
	var needles []string
	for _, p := range personal {
		needles = append(needles, p)
		needles = append(needles, strings.FieldsFunc(p, func(r rune) bool {
			return unicode.IsSpace(r) || strings.ContainsRune(`<>,;"'()[]`, r)
		})...)
	}
	text = maskAll(text, needles)
	if len(text) > errorTextMax {
		text, cut = text[:errorTextMax], true
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
	}
	if cut {
		if i := strings.LastIndexFunc(text, unicode.IsSpace); i >= 0 {
			text = text[:i]
		} else {
			text = ""
		}
	}
	return text, cut
}

// maskAll replaces every needle in text by Redacted: in any case (an answer may quote
// MALLORY@EXAMPLE.ORG for mallory@example.org), and a needle with six digits or more (a phone
// number, a date of birth) by its digits in order, however the answer spaced or punctuated
// them (+49 170 1234567 for +491701234567). Longest first, so a whole value is masked before
// its words; needles shorter than two characters are left alone.
func maskAll(text string, needles []string) string {
	slices.SortFunc(needles, func(a, b string) int { return len(b) - len(a) })
	var alternatives []string
	for _, needle := range needles {
		if len(needle) >= 2 {
			alternatives = append(alternatives, needlePattern(needle))
		}
	}
	if len(alternatives) == 0 {
		return text
	}
	re, err := regexp.Compile("(?i)" + strings.Join(alternatives, "|"))
	if err != nil { // cannot happen: every alternative is quoted
		return Redacted
	}
	return re.ReplaceAllLiteralString(text, Redacted)
}

// needlePattern is the regular expression maskAll looks for needle with: the needle as it
// is, and for one with six digits or more also its digits alone, separated in any way a
// phone number is written (spaces, "-", "/", ".", brackets, a trunk "(0)"). The needle
// itself comes first, so an e-mail address with digits in it is masked whole, not around
// them.
func needlePattern(needle string) string {
	var digits []string
	for _, r := range needle {
		if r >= '0' && r <= '9' {
			digits = append(digits, string(r))
		}
	}
	if len(digits) < 6 {
		return regexp.QuoteMeta(needle)
	}
	return regexp.QuoteMeta(needle) + "|" + strings.Join(digits, `(?:[\s\-./()]|\(0\))*`)
}

// credentialFields are payload fields that are no person's data but open something: a
// customer event's verificationToken verifies its address for whoever holds it, until it is
// used or expires. A letter shows them masked as personal values are (the stored letter
// keeps them, for a replay).
var credentialFields = []string{"verificationToken"}

// maskCredentials replaces every credential field of the decoded JSON v, at any depth, by
// Redacted, adding its value to found (so the subscriber's answer is masked of it too).
func maskCredentials(v any, found *[]string) {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if slices.ContainsFunc(credentialFields, func(f string) bool { return strings.EqualFold(f, k) }) {
				if val != nil {
					collect(val, found)
					t[k] = Redacted
				}
				continue
			}
			maskCredentials(val, found)
		}
	case []any:
		for _, val := range t {
			maskCredentials(val, found)
		}
	}
}
