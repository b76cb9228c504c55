package notifier

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http"

	"github.com/orangecarrental/orange/platform"
)

// errNoFolder answers the dev page outside folder mode.
func errNoFolder() error {
	return platform.NotFound("the local mailbox exists only when MAIL_MODE=%s", ModeFolder)
}

// handleListMail lists the mail folder, newest first.
func (s *Service) handleListMail(w http.ResponseWriter, r *http.Request) error {
	if s.folder == "" {
		return errNoFolder()
	}
	items, err := listFolder(s.folder)
	if err != nil {
		return err
	}
	return platform.WriteJSON(w, http.StatusOK, map[string]any{"items": items, "count": len(items)})
}

// handleGetMail shows one message as text: its main headers and its decoded body.
func (s *Service) handleGetMail(w http.ResponseWriter, r *http.Request) error {
	if s.folder == "" {
		return errNoFolder()
	}
	id := platform.PathVar(r, "id")
	msg, _, err := openMail(s.folder, id)
	if errors.Is(err, fs.ErrNotExist) {
		return platform.NotFound("no mail %s", id)
	}
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := renderMail(&b, msg); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(b.Bytes())
	return err
}
