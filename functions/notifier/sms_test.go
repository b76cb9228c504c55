package notifier_test

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/functions/notifier"
)

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want int
	}{
		{"empty", "", 1},
		{"160 GSM characters fit one", strings.Repeat("a", 160), 1},
		{"161 need two (153 each)", strings.Repeat("a", 161), 2},
		{"306 still two", strings.Repeat("a", 306), 2},
		{"307 need three", strings.Repeat("a", 307), 3},
		{"459 still three", strings.Repeat("a", 459), 3},
		{"460 need four", strings.Repeat("a", 460), 4},
		{"German letters are GSM", strings.Repeat("äöüßÄÖÜé", 20), 1},
		{"an extension character counts twice", strings.Repeat("€", 80), 1},
		{"81 euro signs are 162 septets", strings.Repeat("€", 81), 2},
		{"an extension character is never split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 153), 3},
		{"one non-GSM character makes UCS-2: 70 fit", "–" + strings.Repeat("a", 69), 1},
		{"UCS-2: 71 need two (67 each)", "–" + strings.Repeat("a", 70), 2},
		{"UCS-2: 135 need three", "–" + strings.Repeat("a", 134), 3},
		{"an emoji is two UTF-16 units", strings.Repeat("🚗", 35), 1},
		{"36 emoji need two", strings.Repeat("🚗", 36), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, notifier.SMSSegments(tt.text))
		})
	}
}

func TestSMSTextIsPlainGSMInAtMostThreeSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"dashes and quotes spelled in GSM", "Abholung – „morgen“", `Abholung - "morgen"`},
		{"lines joined", "eins\n  zwei\r\ndrei", "eins zwei drei"},
		{"letters outside the alphabet", "Łódź, Kraków", "Lodz, Krakow"},
		{"anything else becomes ?", "Fahrt 🚗", "Fahrt ?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notifier.SMSText(tt.in)
			assert.Equal(t, tt.want, got)
			assert.True(t, notifier.IsGSM(got))
		})
	}
	t.Run("too long is cut to three segments", func(t *testing.T) {
		got := notifier.SMSText(strings.Repeat("Wort ", 200))
		assert.Equal(t, notifier.MaxSMSSegments, notifier.SMSSegments(got))
		assert.True(t, strings.HasSuffix(got, "..."), got)
		assert.LessOrEqual(t, len(got), 3*153)
	})
}

// TestEverySMSTemplateFits: each SMS text, in each language, is GSM and within the segment
// limit even with long names in it; with ordinary ones it takes at most two.
func TestEverySMSTemplateFits(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"de", "en"} {
		text, err := notifier.RenderSMS(notifier.PickupReminder, lang, "BER-HBF", "KOMPAKT")
		require.NoError(t, err)
		assert.True(t, notifier.IsGSM(text), text)
		assert.LessOrEqual(t, notifier.SMSSegments(text), 2, text)
		assert.Contains(t, text, "02.07.2026, 10:00")
		assert.Contains(t, text, "3F2A1B9C")

		long, err := notifier.RenderSMS(notifier.PickupReminder, lang, strings.Repeat("Flughafen–Terminal ", 30), strings.Repeat("Premium ", 40))
		require.NoError(t, err)
		assert.True(t, notifier.IsGSM(long))
		assert.LessOrEqual(t, notifier.SMSSegments(long), notifier.MaxSMSSegments, long)
	}
}

// TestDevSMS: the folder provider writes one file per SMS, /dev/sms lists and shows them,
// and outside folder mode the pages are 404.
func TestDevSMS(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sms")
	w := newWorker(t, map[string]string{"SMS_DIR": dir})
	ctx := context.Background()
	folder := notifier.FolderSMS{Dir: dir}
	early, late := uuid.NewString(), uuid.NewString()
	require.NoError(t, folder.SendSMS(ctx, notifier.SMS{ID: early, To: "+491701234567", Body: "Hallo",
		Date: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC)}))
	require.NoError(t, folder.SendSMS(ctx, notifier.SMS{ID: late, To: "+491701234568", Body: "Später",
		Date: time.Date(2026, 7, 2, 8, 0, 0, 0, time.UTC)}))
	require.NoError(t, folder.SendSMS(ctx, notifier.SMS{ID: early, To: "+49", Body: "changed", Date: time.Now()}), "a repeat is a no-op")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644))
	assert.Error(t, folder.SendSMS(ctx, notifier.SMS{ID: "../escape", Body: "x"}))

	r := w.get("/dev/sms")
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	list := decodeJSON[struct {
		Items []notifier.SMSSummary `json:"items"`
		Count int                   `json:"count"`
	}](t, r)
	require.Equal(t, 2, list.Count)
	assert.Equal(t, late, list.Items[0].ID)
	assert.Equal(t, notifier.SMSSummary{ID: early, To: "+491701234567", Date: time.Date(2026, 7, 1, 8, 0, 0, 0, time.UTC),
		Segments: 1, Text: "Hallo"}, list.Items[1])

	r = w.get("/dev/sms/" + late)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	assert.Equal(t, "Später", decodeJSON[notifier.SMSSummary](t, r).Text)
	for _, path := range []string{"/dev/sms/" + uuid.NewString(), "/dev/sms/notes", "/dev/sms/" + late + ".txt"} {
		assert.Equal(t, http.StatusNotFound, w.get(path).status, path)
	}

	off := newWorkerOn(t, w.db, map[string]string{"SMS_MODE": "off"}, io.Discard)
	for _, path := range []string{"/dev/sms", "/dev/sms/" + late} {
		r := off.get(path)
		assert.Equal(t, http.StatusNotFound, r.status, path)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"), path)
	}
}

// flakySMS fails its first fails sends (with a provider error quoting nothing personal),
// then passes on to next.
type flakySMS struct {
	next  notifier.SMSSender
	fails int32
	calls atomic.Int32
	err   error
}

func (f *flakySMS) SendSMS(ctx context.Context, m notifier.SMS) error {
	if f.calls.Add(1) <= f.fails {
		return f.err
	}
	return f.next.SendSMS(ctx, m)
}

// TestSMSSenderRetriesAndFails: the sender sends an SMS row by its channel through the SMS
// provider, with the mail's retry rules: a provider error is recorded as the row's reason
// and retried; after MAIL_MAX_ATTEMPTS, or on a definite refusal, the row is failed with
// the reason; no provider (SMS_MODE=off) or too long a text fail at once.
func TestSMSSenderRetriesAndFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	type outcome struct {
		status, reason string
		attempts       int
		file           bool
	}
	tests := []struct {
		name string
		env  map[string]string
		fail *flakySMS // nil: the folder provider as it is
		body string
		want outcome
	}{
		{name: "sent", body: "Hallo", want: outcome{status: "sent", attempts: 1, file: true}},
		{name: "a provider error is retried", body: "Hallo",
			fail: &flakySMS{fails: 2, err: errors.New("provider: 503 Service Unavailable")},
			want: outcome{status: "sent", attempts: 3, file: true}},
		{name: "failed after the last attempt, with the reason", body: "Hallo", env: map[string]string{"MAIL_MAX_ATTEMPTS": "3"},
			fail: &flakySMS{fails: 100, err: errors.New("provider: 503 Service Unavailable")},
			want: outcome{status: "failed", reason: "provider: 503 Service Unavailable", attempts: 3}},
		{name: "a refusal fails at once", body: "Hallo",
			fail: &flakySMS{fails: 100, err: notifier.Rejected(errors.New("provider: number not reachable"))},
			want: outcome{status: "failed", reason: "provider: number not reachable", attempts: 1}},
		{name: "no provider", body: "Hallo", env: map[string]string{"SMS_MODE": "off"},
			want: outcome{status: "failed", reason: "no SMS provider configured (SMS_MODE=off)", attempts: 1}},
		{name: "longer than three segments", body: strings.Repeat("a", 460),
			want: outcome{status: "failed", reason: "the SMS needs 4 segments, at most 3 are sent", attempts: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "sms")
			env := map[string]string{"SMS_DIR": dir}
			maps.Copy(env, tt.env)
			w := newWorker(t, env)
			if tt.fail != nil {
				notifier.WrapSMS(w.svc, func(next notifier.SMSSender) notifier.SMSSender { tt.fail.next = next; return tt.fail })
			}
			id, err := notifier.QueueSMS(ctx, w.svc, uuid.NewString(), "+491701234567", tt.body)
			require.NoError(t, err)
			w.start()
			var got outcome
			waitFor(t, 10*time.Second, "the SMS sent or failed", func() bool {
				require.NoError(t, w.db.Pool.QueryRow(ctx, `SELECT status, coalesce(last_error, ''), attempts FROM notifier.notifications
					WHERE id = $1`, id).Scan(&got.status, &got.reason, &got.attempts))
				return got.status != "pending"
			})
			_, statErr := os.Stat(filepath.Join(dir, id+".txt"))
			got.file = statErr == nil
			assert.Equal(t, tt.want, got)
		})
	}
}
