package account

// ValidateIdentity checks a user's username, email and display name by the
// rules CreateUser applies, and returns field → problem for each that is
// wrong ("username", "email", "name"); an empty map means all three are
// valid. Tools that create users without the Service, such as the import
// command, use it to refuse exactly what CreateUser would.
func ValidateIdentity(username, email, name string) map[string]string {
	return validateIdentity(username, email, name)
}
