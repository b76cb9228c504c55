package fleet

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/orangecarrental/orange/functions/rental"
	"github.com/orangecarrental/orange/platform"
)

// inventoryPage is one page of the inventory.
type inventoryPage struct {
	Items    []Vehicle `json:"items"`
	Page     int       `json:"page"`
	PageSize int       `json:"pageSize"`
	Total    int       `json:"total"`
}

func (s *Service) handleInventory(w http.ResponseWriter, r *http.Request) error {
	f, err := parseInventory(r)
	if err != nil {
		return err
	}
	items, total, err := s.store.Inventory(r.Context(), f)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, inventoryPage{Items: items, Page: f.Page, PageSize: f.PageSize, Total: total})
}

func parseInventory(r *http.Request) (InventoryFilter, error) {
	p := platform.ParseQuery(r, "status", "location", "category", "page", "pageSize")
	f := InventoryFilter{
		Status:       Status(strings.ToLower(p.Get("status"))),
		LocationCode: NormalizeLocationCode(p.Get("location")),
		Category:     Category(strings.ToUpper(p.Get("category"))),
	}
	if f.Status != "" && !f.Status.valid() {
		p.Fail("status", "must be "+statusList)
	}
	if f.LocationCode != "" && !rental.ValidBranchCode(f.LocationCode) {
		p.Fail("location", "must be a branch code such as BER-HBF")
	}
	if f.Category != "" && !f.Category.valid() {
		p.Fail("category", "must be one of "+rental.CategoryList())
	}
	f.Page, f.PageSize = p.Paging()
	return f, p.Err("invalid inventory filter")
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "vehicle")
	if err != nil {
		return err
	}
	v, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return writeVehicle(w, http.StatusOK, v)
}

func (s *Service) handleCreate(w http.ResponseWriter, r *http.Request) error {
	var in NewVehicle
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the vehicle is invalid", errs...)
	}
	v, err := s.store.Create(r.Context(), in)
	if err != nil {
		return err
	}
	w.Header().Set("Location", Prefix+"/"+v.ID)
	return writeVehicle(w, http.StatusCreated, v)
}

func (s *Service) handleUpdate(w http.ResponseWriter, r *http.Request) error {
	id, ifVersion, err := target(r)
	if err != nil {
		return err
	}
	var in Details
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.normalize()
	if errs := in.validate(); len(errs) > 0 {
		return platform.Invalid("the vehicle is invalid", errs...)
	}
	v, err := s.store.Update(r.Context(), id, in, ifVersion)
	if err != nil {
		return err
	}
	return writeVehicle(w, http.StatusOK, v)
}

// statusChange is the body of a status change.
type statusChange struct {
	Status Status `json:"status"`
}

func (s *Service) handleChangeStatus(w http.ResponseWriter, r *http.Request) error {
	id, ifVersion, err := target(r)
	if err != nil {
		return err
	}
	var in statusChange
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.Status = Status(strings.ToLower(strings.TrimSpace(string(in.Status))))
	if !in.Status.valid() {
		return platform.Invalid("invalid status", platform.FieldError{Field: "status", Reason: "must be " + statusList})
	}
	v, err := s.store.SetStatus(r.Context(), id, in.Status, ifVersion)
	if err != nil {
		return err
	}
	return writeVehicle(w, http.StatusOK, v)
}

// move is the body of a move to another branch.
type move struct {
	LocationCode string `json:"locationCode"`
}

func (s *Service) handleMove(w http.ResponseWriter, r *http.Request) error {
	id, ifVersion, err := target(r)
	if err != nil {
		return err
	}
	var in move
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	in.LocationCode = NormalizeLocationCode(in.LocationCode)
	if !rental.ValidBranchCode(in.LocationCode) {
		return platform.Invalid("invalid branch", platform.FieldError{Field: "locationCode", Reason: "must be a branch code such as BER-HBF"})
	}
	v, err := s.store.Move(r.Context(), id, in.LocationCode, ifVersion)
	if err != nil {
		return err
	}
	return writeVehicle(w, http.StatusOK, v)
}

// rateChange is the body of a daily-rate change. The field is required and may be null
// (back to the category policy), so it is kept raw to tell null from missing.
type rateChange struct {
	DailyRateNetCents json.RawMessage `json:"dailyRateNetCents"`
}

// cents returns the rate the body sets (nil: clear), or why it is invalid.
func (c rateChange) cents() (*int64, error) {
	field := platform.FieldError{Field: "dailyRateNetCents", Reason: "required: whole euro cents, or null for the category's rate"}
	switch raw := bytes.TrimSpace(c.DailyRateNetCents); {
	case len(raw) == 0:
		return nil, platform.Invalid("invalid daily rate", field)
	case string(raw) == "null":
		return nil, nil
	default:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return nil, platform.Invalid("invalid daily rate", field)
		}
		if f := validateRate(&n); f != nil {
			return nil, platform.Invalid("invalid daily rate", *f)
		}
		return &n, nil
	}
}

func (s *Service) handleChangeDailyRate(w http.ResponseWriter, r *http.Request) error {
	id, ifVersion, err := target(r)
	if err != nil {
		return err
	}
	var in rateChange
	if err := platform.DecodeJSON(w, r, &in, 0); err != nil {
		return err
	}
	cents, err := in.cents()
	if err != nil {
		return err
	}
	v, err := s.store.SetDailyRate(r.Context(), id, cents, ifVersion)
	if err != nil {
		return err
	}
	return writeVehicle(w, http.StatusOK, v)
}

// target returns the vehicle id of a change and the version its If-Match requires.
func target(r *http.Request) (id string, ifVersion int64, err error) {
	if id, err = platform.PathUUID(r, "vehicle"); err != nil {
		return "", 0, err
	}
	ifVersion, err = platform.IfMatch(r)
	return id, ifVersion, err
}

// writeVehicle renders one vehicle with its version as a strong ETag, so a client can make
// its next change conditional with If-Match.
func writeVehicle(w http.ResponseWriter, status int, v Vehicle) error {
	return platform.WriteVersioned(w, status, v.Version, v)
}
