package gatehouse

import "testing"

// TestErrorSaysWhatToFix: the error text a Go program logs names the
// password rules broken and the fields that are wrong, not only the code.
func TestErrorSaysWhatToFix(t *testing.T) {
	err := error(&Error{Code: CodePasswordPolicy, Message: "The password does not meet the password policy.",
		Rules: []RuleViolation{{Rule: "min_strength", Message: "The password is too easy to guess."}}})
	if got, want := err.Error(), "password_policy: The password does not meet the password policy. The password is too easy to guess."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = &Error{Code: CodeValidation, Message: "The request is not valid.", Fields: map[string]string{"username": "Username is required.", "email": "Email is not an address."}}
	if got, want := err.Error(), "validation: The request is not valid. email: Email is not an address. username: Username is required."; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
