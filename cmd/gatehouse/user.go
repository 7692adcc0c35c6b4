package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/server"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdUser(ctx context.Context, sub string, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("user "+sub, stdout)
	var cf commonFlags
	cf.register(fs)
	var (
		username, email, name string
		groups                stringList
		passwordStdin         bool
	)
	if sub == "create" {
		fs.StringVar(&username, "username", "", "username (required)")
		fs.StringVar(&email, "email", "", "email address (required)")
		fs.StringVar(&name, "name", "", "display name")
		fs.Var(&groups, "group", "group to add the user to (repeatable)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input (required)")
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		if len(rest) > 0 {
			return usagef("user create: unexpected argument %q", rest[0])
		}
		if username == "" || email == "" {
			return usagef("user create: --username and --email are required")
		}
		if !passwordStdin {
			return usagef("user create: --password-stdin is required (passwords are never taken as arguments, which other users can see)")
		}
	case "list":
		if len(rest) > 0 {
			return usagef("user list: unexpected argument %q", rest[0])
		}
	case "disable", "unlock", "reset-link":
		if len(rest) != 1 {
			return usagef("user %s: expected exactly one username, email or id", sub)
		}
	default:
		return unknownWord("user", "subcommand", sub, subcommands["user"])
	}

	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()

	switch sub {
	case "create":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := a.Accounts.CreateUser(ctx, account.NewUser{Username: username, Email: email, Name: name, Password: pw, Groups: groups})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "created user %s (id %s)\n", u.Username, u.ID)
	case "list":
		users, _, err := a.Store.ListUsers(ctx, gatehouse.UserFilter{})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tEMAIL\tSTATE\tGROUPS\tLAST LOGIN")
		for _, u := range users {
			last := "never"
			if !u.LastLoginAt.IsZero() {
				last = u.LastLoginAt.UTC().Format("2006-01-02T15:04:05Z")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Email, u.State, strings.Join(u.Groups, ","), last)
		}
		return tw.Flush()
	case "disable":
		u, err := findUser(ctx, a, rest[0])
		if err != nil {
			return err
		}
		if _, err := a.Accounts.DisableUser(ctx, account.Actor{}, u.ID); err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "disabled user %s; their sessions have ended\n", u.Username)
	case "unlock":
		if err := a.Accounts.Unlock(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "cleared the login lockout of %s\n", rest[0])
	case "reset-link":
		u, err := findUser(ctx, a, rest[0])
		if err != nil {
			return err
		}
		if u.State == gatehouse.StateDisabled {
			return fmt.Errorf("user %s is disabled; enable them first", u.Username)
		}
		link, err := a.Accounts.IssueResetLink(ctx, u, "")
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "one-time password reset link for %s (valid %s; give it to them only):\n%s\n", u.Username, s.resetTTL(), link)
	}
	return nil
}

// readPassword reads one line from r and removes only its line ending:
// passwords are taken exactly as typed, spaces included.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", usagef("no password on standard input")
	}
	return line, nil
}

func findUser(ctx context.Context, a *server.Services, ref string) (*gatehouse.User, error) {
	u, err := a.Store.UserByLogin(ctx, ref)
	if errors.Is(err, gatehouse.ErrNotFound) {
		u, err = a.Store.UserByID(ctx, ref)
	}
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, fmt.Errorf("no user %q", ref)
	}
	return u, err
}

// describe spells out a use-case error for a person at a terminal,
// including every field and rule it names.
func describe(err error) error {
	var ge *gatehouse.Error
	if !errors.As(err, &ge) || ge.Code == gatehouse.CodeInternal {
		return err
	}
	parts := []string{ge.Message}
	keys := make([]string, 0, len(ge.Fields))
	for k := range ge.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+ge.Fields[k])
	}
	for _, r := range ge.Rules {
		parts = append(parts, r.Message)
	}
	return errors.New(strings.Join(parts, " "))
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", stdout)
	var cf commonFlags
	cf.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	fmt.Fprintf(stdout, "database %s is up to date\n", s.databaseName())
	return nil
}
