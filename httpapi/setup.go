package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/account"
)

type setupBody struct {
	Token    string `json:"token"`
	Username string `json:"username"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// handleSetup is POST BASE/setup: the one-time creation of the first
// administrator with the token printed at first start.
func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) error {
	var body setupBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	u, err := s.accounts.CompleteSetup(r.Context(), body.Token, account.NewUser{
		Username: body.Username, Email: body.Email, Name: body.Name, Password: body.Password,
	})
	if err != nil {
		return err
	}
	uv, err := s.userView(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"user": uv})
	return nil
}
