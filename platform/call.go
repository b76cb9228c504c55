package platform

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// CallError is another function's answer other than 2xx: its status and RFC 9457 problem
// (zero fields when the body was no problem document). Transport failures are not
// CallErrors: the function never answered.
type CallError struct {
	// Service is the function that answered, by its service name.
	Service string
	Status  int
	Problem Problem
}

// Error says which function answered which status, and why: the problem's detail, else its
// title, else the status text.
func (e *CallError) Error() string {
	return fmt.Sprintf("%s answered %d: %s", e.Service, e.Status, cmp.Or(e.Problem.Detail, e.Problem.Title, http.StatusText(e.Status)))
}

// maxCallAnswer bounds what is read of an answer (a rates answer for 200 items is ~50 KB).
const maxCallAnswer = 1 << 20

// CallJSON sends in as JSON (no body when nil) to http://<service><path> over c and decodes
// a 2xx answer into out (when not nil); any other answer is a *CallError, its problem
// decoded when the body is one. Transport failures are returned as they are. This is the
// one call helper of the typed contract packages (functions/<name>/<name>api).
func CallJSON(ctx context.Context, c *http.Client, method, service, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+service+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxCallAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &CallError{Service: service, Status: resp.StatusCode}
		var p Problem
		if dec.Decode(&p) == nil {
			e.Problem = p
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, req.URL, err)
	}
	return nil
}
