package notifier

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// messageType is the type of a free-text message an agent sends.
const messageType = "message"

// Limits of a message an agent writes (an SMS: MaxSMSSegments parts, as the worker sends).
const (
	maxSubject  = 200
	maxBody     = 10_000
	maxDataText = 200
)

// SendInput is the body of POST /api/notifications: to one customer by channel, either a
// template (Template, with the booking's facts in Data) or free text (Subject and Body for
// email, Body for SMS).
type SendInput struct {
	CustomerID string `json:"customerId"`
	// Channel is email (default) or sms.
	Channel string `json:"channel"`
	// Language is de or en; empty: the customer's own.
	Language string `json:"language"`
	// Template is a key of GET /api/notifications/templates.
	Template string `json:"template"`
	// ReservationID links the message to a booking (the history's filter); a template that
	// shows the reservation needs it.
	ReservationID string        `json:"reservationId"`
	Data          *TemplateData `json:"data"`
	Subject       string        `json:"subject"`
	Body          string        `json:"body"`
}

// TemplateData are the facts of a templated message, as the agent's screen shows them
// (amounts and times already formatted). The greeting's name comes from the customer, the
// reservation's number from ReservationID; links are never typed by a person (a mail of ours
// carrying a link an agent typed is how a phishing relay starts), so a template that needs
// one cannot be sent by hand.
type TemplateData struct {
	Category       string `json:"category,omitempty"`
	PickupLocation string `json:"pickupLocation,omitempty"`
	ReturnLocation string `json:"returnLocation,omitempty"`
	PickupAt       string `json:"pickupAt,omitempty"`
	ReturnAt       string `json:"returnAt,omitempty"`
	Total          string `json:"total,omitempty"`
	Fee            string `json:"fee,omitempty"`
	Reason         string `json:"reason,omitempty"`
	Amount         string `json:"amount,omitempty"`
	InvoiceNumber  string `json:"invoiceNumber,omitempty"`
	Net            string `json:"net,omitempty"`
	VAT            string `json:"vat,omitempty"`
	Gross          string `json:"gross,omitempty"`
}

// dataFields names, by mailData field, where a sender gives it: "data.<name>", or
// "reservationId". A field missing here (the name, the links) no sender can give.
var dataFields = map[string]string{
	"ReservationID": "reservationId", "Reference": "reservationId",
	"Category": "data.category", "PickupLocation": "data.pickupLocation", "ReturnLocation": "data.returnLocation",
	"PickupAt": "data.pickupAt", "ReturnAt": "data.returnAt", "Total": "data.total", "Fee": "data.fee",
	"Reason": "data.reason", "Amount": "data.amount", "InvoiceNumber": "data.invoiceNumber", "Net": "data.net",
	"VAT": "data.vat", "Gross": "data.gross",
}

func (d *TemplateData) fields() map[string]string {
	if d == nil {
		return map[string]string{}
	}
	return map[string]string{"data.category": d.Category, "data.pickupLocation": d.PickupLocation,
		"data.returnLocation": d.ReturnLocation, "data.pickupAt": d.PickupAt, "data.returnAt": d.ReturnAt,
		"data.total": d.Total, "data.fee": d.Fee, "data.reason": d.Reason, "data.amount": d.Amount,
		"data.invoiceNumber": d.InvoiceNumber, "data.net": d.Net, "data.vat": d.VAT, "data.gross": d.Gross}
}

func (d *TemplateData) mailData(reservationID string) mailData {
	if d == nil {
		d = &TemplateData{}
	}
	return mailData{ReservationID: reservationID, Reference: reference(reservationID), Category: d.Category,
		PickupLocation: d.PickupLocation, ReturnLocation: d.ReturnLocation, PickupAt: d.PickupAt, ReturnAt: d.ReturnAt,
		Total: d.Total, Fee: d.Fee, Reason: d.Reason, Amount: d.Amount, InvoiceNumber: d.InvoiceNumber, Net: d.Net,
		VAT: d.VAT, Gross: d.Gross}
}

// validate checks the input's shape: what needs no database.
func (in *SendInput) validate(a *APIService) platform.FieldErrors {
	var errs platform.FieldErrors
	in.CustomerID = strings.ToLower(strings.TrimSpace(in.CustomerID))
	in.ReservationID = strings.ToLower(strings.TrimSpace(in.ReservationID))
	if !platform.ValidUUID(in.CustomerID) {
		errs.Add("customerId", "required: the customer's id (a UUID)")
	}
	if in.ReservationID != "" && !platform.ValidUUID(in.ReservationID) {
		errs.Add("reservationId", "must be a UUID")
	}
	if in.Channel == "" {
		in.Channel = ChannelEmail
	}
	if in.Channel != ChannelEmail && in.Channel != ChannelSMS {
		errs.Add("channel", "must be email or sms")
	}
	if in.Language != "" && in.Language != German && in.Language != English {
		errs.Add("language", "must be de or en (or absent: the customer's own)")
	}
	given := in.Data.fields()
	for _, field := range slices.Sorted(maps.Keys(given)) {
		checkText(&errs, field, given[field], maxDataText, false)
	}
	switch {
	case in.Template != "" && (in.Subject != "" || in.Body != ""):
		errs.Add("template", "give a template or a subject and body, not both")
	case in.Template != "":
		if _, ok := a.templates[in.Template]; !ok || isSMSKey(in.Template) {
			errs.Add("template", "unknown template; GET "+APIPrefix+"/templates lists them")
		}
	case in.Channel == ChannelSMS:
		if in.Subject != "" {
			errs.Add("subject", "an SMS has no subject")
		}
		checkText(&errs, "body", in.Body, maxBody, true)
		if n := SMSSegments(in.Body); n > MaxSMSSegments {
			errs.Add("body", "too long for an SMS: "+strconv.Itoa(n)+" parts, at most "+strconv.Itoa(MaxSMSSegments)+" (about 450 plain characters, 200 with emoji or other non-GSM characters)")
		}
	default:
		checkText(&errs, "subject", in.Subject, maxSubject, false)
		if strings.TrimSpace(in.Subject) == "" {
			errs.Add("subject", "required for an email (or give a template)")
		}
		checkText(&errs, "body", in.Body, maxBody, true)
	}
	if in.Template == "" && in.Data != nil {
		errs.Add("data", "only a template takes data")
	}
	if strings.TrimSpace(in.Body) == "" && in.Template == "" {
		errs.Add("body", "required (or give a template)")
	}
	return errs
}

// checkText bounds a text in characters and refuses control characters (a line break in a
// subject would reach a mail header); multiline allows line breaks and tabs.
func checkText(errs *platform.FieldErrors, field, v string, limit int, multiline bool) {
	if n := utf8.RuneCountInString(v); n > limit {
		errs.Add(field, "at most "+strconv.Itoa(limit)+" characters")
	}
	if strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t'))
	}) {
		errs.Add(field, "must not contain control characters")
	}
	// Links are never typed by a person: a mail of ours carrying a link an agent typed is how
	// a phishing relay starts (docs/notifications.md). The links our mails carry are the
	// ones events make.
	if platform.HasLink(v) {
		errs.Add(field, "must not contain a link: the links of our mail are the ones its events make")
	}
}

// handleSend records a message to a customer for the worker to send and answers 202 with
// it. Refused: an unknown customer (404: no customer event has told notifications about
// them), an erased one (409), an SMS the worker could not or must not send (409, smsRefusal:
// SMS_MODE=off, no mobile number, SMS not chosen), a template missing the facts it shows (422,
// naming them).
func (a *APIService) handleSend(w http.ResponseWriter, r *http.Request) error {
	var in SendInput
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	if errs := in.validate(a); len(errs) > 0 {
		return platform.Invalid("the message is invalid", errs...)
	}
	caller := platform.CallerFrom(r.Context())
	var out record
	err := a.db.InTx(r.Context(), func(tx pgx.Tx) error {
		var err error
		out, err = a.send(r.Context(), tx, in, caller.Subject)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"/"+out.ID)
	return platform.WriteJSON(w, http.StatusAccepted, view(out, caller, false))
}

// send queues in for its customer in tx and returns the new row.
func (a *APIService) send(ctx context.Context, tx pgx.Tx, in SendInput, requestedBy string) (record, error) {
	rcpt, err := getRecipient(ctx, tx, in.CustomerID)
	switch {
	case errors.Is(err, errUnknownRecipient):
		return record{}, platform.NotFound("no customer %s is known to notifications", in.CustomerID)
	case err != nil:
		return record{}, err
	case rcpt.Erased:
		return record{}, platform.Conflict("customer %s was erased: nothing can be sent to them", in.CustomerID)
	}
	if in.ReservationID != "" {
		// The booking's number goes into the mail and the message is filed under it: a
		// booking this worker knows is another customer's is refused (one it has not heard
		// of yet — a hold not yet confirmed — cannot be told, and is taken).
		var owner string
		err := tx.QueryRow(ctx, `SELECT customer_id::text FROM notifier.reminders WHERE reservation_id = $1`, in.ReservationID).Scan(&owner)
		switch {
		case err == nil && owner != in.CustomerID:
			return record{}, platform.Invalid("the message does not fit the booking",
				platform.FieldError{Field: "reservationId", Reason: "is a booking of another customer"})
		case err != nil && !errors.Is(err, pgx.ErrNoRows):
			return record{}, err
		}
	}
	to := rcpt.Email
	if in.Channel == ChannelSMS {
		if err := a.smsAllowed(ctx, tx, rcpt); err != nil {
			return record{}, err
		}
		to = rcpt.Phone
	}
	lang := in.Language
	if lang == "" {
		lang = rcpt.Language
	}
	p := pending{Source: APIServiceName, EventID: uuid.NewString(), Type: messageType, Channel: in.Channel,
		CustomerID: in.CustomerID, ReservationID: in.ReservationID, Recipient: to, RecipientName: fullName(rcpt),
		Language: lang, Subject: strings.TrimSpace(in.Subject), Body: in.Body, RequestedBy: requestedBy}
	if in.Template != "" {
		p.Type = in.Template
		if p.Subject, p.Body, err = a.renderSent(in, lang, fullName(rcpt)); err != nil {
			return record{}, err
		}
	}
	id, err := queue(ctx, tx, p)
	if err != nil {
		return record{}, err
	}
	return getRecord(ctx, tx, id)
}

// smsAllowed refuses (409) an SMS to rcpt that the worker could not or must not send
// (smsRefusal, the worker's own rule for reminders).
func (a *APIService) smsAllowed(ctx context.Context, tx pgx.Tx, rcpt recipient) error {
	prefs, err := getPreferences(ctx, tx, rcpt.CustomerID)
	if err != nil {
		return err
	}
	return smsRefusal(sendsSMS(a.cfg.SMSMode), rcpt, prefs)
}

// renderSent renders in's template for its channel in lang for the customer called name,
// after checking that the sender gave every fact the template shows: by SMS its SMS text,
// made exactly as the worker makes a reminder's and the preview shows it (renderFor).
func (a *APIService) renderSent(in SendInput, lang, name string) (subject, body string, err error) {
	tmpl, err := a.pick(in.Template, in.Channel, lang)
	if err != nil {
		return "", "", err
	}
	given := in.Data.fields()
	given["reservationId"] = in.ReservationID
	var missing platform.FieldErrors
	for _, field := range templateFields(tmpl) {
		where, ok := dataFields[field]
		switch {
		case !ok && field != "Name":
			return "", "", platform.Errorf(platform.KindUnprocessable,
				"template %s shows a link that only its event can make (%s): it cannot be sent by hand", in.Template, field)
		case ok && given[where] == "":
			missing.Add(where, "template "+in.Template+" shows it")
		}
	}
	if len(missing) > 0 {
		return "", "", &platform.Error{Kind: platform.KindUnprocessable, Message: "the template needs facts the message does not give", Fields: uniqueFields(missing)}
	}
	d := in.Data.mailData(in.ReservationID)
	d.Name = name
	return a.templates.renderFor(in.Template, in.Channel, lang, d)
}

func uniqueFields(errs platform.FieldErrors) []platform.FieldError {
	seen := map[string]bool{}
	var out []platform.FieldError
	for _, e := range errs {
		if !seen[e.Field] {
			seen[e.Field] = true
			out = append(out, e)
		}
	}
	return out
}
