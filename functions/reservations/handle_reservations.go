package reservations

import (
	"bytes"
	"encoding/json"
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

// forwarding makes the calls made while serving r carry its token (and request id, trace
// context) even when r did not pass the host's observing middleware (a direct in-process call).
func forwarding(r *http.Request) *http.Request {
	return r.WithContext(platform.WithInbound(r.Context(), r.Header))
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	r = forwarding(r)
	var in Booking
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	ctx := r.Context()
	caller := platform.CallerFrom(ctx)
	if !caller.Staff() && strings.TrimSpace(in.CustomerID) == "" {
		in.CustomerID = caller.CustomerID
	}
	b, errs := in.validate(s.now(), true)
	if len(errs) > 0 {
		return platform.Invalid("the booking is invalid", errs...)
	}
	if !caller.MaySee(b.customerID) {
		return platform.Invalid("the booking is invalid", platform.FieldError{Field: "customerId", Reason: "no such customer"})
	}
	c, err := s.peers.getCustomer(ctx, b.customerID)
	if err != nil {
		return err
	}
	if err := s.peers.checkEligibility(ctx, b.customerID, b.pickupAt, b.returnAt); err != nil {
		return err
	}
	if err := s.peers.checkVehicle(ctx, &b); err != nil {
		return err
	}
	q, err := s.peers.quote(ctx, b)
	if err != nil {
		return err
	}
	return s.book(w, r, b, q, c.Email)
}

// book stores the hold for b priced by q.
func (s *Service) book(w http.ResponseWriter, r *http.Request, b booking, q quote, email string) error {
	res, err := s.store.Create(r.Context(), newHold{booking: b, email: strings.ToLower(email), totalGross: q.GrossCents,
		dailyGross: q.DailyRateGrossCents, currency: q.Currency, hold: s.hold})
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/"+res.ID)
	return writeReservation(w, http.StatusCreated, res)
}

// GuestBooking is the body of a guest booking: a registration as customers-api takes it
// (with the driver's licence, which the eligibility rules need) and the booking.
type GuestBooking struct {
	Customer json.RawMessage `json:"customer"`
	Booking
}

// guestProfile is what a guest booking reads of the registration itself.
type guestProfile struct {
	Email       string `json:"email"`
	DateOfBirth string `json:"dateOfBirth"`
	Licence     *struct {
		IssueDate  string `json:"issueDate"`
		ExpiryDate string `json:"expiryDate"`
	} `json:"licence"`
}

// guestEligibility applies design.md §4's rules to a guest's registration: age ≥ 21 and a
// licence held ≥ 1 year on the pickup day, valid through the return day. (A guest has no
// token customers-api would accept for its eligibility operation, and checking before
// registering keeps an ineligible guest from being registered at all.)
func guestEligibility(raw json.RawMessage, b booking) (guestProfile, fieldErrors) {
	var errs fieldErrors
	var g guestProfile
	if len(raw) == 0 || json.Unmarshal(raw, &g) != nil {
		errs.add("customer", "required: the guest's registration (see POST /api/customers)")
		return g, errs
	}
	pickup, ret := pickupDay(b.pickupAt), pickupDay(b.returnAt)
	dob, err := time.Parse(time.DateOnly, g.DateOfBirth)
	if err != nil {
		errs.add("customer.dateOfBirth", "required: a date such as 1990-04-12")
	} else if dob.AddDate(21, 0, 0).Format(time.DateOnly) > pickup {
		errs.add("customer.dateOfBirth", "a driver must be at least 21 on the pickup day")
	}
	if g.Licence == nil {
		errs.add("customer.licence", "required for a guest booking: the driver's licence")
		return g, errs
	}
	issued, err := time.Parse(time.DateOnly, g.Licence.IssueDate)
	if err != nil {
		errs.add("customer.licence.issueDate", "required: a date such as 2009-06-15")
	} else if issued.AddDate(1, 0, 0).Format(time.DateOnly) > pickup {
		errs.add("customer.licence.issueDate", "the licence must have been held for at least a year on the pickup day")
	}
	expiry, err := time.Parse(time.DateOnly, g.Licence.ExpiryDate)
	if err != nil {
		errs.add("customer.licence.expiryDate", "required: a date such as 2034-06-15")
	} else if expiry.Format(time.DateOnly) < ret {
		errs.add("customer.licence.expiryDate", "the licence must be valid through the return day")
	}
	return g, errs
}

func (s *Service) handleGuest(w http.ResponseWriter, r *http.Request) error {
	r = forwarding(r)
	var in GuestBooking
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	b, errs := in.Booking.validate(s.now(), false)
	if in.CustomerID != "" {
		errs.add("customerId", "not allowed in a guest booking: the guest is registered by it")
	}
	if len(errs) == 0 {
		_, gerrs := guestEligibility(in.Customer, b)
		errs = append(errs, gerrs...)
	}
	if len(errs) > 0 {
		return platform.Invalid("the guest booking is invalid", errs...)
	}
	// Check the vehicle and price before registering, so a booking that cannot be made
	// registers nobody.
	if err := s.peers.checkVehicle(r.Context(), &b); err != nil {
		return err
	}
	q, err := s.peers.quote(r.Context(), b)
	if err != nil {
		return err
	}
	c, err := s.peers.register(r.Context(), in.Customer)
	if err != nil {
		return err
	}
	b.customerID = c.ID
	return s.book(w, r, b, q, c.Email)
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
	r = forwarding(r)
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
