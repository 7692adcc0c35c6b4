package web

import (
	"strconv"
	"strings"
)

// A new-password field (the account page's password change, the reset,
// invitation and setup pages): its label, the policy's rules as text
// (shown with or without JavaScript), an empty live region the script
// passwordpolicy.js fills with the rules the typed password does not meet
// yet, and the server's reasons after a refused submit. The script asks
// BASE/password/policy once and checks only lengths in the page; what
// needs the server (common and breached passwords, the user's own words,
// the strength estimate) is checked on submit, and the hint says so. The
// typed password is never sent anywhere before the form is submitted.

// newPasswordField is the template "newpassword"'s data.
type newPasswordField struct {
	// ID is the input's id; Name its form name.
	ID, Name, Label string
	// PolicyURL is BASE/password/policy, which the script fetches once.
	PolicyURL string
	// Hint is the policy's rules as text.
	Hint string
	// Error is the server's reasons for a refused password, or "".
	Error string
}

// DescribedBy is the input's aria-describedby: the hint, the live region
// and, after a refused submit, the error.
func (f newPasswordField) DescribedBy() string {
	ids := f.ID + "-hint " + f.ID + "-policy"
	if f.Error != "" {
		ids += " " + f.ID + "-error"
	}
	return ids
}

// newPassword is the new-password field id (form name name) with the
// policy's hint.
func (p *Pages) newPassword(id, name, label string) newPasswordField {
	return newPasswordField{ID: id, Name: name, Label: label, PolicyURL: p.base + "/password/policy", Hint: p.policyHint()}
}

// policyHint says what the policy asks of a new password: the length, and
// what is checked when the form is submitted.
func (p *Pages) policyHint() string {
	d := p.accounts.Policy().Describe()
	hint := "At least " + strconv.Itoa(d.MinLength) + " characters."
	var onSubmit []string
	if d.Blocklist {
		onSubmit = append(onSubmit, "common passwords")
	}
	if d.ContextWords {
		onSubmit = append(onSubmit, "your username or email")
	}
	if d.MinStrength > 0 {
		onSubmit = append(onSubmit, "easy-to-guess patterns")
	}
	if d.BreachCheck {
		onSubmit = append(onSubmit, "passwords known from data breaches")
	}
	switch n := len(onSubmit); n {
	case 0:
	case 1:
		hint += " When you submit, it is checked for " + onSubmit[0] + "."
	default:
		hint += " When you submit, it is checked for " + strings.Join(onSubmit[:n-1], ", ") + " and " + onSubmit[n-1] + "."
	}
	return hint
}
