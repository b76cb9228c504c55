package reservations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/database"
)

// Guest holds are anonymous, so they are limited (issue 11: five guest bookings with
// throw-away addresses held every free car of a branch): per mailbox, the holds still open;
// per client address, the guest bookings within a window. Every guest booking claims its
// place before it asks anyone anything, under a transaction lock on the address and the
// mailbox, so concurrent bookings cannot overrun a limit; a booking that fails gives its
// place back. Migration 0004 has the table.
const (
	lockGuestSQL       = `SELECT pg_advisory_xact_lock(hashtext('reservations.guest'), hashtext($1::text))`
	pruneGuestHoldsSQL = `DELETE FROM reservations.guest_holds WHERE created_at < now() - $1 * interval '1 millisecond'`
	// countGuestHoldsSQL counts the mailbox's open holds — a claim still on its way (younger
	// than a guest hold) or a pending hold not yet past its expiry — and the guest bookings
	// made from the address within the window.
	countGuestHoldsSQL = `SELECT
	(SELECT count(*) FROM reservations.guest_holds g LEFT JOIN reservations.reservations r ON r.id = g.reservation_id
	 WHERE g.mailbox = $1 AND CASE WHEN g.reservation_id IS NULL THEN g.created_at > now() - $3 * interval '1 millisecond'
	                               ELSE r.status = 'pending' AND r.hold_expires_at > now() END),
	(SELECT count(*) FROM reservations.guest_holds WHERE client_address = $2 AND created_at > now() - $4 * interval '1 millisecond')`
	claimGuestHoldSQL   = `INSERT INTO reservations.guest_holds (mailbox, client_address) VALUES ($1, $2) RETURNING id::text`
	linkGuestHoldSQL    = `UPDATE reservations.guest_holds SET reservation_id = $2 WHERE id = $1`
	releaseGuestHoldSQL = `DELETE FROM reservations.guest_holds WHERE id = $1`
)

// guestLimits are the limits of anonymous holds (Config has their settings).
type guestLimits struct {
	db         *database.DB
	perEmail   int
	perAddress int
	window     time.Duration
	hold       time.Duration
}

// guestClient is the client address a guest booking counts against: the address the
// gateway decided and passes in platform.ClientAddressHeader (it strips what a client sends
// there), else the peer's address. An IPv6 address counts by its /64, the block one
// subscriber gets: counting single IPv6 addresses limits nobody.
func guestClient(r *http.Request) string {
	addr := platform.ClientAddress(r)
	a, err := netip.ParseAddr(addr)
	if err != nil { // not an IP address (an in-process call): as it is, bounded
		if addr == "" {
			return "unknown"
		}
		return addr[:min(len(addr), 64)]
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// mailboxOf is the key one mailbox's addresses share, whatever their case and sub-address:
// Gina+1@Example.com and gina+2@example.com are one mailbox. Only its SHA-256 is kept.
func mailboxOf(email string) string {
	e := strings.ToLower(strings.TrimSpace(email))
	if at := strings.LastIndexByte(e, '@'); at > 0 {
		local, domain := e[:at], e[at+1:]
		if plus := strings.IndexByte(local, '+'); plus > 0 {
			local = local[:plus]
		}
		e = local + "@" + domain
	}
	sum := sha256.Sum256([]byte(e))
	return hex.EncodeToString(sum[:])
}

// claim takes a guest booking's place for email from client, or refuses it (429) when the
// mailbox has its open holds or the address its bookings of the window. It returns the claim
// to link to the hold or release.
func (g guestLimits) claim(ctx context.Context, email, client string) (string, error) {
	mailbox := mailboxOf(email)
	var id string
	err := g.db.InTx(ctx, func(tx pgx.Tx) error {
		for _, key := range []string{"address:" + client, "mailbox:" + mailbox} {
			if _, err := tx.Exec(ctx, lockGuestSQL, key); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, pruneGuestHoldsSQL, max(g.window, g.hold).Milliseconds()); err != nil {
			return err
		}
		var byMailbox, byAddress int
		if err := tx.QueryRow(ctx, countGuestHoldsSQL, mailbox, client, g.hold.Milliseconds(), g.window.Milliseconds()).
			Scan(&byMailbox, &byAddress); err != nil {
			return err
		}
		switch {
		case byMailbox >= g.perEmail:
			return &platform.Error{Kind: platform.KindTooManyRequests, RetryAfter: g.hold, Message: fmt.Sprintf(
				"this email address already holds %d unpaid guest bookings: pay for one or let it lapse (a guest hold lasts %s), or sign in to book", byMailbox, g.hold)}
		case byAddress >= g.perAddress:
			return &platform.Error{Kind: platform.KindTooManyRequests, RetryAfter: g.window, Message: fmt.Sprintf(
				"at most %d guest bookings per %s from one address: sign in to book more", g.perAddress, window(g.window))}
		}
		return tx.QueryRow(ctx, claimGuestHoldSQL, mailbox, client).Scan(&id)
	})
	return id, err
}

// window says a window the way the limit's message does: "hour", "30m0s".
func window(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return d.String()
}

// settle ends claim id: linked to the hold the booking made, or given back when the booking
// failed (a refused guest does not count). It runs whatever became of the request: a claim
// it cannot settle stays counted until it ages out, which errs on the side of the limit.
func (g guestLimits) settle(ctx context.Context, id string, res Reservation, bookErr error) {
	ctx = context.WithoutCancel(ctx)
	var err error
	if bookErr != nil {
		_, err = g.db.Pool.Exec(ctx, releaseGuestHoldSQL, id)
	} else {
		_, err = g.db.Pool.Exec(ctx, linkGuestHoldSQL, id, res.ID)
	}
	if err != nil {
		platform.LoggerFrom(ctx).WarnContext(ctx, "guest hold claim not settled", slog.String("claim", id), slog.String("error", err.Error()))
	}
}

// validate checks the limits' settings (Config.Validate).
func (g guestLimits) validate(hold time.Duration) error {
	switch {
	case g.hold < time.Minute || g.hold > hold:
		return fmt.Errorf("RESERVATION_GUEST_HOLD must be from 1m to RESERVATION_HOLD (%s), is %s", hold, g.hold)
	case g.perEmail < 1:
		return fmt.Errorf("RESERVATION_GUEST_HOLDS_PER_EMAIL must be at least 1, is %d", g.perEmail)
	case g.perAddress < 1:
		return fmt.Errorf("RESERVATION_GUEST_HOLDS_PER_ADDRESS must be at least 1, is %d", g.perAddress)
	case g.window < time.Minute || g.window > 24*time.Hour:
		return fmt.Errorf("RESERVATION_GUEST_WINDOW must be from 1m to 24h, is %s", g.window)
	}
	return nil
}

// Withdrawing a guest whose hold failed (BookGuest): only a guest without any booking here,
// decided under the customer's transaction lock — the one a booking's insert takes
// (Store.Create) — and recorded as erased in that transaction, so a booking of the same
// guest in flight cannot commit for a record that is being withdrawn.
const (
	guestHasBookingsSQL = `SELECT EXISTS (SELECT 1 FROM reservations.reservations WHERE customer_id = $1)
		OR EXISTS (SELECT 1 FROM reservations.archived_reservations WHERE customer_id = $1)`
)

// withdrawGuest asks customers-api to withdraw guest customerID, whose booking failed. It is
// best effort after the booking's own error: a failure is logged, and the record that stays
// is harmless — registering the same guest again answers it, so the retry still books.
func (s *Service) withdrawGuest(ctx context.Context, customerID string) {
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, lockCustomerSQL, customerID); err != nil {
			return err
		}
		var booked bool
		if err := tx.QueryRow(ctx, guestHasBookingsSQL, customerID).Scan(&booked); err != nil {
			return err
		}
		if booked {
			return nil // a guest who booked before (registered again): theirs to keep
		}
		if _, err := tx.Exec(ctx, tombstoneSQL, customerID); err != nil {
			return err
		}
		return s.peers.withdrawGuest(ctx, customerID)
	})
	if err != nil {
		platform.LoggerFrom(ctx).WarnContext(ctx, "guest of a failed booking not withdrawn",
			slog.String("customer", customerID), slog.String("error", err.Error()))
	}
}
