package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseISODuration reads an ISO-8601 duration as Knative's delivery spec does
// (github.com/rickb777/date/period: Parse, then Duration): "PT0.5S", "PT1M", "P1DT2H",
// "P1W". Each number keeps one decimal digit (PT0.25S is 0.2 s, as in Knative), a year is
// 365.2425 days and a month a twelfth of that. Negative durations are refused: no delivery
// field means anything by one.
func ParseISODuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if s == "P0" {
		return 0, nil
	}
	rest := s
	switch rest[0] {
	case '-':
		return 0, fmt.Errorf("%q: a negative duration is not allowed", s)
	case '+':
		rest = rest[1:]
	}
	if rest == "" || rest[0] != 'P' {
		return 0, fmt.Errorf("%q: an ISO-8601 duration starts with P (PT0.5S, PT1M)", s)
	}
	rest = rest[1:]
	datePart, timePart, hasTime := strings.Cut(rest, "T")

	// Tenths of each unit, as period keeps them.
	var years, months, weeks, days, hours, minutes, seconds int64
	found := false
	var err error
	if hasTime {
		for _, f := range []struct {
			mark byte
			to   *int64
		}{{'H', &hours}, {'M', &minutes}, {'S', &seconds}} {
			if timePart, err = takeField(timePart, f.mark, f.to, &found); err != nil {
				return 0, fmt.Errorf("%q: %w", s, err)
			}
		}
		if timePart != "" {
			return 0, fmt.Errorf("%q: unexpected %q", s, timePart)
		}
	}
	for _, f := range []struct {
		mark byte
		to   *int64
	}{{'Y', &years}, {'M', &months}, {'W', &weeks}, {'D', &days}} {
		if datePart, err = takeField(datePart, f.mark, f.to, &found); err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
	}
	if datePart != "" {
		return 0, fmt.Errorf("%q: unexpected %q", s, datePart)
	}
	if !found {
		return 0, fmt.Errorf("%q: expected a number with Y, M, W, D, H, M or S", s)
	}
	if years < 0 || months < 0 || weeks < 0 || days < 0 || hours < 0 || minutes < 0 || seconds < 0 {
		return 0, fmt.Errorf("%q: a negative duration is not allowed", s)
	}
	for _, v := range []int64{years, months, weeks, days, hours, minutes, seconds} {
		if v > 1e9 {
			return 0, fmt.Errorf("%q: too long", s)
		}
	}
	days += weeks * 7
	// The same fixed-point arithmetic as period.Duration: days in 1e-7 units, then
	// 8640 µs each; hours, minutes and seconds in milliseconds.
	daysE7 := years*365242500 + months*30436875 + days*1000000
	if daysE7 > math.MaxInt64/8640/1000 {
		return 0, fmt.Errorf("%q: too long", s)
	}
	d := time.Duration(daysE7*8640)*time.Microsecond +
		time.Duration(hours*360000+minutes*6000+seconds*100)*time.Millisecond
	return d, nil
}

// takeField reads the number before the first mark in s, in tenths (one decimal digit kept,
// "." or "," as separator), and returns what follows the mark.
func takeField(s string, mark byte, to *int64, found *bool) (string, error) {
	i := strings.IndexByte(s, mark)
	if i <= 0 {
		return s, nil
	}
	num := s[:i]
	if dec := strings.IndexAny(num, ".,"); dec >= 0 {
		if len(num)-dec > 1 {
			num = num[:dec] + num[dec+1:dec+2]
		} else {
			num = num[:dec] + "0"
		}
	} else {
		num += "0"
	}
	v, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return s, fmt.Errorf("expected a number before %q", mark)
	}
	*to = v
	*found = true
	return s[i+1:], nil
}
