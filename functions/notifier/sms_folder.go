package notifier

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orangecarrental/orange/platform"
)

// SMSPrefix is where the local SMS folder is served (SMS_MODE=folder only).
const SMSPrefix = "/dev/sms"

// FolderSMS is the sandbox SMS provider of `orange dev`: each message is written as
// <Dir>/<notification id>.txt — a few header lines (To, Date, Segments), a blank line, the
// text. Like FolderSender it is idempotent by file name and writes a file whole or not at all.
type FolderSMS struct {
	Dir string
}

// SendSMS writes m into the folder unless it is there already.
func (f FolderSMS) SendSMS(_ context.Context, m SMS) error {
	if err := uuid.Validate(m.ID); err != nil {
		return Rejected(fmt.Errorf("SMS id %q is not a notification id", m.ID))
	}
	path := filepath.Join(f.Dir, m.ID+".txt")
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(f.Dir, 0o755); err != nil {
		return fmt.Errorf("SMS folder: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, ".writing-*")
	if err != nil {
		return fmt.Errorf("SMS folder: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing left to remove
	text := fmt.Sprintf("To: %s\nDate: %s\nSegments: %d\n\n%s\n", m.To, m.Date.UTC().Format(time.RFC3339),
		SMSSegments(m.Body), m.Body)
	if _, err := tmp.WriteString(text); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write SMS %s: %w", m.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write SMS %s: %w", m.ID, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write SMS %s: %w", m.ID, err)
	}
	return nil
}

// SMSSummary is one message of the SMS folder as the dev page lists it.
type SMSSummary struct {
	ID       string    `json:"id"`
	To       string    `json:"to"`
	Date     time.Time `json:"date"`
	Segments int       `json:"segments"`
	Text     string    `json:"text"`
}

// readSMS reads <dir>/<id>.txt; id must be a UUID, so no path leaves the folder.
func readSMS(dir, id string) (SMSSummary, error) {
	if err := uuid.Validate(id); err != nil {
		return SMSSummary{}, fs.ErrNotExist
	}
	raw, err := os.ReadFile(filepath.Join(dir, id+".txt"))
	if err != nil {
		return SMSSummary{}, err
	}
	head, text, ok := strings.Cut(string(raw), "\n\n")
	if !ok {
		return SMSSummary{}, fmt.Errorf("SMS %s: no text", id)
	}
	m := SMSSummary{ID: id, Text: strings.TrimSuffix(text, "\n")}
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), ": ")
		switch name {
		case "To":
			m.To = value
		case "Date":
			m.Date, _ = time.Parse(time.RFC3339, value)
		case "Segments":
			m.Segments, _ = strconv.Atoi(value)
		}
	}
	return m, nil
}

// listSMS returns the messages of dir, newest first (then by id). A folder that does not
// exist yet holds none.
func listSMS(dir string) ([]SMSSummary, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []SMSSummary{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []SMSSummary{}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".txt")
		if !ok || e.IsDir() || uuid.Validate(id) != nil {
			continue
		}
		if m, err := readSMS(dir, id); err == nil {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.After(out[j].Date)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// removeSMS deletes the messages ids from dir (an erased customer's SMS): one that is not
// there is fine, any other failure is returned so the erasure is retried.
func removeSMS(dir string, ids []string) error {
	for _, id := range ids {
		if err := uuid.Validate(id); err != nil {
			return fmt.Errorf("remove SMS %q: not a notification id", id)
		}
		if err := os.Remove(filepath.Join(dir, id+".txt")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove SMS: %w", err)
		}
	}
	return nil
}

// errNoSMSFolder answers the SMS dev pages outside folder mode.
func errNoSMSFolder() error {
	return platform.NotFound("the local SMS folder exists only when SMS_MODE=%s", ModeFolder)
}

// handleListSMS lists the SMS folder, newest first.
func (s *Service) handleListSMS(w http.ResponseWriter, _ *http.Request) error {
	if s.smsFolder == "" {
		return errNoSMSFolder()
	}
	items, err := listSMS(s.smsFolder)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
}

// handleGetSMS shows one SMS.
func (s *Service) handleGetSMS(w http.ResponseWriter, r *http.Request) error {
	if s.smsFolder == "" {
		return errNoSMSFolder()
	}
	id := platform.PathVar(r, "id")
	m, err := readSMS(s.smsFolder, id)
	if errors.Is(err, fs.ErrNotExist) {
		return platform.NotFound("no SMS %s", id)
	}
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, m)
}
