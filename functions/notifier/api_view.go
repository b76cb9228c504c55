package notifier

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
)

// The statuses the history shows. The table's pending is shown as queued: the worker has
// it (still to send, or to send again after a failed attempt).
const (
	StatusQueued = "queued"
	StatusSent   = "sent"
	StatusFailed = "failed"
)

// storedStatus maps a shown status to the stored one.
var storedStatus = map[string]string{StatusQueued: "pending", StatusSent: "sent", StatusFailed: "failed"}

// Notification is one notification as notifications-api shows it (docs/notifications.md).
type Notification struct {
	ID            string `json:"id"`
	Type          string `json:"type"`
	Channel       string `json:"channel"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	Retried       bool   `json:"retried"`
	FailureReason string `json:"failureReason,omitempty"`
	CustomerID    string `json:"customerId"`
	ReservationID string `json:"reservationId,omitempty"`
	// Recipient is the address or number; masked in staff's lists (see view).
	Recipient string     `json:"recipient"`
	Language  string     `json:"language"`
	Subject   string     `json:"subject,omitempty"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"createdAt"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
	ResendOf  string     `json:"resendOf,omitempty"`
	// RequestedBy is the subject of the agent who asked; shown to staff only.
	RequestedBy string `json:"requestedBy,omitempty"`
	// Redacted: the customer was erased; recipient and body are gone.
	Redacted bool `json:"redacted"`
}

// customerFailure is what a customer reads about a failed notification: the stored error
// may quote a mail server's answer (an address, a host), which is for the operator.
const customerFailure = "the message could not be delivered"

// view is n as caller sees it. A customer sees their own notifications whole but for the
// mail server's words; staff see the error and who asked. In a list (masked) staff see each
// address masked: one customer's address is a deliberate lookup (GET /{id}, ?customerId=),
// a page of everyone's is not.
func view(n record, caller platform.Caller, masked bool) Notification {
	v := Notification{ID: n.ID, Type: n.Type, Channel: n.Channel, Status: StatusQueued, Attempts: n.Attempts,
		Retried: n.Attempts > 1, CustomerID: n.CustomerID, ReservationID: n.ReservationID, Recipient: n.Recipient,
		Language: n.Language, Subject: n.Subject, Body: hideLinkTokens(n.Body), CreatedAt: n.CreatedAt, SentAt: n.SentAt,
		ResendOf: n.ResendOf, Redacted: n.Erased}
	switch n.Status {
	case "sent":
		v.Status = StatusSent
	case "failed":
		v.Status = StatusFailed
	}
	if caller.Staff() {
		v.FailureReason = n.LastError
		v.RequestedBy = n.RequestedBy
		if masked {
			v.Recipient = mask(n.Recipient)
		}
	} else if n.LastError != "" && v.Status == StatusFailed {
		v.FailureReason = customerFailure
	}
	return v
}

// linkToken is a credential in a link of a mail: a guest's manage link (valid until 30 days
// after the return, not revocable) or an email verification.
var linkToken = regexp.MustCompile(`([#?&]token=)[^\s"'<>&]+`)

// hideLinkTokens is body as the API shows it: the mail as sent, but for the tokens in its
// links. Staff read a customer's mails to help them; the links are the customer's keys (a
// guest's opens and cancels the booking), and a resend sends the stored body, tokens whole.
func hideLinkTokens(body string) string {
	if !strings.Contains(body, "token=") {
		return body
	}
	return linkToken.ReplaceAllString(body, "${1}[hidden]")
}

// mask keeps enough of an address or number to recognise it: "e***@example.com",
// "+49*******67".
func mask(s string) string {
	if s == "" {
		return ""
	}
	if local, domain, ok := strings.Cut(s, "@"); ok {
		first, _ := utf8.DecodeRuneInString(local)
		return string(first) + "***@" + domain
	}
	if len(s) <= 5 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-5) + s[len(s)-2:]
}
