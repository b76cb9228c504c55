package reservations

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// writeReservation renders one reservation with its version as a strong ETag.
func writeReservation(w http.ResponseWriter, status int, res Reservation) error {
	w.Header().Set("ETag", strconv.Quote(strconv.Itoa(res.Version)))
	return platform.WriteJSON(w, status, res)
}

// visible loads reservation id for the caller: another customer's is not found.
func (s *Service) visible(r *http.Request) (Reservation, error) {
	id, err := platform.PathUUID(r, "reservation")
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
	res, err := s.Book(r.Context(), platform.CallerFrom(r.Context()), in)
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
	res, err := s.BookGuest(r.Context(), in, guestClient(r))
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
	q := platform.ParseQuery(r, "id", "email")
	if err := q.Err("the lookup is invalid"); err != nil {
		return err
	}
	res, err := s.Lookup(r.Context(), q.Get("id"), q.Get("email"))
	if err != nil {
		return err
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

// parseFilter reads a search's query string strictly (platform.ParseQuery): an unknown,
// repeated or malformed parameter — `?page=1;pageSize=9999999` included — is a 400 naming it,
// with every other bad parameter.
func parseFilter(r *http.Request) (Filter, error) {
	q := platform.ParseQuery(r, searchParams...)
	f := Filter{
		Status:     Status(strings.ToLower(q.Get("status"))),
		CustomerID: strings.ToLower(q.Get("customer")),
		VehicleID:  strings.ToLower(q.Get("vehicle")),
		Category:   strings.ToUpper(q.Get("category")),
		Location:   strings.ToUpper(q.Get("location")),
		Sort:       q.Get("sort"),
	}
	if f.Status != "" && !f.Status.valid() {
		q.Fail("status", "one of pending, confirmed, active, completed, cancelled, expired, no_show")
	}
	if f.CustomerID != "" && !platform.ValidUUID(f.CustomerID) {
		q.Fail("customer", "a customer id (UUID)")
	}
	if f.VehicleID != "" && !platform.ValidUUID(f.VehicleID) {
		q.Fail("vehicle", "a vehicle id (UUID)")
	}
	if f.Category != "" && !rental.ValidCategory(f.Category) {
		q.Fail("category", "one of "+rental.CategoryList())
	}
	if f.Location != "" && !rental.ValidBranchCode(f.Location) {
		q.Fail("location", "a branch code such as BER-HBF")
	}
	for _, p := range []struct {
		name string
		dst  **time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if t := q.Time(p.name, false); !t.IsZero() {
			*p.dst = &t
		}
	}
	if f.From != nil && f.To != nil && !f.To.After(*f.From) {
		q.Fail("to", "must be after from")
	}
	if _, ok := sortColumns[f.Sort]; f.Sort != "" && !ok {
		q.Fail("sort", "one of pickupAt, -pickupAt, returnAt, -returnAt, createdAt, -createdAt")
	}
	f.Page, f.PageSize = q.Paging()
	if err := q.Err("invalid search"); err != nil {
		return Filter{}, err
	}
	return f, nil
}

// handleSearch lists reservations: staff search everyone's; a customer lists their own
// (Search).
func (s *Service) handleSearch(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	items, total, err := s.Search(r.Context(), platform.CallerFrom(r.Context()), f)
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

// handleCancel cancels a booking the caller may see (Service.Cancel).
func (s *Service) handleCancel(w http.ResponseWriter, r *http.Request) error {
	var in CancelRequest
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	id, err := platform.PathUUID(r, "reservation")
	if err != nil {
		return err
	}
	version, err := platform.IfMatch(r)
	if err != nil {
		return err
	}
	res, err := s.Cancel(r.Context(), signedIn(r), id, in.Reason, version)
	if err != nil {
		return err
	}
	return writeReservation(w, http.StatusOK, res)
}
