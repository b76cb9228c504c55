package notifier

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"time"
)

// SMTPSender hands each message to an SMTP server: one connection per message, EHLO,
// STARTTLS when the server offers it, AUTH PLAIN when a username is configured (net/smtp
// refuses to send the password over an unencrypted connection to anything but localhost),
// MAIL FROM, RCPT TO, DATA, QUIT.
type SMTPSender struct {
	cfg SMTPConfig
}

// NewSMTPSender returns a sender to the server of cfg.
func NewSMTPSender(cfg SMTPConfig) *SMTPSender {
	if cfg.HelloName == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.HelloName = h
		} else {
			cfg.HelloName = "localhost"
		}
	}
	return &SMTPSender{cfg: cfg}
}

// Send delivers m. A permanent (5xx) answer to RCPT TO or to the message itself is Rejected;
// every other failure (connection, 4xx, authentication, a 5xx to the session) may heal and
// is retried.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	deadline := time.Now().Add(s.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: connect %s: %w", addr, err)
	}
	if err := conn.SetDeadline(deadline); err != nil {
		_ = conn.Close()
		return err
	}
	// Cancelling ctx (shutdown) ends the conversation rather than waiting for the deadline.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		_ = conn.Close()
		return fmt.Errorf("smtp: greeting from %s: %w", addr, err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HelloName); err != nil {
		return fmt.Errorf("smtp: EHLO: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("smtp: STARTTLS: %w", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("smtp: %s offers no AUTH, but SMTP_USERNAME is set", addr)
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, string(s.cfg.Password), s.cfg.Host)); err != nil {
			return fmt.Errorf("smtp: AUTH as %s: %w", s.cfg.Username, err)
		}
	}
	if err := c.Mail(m.From.Address); err != nil {
		return fmt.Errorf("smtp: MAIL FROM: %w", err)
	}
	if err := c.Rcpt(m.To.Address); err != nil {
		return classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return classify("DATA", err)
	}
	if _, err := w.Write(m.Bytes()); err != nil {
		_ = w.Close()
		return fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify("end of DATA", err)
	}
	// The server has accepted the message; a failing QUIT changes nothing about that.
	_ = c.Quit()
	return nil
}

// classify wraps an SMTP error of step, marking a permanent (5xx) reply as Rejected.
func classify(step string, err error) error {
	err = fmt.Errorf("smtp: %s: %w", step, err)
	var reply *textproto.Error
	if errors.As(err, &reply) && reply.Code >= 500 && reply.Code < 600 {
		return Rejected(err)
	}
	return err
}
