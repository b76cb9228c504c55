package platform

import (
	"regexp"
	"strings"
	"unicode"
)

// What a mail or SMS program turns into a link, found in three parts:
//
//   - a scheme ("https://", "ftp://") or a "www." host, in any case;
//   - a domain name ending in a top-level domain a program knows (the list below: the common
//     generic ones and the country codes our customers and their phishers use), in any case,
//     its labels in any script ("Orange-Rental-Verify.COM/card", "evil.de", "müller.de"),
//     wherever it starts ("-evil.com", "…evil.com…");
//   - an IPv4 address with a port or a path ("192.168.1.1/pay").
//
// E-mail addresses are taken out first: an address is no link ("info@autohaus-müller.de").
// Abbreviations and words run together after a full stop are not domains, their last part
// being no top-level domain ("z.B.", "usw. etc.pp.", "invoice.pdf", "changed.sorry",
// "Mr.Smith"); a decimal has no letters ("3.50").
var (
	schemeOrWWW = regexp.MustCompile(`(?i)://|(?:^|[^\p{L}\p{N}])www\.`)
	mailAddress = regexp.MustCompile(`[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+`)
	domainName  = regexp.MustCompile(`(?i)(?:^|[^\p{L}\p{N}])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+(?:` +
		strings.Join(topLevelDomains, "|") + `)(?:[^\p{L}\p{N}-]|$)`)
	ipWithPath = regexp.MustCompile(`(?:^|[^\p{N}.])\d{1,3}(?:\.\d{1,3}){3}[:/]`)
)

// topLevelDomains are the top-level domains HasLink knows: generic ones and those country
// codes that are not also short words of a German or English sentence run together ("im",
// "in", "es", "so", "to", "am", "an", "er" are left out).
var topLevelDomains = []string{
	"com", "net", "org", "info", "biz", "io", "co", "app", "dev", "online", "site", "shop", "store",
	"xyz", "top", "club", "live", "me", "tv", "cc", "ly", "gg", "link", "click", "email", "support",
	"help", "bank", "money", "cash", "pay", "finance", "website", "space", "tech", "cloud",
	"digital", "network", "services", "solutions", "world", "today", "news", "blog", "page",
	"mobi", "name", "pro", "asia", "icu", "buzz", "rest", "fun", "vip", "work", "ltd", "gmbh",
	"de", "at", "ch", "eu", "uk", "us", "nl", "be", "fr", "it", "pl", "cz", "dk", "se", "no", "fi",
	"pt", "gr", "hu", "ro", "sk", "si", "hr", "bg", "lt", "lv", "ee", "ie", "lu", "li", "ru", "ua",
	"by", "cn", "jp", "kr", "tw", "hk", "sg", "au", "nz", "ca", "mx", "br", "ar", "ws", "tk", "ml",
	"ga", "cf", "gq", "pw", "su", "cx", "la", "ai", "sh", "st", "vc", "nu", "xn--[a-z0-9-]+",
}

// HasLink reports whether text holds a link a person typed — text that our mail would carry
// to a customer, where a typed link is how a phishing relay starts ("your card was blocked,
// confirm at …").
func HasLink(text string) bool {
	if schemeOrWWW.MatchString(text) {
		return true
	}
	text = mailAddress.ReplaceAllString(text, " ")
	return domainName.MatchString(text) || ipWithPath.MatchString(text)
}

// OneLine is text as a mail quotes a person's words: line breaks and other control
// characters become spaces, runs of space one, none at either end.
func OneLine(text string) string {
	return strings.Join(strings.FieldsFunc(text, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
}
