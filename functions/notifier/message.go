package notifier

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
)

// Message is one email as a Sender sends it.
type Message struct {
	// ID is the notification id: it names the Message-ID and, in folder mode, the file.
	ID       string
	From     mail.Address
	To       mail.Address
	Subject  string
	Body     string
	Language string
	// Date is when the notification was made, so that a resend is the same message.
	Date time.Time
}

// MessageID is the Message-ID header value, derived from the notification id so that a
// message sent twice (see the package doc) carries the same one.
func (m Message) MessageID() string {
	domain := "orangecarrental.com"
	if at := strings.LastIndexByte(m.From.Address, '@'); at >= 0 && at < len(m.From.Address)-1 {
		domain = m.From.Address[at+1:]
	}
	return "<" + m.ID + "@" + domain + ">"
}

// Bytes renders m as an RFC 5322 message: CRLF line ends, header values with non-ASCII text
// encoded per RFC 2047, and a UTF-8 plain-text body in quoted-printable, so the message is
// 7-bit clean for any SMTP server.
func (m Message) Bytes() []byte {
	var b bytes.Buffer
	header := func(name, value string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
		b.WriteString("\r\n")
	}
	header("From", m.From.String())
	header("To", m.To.String())
	header("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	header("Date", m.Date.Format(time.RFC1123Z))
	header("Message-ID", m.MessageID())
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	if m.Language != "" {
		header("Content-Language", m.Language)
	}
	// RFC 3834: an automatic message; well-behaved autoresponders do not answer it.
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Body, "\r\n", "\n")))
	_ = qp.Close()
	return b.Bytes()
}

// Sender delivers a message. Send returns nil once the message is out of the worker's hands
// (accepted by the server, written to the folder); sending the same message twice is
// harmless for the folder and, for SMTP, leaves two copies with one Message-ID. An error
// marked Rejected will never succeed, so the notification is failed without retrying.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

type rejectedError struct{ err error }

func (r rejectedError) Error() string { return r.err.Error() }
func (r rejectedError) Unwrap() error { return r.err }

// Rejected marks err as a definite refusal of the message: retrying cannot help.
func Rejected(err error) error { return rejectedError{err} }

// IsRejected reports whether err is a definite refusal (see Rejected).
func IsRejected(err error) bool {
	var r rejectedError
	return errors.As(err, &r)
}
