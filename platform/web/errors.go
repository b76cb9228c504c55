package web

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/orangecarrental/orange/platform"
)

// statusOf maps what went wrong to the status of the error page: an API's answer
// (*platform.CallError) keeps its meaning — its 5xx become 503, for the portal is up and
// something behind it is not — a call without an answer is 503, and a handler's own
// *platform.Error its kind's status.
func statusOf(err error) int {
	var call *platform.CallError
	if errors.As(err, &call) {
		switch s := call.Status; {
		case s == http.StatusUnprocessableEntity || s == http.StatusBadRequest:
			return http.StatusBadRequest
		case s == http.StatusPreconditionFailed || s == http.StatusConflict:
			return http.StatusConflict
		case s == http.StatusTooManyRequests || s >= 500:
			return http.StatusServiceUnavailable
		default:
			return pageStatus(s)
		}
	}
	var transport *url.Error
	if errors.As(err, &transport) || errors.Is(err, context.DeadlineExceeded) {
		// The call never got an answer (refused, reset, timed out): http.Client wraps every
		// such failure in a *url.Error.
		return http.StatusServiceUnavailable
	}
	return pageStatus(platform.KindOf(err).Status())
}

// pageStatus folds a status into the ones with a page of their own.
func pageStatus(s int) int {
	switch s {
	case 400, 401, 403, 404, 405, 409, 413, 500, 503:
		return s
	case http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType:
		return http.StatusBadRequest
	case http.StatusPreconditionFailed:
		return http.StatusConflict
	case http.StatusBadGateway, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return http.StatusServiceUnavailable
	}
	if s >= 500 {
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// urlQuery is a query string inside an error's text: a failed call's URL says it whole
// (`Get "http://reservations-api/…/guest?token=…": context deadline exceeded`).
var urlQuery = regexp.MustCompile(`\?[^\s"]*`)

// logText is err as it may be logged: without the query strings of the URLs it names, which
// carry a guest link's token or what an agent searched for (a name, an e-mail address).
func logText(err error) string { return urlQuery.ReplaceAllString(err.Error(), "?…") }

// errorView is the error page's data.
type errorView struct {
	Title, Text string
	RequestID   string
	// SignIn offers signing in (401: the sign-in ended or is needed; a sign-in that could
	// not be completed, say another tab started a newer one).
	SignIn bool
}

// Fail answers with the friendly error page for err, in the request's language: 400, 401,
// 403, 404, 405, 409, 413, 500 or 503 (see statusOf). 5xx are logged with their cause, never shown.
// An API's 401 for a signed-in user means the sign-in is no longer good: the session ends.
func (p *Request) Fail(w http.ResponseWriter, err error) error {
	status := statusOf(err)
	ctx := p.r.Context()
	if status >= 500 {
		platform.LoggerFrom(ctx).ErrorContext(ctx, "page failed", slog.String("error", logText(err)), slog.Int("status", status))
	}
	key := "error." + strconv.Itoa(status)
	var pe *pageError
	if errors.As(err, &pe) {
		key = pe.key
	}
	if status == http.StatusUnauthorized && p.st != nil && p.st.User != nil {
		p.st = &state{CSRF: p.st.CSRF}
		p.Session = nil
		_ = p.site.save(w, p.r, p.st)
	}
	v := errorView{Title: p.T(key + ".title"), Text: p.T(key + ".text"), RequestID: platform.RequestIDFrom(ctx),
		SignIn: status == http.StatusUnauthorized || key == "error.signin"}
	if status < 500 {
		// A refusal the site words by its code says why ("the booking is completed: it can
		// no longer be changed"), where the status's text can only guess ("reload the page").
		if code, detail := refusalOf(err); code != "" && p.Has("problem."+code) {
			v.Title, v.Text = p.T("error.refused.title"), p.word("problem."+code, detail)
		}
	}
	if p.st == nil {
		p.st = guestState() // the session could not be read: the page still renders
	}
	if rerr := p.execute(w, p.site.errorPage, status, View{Request: p, Data: v, Status: status}); rerr != nil {
		// The error page itself failed: plain text, still no internals.
		platform.LoggerFrom(ctx).ErrorContext(ctx, "error page failed", slog.String("error", rerr.Error()))
		http.Error(w, http.StatusText(status), status)
	}
	return nil
}

// Form is a form's state for re-rendering it: what was typed and what is wrong with it.
type Form struct {
	Values url.Values
	// Errors are the messages per field, shown next to their inputs.
	Errors map[string]string
	// Message is an error about the whole form (shown above it).
	Message string
}

// NewForm holds values (r.PostForm, or r.URL.Query() for a search form).
func NewForm(values url.Values) *Form {
	if values == nil {
		values = url.Values{}
	}
	return &Form{Values: values, Errors: map[string]string{}}
}

// Get is what was typed into name.
func (f *Form) Get(name string) string { return f.Values.Get(name) }

// Error is the message for name, "" when it is fine.
func (f *Form) Error(name string) string { return f.Errors[name] }

// Invalid records a message for name (the first one stays).
func (f *Form) Invalid(name, message string) {
	if _, ok := f.Errors[name]; !ok {
		f.Errors[name] = message
	}
}

// OK reports whether the form has no errors.
func (f *Form) OK() bool { return len(f.Errors) == 0 && f.Message == "" }

// Absorb puts an API's field errors into f and reports whether err was such an answer (400
// or 422 problem with errors, or a handler's own invalid *platform.Error): the handler then
// renders the form again, with what was typed, and status 400 or 422. fields maps the API's
// field names to the form's (unlisted names are taken as they are). A field's message is the
// portal's text "invalid.<form field>" when it has one, else the API's reason.
func (p *Request) Absorb(f *Form, err error, fields map[string]string) bool {
	var list []platform.FieldError
	var detail string
	var call *platform.CallError
	var own *platform.Error
	switch {
	case errors.As(err, &call) && (call.Status == http.StatusBadRequest || call.Status == http.StatusUnprocessableEntity):
		list, detail = call.Problem.Errors, call.Problem.Detail
	case errors.As(err, &own) && (own.Kind == platform.KindInvalid || own.Kind == platform.KindUnprocessable):
		list, detail = own.Fields, own.Message
	default:
		return false
	}
	var about []string // refusals about the request as a whole, not one field of the form
	for _, fe := range list {
		name := fe.Field
		if m, ok := fields[name]; ok {
			name = m
		}
		msg := p.word("invalid."+name, fe.Reason)
		if strings.HasPrefix(name, "eligibility.") {
			// customers-api's rules refusing the customer (reservations-api's 422): no input
			// of the form is wrong, so the reasons go above it.
			about = append(about, msg)
			continue
		}
		f.Invalid(name, msg)
	}
	switch {
	case len(about) > 0:
		f.Message = strings.Join(about, " ")
	case len(list) == 0:
		f.Message = detail
		if f.Message == "" {
			f.Message = p.T("error.400.text")
		}
	}
	return true
}

// Refusal words err, another function's 4xx answer, for the page: the site's text
// "problem.<code>" when the problem carries a code (platform.Error.Code) the site words,
// else the function's own detail, else its title. ok is false for anything else.
func (p *Request) Refusal(err error) (msg string, ok bool) {
	var call *platform.CallError
	if !errors.As(err, &call) || call.Status < 400 || call.Status >= 500 {
		return "", false
	}
	code, detail := refusalOf(err)
	if code == "" {
		return detail, true
	}
	return p.word("problem."+code, detail), true
}

// ProblemCode is the code of err, another function's refusal or a handler's own (""
// for none): what a page tells one refusal from another by.
func ProblemCode(err error) string {
	code, _ := refusalOf(err)
	return code
}

// refusalOf is the problem code and the caller-safe detail of err, another function's 4xx
// answer or a handler's own *platform.Error; "" when it names no code.
func refusalOf(err error) (code, detail string) {
	var call *platform.CallError
	if errors.As(err, &call) && call.Status < 500 {
		return call.Problem.Code, cmp.Or(call.Problem.Detail, call.Problem.Title, http.StatusText(call.Status))
	}
	var own *platform.Error
	if errors.As(err, &own) && own.Kind.Status() < 500 {
		return own.Code, own.Message
	}
	return "", ""
}

// word is the site's text key in the page's language, with "%s" in it standing for reason,
// the function's own English words (an English site keeps them, a German one has its own);
// reason itself when the site has no such text.
func (p *Request) word(key, reason string) string {
	t, ok := p.site.messages[p.Lang][key]
	switch {
	case !ok:
		return reason
	case strings.Contains(t, "%s"):
		return fmt.Sprintf(t, reason)
	}
	return t
}
