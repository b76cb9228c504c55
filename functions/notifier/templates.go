package notifier

import (
	"fmt"
	"maps"
	"strings"
	"sync"
	"text/template"

	"github.com/orangecarrental/orange/events"
)

// Languages a customer may prefer; mail goes out in German unless the customer chose English.
const (
	German  = "de"
	English = "en"
)

// displayZone is the zone times are shown in: the company rents in Germany.
const displayZone = "Europe/Berlin"

// welcome is the template key of the mail customer.registered sends to a new account (a
// guest gets none: its booking's mails are its mail).
const welcome = events.CustomerRegistered

// verifyAddress is the template key of the mail customer.updated sends when an account's
// address changed: the link that verifies the new one.
const verifyAddress = "verify-address"

// verifyAgain is the template key of the mail customer.updated sends when it carries a link
// for an address that did not change: a new link asked for (POST …/verification), whose
// mail must not say the address changed.
const verifyAgain = "verify-again"

// pickupReminder is the template key of the reminder a confirmed booking gets 24 h before its
// pickup (reminder.go), by mail and, as the customer chose, by SMS (smsTexts).
const pickupReminder = "pickup-reminder"

// mailData is what a template may use. Amounts and times are already formatted for the
// recipient's language.
type mailData struct {
	Name           string // "Erika Mustermann"; empty when unknown
	ReservationID  string
	Reference      string // the reservation's short reference: the first 8 characters of its id, upper case
	Category       string
	PickupLocation string
	ReturnLocation string
	PickupAt       string
	ReturnAt       string
	Total          string
	Fee            string // cancellation fee; empty when none
	Reason         string
	Amount         string
	InvoiceNumber  string
	Net            string
	VAT            string
	Gross          string
	VerifyLink     string // the link that verifies an account's address; empty when none
	ManageLink     string // a guest's manage-booking link (guestlink.go); empty when none
	// OldPickupAt and OldReturnAt are a changed booking's dates before the change, each only
	// when it moved and the worker knew it (reservation.changed carries the new ones only).
	OldPickupAt string
	OldReturnAt string
}

// mailText is one template: subject and body, in one language.
type mailText struct{ subject, body string }

// texts holds every mail in German and English, by the event type that sends it.
var texts = map[string]map[string]mailText{
	welcome: {
		German: {"Willkommen bei Orange Car Rental", `{{greeting .}}

herzlich willkommen bei Orange Car Rental! Ihr Kundenkonto ist angelegt.
{{- if .VerifyLink}}
Bitte bestätigen Sie Ihre E-Mail-Adresse, bevor Sie reservieren:

{{.VerifyLink}}

Der Link gilt 72 Stunden und nur einmal. Haben Sie sich nicht bei uns
registriert, ignorieren Sie diese Nachricht: ohne Bestätigung kann mit dem
Konto nichts reserviert werden.
{{- else}}
Sie können jetzt an allen unseren Stationen Fahrzeuge reservieren.
{{- end}}

Gute Fahrt wünscht
Ihr Team von Orange Car Rental`},
		English: {"Welcome to Orange Car Rental", `{{greeting .}}

welcome to Orange Car Rental! Your customer account is ready.
{{- if .VerifyLink}}
Please confirm your email address before you book:

{{.VerifyLink}}

The link works once, for 72 hours. If you did not register with us, ignore
this message: nothing can be booked with the account until it is confirmed.
{{- else}}
You can now reserve vehicles at every one of our branches.
{{- end}}

Have a good trip,
the Orange Car Rental team`},
	},
	verifyAddress: {
		German: {"Bitte bestätigen Sie Ihre neue E-Mail-Adresse", `{{greeting .}}

Ihr Kundenkonto bei Orange Car Rental hat eine neue E-Mail-Adresse. Bitte
bestätigen Sie sie, bevor Sie wieder reservieren:

{{.VerifyLink}}

Der Link gilt 72 Stunden und nur einmal. Haben Sie die Adresse nicht
geändert, ignorieren Sie diese Nachricht.

Ihr Team von Orange Car Rental`},
		English: {"Please confirm your new email address", `{{greeting .}}

your Orange Car Rental account has a new email address. Please confirm it
before you book again:

{{.VerifyLink}}

The link works once, for 72 hours. If you did not change the address,
ignore this message.

The Orange Car Rental team`},
	},
	verifyAgain: {
		German: {"Bitte bestätigen Sie Ihre E-Mail-Adresse", `{{greeting .}}

hier ist ein neuer Link, mit dem Sie die E-Mail-Adresse Ihres Kundenkontos bei
Orange Car Rental bestätigen. Erst danach können Sie reservieren:

{{.VerifyLink}}

Der Link gilt 72 Stunden und nur einmal. Haben Sie kein Kundenkonto bei uns,
ignorieren Sie diese Nachricht.

Ihr Team von Orange Car Rental`},
		English: {"Please confirm your email address", `{{greeting .}}

here is a new link to confirm the email address of your Orange Car Rental
account. You can book once it is confirmed:

{{.VerifyLink}}

The link works once, for 72 hours. If you have no account with us, ignore this
message.

The Orange Car Rental team`},
	},
	events.ReservationCreated: {
		German: {"Ihre Reservierung {{.Reference}} ist vorgemerkt", `{{greeting .}}

wir halten das Fahrzeug für Sie bereit, bis Ihre Zahlung bestätigt ist; die
Bestätigung folgt in einer eigenen Nachricht.

Reservierung: {{.ReservationID}}
Fahrzeugklasse: {{.Category}}
Abholung: {{.PickupLocation}}, {{.PickupAt}}
Rückgabe: {{.ReturnLocation}}, {{.ReturnAt}}
Gesamtpreis: {{.Total}} (inkl. 19 % MwSt.)

Ihre Buchung ansehen, ändern oder stornieren, ohne Kundenkonto – und, falls
Ihre Karte abgelehnt wird, eine andere Karte angeben, solange die Reservierung
gehalten wird:

{{.ManageLink}}

Der Link ist persönlich: Geben Sie ihn nicht weiter. Er gilt bis 30 Tage
nach der Rückgabe.

Ihr Team von Orange Car Rental`},
		English: {"Your reservation {{.Reference}} is being held", `{{greeting .}}

we are holding the vehicle for you until your payment is authorized; the
confirmation follows in a message of its own.

Reservation: {{.ReservationID}}
Vehicle category: {{.Category}}
Pick-up: {{.PickupLocation}}, {{.PickupAt}}
Return: {{.ReturnLocation}}, {{.ReturnAt}}
Total: {{.Total}} (incl. 19% VAT)

View, change or cancel your booking, no account needed, and, should your card
be declined, name another card while the reservation is held:

{{.ManageLink}}

The link is personal: do not share it. It works until 30 days after the
return.

The Orange Car Rental team`},
	},
	events.ReservationConfirmed: {
		German: {"Ihre Reservierung {{.Reference}} ist bestätigt", `{{greeting .}}

Ihre Reservierung ist bestätigt.

Reservierung: {{.ReservationID}}
Fahrzeugklasse: {{.Category}}
Abholung: {{.PickupLocation}}, {{.PickupAt}}
Rückgabe: {{.ReturnLocation}}, {{.ReturnAt}}
Gesamtpreis: {{.Total}} (inkl. 19 % MwSt.)

Bitte bringen Sie zur Abholung Ihren Führerschein und Ihren Ausweis mit.
{{- if .ManageLink}}

Ihre Buchung ansehen, ändern oder stornieren (die Stornogebühr sehen Sie
vorher), ohne Kundenkonto:

{{.ManageLink}}

Der Link ist persönlich: Geben Sie ihn nicht weiter. Er gilt bis 30 Tage
nach der Rückgabe.
{{- end}}

Ihr Team von Orange Car Rental`},
		English: {"Your reservation {{.Reference}} is confirmed", `{{greeting .}}

your reservation is confirmed.

Reservation: {{.ReservationID}}
Vehicle category: {{.Category}}
Pick-up: {{.PickupLocation}}, {{.PickupAt}}
Return: {{.ReturnLocation}}, {{.ReturnAt}}
Total: {{.Total}} (incl. 19% VAT)

Please bring your driving licence and an ID document to the pick-up.
{{- if .ManageLink}}

View, change or cancel your booking (you see the cancellation fee first),
no account needed:

{{.ManageLink}}

The link is personal: do not share it. It works until 30 days after the
return.
{{- end}}

The Orange Car Rental team`},
	},
	events.ReservationCancelled: {
		German: {"Ihre Reservierung {{.Reference}} ist storniert", `{{greeting .}}

Ihre Reservierung {{.ReservationID}} ({{.PickupLocation}}, {{.PickupAt}}) ist storniert.
{{if .Fee}}Gemäß unseren Stornobedingungen berechnen wir eine Gebühr von {{.Fee}}.{{else}}Die Stornierung ist für Sie kostenlos.{{end}}
{{- if .Reason}}
Grund: {{.Reason}}{{end}}

Ihr Team von Orange Car Rental`},
		English: {"Your reservation {{.Reference}} is cancelled", `{{greeting .}}

your reservation {{.ReservationID}} ({{.PickupLocation}}, {{.PickupAt}}) is cancelled.
{{if .Fee}}Under our cancellation policy we charge a fee of {{.Fee}}.{{else}}The cancellation is free of charge.{{end}}
{{- if .Reason}}
Reason: {{.Reason}}{{end}}

The Orange Car Rental team`},
	},
	events.ReservationCompleted: {
		German: {"Danke für Ihre Fahrt – Reservierung {{.Reference}}", `{{greeting .}}

vielen Dank, dass Sie mit Orange Car Rental gefahren sind. Die Rückgabe in
{{.ReturnLocation}} am {{.ReturnAt}} ist erfasst; Ihre Rechnung folgt in einer
eigenen Nachricht.

Reservierung: {{.ReservationID}}

Wir freuen uns auf Ihre nächste Fahrt!
Ihr Team von Orange Car Rental`},
		English: {"Thank you for driving with us – reservation {{.Reference}}", `{{greeting .}}

thank you for driving with Orange Car Rental. The return at {{.ReturnLocation}}
on {{.ReturnAt}} is recorded; your invoice follows in a separate message.

Reservation: {{.ReservationID}}

We look forward to your next trip!
The Orange Car Rental team`},
	},
	events.PaymentCaptured: {
		German: {"Zahlung über {{.Amount}} erhalten", `{{greeting .}}

wir haben {{.Amount}} für Ihre Reservierung {{.ReservationID}} von Ihrem Zahlungsmittel eingezogen.

Ihr Team von Orange Car Rental`},
		English: {"Payment of {{.Amount}} received", `{{greeting .}}

we have charged {{.Amount}} for your reservation {{.ReservationID}} to your payment method.

The Orange Car Rental team`},
	},
	events.PaymentCharged: {
		German: {"Nachbelastung über {{.Amount}}", `{{greeting .}}

die Endabrechnung Ihrer Reservierung {{.ReservationID}} lag über dem vorgemerkten Betrag.
Den Unterschied von {{.Amount}} haben wir von Ihrem Zahlungsmittel eingezogen; die Rechnung
zeigt jede Position.

Ihr Team von Orange Car Rental`},
		English: {"Additional charge of {{.Amount}}", `{{greeting .}}

the final amount of your reservation {{.ReservationID}} was above the amount held on your
payment method. We have charged the difference of {{.Amount}}; the invoice shows every line.

The Orange Car Rental team`},
	},
	events.PaymentRefunded: {
		German: {"Erstattung über {{.Amount}}", `{{greeting .}}

wir haben Ihnen {{.Amount}} für Ihre Reservierung {{.ReservationID}} erstattet.
Je nach Bank kann die Gutschrift einige Tage dauern.

Ihr Team von Orange Car Rental`},
		English: {"Refund of {{.Amount}}", `{{greeting .}}

we have refunded {{.Amount}} for your reservation {{.ReservationID}}.
Depending on your bank, the credit may take a few days to appear.

The Orange Car Rental team`},
	},
	pickupReminder: {
		German: {"Erinnerung: Abholung am {{.PickupAt}}", `{{greeting .}}

wir erinnern Sie an die Abholung Ihres Fahrzeugs:

Reservierung: {{.ReservationID}}
Fahrzeugklasse: {{.Category}}
Abholung: {{.PickupLocation}}, {{.PickupAt}} (Ortszeit der Station)

Bitte bringen Sie Ihren Führerschein und Ihren Ausweis mit.

Gute Fahrt wünscht
Ihr Team von Orange Car Rental`},
		English: {"Reminder: pick-up on {{.PickupAt}}", `{{greeting .}}

a reminder of your vehicle pick-up:

Reservation: {{.ReservationID}}
Vehicle category: {{.Category}}
Pick-up: {{.PickupLocation}}, {{.PickupAt}} (the branch's local time)

Please bring your driving licence and an ID document.

Have a good trip,
the Orange Car Rental team`},
	},
	events.ReservationExpired: {
		German: {"Ihre Reservierung {{.Reference}} ist verfallen", `{{greeting .}}

die Zahlung für Ihre Reservierung {{.ReservationID}} ({{.PickupLocation}},
{{.PickupAt}}) wurde nicht rechtzeitig bestätigt. Wir haben das Fahrzeug
wieder freigegeben; eine vorgemerkte Zahlung geben wir frei, berechnet wird
nichts.

Möchten Sie trotzdem fahren? Buchen Sie einfach neu.

Ihr Team von Orange Car Rental`},
		English: {"Your reservation {{.Reference}} has expired", `{{greeting .}}

the payment for your reservation {{.ReservationID}} ({{.PickupLocation}},
{{.PickupAt}}) was not confirmed in time. We have released the vehicle; any
amount held on your card is released too, nothing is charged.

Still want to drive? Just book again.

The Orange Car Rental team`},
	},
	events.ReservationNoShow: {
		German: {"Nicht abgeholt: Reservierung {{.Reference}}", `{{greeting .}}

Sie haben das Fahrzeug Ihrer Reservierung {{.ReservationID}} ({{.PickupLocation}},
{{.PickupAt}}) nicht abgeholt. Die Reservierung ist damit beendet.
{{if .Fee}}Gemäß unseren Bedingungen berechnen wir eine Gebühr von {{.Fee}}; die
Rechnung folgt in einer eigenen Nachricht.{{else}}Es wird keine Gebühr berechnet.{{end}}

Ihr Team von Orange Car Rental`},
		English: {"Not picked up: reservation {{.Reference}}", `{{greeting .}}

the vehicle of your reservation {{.ReservationID}} ({{.PickupLocation}},
{{.PickupAt}}) was not picked up, so the reservation has ended.
{{if .Fee}}Under our terms we charge a fee of {{.Fee}}; the invoice follows in a
separate message.{{else}}No fee is charged.{{end}}

The Orange Car Rental team`},
	},
	events.ReservationChanged: {
		German: {"Ihre Reservierung {{.Reference}} wurde geändert", `{{greeting .}}

Ihre Reservierung ist geändert. So gilt sie jetzt:

Reservierung: {{.ReservationID}}
Fahrzeugklasse: {{.Category}}
Abholung: {{.PickupLocation}}, {{.PickupAt}}{{if .OldPickupAt}} (bisher {{.OldPickupAt}}){{end}}
Rückgabe: {{.ReturnLocation}}, {{.ReturnAt}}{{if .OldReturnAt}} (bisher {{.OldReturnAt}}){{end}}
Gesamtpreis: {{.Total}} (inkl. 19 % MwSt.)

Haben Sie die Änderung nicht veranlasst, melden Sie sich bitte bei uns.
{{- if .ManageLink}}

Ihre Buchung ansehen, ändern oder stornieren, ohne Kundenkonto:

{{.ManageLink}}

Der Link ist persönlich: Geben Sie ihn nicht weiter.
{{- end}}

Ihr Team von Orange Car Rental`},
		English: {"Your reservation {{.Reference}} has changed", `{{greeting .}}

your reservation has changed. This is how it stands now:

Reservation: {{.ReservationID}}
Vehicle category: {{.Category}}
Pick-up: {{.PickupLocation}}, {{.PickupAt}}{{if .OldPickupAt}} (was {{.OldPickupAt}}){{end}}
Return: {{.ReturnLocation}}, {{.ReturnAt}}{{if .OldReturnAt}} (was {{.OldReturnAt}}){{end}}
Total: {{.Total}} (incl. 19% VAT)

If you did not make this change, please contact us.
{{- if .ManageLink}}

View, change or cancel your booking, no account needed:

{{.ManageLink}}

The link is personal: do not share it.
{{- end}}

The Orange Car Rental team`},
	},
	events.InvoiceIssued: {
		German: {"Ihre Rechnung {{.InvoiceNumber}}", `{{greeting .}}

Ihre Rechnung {{.InvoiceNumber}} zur Reservierung {{.ReservationID}}:

Nettobetrag: {{.Net}}
MwSt. 19 %: {{.VAT}}
Gesamtbetrag: {{.Gross}}

Ihr Team von Orange Car Rental`},
		English: {"Your invoice {{.InvoiceNumber}}", `{{greeting .}}

your invoice {{.InvoiceNumber}} for reservation {{.ReservationID}}:

Net amount: {{.Net}}
VAT 19%: {{.VAT}}
Total: {{.Gross}}

The Orange Car Rental team`},
	},
}

// smsTexts holds the SMS a notification may also go as, by template key and language:
// plain text, no greeting (it costs room), made GSM-safe and bounded to MaxSMSSegments by
// smsText after rendering.
var smsTexts = map[string]map[string]string{
	pickupReminder: {
		German:  `Orange Car Rental: Erinnerung an Ihre Abholung am {{.PickupAt}} (Ortszeit) in {{.PickupLocation}}, Reservierung {{.Reference}}, {{.Category}}. Bitte Führerschein und Ausweis mitbringen.`,
		English: `Orange Car Rental: reminder of your pick-up on {{.PickupAt}} (local time) at {{.PickupLocation}}, reservation {{.Reference}}, {{.Category}}. Please bring your driving licence and ID.`,
	},
}

// templateSet is texts parsed, by event type and language.
type templateSet map[string]map[string]*template.Template

// workerTemplates are the worker's texts, parsed once per process on first use — the
// sender's first pass (Run, which the host starts once the process is ready) or the first
// event, whichever comes first — not in New: parsing every text was ~0.7 ms of a ~17 ms
// start spent before /readyz could answer (docs/benchmarks.md, "Start time"). The texts are
// compiled in, so a parse cannot fail in one process and not in another:
// TestWorkerTemplatesParse parses them; should it fail anyway, each event is answered 500
// (and retried by the Broker) and Run logs it.
var workerTemplates = sync.OnceValues(parseTemplates)

// parseTemplates parses every text; the "greeting" function opens a mail in its language.
// An SMS text is kept under smsKey(its key), with an empty subject.
func parseTemplates() (templateSet, error) {
	all := map[string]map[string]mailText{}
	maps.Copy(all, texts)
	for typ, byLang := range smsTexts {
		all[smsKey(typ)] = map[string]mailText{}
		for lang, body := range byLang {
			all[smsKey(typ)][lang] = mailText{body: body}
		}
	}
	out := templateSet{}
	for typ, byLang := range all {
		out[typ] = map[string]*template.Template{}
		for lang, t := range byLang {
			funcs := template.FuncMap{"greeting": func(d mailData) string { return greeting(lang, d.Name) }}
			tmpl := template.New(typ + "/" + lang).Funcs(funcs).Option("missingkey=error")
			if _, err := tmpl.New("subject").Parse(t.subject); err != nil {
				return nil, fmt.Errorf("template %s/%s subject: %w", typ, lang, err)
			}
			if _, err := tmpl.New("body").Parse(t.body); err != nil {
				return nil, fmt.Errorf("template %s/%s body: %w", typ, lang, err)
			}
			out[typ][lang] = tmpl
		}
	}
	return out, nil
}

// render returns the subject and body of the mail typ sends, in lang (German when the
// template has no such language).
func (ts templateSet) render(typ, lang string, d mailData) (subject, body string, err error) {
	byLang, ok := ts[typ]
	if !ok {
		return "", "", fmt.Errorf("no mail template for %s", typ)
	}
	tmpl, ok := byLang[lang]
	if !ok {
		tmpl = byLang[German]
	}
	var s, b strings.Builder
	if err := tmpl.ExecuteTemplate(&s, "subject", d); err != nil {
		return "", "", err
	}
	if err := tmpl.ExecuteTemplate(&b, "body", d); err != nil {
		return "", "", err
	}
	return s.String(), b.String() + "\n", nil
}

// renderFor renders template key typ for channel in lang: the mail's subject and body, or
// the SMS text (no subject). The worker's reminders, notifications-api's sends and its
// previews all render through it, so a preview shows what is sent.
func (ts templateSet) renderFor(typ, channel, lang string, d mailData) (subject, body string, err error) {
	if channel == ChannelSMS {
		body, err = ts.renderSMS(typ, lang, d)
		return "", body, err
	}
	return ts.render(typ, lang, d)
}

// smsKey is the templateSet key of the SMS text of template key typ.
func smsKey(typ string) string { return "sms/" + typ }

// renderSMS returns the SMS text of template key typ in lang: plain GSM text of at most
// MaxSMSSegments segments (smsText).
func (ts templateSet) renderSMS(typ, lang string, d mailData) (string, error) {
	_, body, err := ts.render(smsKey(typ), lang, d)
	if err != nil {
		return "", err
	}
	return smsText(body), nil
}

func greeting(lang, name string) string {
	switch {
	case lang == English && name != "":
		return "Hello " + name + ","
	case lang == English:
		return "Hello,"
	case name != "":
		return "Guten Tag " + name + ","
	default:
		return "Guten Tag,"
	}
}

// language maps a customer's preferred language to one we write in: English for "en" (and
// "en-GB" and the like), German for everything else.
func language(preferred string) string {
	p := strings.ToLower(strings.TrimSpace(preferred))
	if p == English || strings.HasPrefix(p, English+"-") || strings.HasPrefix(p, English+"_") {
		return English
	}
	return German
}
