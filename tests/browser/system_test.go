package browser_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/orangecarrental/orange/internal/devtest"
)

// system is `orange dev` run in this process on a free loopback port (internal/devtest).
type system struct{ *devtest.System }

// startSystem runs the system, as `orange dev` does, until the test ends.
func startSystem(t *testing.T) *system { return &system{devtest.Start(t, pg, nil)} }

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// openBranches opens every branch around the clock, and gives counterBranch a time zone
// where today has at least counterDay left: the counter journey books a pickup a few
// minutes ahead and hands the car over at once, which is allowed only on the pickup day
// in the branch's zone (docs/counter.md). Call it before the first booking: reservations
// keeps a branch it read for RESERVATION_BRANCH_TTL.
func (s *system) openBranches(t *testing.T, counterBranch string, counterDay time.Duration) {
	t.Helper()
	devtest.OpenAroundTheClock(t, s.DB)
	zone := "Europe/Berlin"
	for _, z := range []string{"Europe/Berlin", "America/New_York", "Pacific/Honolulu", "Asia/Tokyo"} {
		loc, err := time.LoadLocation(z)
		require.NoError(t, err)
		now := time.Now().In(loc)
		midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
		if midnight.Sub(now) >= counterDay && now.Hour() >= 1 {
			zone = z
			break
		}
	}
	_, err := s.DB.Pool.Exec(context.Background(), `UPDATE locations.locations SET time_zone = $1 WHERE code = $2`, zone, counterBranch)
	require.NoError(t, err)
}

// manageLinkPattern is a guest's manage-booking link in a mail (functions/notifier/guestlink.go).
var manageLinkPattern = regexp.MustCompile(`https?://[^\s"'<>]+/manage-booking\?reservation=[0-9a-f-]{36}#token=[^\s"'<>]+`)

// verifyLinkPattern is the email verification link of a welcome mail (functions/notifier/accounts.go).
var verifyLinkPattern = regexp.MustCompile(`https?://[^\s"'<>]+/verify-email#token=[^\s"'<>]+`)

// mailTo waits up to timeout for a mail to email whose body matches pattern and returns
// the first match, read from the development mailbox (/dev/mail) as a developer would.
func (s *system) mailTo(t *testing.T, email string, pattern *regexp.Regexp, timeout time.Duration) string {
	t.Helper()
	var found string
	deadline := time.Now().Add(timeout)
	for found == "" {
		var box struct {
			Items []struct{ ID, To, Subject string }
		}
		status, raw := s.API(t, http.MethodGet, "/dev/mail", "", nil, &box)
		require.Equal(t, http.StatusOK, status, raw)
		var subjects []string
		for _, m := range box.Items {
			if !strings.Contains(strings.ToLower(m.To), "<"+strings.ToLower(email)+">") {
				continue
			}
			subjects = append(subjects, m.Subject)
			status, body := s.API(t, http.MethodGet, "/dev/mail/"+m.ID, "", nil, nil)
			require.Equal(t, http.StatusOK, status, body)
			if match := pattern.FindString(decodeMail(body)); match != "" {
				found = match
				break
			}
		}
		if found == "" && time.Now().After(deadline) {
			t.Fatalf("no mail to %s matching %s within %s (mails to them: %q)", email, pattern, timeout, subjects)
		}
		if found == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return found
}

// decodeMail undoes quoted-printable soft line breaks and the HTML escaping of & so that a
// link reads as sent.
func decodeMail(body string) string {
	body = strings.ReplaceAll(body, "=\r\n", "")
	body = strings.ReplaceAll(body, "=\n", "")
	body = strings.ReplaceAll(body, "=3D", "=")
	return strings.ReplaceAll(body, "&amp;", "&")
}
