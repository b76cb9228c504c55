package reservations

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/orangecarrental/orange/platform"
)

// Actor is who acts on a booking: a signed-in caller, or a guest presenting the booking's
// signed link (guestlink.go). Handlers decide it; the service methods check it.
type Actor struct {
	// Caller is the verified caller (anonymous for a guest with a link).
	Caller platform.Caller
	// LinkFor is the reservation a valid guest link was presented for; "" for none.
	LinkFor string
}

// signedIn is the actor of a request with a token.
func signedIn(r *http.Request) Actor { return Actor{Caller: platform.CallerFrom(r.Context())} }

// mayAct reports whether a may act on res: the guest link of that very booking, its owner,
// staff.
func (a Actor) mayAct(res Reservation) bool {
	if a.LinkFor != "" {
		return a.LinkFor == res.ID
	}
	return a.Caller.MaySee(res.CustomerID)
}

// load returns reservation id if a may act on it; another customer's is not found (404,
// never a hint that it exists).
func (s *Service) load(ctx context.Context, a Actor, id string) (Reservation, error) {
	res, err := s.store.Get(ctx, id)
	if err != nil {
		return Reservation{}, err
	}
	if !a.mayAct(res) {
		return Reservation{}, platform.NotFound("no reservation with id %s", id)
	}
	return res, nil
}

// CancellationFee says what cancelling reservation id now would cost a: a confirmed booking
// the fee of pricing's cancellation rule on its gross total, a pending hold nothing (nothing
// was authorized), a booking that cannot be cancelled a 409.
func (s *Service) CancellationFee(ctx context.Context, a Actor, id string) (Reservation, int64, error) {
	res, err := s.load(ctx, a, id)
	if err != nil {
		return Reservation{}, 0, err
	}
	if !Allowed(ActionCancel, res.Status) {
		return Reservation{}, 0, illegal(ActionCancel, res.Status)
	}
	fee, err := s.feeAt(ctx, res)
	return res, fee, err
}

// feeAt is the cancellation fee of res now: the change fee it already carries (owed: that
// change was a partial cancellation) and the cancellation rule's share of the rest. Measured
// on the whole total, the change fee would be discounted by the rule's percentage, and
// shortening first and cancelling after would cost less than cancelling at once.
func (s *Service) feeAt(ctx context.Context, res Reservation) (int64, error) {
	if res.Status != StatusConfirmed {
		return 0, nil
	}
	// Timed from the earliest pickup the confirmed booking had: moving the pickup away first
	// does not make a late cancellation free.
	f, err := s.peers.cancellationFee(ctx, res.feePickupAt, s.now(), res.TotalGrossCents-res.changeFeeGross)
	return res.changeFeeGross + f.FeeCents, err
}

// Cancel cancels a pending or confirmed booking a may act on, for reason. A confirmed one
// (its payment authorized) costs the fee of pricing's cancellation rule; a pending hold is
// free. Cancelling a cancelled booking answers it unchanged. ifVersion > 0 (If-Match) makes
// it conditional: a booking changed since is 412, so the fee the client showed is the one
// charged.
func (s *Service) Cancel(ctx context.Context, a Actor, id, reason string, ifVersion int64) (Reservation, error) {
	reason, problem := cancelReason(reason)
	if problem != "" {
		return Reservation{}, platform.Invalid("the cancellation is invalid", platform.FieldError{Field: "reason", Reason: problem})
	}
	return decideAgain(ifVersion, func() (Reservation, error) { return s.cancel(ctx, a, id, reason, ifVersion) })
}

// decideAgain runs decide, a read and a write guarded by the version read, again when the
// booking changed in between (a ConflictForNow: payment.authorized confirming a hold while
// its renter cancels it) — for a request without If-Match, which asked for the booking as
// it is, not as it was. A few times: each race is a transition of the booking, and a
// booking has few. With If-Match the version is the client's, and a change in between is
// decide's 412.
func decideAgain(ifVersion int64, decide func() (Reservation, error)) (Reservation, error) {
	const tries = 3
	for try := 1; ; try++ {
		res, err := decide()
		if ifVersion > 0 || try == tries || !platform.IsConflictForNow(err) {
			return res, err
		}
	}
}

// cancel is one decision of Cancel.
func (s *Service) cancel(ctx context.Context, a Actor, id, reason string, ifVersion int64) (Reservation, error) {
	res, err := s.load(ctx, a, id)
	if err != nil {
		return Reservation{}, err
	}
	if res.Status == StatusCancelled {
		return res, nil // a repeat, even of a request whose answer was lost: its If-Match is the old version
	}
	if ifVersion > 0 && int64(res.Version) != ifVersion {
		return Reservation{}, platform.Stale("reservation", res.ID)
	}
	if !Allowed(ActionCancel, res.Status) {
		return Reservation{}, illegal(ActionCancel, res.Status)
	}
	feeCents, err := s.feeAt(ctx, res)
	if err != nil {
		return Reservation{}, err
	}
	out, err := s.store.Transition(ctx, res.ID, ActionCancel, []Status{res.Status}, change{reason: &reason, feeCents: &feeCents, version: res.Version})
	if err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Kind == platform.KindConflict && out.Status == StatusCancelled {
			return out, nil
		}
		if errors.As(err, &pe) && pe.Kind == platform.KindConflict && Allowed(ActionCancel, out.Status) {
			// Confirmed (or changed) in between: the fee basis changed. Not the version of
			// the client's If-Match any more; without one, decided again (decideAgain).
			if ifVersion > 0 {
				return Reservation{}, platform.Stale("reservation", res.ID)
			}
			return Reservation{}, platform.ConflictForNow("the reservation changed while it was being cancelled; please retry").WithCode("changed_meanwhile")
		}
		return Reservation{}, err
	}
	return out, nil
}

// Search returns a page of the reservations matching f that caller may see: staff see
// everyone's; a customer sees their own only — the search is narrowed to their customer
// record whatever f names, so another customer's id finds nothing rather than a hint.
func (s *Service) Search(ctx context.Context, caller platform.Caller, f Filter) ([]Reservation, int, error) {
	if !caller.Staff() {
		if caller.CustomerID == "" {
			return []Reservation{}, 0, nil
		}
		f.Owner = caller.CustomerID
	}
	return s.store.Search(ctx, f)
}

// Lookup finds booking id by the email it was made with (the public lookup): a wrong email,
// or one erased since, finds nothing (404).
func (s *Service) Lookup(ctx context.Context, id, email string) (Reservation, error) {
	id, email = strings.ToLower(strings.TrimSpace(id)), strings.ToLower(strings.TrimSpace(email))
	var errs platform.FieldErrors
	if !platform.ValidUUID(id) {
		errs.Add("id", "required: the reservation id")
	}
	if email == "" || !strings.Contains(email, "@") {
		errs.Add("email", "required: the email the booking was made with")
	}
	if len(errs) > 0 {
		return Reservation{}, platform.Invalid("the lookup is invalid", errs...)
	}
	res, err := s.store.Get(ctx, id)
	if err != nil {
		return Reservation{}, err
	}
	if res.email == "" || res.email != email {
		return Reservation{}, platform.NotFound("no reservation with id %s", id)
	}
	return res, nil
}

// cancelReason reads a cancellation's reason, which the customer's mail quotes: one line
// (line breaks and other control characters become spaces, runs of space one), 1 to 500
// characters, and no link — a mail of ours carrying a link someone typed is how a phishing
// relay starts ("your card was blocked, confirm at https://…"). problem says what is wrong.
func cancelReason(raw string) (reason, problem string) {
	reason = platform.OneLine(raw)
	switch {
	case reason == "" || utf8.RuneCountInString(reason) > 500:
		return "", "required, at most 500 characters"
	case platform.HasLink(reason):
		return "", "must not contain a link: the customer's mail quotes it"
	}
	return reason, ""
}
