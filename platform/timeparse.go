package platform

import (
	"errors"
	"strings"
	"time"
)

// ParseTime reads an RFC 3339 time as every function takes one from outside — a request's
// field or query parameter, an event's data — fractional seconds allowed, surrounding space
// ignored. Two things Go's parser lets through are held to what happens after:
//
//   - An offset must lie within ±23:59. time.Parse takes +24:00 and minutes of 60, and the
//     time it returns cannot be written back (MarshalJSON fails): a 500 for the caller's typo,
//     or a pickup stored a day before the date written.
//   - The time is rounded to the microsecond, the precision PostgreSQL keeps: it is judged
//     (its price, its branch's hours, its order with another time) as it will be stored. A
//     return 400 ns past 25 hours was charged two days and stored as exactly 25 hours.
//
// And what RFC 3339 allows and Go's parser does not is taken, so that a check of the format
// (sync-worker's JSON Schema date-time) and the function the time is for agree: a lower-case
// "t" and "z", and a leap second (23:59:60 UTC), read as the second after it, as PostgreSQL
// reads it. A comma before the fraction, which Go takes, RFC 3339 does not.
func ParseTime(raw string) (time.Time, error) {
	raw = strings.TrimSpace(raw)
	if strings.Contains(raw, ",") {
		return time.Time{}, errNotRFC3339
	}
	b := []byte(raw)
	if len(b) > 10 && b[10] == 't' {
		b[10] = 'T'
	}
	if n := len(b); n > 0 && b[n-1] == 'z' {
		b[n-1] = 'Z'
	}
	leap := len(b) > 19 && b[16] == ':' && b[17] == '6' && b[18] == '0'
	if leap { // time.Parse refuses second 60: read as :59, then one second on
		b[17], b[18] = '5', '9'
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return time.Time{}, err
	}
	if leap {
		if t.UTC().Format("15:04:05") != "23:59:59" {
			return time.Time{}, errNotRFC3339
		}
		t = t.Add(time.Second)
	}
	// The offset as written: Go reads "+00:60" as an hour, and "+24:00" as a day.
	if n := len(raw); n > 6 && (raw[n-6] == '+' || raw[n-6] == '-') && raw[n-3] == ':' {
		if raw[n-5:n-3] > "23" || raw[n-2:] > "59" {
			return time.Time{}, errOffset
		}
	}
	if !OffsetWithinADay(t) {
		return time.Time{}, errOffset
	}
	return t.Round(time.Microsecond), nil
}

// TimeReason is the reason of a field error for raw, a time ParseTime refused: missing, or
// not RFC 3339 with an offset within ±23:59; example is one that is.
func TimeReason(raw, example string) string {
	if strings.TrimSpace(raw) == "" {
		return "required: an RFC 3339 time such as " + example
	}
	return "must be an RFC 3339 time such as " + example + ", its offset within ±23:59"
}

// OffsetWithinADay tells whether t's offset from UTC lies within ±23:59, as RFC 3339 has it
// and as time.Time.MarshalJSON can write it back; a time parsed elsewhere (the CloudEvents
// SDK's) is held to it too.
func OffsetWithinADay(t time.Time) bool {
	_, offset := t.Zone()
	return offset > -24*3600 && offset < 24*3600
}

var (
	errOffset     = errors.New("the offset from UTC must lie within ±23:59")
	errNotRFC3339 = errors.New("not an RFC 3339 time")
)
