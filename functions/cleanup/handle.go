package cleanup

import (
	"context"
	"errors"
	"net/http"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/orangecarrental/orange/events"
	"github.com/orangecarrental/orange/platform"
)

// nightly is the data of the PingSource's scheduled pings (knative/base/cleanup-worker.yaml):
// {"run": "nightly"}. Any other ping of the same PingSource — `orange emit -as
// pingsource/cleanup-nightly` — is a manual run.
type nightly struct {
	Run string `json:"run"`
}

// handlePing runs the housekeeping for one ping (Start) and answers what it did: 200 with
// the run, or with why nothing ran. The run goes on if the sender gives up waiting: it is
// bounded by CLEANUP_RUN_TIMEOUT, not by the request.
func (s *Service) handlePing(w http.ResponseWriter, r *http.Request) error {
	e, err := decodePing(w, r)
	if err != nil {
		return err
	}
	trigger := TriggerManual
	var d nightly
	if len(e.Data()) > 0 && e.DataAs(&d) == nil && d.Run == "nightly" {
		trigger = TriggerPing
	}
	sent := e.Time()
	if sent.IsZero() {
		sent = s.now()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.RunTimeout)
	defer cancel()
	out, err := s.Start(ctx, trigger, e.ID(), sent)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, out)
}

// decodePing reads the CloudEvent: a ping (dev.knative.sources.ping), else 400.
func decodePing(w http.ResponseWriter, r *http.Request) (*cloudevents.Event, error) {
	r.Body = http.MaxBytesReader(w, r.Body, events.MaxEventBytes)
	e, err := cloudevents.NewEventFromHTTPRequest(r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, platform.Errorf(platform.KindTooLarge, "the event exceeds %d bytes", events.MaxEventBytes)
		}
		return nil, platform.Invalid("not a CloudEvent: " + err.Error())
	}
	if err := e.Validate(); err != nil {
		return nil, platform.Invalid("invalid CloudEvent: " + err.Error())
	}
	if e.Type() != events.Ping {
		return nil, platform.Invalid("cleanup-worker receives " + events.Ping + " only, not " + e.Type())
	}
	if len(e.ID()) > 200 {
		return nil, platform.Invalid("the event id exceeds 200 characters")
	}
	return e, nil
}

// RunList is a page of runs.
type RunList struct {
	Items    []Run `json:"items"`
	Page     int   `json:"page"`
	PageSize int   `json:"pageSize"`
	Total    int   `json:"total"`
}

// handleListRuns lists the runs, newest first (admins).
func (s *Service) handleListRuns(w http.ResponseWriter, r *http.Request) error {
	q := platform.ParseQuery(r, "page", "pageSize")
	page, size := q.Paging()
	if err := q.Err("invalid query"); err != nil {
		return err
	}
	runs, total, err := listRuns(r.Context(), s.db, page, size)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, RunList{Items: runs, Page: page, PageSize: size, Total: total})
}
