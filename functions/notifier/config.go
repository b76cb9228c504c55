package notifier

import (
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"path/filepath"
	"time"
)

// The mail modes: where the sender puts a message.
const (
	// ModeFolder writes each message as <MAIL_DIR>/<notification id>.eml (local development).
	ModeFolder = "folder"
	// ModeSMTP hands each message to an SMTP server (staging, production).
	ModeSMTP = "smtp"
	// ModeOff (SMS_MODE only) sends no SMS: reminders go by email, and an SMS someone
	// asks for fails with the reason. The cluster runs so until an SMS provider is set up.
	ModeOff = "off"
)

// Config is the worker's configuration, read from the environment.
type Config struct {
	// Mode is folder or smtp.
	Mode string `env:"MAIL_MODE, default=folder"`
	// Dir is the mail folder in folder mode.
	Dir string `env:"MAIL_DIR, default=.data/mail"`
	// From is the sender of every message, e.g. "Orange Car Rental <noreply@example.com>";
	// its domain also names the Message-ID.
	From string `env:"MAIL_FROM, default=Orange Car Rental <noreply@orangecarrental.com>"`
	// LinkBase is the public site the links in mail point to: an account's verification
	// link is <LinkBase>/verify-email#token=… (the token in the fragment never reaches a
	// server's access log; the page posts it to POST /api/customers/verify-email).
	LinkBase string `env:"MAIL_LINK_BASE, default=http://localhost:8080"`
	SMTP     SMTPConfig
	// PollInterval is how often the sender looks for due notifications; a LISTEN/NOTIFY wake-up
	// usually comes first.
	PollInterval time.Duration `env:"MAIL_POLL_INTERVAL, default=250ms"`
	// RetryBase is the wait after the first failed attempt; it doubles per attempt up to
	// RetryMax.
	RetryBase time.Duration `env:"MAIL_RETRY_BASE, default=5s"`
	RetryMax  time.Duration `env:"MAIL_RETRY_MAX, default=10m"`
	// MaxAttempts bounds the attempts of one notification; after the last it is failed.
	MaxAttempts int `env:"MAIL_MAX_ATTEMPTS, default=10"`
	SMS         SMSConfig
	// ReminderSweep is how often due pickup reminders become notifications (reminder.go).
	ReminderSweep time.Duration `env:"REMINDER_SWEEP_INTERVAL, default=30s"`
	// ReportMailTo are the admins' addresses (comma-separated) that get the monthly report
	// when report-worker freezes it (report.frozen, report_mail.go); empty: no mail, logged.
	ReportMailTo []string `env:"REPORT_MAIL_TO"`
}

// SMSConfig selects the SMS provider. Retries, backoff and MAIL_MAX_ATTEMPTS are the mail's.
type SMSConfig struct {
	// Mode is folder (the default: one file per message, for `orange dev`) or off (no SMS;
	// the manifests' setting until a provider is configured, docs/notifications-worker.md).
	Mode string `env:"SMS_MODE, default=folder"`
	// Dir is the SMS folder in folder mode; empty: "sms" beside MAIL_DIR (.data/sms).
	Dir string `env:"SMS_DIR"`
}

// SMTPConfig is how the smtp sender reaches its server.
type SMTPConfig struct {
	Host     string `env:"SMTP_HOST"`
	Port     int    `env:"SMTP_PORT, default=587"`
	Username string `env:"SMTP_USERNAME"`
	// Password is never logged nor printed (see secret).
	Password secret `env:"SMTP_PASSWORD"`
	// Timeout bounds one message's whole SMTP conversation.
	Timeout time.Duration `env:"SMTP_TIMEOUT, default=30s"`
	// From is the envelope sender (MAIL FROM); New fills it from MAIL_FROM.
	From string
	// HelloName is the name the client gives in EHLO; empty: the host name.
	HelloName string `env:"SMTP_HELO_NAME"`
}

// secret is a string that prints as "xxxxx" wherever fmt or slog would show it.
type secret string

func (s secret) String() string {
	if s == "" {
		return ""
	}
	return "xxxxx"
}

// MarshalText keeps the password out of JSON (slog's JSON handler marshals structs).
func (s secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s secret) GoString() string           { return `"` + s.String() + `"` }
func (s secret) LogValue() slog.Value       { return slog.StringValue(s.String()) }
func (s secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// Validate checks the settings of the chosen mode and fills SMTP.From.
func (c *Config) Validate() error {
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return fmt.Errorf("MAIL_FROM %q is not a mail address: %v", c.From, err)
	}
	c.SMTP.From = from.Address
	if base, err := url.Parse(c.LinkBase); err != nil || (base.Scheme != "https" && base.Scheme != "http") ||
		base.Host == "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return fmt.Errorf("MAIL_LINK_BASE must be an http(s) URL without query or fragment, got %q", c.LinkBase)
	}
	switch c.Mode {
	case ModeFolder:
		if c.Dir == "" {
			return fmt.Errorf("MAIL_DIR must not be empty in folder mode")
		}
	case ModeSMTP:
		if c.SMTP.Host == "" {
			return fmt.Errorf("SMTP_HOST is required when MAIL_MODE=smtp")
		}
		if c.SMTP.Port < 1 || c.SMTP.Port > 65535 {
			return fmt.Errorf("SMTP_PORT must be a TCP port, got %d", c.SMTP.Port)
		}
		if c.SMTP.Timeout <= 0 {
			return fmt.Errorf("SMTP_TIMEOUT must be positive, got %s", c.SMTP.Timeout)
		}
		if c.SMTP.Password != "" && c.SMTP.Username == "" {
			return fmt.Errorf("SMTP_PASSWORD is set but SMTP_USERNAME is not")
		}
	default:
		return fmt.Errorf("MAIL_MODE must be %s or %s, got %q", ModeFolder, ModeSMTP, c.Mode)
	}
	if err := checkSMSMode(c.SMS.Mode); err != nil {
		return err
	}
	if c.SMS.Mode == ModeFolder && c.SMS.Dir == "" {
		c.SMS.Dir = filepath.Join(filepath.Dir(filepath.Clean(c.Dir)), "sms")
	}
	if c.ReminderSweep <= 0 {
		return fmt.Errorf("REMINDER_SWEEP_INTERVAL must be positive, got %s", c.ReminderSweep)
	}
	if c.PollInterval <= 0 {
		return fmt.Errorf("MAIL_POLL_INTERVAL must be positive, got %s", c.PollInterval)
	}
	if c.RetryBase <= 0 || c.RetryMax < c.RetryBase {
		return fmt.Errorf("MAIL_RETRY_BASE must be positive and at most MAIL_RETRY_MAX, got %s and %s", c.RetryBase, c.RetryMax)
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("MAIL_MAX_ATTEMPTS must be at least 1, got %d", c.MaxAttempts)
	}
	return c.checkReportMailTo()
}

// LogValue shows the configuration without the password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("mode", c.Mode), slog.String("from", c.From), slog.String("linkBase", c.LinkBase)}
	if c.Mode == ModeSMTP {
		attrs = append(attrs, slog.String("smtpHost", c.SMTP.Host), slog.Int("smtpPort", c.SMTP.Port),
			slog.String("smtpUsername", c.SMTP.Username), slog.Bool("smtpPasswordSet", c.SMTP.Password != ""))
	} else {
		attrs = append(attrs, slog.String("dir", c.Dir))
	}
	attrs = append(attrs, slog.String("smsMode", c.SMS.Mode), slog.Int("reportMailTo", len(c.ReportMailTo)))
	if c.SMS.Mode == ModeFolder {
		attrs = append(attrs, slog.String("smsDir", c.SMS.Dir))
	}
	return slog.GroupValue(attrs...)
}

// backoff is the wait before attempt n+1 after n failed attempts.
func (c Config) backoff(attempts int) time.Duration {
	d := c.RetryBase
	for i := 1; i < attempts && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}

// checkSMSMode checks an SMS_MODE; both process types read it, set alike on both Services.
func checkSMSMode(mode string) error {
	if mode != ModeFolder && mode != ModeOff {
		return fmt.Errorf("SMS_MODE must be %s or %s, got %q", ModeFolder, ModeOff, mode)
	}
	return nil
}

// sendsSMS reports whether SMS_MODE mode sends SMS at all: the worker has a provider (New),
// and notifications-api takes requests for SMS, exactly when it does.
func sendsSMS(mode string) bool { return mode != ModeOff }
