package reservations

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/platform"
)

// pathID returns the reservation id in the path, or a not-found error for one that cannot exist.
func pathID(r *http.Request) (string, error) {
	id := strings.ToLower(platform.PathVar(r, "id"))
	if !validUUID(id) {
		return "", platform.NotFound("no reservation with id %s", id)
	}
	return id, nil
}

// writeReservation renders one reservation with its version as a strong ETag.
func writeReservation(w http.ResponseWriter, status int, res Reservation) error {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(res.Version)))
	return platform.WriteJSON(w, status, res)
}

// visible loads reservation id for the caller: another customer's is not found.
func (s *Service) visible(r *http.Request) (Reservation, error) {
	id, err := pathID(r)
	if err != nil {
		return Reservation{}, err
	}
	res, err := s.store.Get(r.Context(), id)
	if err != nil {
		return Reservation{}, err
	}
	if !platform.CallerFrom(r.Context()).MaySee(res.CustomerID) {
		return Reservation{}, platform.NotFound("no reservation with id %s", id)
	}
	return res, nil
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var in Booking
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return noCardData(err)
	}
	res, err := s.bookForCustomer(r.Context(), platform.CallerFrom(r.Context()), in)
	if err != nil {
		return err
	}
	return writeCreated(w, res)
}

func (s *Service) handleGuest(w http.ResponseWriter, r *http.Request) error {
	var in GuestBooking
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return noCardData(err)
	}
	res, err := s.bookGuest(r.Context(), in, guestClient(r))
	if err != nil {
		return err
	}
	return writeCreated(w, res)
}

// noCardData explains the decoder's refusal of the paymentToken field bookings took before
// payment methods: card numbers and provider tokens go to payments-api only. The booking is
// refused whole, before anything of it is kept.
func noCardData(err error) error {
	var pe *platform.Error
	if errors.As(err, &pe) && pe.Kind == platform.KindInvalid && len(pe.Fields) == 1 && pe.Fields[0].Field == "paymentToken" {
		return platform.Invalid("paymentToken is no longer accepted: card details go to payments-api only",
			platform.FieldError{Field: "paymentToken", Reason: "send the card to POST /api/payments/methods and book with the paymentMethodId (pm_…) it answers"})
	}
	return err
}

// writeCreated renders a new reservation with its Location.
func writeCreated(w http.ResponseWriter, res Reservation) error {
	w.Header().Set("Location", Prefix+"/"+res.ID)
	return writeReservation(w, http.StatusCreated, res)
}

func (s *Service) handleLookup(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	id, email := strings.ToLower(strings.TrimSpace(q.Get("id"))), strings.ToLower(strings.TrimSpace(q.Get("email")))
	var errs fieldErrors
	if !validUUID(id) {
		errs.add("id", "required: the reservation id")
	}
	if email == "" || !strings.Contains(email, "@") {
		errs.add("email", "required: the email the booking was made with")
	}
	if len(errs) > 0 {
		return platform.Invalid("the lookup is invalid", errs...)
	}
	res, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	if res.email == "" || res.email != email {
		return platform.NotFound("no reservation with id %s", id)
	}
	return writeReservation(w, http.StatusOK, res)
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	res, err := s.visible(r)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

// page is a page of a search.
type page struct {
	Items    []Reservation `json:"items"`
	Page     int           `json:"page"`
	PageSize int           `json:"pageSize"`
	Total    int           `json:"total"`
}

var searchParams = []string{"status", "customer", "vehicle", "category", "location", "from", "to", "sort", "page", "pageSize"}

func parseFilter(q url.Values) (Filter, error) {
	var errs fieldErrors
	for key := range q {
		if !slices.Contains(searchParams, key) {
			errs.add(key, "unknown parameter; supported: "+strings.Join(searchParams, ", "))
		}
	}
	f := Filter{Page: 1, PageSize: 20,
		Status:     Status(strings.ToLower(strings.TrimSpace(q.Get("status")))),
		CustomerID: strings.ToLower(strings.TrimSpace(q.Get("customer"))),
		VehicleID:  strings.ToLower(strings.TrimSpace(q.Get("vehicle"))),
		Category:   strings.ToUpper(strings.TrimSpace(q.Get("category"))),
		Location:   strings.ToUpper(strings.TrimSpace(q.Get("location"))),
		Sort:       strings.TrimSpace(q.Get("sort")),
	}
	if f.Status != "" && !f.Status.valid() {
		errs.add("status", "one of pending, confirmed, active, completed, cancelled, expired, no_show")
	}
	if f.CustomerID != "" && !validUUID(f.CustomerID) {
		errs.add("customer", "a customer id (UUID)")
	}
	if f.VehicleID != "" && !validUUID(f.VehicleID) {
		errs.add("vehicle", "a vehicle id (UUID)")
	}
	if f.Category != "" && !slices.Contains(Categories, f.Category) {
		errs.add("category", "one of "+strings.Join(Categories, ", "))
	}
	if f.Location != "" && !locationPattern.MatchString(f.Location) {
		errs.add("location", "a branch code such as BER-HBF")
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := strings.TrimSpace(q.Get(p.name)); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				errs.add(p.name, "an RFC 3339 time")
				continue
			}
			*p.dst = &t
		}
	}
	if f.From != nil && f.To != nil && !f.To.After(*f.From) {
		errs.add("to", "must be after from")
	}
	if _, ok := sortColumns[f.Sort]; f.Sort != "" && !ok {
		errs.add("sort", "one of pickupAt, -pickupAt, returnAt, -returnAt, createdAt, -createdAt")
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			errs.add("page", "a page number from 1")
		}
		f.Page = n
	}
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			errs.add("pageSize", "from 1 to 100")
		}
		f.PageSize = n
	}
	if len(errs) > 0 {
		return Filter{}, platform.Invalid("invalid search", errs...)
	}
	return f, nil
}

func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		return err
	}
	items, total, err := s.store.Search(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, page{Items: items, Page: f.Page, PageSize: f.PageSize, Total: total})
}

// decodeOptional decodes a body when there is one: transitions without parameters accept
// an empty body or {}.
func decodeOptional(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, platform.DefaultMaxBodyBytes))
	if err != nil {
		return platform.Errorf(platform.KindTooLarge, "the request body exceeds %d bytes", platform.DefaultMaxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return platform.DecodeJSON(w, r, v, 0)
}

// transition is the shared shape of the parameterless transitions: load what the caller
// may see, check the state machine (409), run check, apply.
func (s *Service) transition(w http.ResponseWriter, r *http.Request, action Action, check func(Reservation) (change, error)) error {
	var empty struct{}
	if err := decodeOptional(w, r, &empty); err != nil {
		return err
	}
	res, err := s.visible(r)
	if err != nil {
		return err
	}
	if !Allowed(action, res.Status) {
		return illegal(action, res.Status)
	}
	var c change
	if check != nil {
		if c, err = check(res); err != nil {
			return err
		}
	}
	res, err = s.store.Transition(r.Context(), res.ID, action, []Status{res.Status}, c)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}

func (s *Service) handleConfirm(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, ActionConfirm, nil)
}

// handleActivate hands the car over: not before the pickup day (in Germany).
func (s *Service) handleActivate(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, ActionActivate, func(res Reservation) (change, error) {
		if pickupDay(s.now()) < pickupDay(res.PickupAt) {
			return change{}, platform.Conflict("the car can be picked up from %s on, not before", pickupDay(res.PickupAt))
		}
		return change{}, nil
	})
}

// handleComplete takes the car back, pricing a late return (LateFee).
func (s *Service) handleComplete(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, ActionComplete, func(res Reservation) (change, error) {
		fee := LateFee(res.ReturnAt, s.now(), res.DailyRateGrossCents)
		return change{lateFeeCents: &fee}, nil
	})
}

// handleNoShow marks a confirmed booking nobody picked up: only once its pickup time passed.
func (s *Service) handleNoShow(w http.ResponseWriter, r *http.Request) error {
	return s.transition(w, r, ActionNoShow, func(res Reservation) (change, error) {
		if s.now().Before(res.PickupAt) {
			return change{}, platform.Conflict("a reservation can be marked as a no-show only after its pickup time")
		}
		return change{}, nil
	})
}

// handleCancel cancels a pending or confirmed booking. A confirmed one (its payment
// authorized) costs the fee of pricing's cancellation rule; a pending hold is free (nothing
// was authorized). Cancelling a cancelled booking answers it unchanged (200).
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) error {
	var in CancelRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	reason := strings.TrimSpace(in.Reason)
	if reason == "" || len(reason) > 500 {
		return platform.Invalid("the cancellation is invalid", platform.FieldError{Field: "reason", Reason: "required, at most 500 characters"})
	}
	res, err := s.visible(r)
	if err != nil {
		return err
	}
	if res.Status == StatusCancelled {
		return writeReservation(w, http.StatusOK, res)
	}
	if !Allowed(ActionCancel, res.Status) {
		return illegal(ActionCancel, res.Status)
	}
	var feeCents int64
	if res.Status == StatusConfirmed {
		f, err := s.peers.cancellationFee(r.Context(), res.PickupAt, s.now(), res.TotalGrossCents)
		if err != nil {
			return err
		}
		feeCents = f.FeeCents
	}
	out, err := s.store.Transition(r.Context(), res.ID, ActionCancel, []Status{res.Status}, change{reason: &reason, feeCents: &feeCents})
	if err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Kind == platform.KindConflict && out.Status == StatusCancelled {
			return writeReservation(w, http.StatusOK, out)
		}
		if errors.As(err, &pe) && pe.Kind == platform.KindConflict && Allowed(ActionCancel, out.Status) {
			// Confirmed in between: the fee basis changed; the client may simply retry.
			return platform.Conflict("the reservation changed while it was being cancelled; please retry")
		}
		return err
	}
	return writeReservation(w, http.StatusOK, out)
}
