package notifier

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// handleResend queues notification {id} again: a new pending row with the same type,
// channel, language, subject and body, resend_of naming the original and requested_by the
// agent. The worker sends it. Retried with the same Idempotency-Key it answers the first
// answer and queues nothing more.
//
// It goes to the customer's address (or number) as the read model knows it now, not the
// one of the original: a customer who did not get a mail has often just corrected a typo.
// Refused with 409: a notification still queued (the worker will send it; a second copy
// would only duplicate it), an erased customer's (nothing is left to send), an SMS that
// could not go now (smsRefusal: SMS_MODE=off, no number any more, SMS no longer chosen).
func (a *APIService) handleResend(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "notification")
	if err != nil {
		return err
	}
	if err := platform.ParseQuery(r).Err("no parameters are taken"); err != nil {
		return err
	}
	caller := platform.CallerFrom(r.Context())
	var out record
	err = a.db.InTx(r.Context(), func(tx pgx.Tx) error {
		var err error
		out, err = a.resend(r.Context(), tx, id, caller.Subject)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", APIPrefix+"/"+out.ID)
	return platform.WriteJSON(w, http.StatusAccepted, view(out, caller, false))
}

// resend queues the repeat of notification id in tx and returns the new row.
func (a *APIService) resend(ctx context.Context, tx pgx.Tx, id, requestedBy string) (record, error) {
	n, err := getRecord(ctx, tx, id)
	if errors.Is(err, errNoNotification) || (err == nil && !maySee(platform.CallerFrom(ctx), n.CustomerID)) {
		return record{}, platform.NotFound("no notification %s", id)
	}
	if err != nil {
		return record{}, err
	}
	if n.CustomerID == reportRecipient {
		// The admins' report mail has no customer behind it: it goes again to the address
		// it went to (one of REPORT_MAIL_TO), unless it is still queued.
		if n.Status == "pending" {
			return record{}, platform.Conflict("notification %s is still queued: the worker sends it (and retries it), a resend would only duplicate it", id).WithCode("notification_queued")
		}
		newID, err := queue(ctx, tx, pending{Source: APIServiceName, EventID: uuid.NewString(), Type: n.Type, Channel: n.Channel,
			CustomerID: n.CustomerID, Recipient: n.Recipient, Language: n.Language, Subject: n.Subject, Body: n.Body,
			RequestedBy: requestedBy, ResendOf: n.ID})
		if err != nil {
			return record{}, err
		}
		return getRecord(ctx, tx, newID)
	}
	// getRecipient locks the recipient FOR SHARE: an erasure (which updates the recipient first, then the
	// notifications) waits for this transaction and then redacts the resend too; one that
	// committed before is seen here and in the notification read again after the lock.
	// Locking the notification instead could deadlock with an erasure's redaction.
	rcpt, err := getRecipient(ctx, tx, n.CustomerID)
	if err == nil {
		n, err = getRecord(ctx, tx, id)
	}
	switch {
	case errors.Is(err, errUnknownRecipient):
		// Every notification was made for a known recipient; only a hand-made row lacks one.
		return record{}, platform.Conflict("customer %s is not known to notifications: nothing to resend to", n.CustomerID).WithCode("recipient_unknown")
	case err != nil:
		return record{}, err
	case rcpt.Erased || n.Erased || n.Body == "":
		return record{}, platform.Conflict("notification %s belongs to an erased customer: its content is gone, nothing can be resent", id).WithCode("customer_erased")
	case n.Status == "pending":
		return record{}, platform.Conflict("notification %s is still queued: the worker sends it (and retries it), a resend would only duplicate it", id).WithCode("notification_queued")
	}
	to := rcpt.Email
	if n.Channel == ChannelSMS {
		if err := a.smsAllowed(ctx, tx, rcpt); err != nil {
			return record{}, err
		}
		to = rcpt.Phone
	}
	newID, err := queue(ctx, tx, pending{Source: APIServiceName, EventID: uuid.NewString(), Type: n.Type, Channel: n.Channel,
		CustomerID: n.CustomerID, ReservationID: n.ReservationID, Recipient: to, RecipientName: fullName(rcpt),
		Language: n.Language, Subject: n.Subject, Body: n.Body, RequestedBy: requestedBy, ResendOf: n.ID})
	if err != nil {
		return record{}, err
	}
	return getRecord(ctx, tx, newID)
}
