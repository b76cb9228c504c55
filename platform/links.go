package platform

import "regexp"

// linkPattern finds what a mail or SMS program turns into a link: a scheme ("https://"), a
// "www." host, or a bare domain name with a letter-only top-level label, followed by a path or
// the end of the word ("evil-rental.com/confirm", "orange-verify.de"). An e-mail address's
// domain is not one (preceded by "@"), nor is an abbreviation ("z.B.", "e.g.", "ca. 5 km"),
// a decimal ("3.50") or a capitalised word after a full stop without a space ("Mr.Smith").
var linkPattern = regexp.MustCompile(`(?i:://)|(?i:\bwww\.)|(?:^|[^\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,24}(?:[/:?#]|[^\w.@-]|\.(?:\s|$)|$)`)

// HasLink reports whether text holds a link a person typed — text that our mail would carry
// to a customer, where a typed link is how a phishing relay starts ("your card was blocked,
// confirm at …").
func HasLink(text string) bool { return linkPattern.MatchString(text) }
