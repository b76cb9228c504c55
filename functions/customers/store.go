package customers

import (
	"context"
	"embed"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

//go:embed migrations/*.sql seed/*.sql
var migrationFiles embed.FS

// Migrations is the customers schema: the table, then the outbox and inbox of the events
// package, then the demo customers (numbered apart, after the outbox, so that seeding can
// announce them).
var Migrations = database.Migrations{Schema: "customers", FS: migrationFiles, Dir: "migrations",
	With: []database.Migrations{
		events.Migrations(),
		{FS: migrationFiles, Dir: "seed", Track: "seed_migrations"},
	}}

// Store keeps customers in PostgreSQL.
type Store struct {
	db *database.DB
}

// Filter narrows a search; empty fields match everything.
type Filter struct {
	// NameTerms must each be a prefix of the first or the last name (case-insensitive).
	NameTerms []string
	// Email matches the whole address, case-insensitively.
	Email string
	// Status "" means every status but erased.
	Status   Status
	Page     int
	PageSize int
}

const selectColumns = `id::text, type, company_name, vat_id, first_name, last_name, email, phone,
	date_of_birth, street, postal_code, city, country, licence_number, licence_country,
	licence_issued_on, licence_expires_on, preferred_language, status, status_reason,
	status_changed_by, erased_at, version, created_at, updated_at, kind, email_verified_at IS NOT NULL`

// searchWhere is shared by the page and the count of a search.
const searchWhere = `
WHERE (SELECT bool_and(starts_with(lower(first_name), t) OR starts_with(lower(last_name), t))
       FROM unnest($1::text[]) AS t) IS NOT FALSE
  AND ($2 = '' OR lower(email) = lower($2))
  AND (CASE WHEN $3 = '' THEN status <> 'erased' ELSE status = $3 END)`

const searchSQL = `SELECT ` + selectColumns + ` FROM customers.customers` + searchWhere + `
ORDER BY lower(last_name), lower(first_name), id
LIMIT $4 OFFSET $5`

const countSQL = `SELECT count(*) FROM customers.customers` + searchWhere

const getSQL = `SELECT ` + selectColumns + ` FROM customers.customers WHERE id = $1`

const lockSQL = getSQL + ` FOR UPDATE`

const insertSQL = `INSERT INTO customers.customers
	(type, company_name, vat_id, first_name, last_name, email, phone, date_of_birth,
	 street, postal_code, city, country, licence_number, licence_country, licence_issued_on,
	 licence_expires_on, preferred_language, kind)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
RETURNING ` + selectColumns

// updateSQL writes every mutable column and bumps the version. A status change stamps when
// and by whom ($20, $21 non-null); a new email address is not verified ($22 false).
const updateSQL = `UPDATE customers.customers SET
	type = $2, company_name = $3, vat_id = $4, first_name = $5, last_name = $6, email = $7,
	phone = $8, date_of_birth = $9, street = $10, postal_code = $11, city = $12, country = $13,
	licence_number = $14, licence_country = $15, licence_issued_on = $16, licence_expires_on = $17,
	preferred_language = $18, status = $19, status_reason = $20,
	status_changed_by = coalesce($21, status_changed_by),
	status_changed_at = CASE WHEN $21::text IS NULL THEN status_changed_at ELSE now() END,
	email_verified_at = CASE WHEN $22::boolean THEN email_verified_at END,
	version = version + 1, updated_at = now()
WHERE id = $1
RETURNING ` + selectColumns

// dropOutboxSecretsSQL removes from an erased customer's stored events what only customers'
// events carry and events.ScrubOutbox does not know: the verification link's token and a
// status reason someone typed. The personal fields themselves are events.ScrubOutbox's,
// the one rule every function's erasure follows.
const dropOutboxSecretsSQL = `UPDATE customers.outbox SET data = data - 'verificationToken' - 'reason'
WHERE subject = $1 AND (data ? 'verificationToken' OR data ? 'reason')`

// eraseSQL anonymises a customer in place (GDPR Art. 17). What stays is what bookkeeping
// needs: the id (invoices and reservations refer to it), type, company name and VAT id,
// country, language and the dates. The email becomes a unique undeliverable placeholder, so
// the address is free for a new registration.
const eraseSQL = `UPDATE customers.customers SET
	first_name = 'Erased', last_name = 'Erased', email = 'erased+' || id::text || '@invalid',
	phone = NULL, date_of_birth = NULL, street = NULL, postal_code = NULL, city = NULL,
	licence_number = NULL, licence_country = NULL, licence_issued_on = NULL, licence_expires_on = NULL,
	status = 'erased', status_reason = NULL, status_changed_at = now(), status_changed_by = $2,
	email_verified_at = NULL, erased_at = now(), version = version + 1, updated_at = now()
WHERE id = $1
RETURNING ` + selectColumns

func scanCustomer(row pgx.Row) (Customer, error) {
	var (
		c                                         Customer
		company, vat, phone, street, postal, city *string
		licNumber, licCountry, reason, changedBy  *string
		dob, licIssued, licExpires                *time.Time
	)
	err := row.Scan(&c.ID, &c.Type, &company, &vat, &c.FirstName, &c.LastName, &c.Email, &phone,
		&dob, &street, &postal, &city, &c.Address.Country, &licNumber, &licCountry,
		&licIssued, &licExpires, &c.PreferredLanguage, &c.Status, &reason,
		&changedBy, &c.ErasedAt, &c.Version, &c.CreatedAt, &c.UpdatedAt, &c.Kind, &c.EmailVerified)
	if err != nil {
		return Customer{}, err
	}
	c.CompanyName, c.VATID, c.Phone = deref(company), deref(vat), deref(phone)
	c.Address.Street, c.Address.PostalCode, c.Address.City = deref(street), deref(postal), deref(city)
	c.StatusReason, c.statusChangedBy = deref(reason), deref(changedBy)
	c.DateOfBirth = datePtr(dob)
	if licNumber != nil {
		c.Licence = &Licence{Number: *licNumber, IssuingCountry: deref(licCountry),
			IssueDate: datePtr(licIssued), ExpiryDate: datePtr(licExpires)}
	}
	return c, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullable is the SQL parameter for an optional text: NULL when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func notFound(id string) error { return platform.NotFound("no customer with id %s", id) }

// Search returns one page of the customers matching f, ordered by last and first name, and
// how many match in all.
func (s *Store) Search(ctx context.Context, f Filter) ([]Customer, int, error) {
	terms := f.NameTerms
	if terms == nil {
		terms = []string{}
	}
	var total int
	if err := s.db.Pool.QueryRow(ctx, countSQL, terms, f.Email, string(f.Status)).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.Pool.Query(ctx, searchSQL, terms, f.Email, string(f.Status), f.PageSize, (f.Page-1)*f.PageSize)
	if err != nil {
		return nil, 0, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) { return scanCustomer(r) })
	if out == nil {
		out = []Customer{}
	}
	return out, total, err
}

// Get returns the customer with id.
func (s *Store) Get(ctx context.Context, id string) (Customer, error) {
	c, err := scanCustomer(s.db.Pool.QueryRow(ctx, getSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, notFound(id)
	}
	return c, err
}

// Create stores a new customer; an email address already registered (in any case) is a
// conflict. An account gets a verification token, which its customer.registered carries to
// the notifier for the welcome mail; a guest gets none.
func (s *Store) Create(ctx context.Context, c Customer) (Customer, error) {
	args := append([]any{string(c.Type)}, columnArgs(c)[:16]...)
	args = append(args, string(c.Kind))
	var out Customer
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		if out, err = scanCustomer(tx.QueryRow(ctx, insertSQL, args...)); err != nil {
			return err
		}
		var token string
		if out.Kind == KindAccount {
			if token, err = issueVerification(ctx, tx, out.ID); err != nil {
				return err
			}
		}
		return emit(ctx, tx, events.CustomerRegistered, out, token)
	})
	return out, writeError(err, c.Email)
}

// emit records event typ about c in tx, the transaction of the change it describes. A status
// change carries the status but not its reason: that note is internal and stays here. token
// is a new email verification token for the notifier's mail ("" for none).
func emit(ctx context.Context, tx pgx.Tx, typ string, c Customer, token string) error {
	var data any
	switch typ {
	case events.CustomerStatusChanged:
		data = events.CustomerStatus{CustomerID: c.ID, Version: int64(c.Version), Status: string(c.Status)}
	case events.CustomerErased:
		data = events.CustomerErasure{CustomerID: c.ID, Version: int64(c.Version)}
	default:
		data = events.Customer{CustomerID: c.ID, Version: int64(c.Version), Kind: string(c.Kind), Email: c.Email,
			EmailVerified: c.EmailVerified, VerificationToken: token,
			FirstName: c.FirstName, LastName: c.LastName, PreferredLanguage: string(c.PreferredLanguage), Phone: c.Phone}
	}
	return events.Emit(ctx, tx, Migrations.Schema, ServiceName, typ, c.ID, data)
}

// columnArgs are c's mutable columns in the order of updateSQL's $3…$20 (without type).
func columnArgs(c Customer) []any {
	var licNumber, licCountry string
	var licIssued, licExpires Date
	if l := c.Licence; l != nil {
		licNumber, licCountry, licIssued, licExpires = l.Number, l.IssuingCountry, l.IssueDate, l.ExpiryDate
	}
	return []any{nullable(c.CompanyName), nullable(c.VATID), c.FirstName, c.LastName, c.Email,
		nullable(c.Phone), dateArg(c.DateOfBirth), nullable(c.Address.Street),
		nullable(c.Address.PostalCode), nullable(c.Address.City), c.Address.Country,
		nullable(licNumber), nullable(licCountry), dateArg(licIssued), dateArg(licExpires),
		string(c.PreferredLanguage), string(c.Status), nullable(c.StatusReason)}
}

// writeError turns the constraint violations of a write into caller errors.
func writeError(err error, email string) error {
	switch {
	case database.IsCode(err, database.UniqueViolation):
		return platform.Conflict("a customer with email address %s is already registered", email).WithCode("email_registered")
	case database.IsCode(err, database.CheckViolation):
		return platform.Invalid("the customer breaks a rule of the customers table")
	}
	return err
}

// Update changes a customer in one transaction: it locks the row, checks that it exists,
// that ifVersion (when > 0) is its version and that it has not been erased, lets change edit
// a copy, and writes the copy with event typ unless change left it as it was (a repeated PUT
// changes nothing: no new version, no event). change returns an error to refuse the edit.
func (s *Store) Update(ctx context.Context, id string, ifVersion int64, typ string, change func(*Customer) error) (Customer, error) {
	var out Customer
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, id, ifVersion)
		if err != nil {
			return err
		}
		if cur.Erased() {
			return platform.Conflict("customer %s has been erased; an erased customer cannot be changed", id).WithCode("customer_erased")
		}
		next := cur
		if cur.Licence != nil {
			l := *cur.Licence
			next.Licence = &l
		}
		if err := change(&next); err != nil {
			return err
		}
		// Who changed the status is recorded only when the status (or its reason) changes.
		by := next.statusChangedBy
		next.statusChangedBy = cur.statusChangedBy
		if reflect.DeepEqual(cur, next) {
			out = cur
			return nil
		}
		var changedBy any
		if next.Status != cur.Status || next.StatusReason != cur.StatusReason {
			changedBy = by
		}
		// A new address (not merely another spelling of it) is unverified until its owner
		// follows the link sent to it; the old address's link stops working.
		newAddress := !strings.EqualFold(next.Email, cur.Email)
		args := append([]any{id, string(next.Type)}, columnArgs(next)...)
		if out, err = scanCustomer(tx.QueryRow(ctx, updateSQL, append(args, changedBy, !newAddress)...)); err != nil {
			return writeError(err, next.Email)
		}
		var token string
		if newAddress {
			if err := dropVerifications(ctx, tx, id); err != nil {
				return err
			}
			if out.Kind == KindAccount {
				if token, err = issueVerification(ctx, tx, id); err != nil {
					return err
				}
			}
		}
		return emit(ctx, tx, typ, out, token)
	})
	return out, err
}

// Erase anonymises a customer; by names who asked (kept for the record of the erasure).
// Erasing an erased customer changes nothing and succeeds: erasure is idempotent, so a retry
// after a lost response is safe (If-Match is not checked then: the state asked for holds).
func (s *Store) Erase(ctx context.Context, id string, ifVersion int64, by string) (Customer, error) {
	var out Customer
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		if cur.Erased() {
			out = cur
			return nil
		}
		if ifVersion > 0 && int64(cur.Version) != ifVersion {
			return stale(id)
		}
		if out, err = scanCustomer(tx.QueryRow(ctx, eraseSQL, id, by)); err != nil {
			return err
		}
		// Consumers receive customer.erased after these events (the relay keeps an
		// aggregate's order) and erase their own copies.
		if _, err := events.ScrubOutbox(ctx, tx, Migrations.Schema, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, dropOutboxSecretsSQL, id); err != nil {
			return err
		}
		if err := dropVerifications(ctx, tx, id); err != nil {
			return err
		}
		return emit(ctx, tx, events.CustomerErased, out, "")
	})
	return out, err
}

// lock reads and locks a customer for an update, checking ifVersion when > 0.
func lock(ctx context.Context, tx pgx.Tx, id string, ifVersion int64) (Customer, error) {
	c, err := scanCustomer(tx.QueryRow(ctx, lockSQL, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, notFound(id)
	}
	if err != nil {
		return Customer{}, err
	}
	if ifVersion > 0 && int64(c.Version) != ifVersion {
		return Customer{}, stale(id)
	}
	return c, nil
}

func stale(id string) error {
	return platform.Stale("customer", id)
}
