package httpapi

import (
	"net/http"

	"github.com/gatehouse/gatehouse/account"
)

type changePasswordBody struct {
	CurrentPassword string `json:"currentPassword"`
	NewPassword     string `json:"newPassword"`
}

// handleChangePassword is POST BASE/password: the user changes their own
// password; their other sessions end.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, c *credentials) error {
	var body changePasswordBody
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	err := s.accounts.ChangePassword(r.Context(), account.ChangePasswordRequest{
		User:            c.user,
		Session:         c.session,
		CurrentPassword: body.CurrentPassword,
		NewPassword:     body.NewPassword,
		Client:          s.client(r),
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handlePasswordPolicy is GET BASE/password/policy: the rules a new
// password must meet, for the change-password dialog.
func (s *Server) handlePasswordPolicy(w http.ResponseWriter, r *http.Request) error {
	d := s.accounts.Policy().Describe()
	writeJSON(w, http.StatusOK, map[string]any{
		"minLength":          d.MinLength,
		"maxLength":          d.MaxLength,
		"minLengthUnit":      "characters",
		"maxLengthUnit":      "bytes",
		"blocklist":          d.Blocklist,
		"blocklistSize":      d.BlocklistSize,
		"contextWords":       d.ContextWords,
		"breachCheck":        d.BreachCheck,
		"minStrength":        d.MinStrength,
		"compositionRules":   false,
		"allowPasswordReset": s.accounts.AllowPasswordReset(),
	})
	return nil
}
