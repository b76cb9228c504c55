package customers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// VerificationTTL is how long the link of a welcome (or address change) mail works. A link
// is single-use: following it verifies the address and consumes every link of the account.
const VerificationTTL = 72 * time.Hour

// The verification tokens: only their SHA-256 is stored (migrations/0002), so a copy of the
// table verifies nobody; the token itself travels once, in the customer event the notifier
// turns into the mail, and is scrubbed from this function's outbox when it is used.
const (
	issueVerificationSQL = `INSERT INTO customers.email_verifications (token_hash, customer_id, expires_at)
VALUES ($1, $2, now() + $3 * interval '1 second')`
	pruneVerificationsSQL = `DELETE FROM customers.email_verifications WHERE expires_at < now()`
	dropVerificationsSQL  = `DELETE FROM customers.email_verifications WHERE customer_id = $1`
	// useVerificationSQL consumes a live token and names its customer.
	useVerificationSQL = `DELETE FROM customers.email_verifications WHERE token_hash = $1 AND expires_at > now()
RETURNING customer_id::text`
	verifySQL = `UPDATE customers.customers SET email_verified_at = now(), version = version + 1, updated_at = now()
WHERE id = $1 AND status <> 'erased' AND email_verified_at IS NULL
RETURNING ` + selectColumns
	scrubTokensSQL = `UPDATE customers.outbox SET data = data - 'verificationToken'
WHERE subject = $1 AND data ? 'verificationToken'`
	// nextLinkSQL is how many seconds customer $1 waits for another link: its newest live
	// token was issued (expires_at - TTL $2) less than LinkInterval $3 ago (NULL or ≤ 0: none).
	nextLinkSQL = `SELECT extract(epoch FROM max(expires_at) - $2 * interval '1 second' + $3 * interval '1 second' - now())::float8
FROM customers.email_verifications WHERE customer_id = $1 AND expires_at > now()`
	// touchSQL gives the customer a new version for the event that carries a new link.
	touchSQL = `UPDATE customers.customers SET version = version + 1, updated_at = now() WHERE id = $1
RETURNING ` + selectColumns
)

// LinkInterval is how soon after one verification link another may be asked for: each is a
// mail to the address, and a button pressed twice is not two requests for one.
const LinkInterval = time.Minute

// issueVerification makes a new single-use token for customer id's current address in tx
// and returns it (expired tokens of anyone are pruned on the way).
func issueVerification(ctx context.Context, tx pgx.Tx, id string) (string, error) {
	if _, err := tx.Exec(ctx, pruneVerificationsSQL); err != nil {
		return "", err
	}
	token := rand.Text()
	hash := sha256.Sum256([]byte(token))
	if _, err := tx.Exec(ctx, issueVerificationSQL, hash[:], id, int64(VerificationTTL/time.Second)); err != nil {
		return "", err
	}
	return token, nil
}

// dropVerifications invalidates every token of customer id (its address changed or it was
// erased).
func dropVerifications(ctx context.Context, tx pgx.Tx, id string) error {
	_, err := tx.Exec(ctx, dropVerificationsSQL, id)
	return err
}

// badToken is the one answer to every token that does not verify anything: unknown,
// used, expired, or for an address the account no longer has. They are not told apart.
func badToken() error {
	return platform.Invalid("the verification link is invalid",
		platform.FieldError{Field: "token", Reason: "unknown, already used or expired"})
}

// VerifyEmail consumes token and marks its account's address verified, recording
// customer.updated. Every other token of the account stops working.
func (s *Store) VerifyEmail(ctx context.Context, token string) (Customer, error) {
	hash := sha256.Sum256([]byte(token))
	var out Customer
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var id string
		if err := tx.QueryRow(ctx, useVerificationSQL, hash[:]).Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return badToken()
			}
			return err
		}
		var err error
		if out, err = scanCustomer(tx.QueryRow(ctx, verifySQL, id)); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return badToken()
			}
			return err
		}
		if err := dropVerifications(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, scrubTokensSQL, id); err != nil {
			return err
		}
		return emit(ctx, tx, events.CustomerUpdated, out, "")
	})
	return out, err
}

// EmailVerification is the body of POST /api/customers/verify-email: the token of the link.
type EmailVerification struct {
	Token string `json:"token"`
}

// VerificationResult is what verifying tells an anonymous caller: only that it worked. The
// token proves access to a mailbox, not to the account, so the record is not shown.
type VerificationResult struct {
	EmailVerified bool `json:"emailVerified"`
}

// handleVerifyEmail is public: whoever holds the link's token may use it, once.
func (s *Service) handleVerifyEmail(w http.ResponseWriter, r *http.Request) error {
	var in EmailVerification
	if err := platform.DecodeJSON(w, r, &in, 1<<10); err != nil {
		return err
	}
	token := strings.TrimSpace(in.Token)
	if token == "" || len(token) > 100 {
		return badToken()
	}
	if _, err := s.store.VerifyEmail(r.Context(), token); err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, VerificationResult{EmailVerified: true})
}

// NewVerificationLink mails customer id's unverified account a new verification link — the
// one a welcome mail carried expires after VerificationTTL, and an account cannot book
// before it follows one. It records customer.updated with the token (a new version), which
// the notifier turns into the mail; earlier links keep working until they expire. Refused:
// an erased customer, a guest (no account to verify), an address verified already (409),
// and a second request within LinkInterval of the last link (429, Retry-After).
func (s *Store) NewVerificationLink(ctx context.Context, id string) (Customer, error) {
	var out Customer
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, id, 0)
		switch {
		case err != nil:
			return err
		case cur.Erased():
			return platform.Conflict("customer %s has been erased", id).WithCode("customer_erased")
		case cur.Kind != KindAccount:
			return platform.Conflict("customer %s is a guest: a guest has no account to verify", id).WithCode("guest")
		case cur.EmailVerified:
			return platform.Conflict("the address of customer %s is verified already", id).WithCode("email_verified")
		}
		var wait *float64
		if err := tx.QueryRow(ctx, nextLinkSQL, id, int64(VerificationTTL/time.Second), int64(LinkInterval/time.Second)).Scan(&wait); err != nil {
			return err
		}
		if wait != nil && *wait > 0 {
			e := platform.Errorf(platform.KindTooManyRequests, "a link was sent less than %s ago; ask again later", LinkInterval)
			e.RetryAfter = time.Duration(*wait * float64(time.Second))
			return e.WithCode("link_sent_recently")
		}
		if out, err = scanCustomer(tx.QueryRow(ctx, touchSQL, id)); err != nil {
			return err
		}
		token, err := issueVerification(ctx, tx, id)
		if err != nil {
			return err
		}
		return emit(ctx, tx, events.CustomerUpdated, out, token)
	})
	return out, err
}

// handleNewVerificationLink is POST /api/customers/{id}/verification: the account's owner or
// an agent asks for a new link (202: the mail is on its way).
func (s *Service) handleNewVerificationLink(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.store.NewVerificationLink(r.Context(), id)
	if err != nil {
		return err
	}
	return writeCustomer(w, r, http.StatusAccepted, c)
}
