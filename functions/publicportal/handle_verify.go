package publicportal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/orangecarrental/orange/functions/customers/customersapi"
	"github.com/orangecarrental/orange/platform"
	"github.com/orangecarrental/orange/platform/web"
)

// The welcome mail's link, <PORTAL_PUBLIC_URL>/verify-email#token=…, lands here. The token
// rides in the URL's fragment, which no server and no access log sees; the page's form
// takes it over (portal.js fills it in from the fragment and sends the form; without
// scripts the reader pastes it), and the portal posts it to customers-api's public
// POST /api/customers/verify-email. Nothing about the account is shown: the token proves
// access to a mailbox, not to the account.

// verifyView is the verification page: the form, or done.
type verifyView struct {
	Form *web.Form
	Done bool
}

func (s *Service) handleVerifyForm(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	return p.Render(w, http.StatusOK, "verify-email", verifyView{Form: web.NewForm(nil)})
}

func (s *Service) handleVerify(w http.ResponseWriter, r *http.Request, p *web.Request) error {
	raw := r.PostFormValue("token")
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "#token="))
	if t, err := url.QueryUnescape(token); err == nil {
		token = t
	}
	err := errBadVerification
	if token != "" && len(token) <= 100 {
		err = s.apis(r, p).VerifyEmail(r.Context(), token)
	}
	var ce *platform.CallError
	switch {
	case err == nil:
		return p.Render(w, http.StatusOK, "verify-email", verifyView{Done: true})
	case errors.Is(err, errBadVerification) || errors.As(err, &ce) && ce.Status == http.StatusBadRequest:
		// customers-api tells no token apart from another (unknown, used, expired): one message.
		f := web.NewForm(nil)
		f.Message = p.T("verify.invalid")
		f.Values.Set("token", raw)
		return p.Render(w, http.StatusBadRequest, "verify-email", verifyView{Form: f})
	}
	return err
}

// errBadVerification is a token the portal does not send on: empty or too long.
var errBadVerification = errors.New("not a verification token")

// VerifyEmail follows an email verification link with its token.
func (a apis) VerifyEmail(ctx context.Context, token string) error {
	return a.call(ctx, http.MethodPost, customersapi.Service, customersapi.Prefix+"/verify-email", map[string]string{"token": token}, nil)
}
