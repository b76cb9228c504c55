package notifier_test

import (
	"context"
	"io"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/notifier"
)

func message(id, subject, body string, date time.Time) notifier.Message {
	return notifier.Message{ID: id, From: mail.Address{Name: "Orange Car Rental", Address: "noreply@orangecarrental.com"},
		To: mail.Address{Name: "Jürgen Groß", Address: "juergen@example.com"}, Subject: subject, Body: body,
		Language: "de", Date: date}
}

// TestDevMail runs its cases on one database: the dev page reads only the folder.
func TestDevMail(t *testing.T) {
	t.Parallel()
	db := pg.NewDB(t, notifier.Migrations)
	t.Run("lists the folder newest first", func(t *testing.T) { devMailLists(t, newWorkerOn(t, db, nil, io.Discard)) })
	t.Run("an empty folder", func(t *testing.T) {
		devMailOfAnEmptyFolder(t, newWorkerOn(t, db, map[string]string{"MAIL_DIR": filepath.Join(t.TempDir(), "not", "yet")}, io.Discard))
	})
	t.Run("only in folder mode", func(t *testing.T) { devMailOnlyInFolderMode(t, newWorkerOn(t, db, smtpEnv("2525"), io.Discard)) })
}

func devMailLists(t *testing.T, w *worker) {
	folder := notifier.FolderSender{Dir: w.dir}
	ctx := context.Background()
	jan, feb, mar := uuid.NewString(), uuid.NewString(), uuid.NewString()
	for id, month := range map[string]time.Month{jan: time.January, mar: time.March, feb: time.February} {
		require.NoError(t, folder.Send(ctx, message(id, "Grüße aus dem "+month.String(), "Viele Grüße\nIhr Team\n",
			time.Date(2026, month, 1, 9, 0, 0, 0, time.UTC))))
	}
	// Sending again is a no-op: the file is named by the notification id.
	require.NoError(t, folder.Send(ctx, message(jan, "changed", "changed", time.Now())))
	// Anything else in the folder is not mail.
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, "notes.txt"), []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(w.dir, ".writing-123"), []byte("x"), 0o644))

	r := w.get("/dev/mail")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decodeJSON[struct {
		Items []notifier.MailSummary `json:"items"`
		Count int                    `json:"count"`
	}](t, r)
	var ids []string
	for _, m := range list.Items {
		ids = append(ids, m.ID)
	}
	assert.Equal(t, []string{mar, feb, jan}, ids)
	assert.Equal(t, 3, list.Count)
	assert.Equal(t, "Grüße aus dem March", list.Items[0].Subject)
	assert.Equal(t, time.Date(2026, time.March, 1, 9, 0, 0, 0, time.UTC), list.Items[0].Date)
	assert.Contains(t, list.Items[0].To, "juergen@example.com")
	assert.Contains(t, list.Items[0].To, "Jürgen Groß")

	r = w.get("/dev/mail/" + jan)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
	text := string(r.body)
	assert.Contains(t, text, "Subject: Grüße aus dem January\n")
	assert.Contains(t, text, "Message-ID: <"+jan+"@orangecarrental.com>\n")
	assert.True(t, strings.HasSuffix(text, "\n\nViele Grüße\nIhr Team\n"), text)

	for _, path := range []string{"/dev/mail/" + uuid.NewString(), "/dev/mail/notes", "/dev/mail/notes.txt", "/dev/mail/" + jan + ".eml"} {
		r := w.get(path)
		assert.Equal(t, http.StatusNotFound, r.status, path)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), path)
	}
}

func devMailOfAnEmptyFolder(t *testing.T, w *worker) {
	r := w.get("/dev/mail")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.JSONEq(t, `{"items": [], "count": 0}`, string(r.body))
}

func devMailOnlyInFolderMode(t *testing.T, w *worker) {
	for _, path := range []string{"/dev/mail", "/dev/mail/" + uuid.NewString()} {
		r := w.get(path)
		assert.Equal(t, http.StatusNotFound, r.status, path)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), path)
	}
}

func TestMessageHeadersCannotBeInjected(t *testing.T) {
	t.Parallel()
	m := message(uuid.NewString(), "Hi\r\nBcc: eve@example.com", "body", time.Now())
	m.To.Name = "Eve\r\nBcc: eve@example.com"
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Bytes())))
	require.NoError(t, err)
	assert.Empty(t, msg.Header.Get("Bcc"))
	assert.NotContains(t, string(m.Bytes()), "\r\nBcc:")
}
