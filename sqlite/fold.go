package sqlite

import "github.com/gatehouse/gatehouse"

// foldKey returns the case-folded key of s that the users table stores next
// to usernames, emails and names, so that uniqueness, logins and searches
// ignore case: gatehouse.FoldName, whose keys the login throttles use too.
func foldKey(s string) string { return gatehouse.FoldName(s) }
