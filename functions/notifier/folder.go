package notifier

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// FolderSender writes each message as <Dir>/<notification id>.eml, the local mailbox of
// `orange dev`. It is idempotent by file name: a message whose file exists is not written
// again, and a file appears whole or not at all (written aside, then renamed).
type FolderSender struct {
	Dir string
}

// Send writes m into the folder unless it is there already.
func (f FolderSender) Send(ctx context.Context, m Message) error {
	if _, err := uuid.Parse(m.ID); err != nil {
		return Rejected(fmt.Errorf("message id %q is not a notification id", m.ID))
	}
	path := filepath.Join(f.Dir, m.ID+".eml")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("mail folder: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".writing-*")
	if err != nil {
		return fmt.Errorf("mail folder: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	if _, err := tmp.Write(m.Bytes()); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// MailSummary is one message of the folder as the dev page lists it.
type MailSummary struct {
	ID      string    `json:"id"`
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Date    time.Time `json:"date"`
}

var wordDecoder = &mime.WordDecoder{}

// listFolder returns the messages of dir, newest first (by Date header, then file time, then
// id). A folder that does not exist yet holds no mail.
func listFolder(dir string) ([]MailSummary, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []MailSummary{}, nil
	}
	if err != nil {
		return nil, err
	}
	type entry struct {
		MailSummary
		modified time.Time
	}
	var found []entry
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".eml")
		if !ok || e.IsDir() || uuid.Validate(id) != nil {
			continue
		}
		msg, info, err := openMail(dir, id)
		if err != nil {
			continue // removed meanwhile, or not a message: the listing shows what it can read
		}
		found = append(found, entry{MailSummary: summarize(id, msg.Header), modified: info.ModTime()})
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if !a.Date.Equal(b.Date) {
			return a.Date.After(b.Date)
		}
		if !a.modified.Equal(b.modified) {
			return a.modified.After(b.modified)
		}
		return a.ID > b.ID
	})
	out := make([]MailSummary, len(found))
	for i, e := range found {
		out[i] = e.MailSummary
	}
	return out, nil
}

func summarize(id string, h mail.Header) MailSummary {
	s := MailSummary{ID: id, To: decodeHeader(h.Get("To")), Subject: decodeHeader(h.Get("Subject"))}
	if d, err := h.Date(); err == nil {
		s.Date = d.UTC()
	}
	return s
}

func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// openMail parses <dir>/<id>.eml; id must be a UUID, so no path leaves the folder.
func openMail(dir, id string) (*mail.Message, os.FileInfo, error) {
	if err := uuid.Validate(id); err != nil {
		return nil, nil, fs.ErrNotExist
	}
	path := filepath.Join(dir, id+".eml")
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	return msg, info, err
}

// renderMail is one message as the dev page shows it: the main headers decoded, then the
// body decoded.
func renderMail(w io.Writer, msg *mail.Message) error {
	for _, name := range []string{"From", "To", "Subject", "Date", "Message-ID", "Content-Type", "Content-Language"} {
		if v := msg.Header.Get(name); v != "" {
			if _, err := fmt.Fprintf(w, "%s: %s\n", name, decodeHeader(v)); err != nil {
				return err
			}
		}
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	body := msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, strings.ReplaceAll(string(text), "\r\n", "\n"))
	return err
}

// removeMail deletes the messages ids from dir (an erased customer's mail): a message that
// is not there is fine, any other failure is returned so the erasure is retried.
func removeMail(dir string, ids []string) error {
	for _, id := range ids {
		if err := uuid.Validate(id); err != nil {
			return fmt.Errorf("remove mail %q: not a notification id", id)
		}
		if err := os.Remove(filepath.Join(dir, id+".eml")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove mail: %w", err)
		}
	}
	return nil
}
