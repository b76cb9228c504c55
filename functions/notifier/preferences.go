package notifier

import (
	"errors"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// Preferences are a customer's channels for the messages they may choose how to get
// (pickup reminders): mail that records a transaction always goes by email.
type Preferences struct {
	CustomerID string `json:"customerId"`
	Email      *bool  `json:"email"`
	SMS        *bool  `json:"sms"`
	// SMSAvailable says whether notifications knows a mobile number of the customer (read
	// only: the number is kept in the customer's profile, customers-api).
	SMSAvailable bool `json:"smsAvailable"`
}

// preferencesOwner is whose preferences a request is about: a customer's own (naming
// another answers 404), or for staff the one ?customerId names (required).
func preferencesOwner(r *http.Request) (string, error) {
	q := platform.ParseQuery(r, "customerId")
	id := q.UUID("customerId")
	caller := platform.CallerFrom(r.Context())
	if q.Get("customerId") == "" && caller.Staff() {
		q.Fail("customerId", "required: whose preferences")
	}
	if err := q.Err("invalid query"); err != nil {
		return "", err
	}
	if id == "" {
		id = caller.CustomerID
	}
	if !caller.MaySee(id) {
		return "", platform.NotFound("no customer %s", id)
	}
	return id, nil
}

// handleGetPreferences answers the customer's channels; a customer who never chose has the
// defaults (email only), and so does one notifications has not heard of yet.
func (a *APIService) handleGetPreferences(w http.ResponseWriter, r *http.Request) error {
	id, err := preferencesOwner(r)
	if err != nil {
		return err
	}
	p, err := getPreferences(r.Context(), a.db.Pool, id)
	if err != nil {
		return err
	}
	var phone string
	err = a.db.Pool.QueryRow(r.Context(), `SELECT coalesce(phone, '') FROM notifier.recipients WHERE customer_id = $1`, id).Scan(&phone)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, Preferences{CustomerID: id, Email: &p.Email, SMS: &p.SMS, SMSAvailable: phone != ""})
}

// handlePutPreferences sets the customer's channels, both given. At least one must be on;
// SMS needs a mobile number (409 until the profile has one) and an environment that sends
// SMS at all; an erased customer has no preferences to set (409); one notifications has
// not heard of yet (customer events lag) may choose email only.
func (a *APIService) handlePutPreferences(w http.ResponseWriter, r *http.Request) error {
	id, err := preferencesOwner(r)
	if err != nil {
		return err
	}
	var in Preferences
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	var errs platform.FieldErrors
	if in.CustomerID != "" && in.CustomerID != id {
		errs.Add("customerId", "must be absent or the customer the query names")
	}
	if in.Email == nil {
		errs.Add("email", "required: true or false")
	}
	if in.SMS == nil {
		errs.Add("sms", "required: true or false")
	}
	if in.Email != nil && in.SMS != nil && !*in.Email && !*in.SMS {
		errs.Add("email", "at least one channel must stay on")
	}
	if len(errs) > 0 {
		return platform.Invalid("the preferences are invalid", errs...)
	}
	if *in.SMS && !sendsSMS(a.cfg.SMSMode) {
		return platform.Conflict("this environment sends no SMS (SMS_MODE=off): choose email")
	}
	var phone string
	err = a.db.InTx(r.Context(), func(tx pgx.Tx) error {
		rcpt, err := getRecipient(r.Context(), tx, id)
		switch {
		case errors.Is(err, errUnknownRecipient):
			if *in.SMS {
				return platform.Conflict("no mobile number is known for customer %s: add one to the profile before choosing SMS", id)
			}
		case err != nil:
			return err
		case rcpt.Erased:
			return platform.Conflict("customer %s was erased: there are no preferences to set", id)
		case *in.SMS && rcpt.Phone == "":
			return platform.Conflict("no mobile number is known for customer %s: add one to the profile before choosing SMS", id)
		}
		phone = rcpt.Phone
		_, err = tx.Exec(r.Context(), putPreferencesSQL, id, *in.Email, *in.SMS)
		return err
	})
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, Preferences{CustomerID: id, Email: in.Email, SMS: in.SMS, SMSAvailable: phone != ""})
}
