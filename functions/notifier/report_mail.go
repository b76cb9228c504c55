package notifier

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// reportRecipient is the customer id of the admins' report mails: the notifications table
// names a customer on every row, and no customer has the nil UUID, so no customer's history
// lists them and no erasure touches them. They hold the month's revenue: of the staff only
// admins see them (maySee), agents' lists leave them out.
const reportRecipient = "00000000-0000-0000-0000-000000000000"

// maySee reports whether caller may see a notification of customerID: the customer and
// staff (platform.Caller.MaySee), but the admins' report mails admins only.
func maySee(caller platform.Caller, customerID string) bool {
	if customerID == reportRecipient {
		return caller.Has(platform.RoleAdmin)
	}
	return caller.MaySee(customerID)
}

// checkReportMailTo holds REPORT_MAIL_TO to bare addresses, at most 20.
func (c *Config) checkReportMailTo() error {
	var clean []string
	for _, a := range c.ReportMailTo {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		addr, err := mail.ParseAddress(a)
		if err != nil || addr.Name != "" {
			return fmt.Errorf("REPORT_MAIL_TO: %q is not a bare mail address", a)
		}
		clean = append(clean, addr.Address)
	}
	if len(clean) > 20 {
		return fmt.Errorf("REPORT_MAIL_TO names %d addresses, at most 20", len(clean))
	}
	c.ReportMailTo = clean
	return nil
}

// reportFrozen queues the monthly report's summary for every REPORT_MAIL_TO address, one
// notification each (the event id and the address's position key it: a redelivery queues
// nothing more). With no address configured nothing is sent, and that is logged.
func (s *Service) reportFrozen(ctx context.Context, tx pgx.Tx, e cloudevents.Event) error {
	r, err := events.DecodeData[events.ReportSummary](e)
	if err != nil {
		return err
	}
	if len(r.Month) != 7 || r.Month[4] != '-' {
		return events.Permanentf("%s: month %q is not yyyy-mm", e.Type(), r.Month)
	}
	if len(s.cfg.ReportMailTo) == 0 {
		platform.LoggerFrom(ctx).InfoContext(ctx, "monthly report not mailed: REPORT_MAIL_TO is empty", slog.String("month", r.Month))
		return nil
	}
	subject, body := reportMail(r)
	for i, to := range s.cfg.ReportMailTo {
		p := pending{Source: e.Source(), EventID: fmt.Sprintf("%s/%d", e.ID(), i), Type: e.Type(), Channel: ChannelEmail,
			CustomerID: reportRecipient, Recipient: to, Language: English, Subject: subject, Body: body}
		if _, err := queue(ctx, tx, p); err != nil {
			return err
		}
	}
	return nil
}

// reportMail is the admins' mail: the month's figures over all branches and categories and
// where the whole report is.
func reportMail(r events.ReportSummary) (subject, body string) {
	eur := func(c int64) string { return money(c, r.Currency, English) }
	subject = "Monthly report " + r.Month + " / Monatsbericht " + r.Month
	body = fmt.Sprintf(`The report of %[1]s (Europe/Berlin) is frozen. All branches and categories:

Utilisation:        %.1f %% (%d of %d available car-days rented)
Revenue net:        %s
VAT:                %s
Revenue gross:      %s
ADR (net/day):      %s
RevPAC (net/day):   %s
Bookings:           %d
Cancellations:      %d
No-shows:           %d

Per branch and category, as JSON: GET /api/reports/monthly/%[1]s
The figures are defined in docs/reports.md.

Der Bericht für %[1]s ist abgeschlossen; die Zahlen oben gelten für alle
Stationen und Fahrzeugklassen.
`, r.Month, r.Utilisation*100, r.RentedCarDays, r.AvailableCarDays, eur(r.RevenueNetCents), eur(r.RevenueVatCents),
		eur(r.RevenueGrossCents), eur(r.ADRCents), eur(r.RevPACCents), r.Bookings, r.Cancellations, r.NoShows)
	return subject, body
}
