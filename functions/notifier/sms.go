package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/orangecarrental/orange/platform"
)

// SMS is one text message as an SMSSender sends it.
type SMS struct {
	// ID is the notification id: it names the file in folder mode and is the provider's
	// idempotency key where it has one.
	ID string
	// To is the recipient's number in E.164 form (+491701234567).
	To   string
	Body string
	// Date is when the notification was made.
	Date time.Time
}

// SMSSender is the seam to an SMS provider. SendSMS returns nil once the provider has taken
// the message; an error marked Rejected will never succeed (the notification is failed at
// once), any other is retried with the mail's backoff. The error text is recorded as the
// notification's reason, so it must not quote the number or the text.
type SMSSender interface {
	SendSMS(ctx context.Context, m SMS) error
}

// MaxSMSSegments bounds one SMS: at most this many segments (concatenated parts). A text
// that needs more is refused (the notification fails with the reason), never cut by the
// provider.
const MaxSMSSegments = 3

// errSMSOff is the reason an SMS notification fails when no provider is configured.
var errSMSOff = errors.New("no SMS provider configured (SMS_MODE=off)")

// gsmBasic is the GSM 03.38 default alphabet (one septet each; ESC excluded); gsmExtension
// are the characters of its extension table (two septets: ESC and the character).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "^{}\\[~]|€\f"
)

// gsmSeptets is how many septets r takes in the GSM alphabet: 1, 2 (extension), or 0 when
// the alphabet does not have it.
func gsmSeptets(r rune) int {
	switch {
	case strings.ContainsRune(gsmBasic, r):
		return 1
	case strings.ContainsRune(gsmExtension, r):
		return 2
	}
	return 0
}

// IsGSM reports whether text can be sent in the GSM 7-bit alphabet.
func IsGSM(text string) bool {
	for _, r := range text {
		if gsmSeptets(r) == 0 {
			return false
		}
	}
	return true
}

// SMSSegments is how many segments text takes: in the GSM alphabet 160 septets fit one
// SMS and 153 each part of a longer one (the rest carries the concatenation header; an
// extension character is never split); any other character makes the whole text UCS-2, 70
// characters alone or 67 per part. An empty text is one segment.
func SMSSegments(text string) int {
	if IsGSM(text) {
		return segments(text, 160, 153, gsmSeptets)
	}
	return segments(text, 70, 67, utf16.RuneLen)
}

func segments(text string, single, part int, size func(rune) int) int {
	total := 0
	for _, r := range text {
		total += size(r)
	}
	if total <= single {
		return 1
	}
	n, used := 1, 0
	for _, r := range text {
		s := size(r)
		if used+s > part {
			n, used = n+1, 0
		}
		used += s
	}
	return n
}

// gsmFallback spells characters outside the GSM alphabet that our texts and branch or
// category names may hold; anything else becomes "?".
var gsmFallback = strings.NewReplacer(
	"–", "-", "—", "-", "‑", "-", "„", "\"", "“", "\"", "”", "\"", "‚", "'", "‘", "'", "’", "'",
	"…", "...", "\u00a0", " ", "\t", " ", "`", "'", "´", "'",
	"á", "a", "â", "a", "ã", "a", "ā", "a", "ą", "a", "ç", "c", "ć", "c", "č", "c", "ê", "e",
	"ë", "e", "ē", "e", "ę", "e", "ě", "e", "í", "i", "î", "i", "ï", "i", "ł", "l", "ń", "n",
	"ň", "n", "ó", "o", "ô", "o", "õ", "o", "ő", "o", "ř", "r", "ś", "s", "š", "s", "ş", "s",
	"ț", "t", "ţ", "t", "ú", "u", "û", "u", "ű", "u", "ů", "u", "ý", "y", "ź", "z", "ż", "z", "ž", "z",
	"Á", "A", "Â", "A", "À", "A", "Ą", "A", "Ć", "C", "Č", "C", "È", "E", "Ê", "E", "Ę", "E",
	"Í", "I", "Ł", "L", "Ń", "N", "Ó", "O", "Ô", "O", "Ś", "S", "Š", "S", "Ú", "U", "Ź", "Z",
	"Ż", "Z", "Ž", "Z",
)

// smsText makes a rendered SMS template sendable: plain GSM text (characters outside the
// alphabet spelled with ones inside it, so a stray dash does not halve the room per
// segment), lines joined, and cut with "..." to MaxSMSSegments segments. Only our own
// templates go through it; a person's free text is refused when too long, never cut.
func smsText(rendered string) string {
	text := gsmFallback.Replace(strings.TrimSpace(rendered))
	text = strings.Join(strings.Fields(strings.ReplaceAll(text, "\r", "")), " ")
	text = strings.Map(func(r rune) rune {
		if gsmSeptets(r) == 0 {
			return '?'
		}
		return r
	}, text)
	if SMSSegments(text) <= MaxSMSSegments {
		return text
	}
	runes := []rune(text)
	runes = runes[:min(len(runes), MaxSMSSegments*153)]
	for len(runes) > 0 && SMSSegments(string(runes)+"...") > MaxSMSSegments {
		runes = runes[:len(runes)-1]
	}
	return strings.TrimSpace(string(runes)) + "..."
}

// smsRefusal is why an SMS cannot go to r, or nil when it can: sends is false where the
// environment sends no SMS (SMS_MODE=off: no provider), r has no mobile number, or r has not
// chosen SMS (p). One rule for both process types: notifications-api answers it (409) to a
// request for an SMS, and the worker's pickup reminder goes by email instead.
func smsRefusal(sends bool, r recipient, p preferences) error {
	switch {
	case !sends:
		return platform.Conflict("this environment sends no SMS (SMS_MODE=off): send an email")
	case r.Phone == "":
		return platform.Conflict("customer %s has no mobile number: an SMS cannot reach them", r.CustomerID)
	case !p.SMS:
		return platform.Conflict("customer %s has not chosen to get SMS (their preferences)", r.CustomerID)
	}
	return nil
}

// checkSMS refuses a text no provider should get: empty, or longer than MaxSMSSegments.
func checkSMS(body string) error {
	if strings.TrimSpace(body) == "" {
		return Rejected(errors.New("the SMS has no text"))
	}
	if n := SMSSegments(body); n > MaxSMSSegments {
		return Rejected(fmt.Errorf("the SMS needs %d segments, at most %d are sent", n, MaxSMSSegments))
	}
	return nil
}
