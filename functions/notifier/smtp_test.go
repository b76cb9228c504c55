package notifier_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/functions/notifier"
)

// fakeSMTP is a mail server at the edge we don't own: it speaks real SMTP (EHLO, AUTH PLAIN,
// MAIL FROM, RCPT TO, DATA, RSET, QUIT) over a loopback TCP listener and keeps what it
// accepted. rcpt decides the reply to the n-th RCPT TO (from 1).
type fakeSMTP struct {
	ln   net.Listener
	rcpt func(n int) string
	// auth, when set, is the AUTH PLAIN credential ("\x00user\x00password") the server
	// advertises and requires.
	auth string

	mu       sync.Mutex
	rcpts    int
	accepted []envelope
	wg       sync.WaitGroup
}

type envelope struct {
	from string
	to   []string
	data []byte
}

func newFakeSMTP(t *testing.T, rcpt func(n int) string) *fakeSMTP {
	return newFakeSMTPWithAuth(t, rcpt, "")
}

// newFakeSMTPWithAuth is a fake server requiring AUTH PLAIN with the given credentials. They
// are set before the accept loop starts: sessions read them without a lock.
func newFakeSMTPWithAuth(t *testing.T, rcpt func(n int) string, auth string) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	f := &fakeSMTP{ln: ln, rcpt: rcpt, auth: auth}
	if f.rcpt == nil {
		f.rcpt = func(int) string { return "250 2.1.5 OK" }
	}
	f.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Go(func() { f.session(conn) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *fakeSMTP) port() string {
	return strconv.Itoa(f.ln.Addr().(*net.TCPAddr).Port)
}

func (f *fakeSMTP) messages() []envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]envelope(nil), f.accepted...)
}

func (f *fakeSMTP) session(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	tp := textproto.NewConn(conn)
	reply := func(lines ...string) {
		for _, l := range lines {
			_ = tp.PrintfLine("%s", l)
		}
	}
	reply("220 fake.test ESMTP ready")
	var cur envelope
	authed := f.auth == ""
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		upper := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(upper, "EHLO "):
			lines := []string{"250-fake.test greets " + line[5:], "250-8BITMIME"}
			if f.auth != "" {
				lines = append(lines, "250-AUTH PLAIN")
			}
			reply(append(lines, "250 SIZE 10240000")...)
		case strings.HasPrefix(upper, "AUTH PLAIN "):
			got, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(line[len("AUTH PLAIN "):]))
			if authed = string(got) == f.auth; authed {
				reply("235 2.7.0 Authentication successful")
			} else {
				reply("535 5.7.8 Authentication credentials invalid")
			}
		case strings.HasPrefix(upper, "MAIL FROM:"):
			if !authed {
				reply("530 5.7.0 Authentication required")
				continue
			}
			cur = envelope{from: angle(line)}
			reply("250 2.1.0 OK")
		case strings.HasPrefix(upper, "RCPT TO:"):
			f.mu.Lock()
			f.rcpts++
			r := f.rcpt(f.rcpts)
			f.mu.Unlock()
			if strings.HasPrefix(r, "250") {
				cur.to = append(cur.to, angle(line))
			}
			reply(r)
		case upper == "DATA":
			if len(cur.to) == 0 {
				reply("503 5.5.1 No valid recipients")
				continue
			}
			reply("354 End data with <CR><LF>.<CR><LF>")
			data, err := tp.ReadDotBytes()
			if err != nil {
				return
			}
			cur.data = data
			f.mu.Lock()
			f.accepted = append(f.accepted, cur)
			f.mu.Unlock()
			cur = envelope{}
			reply("250 2.0.0 OK queued")
		case upper == "RSET":
			cur = envelope{}
			reply("250 2.0.0 OK")
		case upper == "NOOP":
			reply("250 2.0.0 OK")
		case upper == "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("502 5.5.2 Command not recognized")
		}
	}
}

// angle returns the address between < and > of an SMTP command.
func angle(line string) string {
	start, end := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if start < 0 || end < start {
		return ""
	}
	return line[start+1 : end]
}

func smtpEnv(port string) map[string]string {
	return map[string]string{"MAIL_MODE": "smtp", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
		"SMTP_TIMEOUT": "5s", "MAIL_FROM": "Orange Car Rental <mail@orange.test>"}
}

func TestSMTPSenderDeliversTheMessage(t *testing.T) {
	t.Parallel()
	server := newFakeSMTP(t, nil)
	w := newWorker(t, smtpEnv(server.port()))
	c := customer("de")
	c.FirstName, c.LastName = "Jürgen", "Groß"
	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, c)).status)
	confirmed := event(t, events.ReservationConfirmed, c.CustomerID, reservation(c.CustomerID))
	require.Equal(t, http.StatusAccepted, w.deliver(confirmed).status)
	w.start()
	waitFor(t, 5*time.Second, "both mails sent", func() bool {
		rows := w.notifications()
		return len(rows) == 2 && rows[0].Sent && rows[1].Sent
	})
	require.Len(t, server.messages(), 2)
	assert.Empty(t, w.files(), "smtp mode writes no files")

	rows := w.notifications()
	byID := map[string]envelope{}
	for _, m := range server.messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.data))
		require.NoError(t, err)
		byID[msg.Header.Get("Message-ID")] = m
	}
	m, ok := byID["<"+rows[1].ID+"@orange.test>"]
	require.True(t, ok, "the Message-ID derives from the notification id")
	assert.Equal(t, "mail@orange.test", m.from)
	assert.Equal(t, []string{c.Email}, m.to)

	msg, err := mail.ReadMessage(bytes.NewReader(m.data))
	require.NoError(t, err)
	h := msg.Header
	from, err := mail.ParseAddress(h.Get("From"))
	require.NoError(t, err)
	assert.Equal(t, mail.Address{Name: "Orange Car Rental", Address: "mail@orange.test"}, *from)
	to, err := mail.ParseAddress(h.Get("To"))
	require.NoError(t, err)
	assert.Equal(t, mail.Address{Name: "Jürgen Groß", Address: c.Email}, *to)
	assert.True(t, strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?"), "non-ASCII subject is RFC 2047 encoded: %s", h.Get("Subject"))
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	require.NoError(t, err)
	assert.Equal(t, "Ihre Reservierung 3F2A1B9C ist bestätigt", subject)
	assert.Equal(t, "text/plain; charset=utf-8", h.Get("Content-Type"))
	assert.Equal(t, "1.0", h.Get("MIME-Version"))
	assert.Equal(t, "quoted-printable", h.Get("Content-Transfer-Encoding"))
	assert.Equal(t, "de", h.Get("Content-Language"))
	date, err := h.Date()
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), date, time.Minute)
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	assert.Contains(t, string(body), "Guten Tag Jürgen Groß,")
	assert.Contains(t, string(body), "Gesamtpreis: 1.234,56 €")
	for _, b := range m.data {
		require.Less(t, b, byte(0x80), "the message is 7-bit clean")
	}
}

func TestSMTPFailuresAreRecordedAndRetried(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	downPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	require.NoError(t, closed.Close())

	tests := []struct {
		name         string
		rcpt         func(n int) string
		down         bool
		wantStatus   string
		wantAttempts int
		wantError    string
		wantMessages int
	}{
		{name: "550 on RCPT: failed at once, not sent", rcpt: func(int) string { return "550 5.1.1 Mailbox unavailable" },
			wantStatus: "failed", wantAttempts: 1, wantError: "550", wantMessages: 0},
		{name: "451 on RCPT: retried with backoff, then sent", rcpt: func(n int) string {
			if n <= 2 {
				return "451 4.3.0 Try again later"
			}
			return "250 2.1.5 OK"
		}, wantStatus: "sent", wantAttempts: 3, wantMessages: 1},
		{name: "server down: retried until the last attempt", down: true,
			wantStatus: "failed", wantAttempts: 3, wantError: "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			port := downPort
			var server *fakeSMTP
			if !tt.down {
				server = newFakeSMTP(t, tt.rcpt)
				port = server.port()
			}
			env := smtpEnv(port)
			env["MAIL_MAX_ATTEMPTS"] = "3"
			w := newWorker(t, env)
			require.Equal(t, http.StatusAccepted, w.deliver(registered(t, customer("en"))).status)
			w.start()
			waitFor(t, 5*time.Second, "the notification to settle", func() bool { return w.notifications()[0].Status != "pending" })
			time.Sleep(100 * time.Millisecond) // more poll intervals: a settled notification stays settled
			got := w.notifications()[0]
			assert.Equal(t, tt.wantStatus, got.Status)
			assert.Equal(t, tt.wantAttempts, got.Attempts)
			assert.Equal(t, tt.wantStatus == "sent", got.Sent)
			if tt.wantError != "" {
				assert.Contains(t, got.LastError, tt.wantError)
			} else {
				assert.Empty(t, got.LastError)
			}
			if server != nil {
				assert.Len(t, server.messages(), tt.wantMessages)
			}
		})
	}
}

func TestSMTPAuthenticatesWithoutLoggingThePassword(t *testing.T) {
	t.Parallel()
	server := newFakeSMTPWithAuth(t, nil, "\x00mailer\x00s3cr3t-hunter2")
	env := smtpEnv(server.port())
	env["SMTP_USERNAME"], env["SMTP_PASSWORD"] = "mailer", "s3cr3t-hunter2"
	var logs syncBuffer
	w := newWorkerLogging(t, env, &logs)

	require.Equal(t, http.StatusAccepted, w.deliver(registered(t, customer("de"))).status)
	w.start()
	waitFor(t, 5*time.Second, "the mail sent", func() bool { return len(server.messages()) == 1 })
	assert.Contains(t, logs.String(), `"smtpPasswordSet":true`)
	assert.NotContains(t, logs.String(), "s3cr3t-hunter2")
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTwoReplicasSendEachMailOnce runs two senders over one database, as two pods of the
// Service do: each notification is claimed by one of them, so every mail exists once.
func TestTwoReplicasSendEachMailOnce(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, notifier.Migrations)
	a, b := newWorkerOn(t, db, nil, io.Discard), newWorkerOn(t, db, nil, io.Discard)
	const n = 20
	for i := range n {
		w := a
		if i%2 == 1 {
			w = b
		}
		require.Equal(t, http.StatusAccepted, w.deliver(registered(t, customer("de"))).status)
	}
	a.start()
	b.start()
	waitFor(t, 10*time.Second, "every mail sent", func() bool {
		return a.count(`SELECT count(*) FROM notifier.notifications WHERE status = 'sent'`) == n
	})
	assert.Len(t, append(a.files(), b.files()...), n)
	assert.Zero(t, a.count(`SELECT count(*) FROM notifier.notifications WHERE attempts <> 1`))
}
