package notifier

import (
	"errors"
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// historyParams are the query parameters of GET /api/notifications.
var historyParams = []string{"customerId", "reservationId", "channel", "status", "from", "to", "page", "pageSize"}

// parseHistory reads the history's query strictly (platform.ParseQuery): an unknown,
// repeated or malformed parameter, and every bad value, is one 400 naming them all.
func parseHistory(r *http.Request) (historyFilter, error) {
	q := platform.ParseQuery(r, historyParams...)
	f := historyFilter{CustomerID: q.UUID("customerId"), ReservationID: q.UUID("reservationId"), Channel: q.Get("channel")}
	f.Page, f.PageSize = q.Paging()
	f.From, f.To = q.Time("from", false), q.Time("to", false)
	switch f.Channel {
	case "", ChannelEmail, ChannelSMS:
	default:
		q.Fail("channel", "must be email or sms")
	}
	if status := q.Get("status"); status != "" {
		if f.Status = storedStatus[status]; f.Status == "" {
			q.Fail("status", "must be one of queued, sent, failed")
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		q.Fail("to", "must be after from")
	}
	return f, q.Err("invalid query")
}

// handleList is the history: a customer's own notifications (naming another customer
// answers 404, as if there were none), everyone's for agents and admins — but the admins'
// report mails for admins only — newest first.
func (a *APIService) handleList(w http.ResponseWriter, r *http.Request) error {
	f, err := parseHistory(r)
	if err != nil {
		return err
	}
	caller := platform.CallerFrom(r.Context())
	if !caller.Staff() {
		if f.CustomerID == "" {
			f.CustomerID = caller.CustomerID
		}
		if !caller.Owns(f.CustomerID) {
			return platform.NotFound("no customer %s", f.CustomerID)
		}
	}
	f.HideReports = !caller.Has(platform.RoleAdmin)
	records, total, err := a.history(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]Notification, len(records))
	for i, n := range records {
		items[i] = view(n, caller, f.CustomerID == "")
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items),
		"page": f.Page, "pageSize": f.PageSize, "total": total})
}

// handleGet shows one notification to its customer or to staff; anyone else gets 404.
func (a *APIService) handleGet(w http.ResponseWriter, r *http.Request) error {
	id, err := platform.PathUUID(r, "notification")
	if err != nil {
		return err
	}
	if err := platform.ParseQuery(r).Err("no parameters are taken"); err != nil {
		return err
	}
	n, err := getRecord(r.Context(), a.db.Pool, id)
	if errors.Is(err, errNoNotification) {
		return platform.NotFound("no notification %s", id)
	}
	if err != nil {
		return err
	}
	caller := platform.CallerFrom(r.Context())
	if !maySee(caller, n.CustomerID) {
		return platform.NotFound("no notification %s", id)
	}
	return platform.WriteJSON(w, http.StatusOK, view(n, caller, false))
}
