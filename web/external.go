package web

import "net/http"

type externalErrorData struct {
	Title, Message, LoginURL string
}

// ExternalLoginFailed writes the error page of an external login, which
// browsers reach by navigating (from a button, or back from the provider):
// what went wrong and the way back to the login page (see httpapi.Pages).
func (p *Pages) ExternalLoginFailed(w http.ResponseWriter, r *http.Request, status int, message string) error {
	return render(w, status, p.views.externalError, externalErrorData{
		Title: "Sign-in failed", Message: message, LoginURL: p.base + "/ui/login",
	})
}
