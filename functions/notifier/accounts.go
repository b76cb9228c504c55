package notifier

import (
	"regexp"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
)

// The kinds of customer customers-api registers (events.Customer.Kind). Events recorded
// before kinds existed carry none: they were all accounts.
const (
	kindAccount = "account"
	kindGuest   = "guest"
)

// tokenChars are a verification token's characters. The length is checked apart: a counted
// repetition compiles to a copy of the class per count, a thousand allocations in every
// start's package init.
var tokenChars = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// isToken tells what a verification token may look like (customers-api makes 26 base32
// characters): anything else in an event would be text put into a mail, so it is refused.
func isToken(s string) bool { return len(s) >= 16 && len(s) <= 100 && tokenChars.MatchString(s) }

// customerMail decides which mail customer event e sends, if any, and the verification link
// it carries (issue 11: registration was a phishing relay, and a guest got an account's
// welcome):
//   - customer.registered of an account: the welcome, with the link that verifies the
//     address when the event carries a token (events from before verification carry none);
//   - customer.registered of a guest: nothing. A guest booking registers the guest; its mails
//     are the booking's (confirmation, cancellation), not an account's welcome;
//   - customer.updated with a token: the link that verifies the address — worded for a new
//     address when it changed, else as a new link asked for;
//   - anything else: nothing.
//
// was (what the worker held before) decides for an event out of order: one of the version
// held is a copy (nothing; its mail went), and an older one mails only a link that still
// verifies the address held — a welcome arriving after the address changed carried the old
// address's dead link to the new one, while an address change overtaken by a later profile
// edit still gets its link, worded for the new address it is.
//
// An unknown kind or a malformed token is refused for good (dead letter).
func (s *Service) customerMail(e cloudevents.Event, version int64, was heldCustomer) (tmpl, link string, err error) {
	c, err := events.DecodeData[events.Customer](e)
	if err != nil {
		return "", "", err
	}
	if c.Kind != "" && c.Kind != kindAccount && c.Kind != kindGuest {
		return "", "", events.Permanentf("%s: unknown customer kind %q", e.Type(), c.Kind)
	}
	if c.VerificationToken != "" {
		if !isToken(c.VerificationToken) {
			return "", "", events.Permanentf("%s: malformed verification token", e.Type())
		}
		link = strings.TrimRight(s.cfg.LinkBase, "/") + "/verify-email#token=" + c.VerificationToken
	}
	older := was.found && was.version > version
	switch {
	case c.Kind == kindGuest, was.found && was.version == version:
		return "", "", nil
	case older && (link == "" || !was.sameAddress):
		return "", "", nil // news out of date, or a link for an address no longer the account's
	case e.Type() == events.CustomerRegistered:
		return welcome, link, nil
	case link != "" && was.sameAddress && !older:
		return verifyAgain, link, nil
	case link != "":
		return verifyAddress, link, nil
	}
	return "", "", nil
}

// heldCustomer is what the worker held of a customer before an event: found is false when
// it held nothing; sameAddress tells whether the event's address is the one held.
type heldCustomer struct {
	found, sameAddress bool
	version            int64
}
