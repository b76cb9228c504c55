package customers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// Guests (issue 13): a guest booking registers its guest and then holds the car, two steps
// in two functions that must end as one outcome — both or neither. reservations-api makes
// it so with two routes of this file, both granted to it alone (and admins):
//
//   - registering a guest whose address already belongs to a guest record of the same person
//     (same first and last name, case-insensitively, and date of birth) answers that record
//     (200) with the new details applied (phone, address, licence): a booking that crashed
//     between registering and holding, or whose hold was refused, can simply be retried.
//     An account's address, or another person's, stays a 409;
//   - DELETE /api/customers/guests/{id} withdraws a guest registration whose booking failed:
//     the record is deleted (a guest with no booking is nobody's customer) and
//     customer.erased tells every consumer to forget what it copied; the registration's own
//     events still in the outbox are scrubbed first. Reservations calls it only for a guest
//     without any booking. An account cannot be withdrawn (409); an unknown id is 404, which
//     reservations takes as done (a repeat after a lost answer).

const (
	// findByEmailSQL is the record holding an address, whatever its case.
	findByEmailSQL = `SELECT id::text FROM customers.customers WHERE lower(email) = lower($1)`
	deleteGuestSQL = `DELETE FROM customers.customers WHERE id = $1 AND kind = 'guest'`
)

// handleRegisterGuest registers the guest of a guest booking: reservations-api only, so
// nobody registers a guest (which gets no welcome mail) on their own. The same guest again
// gets their record back (200).
func (s *Service) handleRegisterGuest(w http.ResponseWriter, r *http.Request) error {
	var in Registration
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	profile, licence := splitRegistration(in)
	if errs := validateRegistration(&profile, licence, s.today()); len(errs) > 0 {
		return platform.Invalid("the registration is invalid", errs...)
	}
	next := newCustomer(KindGuest, profile, licence)
	c, err := s.store.Create(r.Context(), next)
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Kind == platform.KindConflict {
		if again, rerr := s.store.ReregisterGuest(r.Context(), next); rerr == nil {
			return writeCustomer(w, r, http.StatusOK, again)
		} else if !errors.Is(rerr, errNotTheGuest) {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/"+c.ID)
	return writeCustomer(w, r, http.StatusCreated, c)
}

// handleWithdrawGuest deletes a guest registration whose booking failed (see above).
func (s *Service) handleWithdrawGuest(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "customer")
	if err != nil {
		return err
	}
	if err := s.store.WithdrawGuest(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// errNotTheGuest: the address belongs to an account or to another person.
var errNotTheGuest = errors.New("not the same guest")

// sameGuest reports whether registration next is guest record cur as it stands: the same
// person (names, date of birth) with the same phone, address and licence. Knowing a guest's
// email, name and birthday is not enough to book in their name: a registration that differs
// in anything is "already registered" (409), and nothing of the record is overwritten.
func sameGuest(cur, next Customer) bool {
	return cur.Kind == KindGuest && !cur.Erased() && cur.Status == StatusActive &&
		strings.EqualFold(strings.TrimSpace(cur.FirstName), strings.TrimSpace(next.FirstName)) &&
		strings.EqualFold(strings.TrimSpace(cur.LastName), strings.TrimSpace(next.LastName)) &&
		cur.DateOfBirth == next.DateOfBirth && cur.Phone == next.Phone && cur.Address == next.Address &&
		(cur.Licence == nil) == (next.Licence == nil) && (cur.Licence == nil || *cur.Licence == *next.Licence)
}

// ReregisterGuest answers the guest record holding registration next's address, unchanged,
// when next is that very registration (a retry of a guest booking whose first try failed or
// crashed between its steps); errNotTheGuest otherwise.
func (s *Store) ReregisterGuest(ctx context.Context, next Customer) (Customer, error) {
	var id string
	err := s.db.Pool.QueryRow(ctx, findByEmailSQL, next.Email).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return Customer{}, errNotTheGuest
	}
	if err != nil {
		return Customer{}, err
	}
	cur, err := s.Get(ctx, id)
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Kind == platform.KindNotFound {
		return Customer{}, errNotTheGuest // deleted meanwhile: not this guest
	}
	if err != nil {
		return Customer{}, err
	}
	if !sameGuest(cur, next) {
		return Customer{}, errNotTheGuest
	}
	return cur, nil
}

// WithdrawGuest deletes guest id and records customer.erased, in one transaction, after
// scrubbing the personal data of its events still in the outbox.
func (s *Store) WithdrawGuest(ctx context.Context, id string) error {
	return s.db.InTx(ctx, func(tx pgx.Tx) error {
		cur, err := lock(ctx, tx, id, 0)
		if err != nil {
			return err
		}
		if cur.Kind != KindGuest {
			return platform.Conflict("customer %s is an account: only a guest registration can be withdrawn", id)
		}
		if _, err := events.ScrubOutbox(ctx, tx, Migrations.Schema, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, dropOutboxSecretsSQL, id); err != nil {
			return err
		}
		if err := dropVerifications(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, deleteGuestSQL, id); err != nil {
			return err
		}
		cur.Version++
		return emit(ctx, tx, events.CustomerErased, cur, "")
	})
}
