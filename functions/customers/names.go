package customers

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The shape of what people type as names (issue 11: public registration was a phishing relay
// — any text, URLs included, went into a welcome mail to any address).
const (
	// maxNamePartLength bounds a first or a last name: long enough for the names people have
	// ("Maria del Carmen Fernández-Villaverde" is 37), too short for a sales pitch.
	maxNamePartLength = 50
	// maxCompanyNameLength bounds a company name (the schema enforces it too).
	maxCompanyNameLength = 200
	// maxMarksPerLetter bounds the combining marks one letter carries: scripts that decompose
	// need two or three, a wall of stacked marks needs none.
	maxMarksPerLetter = 4
)

// Zero-width (non-)joiners are part of how Persian, Indic and other scripts write some
// names; they are allowed between two letters only, never as invisible padding.
const (
	zeroWidthNonJoiner = '\u200C'
	zeroWidthJoiner    = '\u200D'
)

// nameProblem returns why s is not a person's first or last name, or "". A name holds
// letters of any script with their combining marks, and single spaces, hyphens, apostrophes
// (' and ’) and dots between them; it begins with a letter. No digits, no other characters:
// that leaves out URLs, mail addresses, markup and control characters. A dot ends an initial
// or an abbreviation ("J.R.R. Tolkien", "St. John"): one followed straight by two or more
// letters is a domain ("evil.example"), not a name.
func nameProblem(s string) string {
	n := utf8.RuneCountInString(s)
	if n == 0 || n > maxNamePartLength {
		return "required, at most 50 characters"
	}
	runes := []rune(s)
	if !unicode.IsLetter(runes[0]) {
		return "must begin with a letter"
	}
	marks := 0
	for i, r := range runes {
		if unicode.Is(unicode.M, r) {
			if marks++; marks > maxMarksPerLetter {
				return "too many accents on one letter"
			}
			continue
		}
		marks = 0
		switch {
		case unicode.IsLetter(r), r == ' ', r == '-', r == '\'', r == '’':
		case r == '.':
			if lettersFrom(runes[i+1:]) >= 2 {
				return "a dot ends an initial or an abbreviation and is followed by a space: no web addresses"
			}
		case r == zeroWidthNonJoiner || r == zeroWidthJoiner:
			if i+1 == len(runes) || !isLetterOrMark(runes[i-1]) || !isLetterOrMark(runes[i+1]) {
				return "a zero-width joiner belongs between two letters"
			}
		case unicode.IsNumber(r):
			return "must not contain digits"
		default:
			return "may contain only letters, spaces, hyphens, apostrophes and dots"
		}
	}
	return ""
}

// lettersFrom counts the letters (with their marks) that rs begins with.
func lettersFrom(rs []rune) int {
	n := 0
	for _, r := range rs {
		switch {
		case unicode.IsLetter(r):
			n++
		case unicode.Is(unicode.M, r):
		default:
			return n
		}
	}
	return n
}

func isLetterOrMark(r rune) bool { return unicode.IsLetter(r) || unicode.Is(unicode.M, r) }

// companyNameProblem returns why s is not a company name, or "". Company names carry digits
// and more punctuation than people's names ("1&1 Versatel GmbH", "Müller & Söhne (Berlin)
// e.K.", even "Booking.com B.V."), so the rule is wider: letters, marks, digits, spaces and
// - ' ’ . , & ( ) + /; but no URL (a scheme or "www."), no mail address, no control
// characters.
func companyNameProblem(s string) string {
	if n := utf8.RuneCountInString(s); n == 0 || n > maxCompanyNameLength {
		return "required for business customers, at most 200 characters"
	}
	lower := strings.ToLower(s)
	if strings.Contains(lower, "://") || strings.Contains(lower, "www.") {
		return "must not contain a web address"
	}
	for _, r := range s {
		switch {
		case isLetterOrMark(r), unicode.IsDigit(r), strings.ContainsRune(" -'’.,&()+/", r):
		default:
			return "may contain only letters, digits, spaces and - ' ’ . , & ( ) + /"
		}
	}
	return ""
}

// textProblem returns why free text such as a street or a city is unfit to store and print,
// or "": it must not contain control or formatting characters (a line break in a field ends
// up in a mail header or a letter's address block).
func textProblem(s string) string {
	for _, r := range s {
		if r == zeroWidthNonJoiner || r == zeroWidthJoiner {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r) {
			return "must not contain control characters or line breaks"
		}
	}
	return ""
}
