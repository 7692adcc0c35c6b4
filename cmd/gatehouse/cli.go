package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

// commandHelp is what `gatehouse help COMMAND` and `COMMAND --help` print
// above the command's flags.
type commandHelp struct {
	usage   string // the synopsis, without "usage: "
	summary string // one sentence
	example string // one command line that works
}

// helps describes every command and command group by its full name ("user
// create"). A command missing here still gets its flags listed.
var helps = map[string]commandHelp{
	"serve": {
		usage:   "gatehouse serve [--config FILE] [--addr HOST:PORT] [--data DIR]",
		summary: "Run the server until SIGINT or SIGTERM.",
		example: "gatehouse serve --config /etc/gatehouse.yaml --addr 0.0.0.0:8080",
	},
	"healthcheck": {
		usage:   "gatehouse healthcheck [--config FILE] [--addr HOST:PORT]",
		summary: "Ask the server this configuration runs for BASE/healthz (on loopback when it listens on every interface), for a container's HEALTHCHECK: exit 0 on 200 within 5 seconds, 1 otherwise with the reason on standard error.",
		example: "gatehouse healthcheck --addr 127.0.0.1:8080",
	},
	"user": {
		usage:   "gatehouse user create|list|disable|unlock|reset-link [ARGS] [--config FILE] [--data DIR]",
		summary: "Manage users without a running server.",
		example: "gatehouse user list --data /var/lib/gatehouse",
	},
	"user create": {
		usage:   "gatehouse user create --username U --email E [--name N] [--group G]... --password-stdin",
		summary: "Create an active user; the password is the first line of standard input.",
		example: `printf '%s\n' "$PASSWORD" | gatehouse user create --username alice --email alice@example.com --group admins --password-stdin`,
	},
	"user list": {
		usage:   "gatehouse user list [--config FILE] [--data DIR]",
		summary: "List users.",
		example: "gatehouse user list --data /var/lib/gatehouse",
	},
	"user disable": {
		usage:   "gatehouse user disable U [--config FILE] [--data DIR]",
		summary: "Disable a user (by username, email or id) and end their sessions at once.",
		example: "gatehouse user disable alice --data /var/lib/gatehouse",
	},
	"user unlock": {
		usage:   "gatehouse user unlock U [--config FILE] [--data DIR]",
		summary: "Clear the login lockout of a username or email.",
		example: "gatehouse user unlock admin --data /var/lib/gatehouse",
	},
	"user reset-link": {
		usage:   "gatehouse user reset-link U [--config FILE] [--data DIR]",
		summary: "Print a one-time password reset link for a user; no password is set.",
		example: "gatehouse user reset-link admin --data /var/lib/gatehouse",
	},
	"policy": {
		usage:   "gatehouse policy explain --user U --method M --path P [--host H] [--addr IP] [--json]",
		summary: "Explain the route table's decision for a request.",
		example: "gatehouse policy explain --user alice --method GET --path /admin/ --config gatehouse.yaml",
	},
	"policy explain": {
		usage:   "gatehouse policy explain --user U --method M --path P [--host H] [--addr IP] [--json]",
		summary: "Explain the route table's decision for a request, and the rule that made it.",
		example: "gatehouse policy explain --user alice --method GET --path /admin/ --config gatehouse.yaml",
	},
	"import": {
		usage:   "gatehouse import users FILE [--format csv|json] [--dry-run]",
		summary: "Import users from CSV or JSON, keeping their password hashes.",
		example: "gatehouse import users users.csv --dry-run --data /var/lib/gatehouse",
	},
	"import users": {
		usage:   "gatehouse import users FILE [--format csv|json] [--dry-run]",
		summary: "Import users from CSV or JSON (FILE - is standard input), keeping their password hashes.",
		example: "gatehouse import users users.csv --dry-run --data /var/lib/gatehouse",
	},
	"migrate": {
		usage:   "gatehouse migrate [--config FILE] [--data DIR]",
		summary: "Apply database migrations.",
		example: "gatehouse migrate --data /var/lib/gatehouse",
	},
	"migrate-data": {
		usage:   "gatehouse migrate-data --from sqlite://FILE --to postgres://URL [--config FILE] [--data DIR]",
		summary: "Copy every record of a SQLite database (users, groups, tokens, two-factor settings, sessions, audit, queued mail) into an empty PostgreSQL database, in one transaction; a relative FILE is in the data directory. Stop the server first.",
		example: "gatehouse migrate-data --from sqlite://gatehouse.db --to postgres://gatehouse@db.internal:5432/gatehouse --data /var/lib/gatehouse",
	},
	"backup": {
		usage:   "gatehouse backup --to FILE [--config FILE] [--data DIR]",
		summary: "Write a consistent copy of the SQLite database to a new FILE while the server runs (never overwriting; the secrets key is not in it: keep that apart). PostgreSQL: use pg_dump.",
		example: "gatehouse backup --to /var/backups/gatehouse-2026-12-06.db --data /var/lib/gatehouse",
	},
	"restore": {
		usage:   "gatehouse restore --from FILE [--config FILE] [--data DIR]",
		summary: "Make the SQLite database the backup FILE, after checking it; the database as it was is kept beside it first. Stop the server first.",
		example: "gatehouse restore --from /var/backups/gatehouse-2026-12-06.db --data /var/lib/gatehouse",
	},
	"config": {
		usage:   "gatehouse config check [--config FILE] [--data DIR]",
		summary: "Validate the configuration.",
		example: "gatehouse config check --config /etc/gatehouse.yaml",
	},
	"config check": {
		usage:   "gatehouse config check [--config FILE] [--data DIR]",
		summary: "Validate the configuration and print its warnings.",
		example: "gatehouse config check --config /etc/gatehouse.yaml",
	},
	"version": {
		usage:   "gatehouse version (or gatehouse --version)",
		summary: "Print the version, the VCS revision it was built from and the Go version.",
		example: "gatehouse version",
	},
	"help": {
		usage:   "gatehouse help [COMMAND [SUBCOMMAND]]",
		summary: "Print the usage of gatehouse or of one command.",
		example: "gatehouse help user create",
	},
}

// subcommands are the second words of the command groups.
var subcommands = map[string][]string{
	"user":   {"create", "list", "disable", "unlock", "reset-link"},
	"policy": {"explain"},
	"import": {"users"},
	"config": {"check"},
}

// commands are the first words, in the order usage lists them.
var commands = []string{"serve", "healthcheck", "user", "policy", "import", "migrate", "migrate-data", "backup", "restore", "config", "version", "help"}

// isHelpFlag reports whether arg asks for help, as the flag package would
// take it.
func isHelpFlag(arg string) bool {
	switch arg {
	case "-h", "--h", "-help", "--help":
		return true
	}
	return false
}

// printHelp writes the help of the command called name, with the flags of
// fs (which may be nil).
func printHelp(w io.Writer, name string, fs *flag.FlagSet) {
	h, ok := helps[name]
	if !ok {
		h.usage = "gatehouse " + name + " [flags]"
	}
	fmt.Fprintf(w, "usage: %s\n", h.usage)
	if h.summary != "" {
		fmt.Fprintf(w, "\n%s\n", h.summary)
	}
	if subs := subcommands[name]; len(subs) > 0 {
		fmt.Fprintf(w, "\nsubcommands: %s (gatehouse help %s SUBCOMMAND)\n", strings.Join(subs, ", "), name)
	}
	if h.example != "" {
		fmt.Fprintf(w, "\nexample:\n  %s\n", h.example)
	}
	if fs == nil {
		return
	}
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprintf(w, "\nflags (before or after the arguments):\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		arg, use := flag.UnquoteUsage(f)
		if arg != "" {
			arg = " " + strings.ToUpper(arg)
		}
		fmt.Fprintf(tw, "  --%s%s\t%s\n", f.Name, arg, use)
	})
	tw.Flush()
}

// newFlagSet returns a flag set for the command called name that prints
// nothing itself: errors are returned (and printed once, by run), and
// --help or -h prints the command's help to stdout.
func newFlagSet(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { printHelp(stdout, name, fs) }
	return fs
}

// parseArgs parses the flags of fs wherever they are among the positional
// arguments (the flag package alone stops at the first positional one), so
// that `user unlock admin --data DIR` works like `user unlock --data DIR
// admin`, and returns the positional arguments. Everything after "--" is
// positional. A mistake is a usage error naming the command, with the
// nearest known flag suggested; --help prints the command's help and
// returns flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	help := fs.Usage
	fs.Usage = func() {} // the flag package calls it on errors too
	defer func() { fs.Usage = help }()
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				help()
				return nil, err
			}
			return nil, flagError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError turns an error of the flag package into a usage error.
func flagError(fs *flag.FlagSet, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, undefined)
	if !ok {
		return usagef("%s: %s", fs.Name(), msg)
	}
	var known []string
	fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
	if s, ok := nearest(name, known); ok {
		return usagef("%s: unknown flag --%s; did you mean --%s?", fs.Name(), name, s)
	}
	return usagef("%s: unknown flag --%s (gatehouse help %s)", fs.Name(), name, fs.Name())
}

// unknownWord is the usage error for a command or subcommand that does not
// exist, suggesting the nearest known one. prefix, if any, names the
// command group.
func unknownWord(prefix, what, word string, known []string) error {
	if prefix != "" {
		prefix += ": "
	}
	if s, ok := nearest(word, known); ok {
		return usagef("%sunknown %s %q; did you mean %q?", prefix, what, word, s)
	}
	return usagef("%sunknown %s %q; expected %s", prefix, what, word, orList(known))
}

// orList spells out a list of choices: "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// parseNoArgs is parseArgs for a command that takes no positional
// arguments.
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parseArgs(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("%s: unexpected argument %q", fs.Name(), pos[0])
	}
	return err
}

// nearest returns the first of known within edit distance 2 of word, the
// closest one if several are.
func nearest(word string, known []string) (string, bool) {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(word, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best, best != ""
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours count one.
func editDistance(a, b string) int {
	s, t := []rune(a), []rune(b)
	d := make([][]int, len(s)+1)
	for i := range d {
		d[i] = make([]int, len(t)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(s); i++ {
		for j := 1; j <= len(t); j++ {
			cost := 1
			if s[i-1] == t[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && s[i-1] == t[j-2] && s[i-2] == t[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(s)][len(t)]
}

// versionText is what `gatehouse version` prints: the module version (or
// the one set with -ldflags "-X main.version=…"), the VCS revision and
// whether the tree had changes, and the Go version.
func versionText(override string, bi *debug.BuildInfo, ok bool) string {
	v := override
	if v == "" && ok {
		v = bi.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gatehouse %s\n", v)
	if !ok {
		b.WriteString("revision: unknown (no build information)\n")
		return b.String()
	}
	var rev, when, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	switch {
	case rev == "":
		b.WriteString("revision: unknown (built without VCS information)\n")
	default:
		fmt.Fprintf(&b, "revision: %s", rev)
		if when != "" {
			fmt.Fprintf(&b, " (%s)", when)
		}
		if modified == "true" {
			b.WriteString(" with uncommitted changes")
		}
		b.WriteString("\n")
	}
	if bi.GoVersion != "" {
		fmt.Fprintf(&b, "go: %s\n", bi.GoVersion)
	}
	return b.String()
}

// versionString is the version alone, for the log.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	v, _, _ := strings.Cut(strings.TrimPrefix(versionText(version, bi, ok), "gatehouse "), "\n")
	return v
}
