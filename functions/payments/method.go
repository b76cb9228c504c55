package payments

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
)

// PaymentMethod is a tokenized card as payments-api shows it: an opaque id (pm_…) that
// bookings and every event name instead of the card, and what a person recognises the card
// by. The number and the CVC are never kept, by payments nor by its sandbox provider.
type PaymentMethod struct {
	ID        string    `json:"id"`
	Brand     string    `json:"brand"`
	Last4     string    `json:"last4"`
	ExpMonth  int       `json:"expMonth"`
	ExpYear   int       `json:"expYear"`
	CreatedAt time.Time `json:"createdAt"`
}

// MethodInput is the body of POST /api/payments/methods: the card as its holder types it in,
// or a token the provider's client-side code made of it (the sandbox's tok_success …).
type MethodInput struct {
	Card  *CardInput `json:"card,omitempty"`
	Token string     `json:"token,omitempty"`
}

// CardInput is a card's details. Validation messages never repeat them.
type CardInput struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"expMonth"`
	ExpYear  int    `json:"expYear"`
	CVC      string `json:"cvc"`
	Holder   string `json:"holder"`
}

// validMethodID reports whether id is a payment-method id as payments issues them.
func validMethodID(id string) bool {
	if len(id) != 35 || !strings.HasPrefix(id, "pm_") {
		return false
	}
	_, err := hex.DecodeString(id[3:])
	return err == nil && strings.ToLower(id) == id
}

func newMethodID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "pm_" + hex.EncodeToString(b[:]), nil
}

// luhn reports whether number (digits only) passes the card-number checksum.
func luhn(number string) bool {
	sum := 0
	for i := range len(number) {
		d := int(number[len(number)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// CardBrand names the card network of a number by its leading digits.
func CardBrand(number string) string {
	switch {
	case strings.HasPrefix(number, "4"):
		return "visa"
	case strings.HasPrefix(number, "34"), strings.HasPrefix(number, "37"):
		return "amex"
	case number >= "51" && number < "56", number >= "2221" && number < "2721":
		return "mastercard"
	}
	return "unknown"
}

func digitsOnly(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// validate checks the input and returns the card the provider gets: either card details
// (the number without spaces and dashes) or a token, never both.
func (in MethodInput) validate(now time.Time) (Card, []platform.FieldError) {
	var errs platform.FieldErrors
	switch {
	case in.Card == nil && in.Token == "":
		errs.Add("card", "required: the card's number, expMonth, expYear, cvc and holder (or a provider token in token)")
		return Card{}, errs
	case in.Card != nil && in.Token != "":
		errs.Add("token", "give either card or token, not both")
		return Card{}, errs
	case in.Token != "":
		if len(in.Token) > 100 || !strings.HasPrefix(in.Token, "tok_") {
			errs.Add("token", "must be a provider token (tok_…) of at most 100 characters")
		}
		return Card{Token: in.Token}, errs
	}
	c := *in.Card
	number := strings.NewReplacer(" ", "", "-", "").Replace(c.Number)
	switch {
	case !digitsOnly(number) || len(number) < 12 || len(number) > 19:
		errs.Add("card.number", "must be a card number of 12 to 19 digits")
	case !luhn(number):
		errs.Add("card.number", "is not a card number: its check digit does not match (a typo?)")
	}
	if c.ExpMonth < 1 || c.ExpMonth > 12 {
		errs.Add("card.expMonth", "must be a month from 1 to 12")
	}
	year := now.Year()
	switch {
	case c.ExpYear < year || c.ExpYear > year+20:
		errs.Add("card.expYear", fmt.Sprintf("must be a four-digit year from %d to %d", year, year+20))
	case c.ExpYear == year && c.ExpMonth >= 1 && c.ExpMonth < int(now.Month()):
		errs.Add("card.expMonth", "the card has expired")
	}
	if !digitsOnly(c.CVC) || len(c.CVC) < 3 || len(c.CVC) > 4 {
		errs.Add("card.cvc", "must be 3 or 4 digits")
	}
	holder := strings.TrimSpace(c.Holder)
	if holder == "" || utf8.RuneCountInString(holder) > 100 || !utf8.ValidString(holder) || strings.ContainsFunc(holder, unicode.IsControl) {
		errs.Add("card.holder", "required: the name on the card, at most 100 characters")
	}
	return Card{Number: number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, CVC: c.CVC, Holder: holder}, errs
}

const methodColumns = `id, brand, last4, exp_month, exp_year, created_at`

func scanMethod(row pgx.Row) (PaymentMethod, error) {
	var m PaymentMethod
	err := row.Scan(&m.ID, &m.Brand, &m.Last4, &m.ExpMonth, &m.ExpYear, &m.CreatedAt)
	return m, err
}

// CreateMethod has the provider tokenize card and keeps the provider's token under a new
// payment-method id, bound to customerID when it is not empty (a signed-in customer's own
// card). A card the provider refuses is a *Decline.
//
// An erased customer keeps no card: their sign-in may outlive the erasure (the identity
// provider's account is not customers-api's), and a card they tokenized was bound to the
// erased id and authorized (docs/security.md). Refused before the provider is asked, and
// again, under the customer's lock, by the insert itself (an erasure in flight).
func (s *Store) CreateMethod(ctx context.Context, card Card, customerID string) (PaymentMethod, error) {
	if customerID != "" {
		var erased bool
		if err := s.db.Pool.QueryRow(ctx, erasedCustomerSQL, customerID).Scan(&erased); err != nil {
			return PaymentMethod{}, err
		}
		if erased {
			return PaymentMethod{}, errErasedCustomer(customerID)
		}
	}
	pctx, cancel := s.providerCtx(ctx)
	defer cancel()
	t, err := s.provider.Tokenize(pctx, card)
	if err != nil {
		return PaymentMethod{}, err
	}
	id, err := newMethodID()
	if err != nil {
		return PaymentMethod{}, err
	}
	const insert = `INSERT INTO payments.payment_methods
		(id, customer_id, provider, provider_token, brand, last4, exp_month, exp_year)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8
		WHERE $2::uuid IS NULL OR NOT EXISTS (SELECT 1 FROM payments.erased_customers WHERE customer_id = $2::uuid)
		RETURNING ` + methodColumns
	if customerID == "" {
		return scanMethod(s.db.Pool.QueryRow(ctx, insert, id, nil, s.provider.Name(), t.Token, t.Brand, t.Last4, t.ExpMonth, t.ExpYear))
	}
	var m PaymentMethod
	err = s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockCustomerSharedSQL, customerID); err != nil {
			return err
		}
		var err error
		m, err = scanMethod(tx.QueryRow(ctx, insert, id, customerID, s.provider.Name(), t.Token, t.Brand, t.Last4, t.ExpMonth, t.ExpYear))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return PaymentMethod{}, errErasedCustomer(customerID)
	}
	return m, err
}

// erasedCustomerSQL tells whether customer $1 was erased (onErased).
const erasedCustomerSQL = `SELECT EXISTS (SELECT 1 FROM payments.erased_customers WHERE customer_id = $1)`

func errErasedCustomer(customerID string) error {
	return platform.Conflict("customer %s has been erased; no payment method is kept for an erased customer", customerID).WithCode("customer_erased")
}

// errUnusableMethod is a payment method that does not exist, belongs to another customer or
// another provider: the authorization fails as invalid_payment_method.
var errUnusableMethod = errors.New("invalid_payment_method")

// useMethod returns the provider token of payment method id for customerID's payment,
// binding an unbound method to the customer in tx; errUnusableMethod when it cannot pay.
//
// A method already bound to the customer is only read, under FOR KEY SHARE: that lock keeps
// an erasure's DELETE waiting for the payment, as before, but does not exclude other
// payments on the same card. (Updating the row on every use held its row lock through the
// provider call and the commit, so every booking paid with one card — an agent's bookings
// for a company, the load tests' — queued behind the previous one: 62 ms per use at 100
// bookings/s, the whole confirmation lag; docs/performance.md.) Only the first use writes:
// the UPDATE binds it, and a concurrent first use by another customer waits for it and
// then finds the method bound to someone else, by the same customer finds it theirs.
func (s *Store) useMethod(ctx context.Context, tx pgx.Tx, id, customerID string) (string, error) {
	if !validMethodID(id) {
		return "", errUnusableMethod
	}
	var (
		unbound, theirs bool
		token           string
	)
	err := tx.QueryRow(ctx, `SELECT customer_id IS NULL, coalesce(customer_id = $3, false), provider_token
		FROM payments.payment_methods WHERE id = $1 AND provider = $2
		  AND NOT EXISTS (SELECT 1 FROM payments.erased_customers WHERE customer_id = $3)
		FOR KEY SHARE OF payment_methods`,
		id, s.provider.Name(), customerID).Scan(&unbound, &theirs, &token)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", errUnusableMethod
	case err != nil:
		return "", err
	case theirs:
		return token, nil
	case !unbound:
		return "", errUnusableMethod
	}
	// Binding waits for an erasure of the customer in flight, and then sees it: a card is
	// never bound to an erased customer (onErased).
	if _, err := tx.Exec(ctx, lockCustomerSharedSQL, customerID); err != nil {
		return "", err
	}
	err = tx.QueryRow(ctx, `UPDATE payments.payment_methods SET customer_id = $2
		WHERE id = $1 AND (customer_id IS NULL OR customer_id = $2) AND provider = $3
		  AND NOT EXISTS (SELECT 1 FROM payments.erased_customers WHERE customer_id = $2)
		RETURNING provider_token`, id, customerID, s.provider.Name()).Scan(&token)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", errUnusableMethod
	}
	return token, err
}

// lockCustomerSQL and lockCustomerSharedSQL order an erasure of customer $1 (exclusive)
// and the binding of a card to them (shared: first uses of several cards do not wait for
// each other).
const (
	lockCustomerSQL       = `SELECT pg_advisory_xact_lock(hashtext('payments.customer'), hashtext($1::text))`
	lockCustomerSharedSQL = `SELECT pg_advisory_xact_lock_shared(hashtext('payments.customer'), hashtext($1::text))`
)

// MethodTTL is how long a payment method nobody used stays unbound before it is purged.
const MethodTTL = 24 * time.Hour

// PurgeUnusedMethods deletes the unbound payment methods older than MethodTTL.
func (s *Store) PurgeUnusedMethods(ctx context.Context) (int64, error) {
	tag, err := s.db.Pool.Exec(ctx, `DELETE FROM payments.payment_methods
		WHERE customer_id IS NULL AND created_at < now() - $1 * interval '1 millisecond'`, MethodTTL.Milliseconds())
	return tag.RowsAffected(), err
}
