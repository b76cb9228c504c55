package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Provider is a card payment provider. Card details go to it once, in Tokenize; every other
// call names the card by the provider's token. Every call that moves money carries an
// idempotency key: a provider answers a repeated key with the first call's outcome and does
// nothing again, so a retry after a lost answer (or a redelivered event) never charges twice.
type Provider interface {
	Name() string
	// Tokenize vaults a card and returns the provider's token for it with the card's public
	// data. A card the provider will not take is a *Decline.
	Tokenize(ctx context.Context, card Card) (CardToken, error)
	// Authorize reserves amount on the card behind token and returns the authorization's
	// reference. A refused card is a *Decline.
	Authorize(ctx context.Context, key, token string, amountCents int64) (string, error)
	// Capture takes amount (at most the authorization + 15 %) from an authorization, once;
	// whatever is not captured is released.
	Capture(ctx context.Context, key, ref string, amountCents int64) error
	// Void releases an authorization that was not captured.
	Void(ctx context.Context, key, ref string) error
	// Refund pays back amount of what ref collected — an authorization's capture, or a
	// Charge — never more than it collected.
	Refund(ctx context.Context, key, ref string, amountCents int64) error
	// Adjust changes an authorization that was not captured to amount (an adjustment of the
	// authorization, as providers offer car rental merchants): a decrease releases the
	// difference; an increase may be a *Decline, which leaves the authorization as it was.
	Adjust(ctx context.Context, key, ref string, amountCents int64) error
	// Charge takes amount from the card behind token at once (a merchant-initiated charge
	// with no authorization before it) and returns the charge's reference. A refused card is
	// a *Decline.
	Charge(ctx context.Context, key, token string, amountCents int64) (string, error)
}

// Card is what a card holder types in, or a token the provider's own client-side code made
// from it (Token; the sandbox's test tokens such as tok_success). It lives only for the
// Tokenize call: nothing of it but what CardToken returns is kept.
type Card struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
	Holder   string
	Token    string
}

// CardToken is the provider's answer to Tokenize: its token for the card and the card's
// public data.
type CardToken struct {
	Token    string
	Brand    string
	Last4    string
	ExpMonth int
	ExpYear  int
}

// Decline is a card refused by the provider: final, retrying the same card will not help.
type Decline struct{ Code string }

func (d *Decline) Error() string { return "the card was declined: " + d.Code }

// ErrProviderUnavailable is a provider that did not answer in time: the outcome is unknown
// and the call must be retried (with the same idempotency key).
var ErrProviderUnavailable = errors.New("the payment provider did not answer in time")

// ErrProviderRefused is an operation the provider refuses for the authorization's state
// (a second capture, a capture beyond the authorization, a refund beyond the capture).
var ErrProviderRefused = errors.New("the payment provider refused the operation")

// Sandbox test cards and tokens, like a payment provider's test mode: the number (or the
// test token standing for it) decides what authorizations of the card do. The sandbox takes
// no other card.
const (
	TokenSuccess           = "tok_success"            // 4242424242424242: authorized
	TokenDecline           = "tok_decline"            // 4000000000000002: card_declined
	TokenInsufficientFunds = "tok_insufficient_funds" // 4000000000009995: insufficient_funds
	TokenTimeout           = "tok_timeout"            // 4000000000000119: no answer until the deadline
	// TokenLaterDeclined (4000000000000341) authorizes, then declines what the merchant asks
	// of the card later: a raised authorization, a second charge (card_declined).
	TokenLaterDeclined = "tok_later_declined"
)

// The sandbox's test card numbers.
const (
	CardSuccess           = "4242424242424242"
	CardDecline           = "4000000000000002"
	CardInsufficientFunds = "4000000000009995"
	CardTimeout           = "4000000000000119"
	CardLaterDeclined     = "4000000000000341"
)

// sandboxCards maps the test numbers to their behaviour; sandboxTokens the test tokens to
// their numbers.
var (
	sandboxCards = map[string]string{
		CardSuccess: "success", CardDecline: "decline", CardInsufficientFunds: "insufficient_funds", CardTimeout: "timeout",
		CardLaterDeclined: "later_declined",
	}
	sandboxTokens = map[string]string{
		TokenSuccess: CardSuccess, "tok_visa": CardSuccess, TokenDecline: CardDecline,
		TokenInsufficientFunds: CardInsufficientFunds, TokenTimeout: CardTimeout, TokenLaterDeclined: CardLaterDeclined,
	}
)

// Sandbox is the built-in provider: deterministic test tokens, and books of its own
// (payments.sandbox_*) written through its own connection pool, never in the caller's
// transaction — it behaves like a remote provider that does not roll back with us.
type Sandbox struct {
	pool   *pgxpool.Pool
	schema string
	// MaxWait bounds how long the timeout token hangs when the context has no deadline.
	MaxWait time.Duration
}

// NewSandbox opens the sandbox's own small pool on the database of cfg.
func NewSandbox(ctx context.Context, cfg *pgxpool.Config) (*Sandbox, error) {
	cfg = cfg.Copy()
	cfg.MaxConns = 4
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Sandbox{pool: pool, MaxWait: 30 * time.Second}, nil
}

// Close releases the sandbox's connections.
func (s *Sandbox) Close() { s.pool.Close() }

// Name implements Provider.
func (s *Sandbox) Name() string { return "sandbox" }

// replayed reports whether key was seen; another operation or amount under the same key is
// refused, as a real provider refuses a reused key with different parameters.
func replayed(ctx context.Context, tx pgx.Tx, key, op string, amountCents int64) (bool, string, string, error) {
	var gotOp, outcome string
	var ref *string
	var amount int64
	err := tx.QueryRow(ctx, `SELECT operation, outcome, authorization_ref, amount_cents FROM payments.sandbox_operations WHERE idempotency_key = $1`, key).Scan(&gotOp, &outcome, &ref, &amount)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", "", nil
	}
	if err != nil {
		return false, "", "", err
	}
	if gotOp != op || amount != amountCents {
		return true, "", "", fmt.Errorf("%w: idempotency key %s was used for %s of %d", ErrProviderRefused, key, gotOp, amount)
	}
	r := ""
	if ref != nil {
		r = *ref
	}
	return true, outcome, r, nil
}

func outcomeError(outcome string) error {
	switch outcome {
	case "succeeded":
		return nil
	case "card_declined", "insufficient_funds", "invalid_token":
		return &Decline{Code: outcome}
	default:
		return fmt.Errorf("%w: %s", ErrProviderRefused, outcome)
	}
}

// lockKey serializes calls with one idempotency key (the first one's outcome is the answer).
func lockKey(ctx context.Context, tx pgx.Tx, key string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('sandbox:' || $1))`, key)
	return err
}

// Tokenize implements Provider: a test card (or a test token) is vaulted under a new token
// with its behaviour and public data; any other card is declined (card_not_supported), an
// unknown token too (invalid_token). Neither number nor CVC is written anywhere.
func (s *Sandbox) Tokenize(ctx context.Context, card Card) (CardToken, error) {
	number, expMonth, expYear := card.Number, card.ExpMonth, card.ExpYear
	if card.Token != "" {
		n, ok := sandboxTokens[card.Token]
		if !ok {
			return CardToken{}, &Decline{Code: "invalid_token"}
		}
		// A test token stands for its card, valid until the end of the year after next.
		number, expMonth, expYear = n, 12, time.Now().Year()+2
	}
	behaviour, ok := sandboxCards[number]
	if !ok {
		return CardToken{}, &Decline{Code: "card_not_supported"}
	}
	t := CardToken{Token: "sbx_card_" + uuid.NewString(), Brand: CardBrand(number), Last4: number[len(number)-4:],
		ExpMonth: expMonth, ExpYear: expYear}
	_, err := s.pool.Exec(ctx, `INSERT INTO payments.sandbox_cards (token, behaviour, brand, last4, exp_month, exp_year)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.Token, behaviour, t.Brand, t.Last4, t.ExpMonth, t.ExpYear)
	if err != nil {
		return CardToken{}, err
	}
	return t, nil
}

// Authorize implements Provider: the card behind token behaves as its test number says;
// a token the sandbox did not issue is declined as invalid_token.
func (s *Sandbox) Authorize(ctx context.Context, key, token string, amountCents int64) (string, error) {
	return s.onCard(ctx, key, token, "authorize", amountCents, func(tx pgx.Tx, behaviour string) (string, string, error) {
		switch behaviour {
		case "success", "later_declined":
			ref := "sbx_auth_" + uuid.NewString()
			_, err := tx.Exec(ctx, `INSERT INTO payments.sandbox_authorizations (ref, token, amount_cents, status) VALUES ($1, $2, $3, 'authorized')`,
				ref, token, amountCents)
			return "succeeded", ref, err
		case "decline":
			return "card_declined", "", nil
		case "insufficient_funds":
			return "insufficient_funds", "", nil
		}
		return "invalid_token", "", nil
	})
}

// onCard runs operation op (authorize, charge) on the card behind token as a provider does:
// the timeout card does not answer; a key seen before replays its outcome; otherwise decide
// says the outcome and reference for the card's behaviour (inside the transaction that
// records the operation under key), and the outcome is returned as the provider's error.
func (s *Sandbox) onCard(ctx context.Context, key, token, op string, amountCents int64,
	decide func(tx pgx.Tx, behaviour string) (outcome, ref string, err error)) (string, error) {
	var behaviour string
	err := s.pool.QueryRow(ctx, `SELECT behaviour FROM payments.sandbox_cards WHERE token = $1`, token).Scan(&behaviour)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", err
	}
	if behaviour == "timeout" {
		return "", s.hang(ctx)
	}
	var ref string
	var result error
	err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockKey(ctx, tx, key); err != nil {
			return err
		}
		seen, outcome, r, err := replayed(ctx, tx, key, op, amountCents)
		if err != nil || seen {
			ref, result = r, outcomeError(outcome)
			return err
		}
		outcome, ref, err = decide(tx, behaviour)
		if err != nil {
			return err
		}
		result = outcomeError(outcome)
		var refArg any
		if ref != "" {
			refArg = ref
		}
		_, err = tx.Exec(ctx, `INSERT INTO payments.sandbox_operations (idempotency_key, operation, authorization_ref, amount_cents, outcome)
			VALUES ($1, $2, $3, $4, $5)`, key, op, refArg, amountCents, outcome)
		return err
	})
	if err != nil {
		return "", err
	}
	return ref, result
}

// hang is the timeout token: no answer until the caller gives up.
func (s *Sandbox) hang(ctx context.Context) error {
	t := time.NewTimer(s.MaxWait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return ErrProviderUnavailable
}

// operate runs one operation on an authorization under the sandbox's rules.
func (s *Sandbox) operate(ctx context.Context, key, op, ref string, amountCents int64) error {
	var result error
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := lockKey(ctx, tx, key); err != nil {
			return err
		}
		seen, outcome, _, err := replayed(ctx, tx, key, op, amountCents)
		if err != nil || seen {
			result = outcomeError(outcome)
			return err
		}
		var authorized, captured, refunded int64
		var status, token, behaviour string
		err = tx.QueryRow(ctx, `SELECT a.amount_cents, a.captured_cents, a.refunded_cents, a.status, a.token, coalesce(c.behaviour, '')
			FROM payments.sandbox_authorizations a LEFT JOIN payments.sandbox_cards c ON c.token = a.token
			WHERE a.ref = $1 FOR UPDATE OF a`, ref).
			Scan(&authorized, &captured, &refunded, &status, &token, &behaviour)
		if errors.Is(err, pgx.ErrNoRows) {
			result = fmt.Errorf("%w: no authorization %s", ErrProviderRefused, ref)
			return nil // unknown references are not recorded
		}
		if err != nil {
			return err
		}
		var released int64
		outcome = "succeeded"
		switch op {
		case "capture":
			switch {
			case status != "authorized":
				outcome = "refused: authorization is " + status
			case amountCents <= 0 || amountCents*100 > authorized*115:
				outcome = "refused: amount beyond the authorization"
			default:
				released = max(authorized-amountCents, 0)
				_, err = tx.Exec(ctx, `UPDATE payments.sandbox_authorizations SET status = 'captured', captured_cents = $2 WHERE ref = $1`, ref, amountCents)
			}
		case "void":
			if status != "authorized" {
				outcome = "refused: authorization is " + status
			} else {
				released = authorized
				_, err = tx.Exec(ctx, `UPDATE payments.sandbox_authorizations SET status = 'voided' WHERE ref = $1`, ref)
			}
		case "adjust":
			switch {
			case status != "authorized":
				outcome = "refused: authorization is " + status
			case amountCents <= 0:
				outcome = "refused: an authorization must be positive"
			case amountCents > authorized && behaviour != "success":
				outcome = "card_declined"
			default:
				released = max(authorized-amountCents, 0)
				_, err = tx.Exec(ctx, `UPDATE payments.sandbox_authorizations SET amount_cents = $2 WHERE ref = $1`, ref, amountCents)
			}
		case "refund":
			if status != "captured" || amountCents <= 0 || refunded+amountCents > captured {
				outcome = "refused: refund beyond the capture"
			} else {
				_, err = tx.Exec(ctx, `UPDATE payments.sandbox_authorizations SET refunded_cents = refunded_cents + $2 WHERE ref = $1`, ref, amountCents)
			}
		}
		if err != nil {
			return err
		}
		result = outcomeError(outcome)
		_, err = tx.Exec(ctx, `INSERT INTO payments.sandbox_operations (idempotency_key, operation, authorization_ref, amount_cents, released_cents, outcome)
			VALUES ($1, $2, $3, $4, $5, $6)`, key, op, ref, amountCents, released, outcome)
		return err
	})
	if err != nil {
		return err
	}
	return result
}

// Capture implements Provider.
func (s *Sandbox) Capture(ctx context.Context, key, ref string, amountCents int64) error {
	return s.operate(ctx, key, "capture", ref, amountCents)
}

// Void implements Provider.
func (s *Sandbox) Void(ctx context.Context, key, ref string) error {
	return s.operate(ctx, key, "void", ref, 0)
}

// Adjust implements Provider: only the success card takes an increase.
func (s *Sandbox) Adjust(ctx context.Context, key, ref string, amountCents int64) error {
	return s.operate(ctx, key, "adjust", ref, amountCents)
}

// Charge implements Provider: the success card is charged; the later-declined and decline
// cards are declined (card_declined), the insufficient-funds card too (insufficient_funds);
// the timeout card does not answer. The charge is recorded as an operation with its own
// reference.
func (s *Sandbox) Charge(ctx context.Context, key, token string, amountCents int64) (string, error) {
	return s.onCard(ctx, key, token, "charge", amountCents, func(tx pgx.Tx, behaviour string) (string, string, error) {
		switch {
		case amountCents <= 0:
			return "refused: a charge must be positive", "", nil
		case behaviour == "success":
			// Kept as a captured authorization of its own: a refund reaches it by its reference.
			ref := "sbx_charge_" + uuid.NewString()
			_, err := tx.Exec(ctx, `INSERT INTO payments.sandbox_authorizations (ref, token, amount_cents, captured_cents, status)
				VALUES ($1, $2, $3, $3, 'captured')`, ref, token, amountCents)
			return "succeeded", ref, err
		case behaviour == "decline", behaviour == "later_declined":
			return "card_declined", "", nil
		case behaviour == "insufficient_funds":
			return "insufficient_funds", "", nil
		}
		return "invalid_token", "", nil
	})
}

// Refund implements Provider.
func (s *Sandbox) Refund(ctx context.Context, key, ref string, amountCents int64) error {
	return s.operate(ctx, key, "refund", ref, amountCents)
}
