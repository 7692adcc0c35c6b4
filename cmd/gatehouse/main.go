// Command gatehouse runs the gatehouse authentication server and manages its
// users from the command line.
//
// Usage:
//
//	gatehouse serve [--config FILE] [--addr HOST:PORT] [--data DIR]
//	gatehouse healthcheck [--config FILE] [--addr HOST:PORT]
//	gatehouse user create --username U --email E [--name N] [--group G]... --password-stdin
//	gatehouse user list | disable U | unlock U | reset-link U
//	gatehouse policy explain --user U --method M --path P [--host H] [--addr IP] [--json]
//	gatehouse import users FILE [--format csv|json] [--dry-run]
//	gatehouse migrate
//	gatehouse migrate-data --from sqlite://FILE --to postgres://URL
//	gatehouse backup --to FILE | restore --from FILE
//	gatehouse config check
//	gatehouse version | --version
//	gatehouse help [COMMAND]
//
// Flags may come before or after positional arguments; "--" ends them.
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/redis"
)

// version, when set at build time with -ldflags "-X main.version=…",
// replaces the module version from the build information.
var version string

func main() {
	// go-redis logs a failed dial itself, on standard error, through a
	// logger global to the program: serve points it at its own logger, so
	// that those lines take the configured format like every other.
	goredis.SetLogger(redisLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Environ, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const usage = `usage: gatehouse <command> [arguments] [flags]

commands:
  serve            run the server
  healthcheck      exit 0 if the server answers BASE/healthz, 1 if not
  user create      create an active user (password from stdin)
  user list        list users
  user disable U   disable a user and end their sessions
  user unlock U    clear the login lockout of a username
  user reset-link U
                   print a one-time password reset link for a user
  policy explain   explain the route table's decision for a request
  import users FILE [--format csv|json] [--dry-run]
                   import users from CSV or JSON, keeping their password hashes
  migrate          apply database migrations
  migrate-data --from sqlite://FILE --to postgres://URL
                   copy every record into an empty PostgreSQL database
  backup --to FILE a consistent copy of the SQLite database, while it runs
  restore --from FILE
                   make the SQLite database the backup FILE (server stopped)
  config check     validate the configuration
  version          print the version (also: gatehouse --version)
  help [COMMAND]   print this, or a command's usage and flags (also: COMMAND --help)

Flags may come before or after a command's arguments; "--" ends them.
Run "gatehouse help COMMAND" (or "gatehouse COMMAND --help") for a command's flags.
common flags: --config FILE  --data DIR  (also GATEHOUSE_CONFIG, GATEHOUSE_DATA_DIR)

example:
  gatehouse user unlock admin --data /var/lib/gatehouse
`

// run is the whole program, with its environment passed in so tests can
// call it directly: getenv reads a variable, environ lists them all (as
// os.Environ does) for the check of unknown GATEHOUSE_ variables.
func run(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, environ, stdin, stdout, stderr)
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		// Several configuration errors: one a line.
		fmt.Fprintf(stderr, "gatehouse: %s\n", strings.ReplaceAll(err.Error(), "\n", "\ngatehouse: "))
		return exitUsage
	default:
		// The server package names itself too: one "gatehouse:" is enough.
		fmt.Fprintf(stderr, "gatehouse: %s\n", strings.TrimPrefix(err.Error(), "gatehouse: "))
		return exitFailure
	}
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	// A command group (user, policy, import, config) asked for help, or for
	// a subcommand it does not have.
	if subs, ok := subcommands[cmd]; ok {
		if len(rest) > 0 && isHelpFlag(rest[0]) {
			printHelp(stdout, cmd, nil)
			return flag.ErrHelp
		}
		if len(rest) == 0 {
			return usagef("%s: expected %s (gatehouse help %s)", cmd, orList(subs), cmd)
		}
		if !slices.Contains(subs, rest[0]) {
			if strings.HasPrefix(rest[0], "-") {
				return usagef("%s: expected %s before any flag, not %q", cmd, orList(subs), rest[0])
			}
			return unknownWord(cmd, "subcommand", rest[0], subs)
		}
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, environ, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout)
	case "user":
		return cmdUser(ctx, rest[0], rest[1:], getenv, stdin, stdout, stderr)
	case "policy":
		return cmdPolicy(ctx, rest, getenv, stdout, stderr)
	case "import":
		return cmdImport(ctx, rest, getenv, stdin, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "migrate-data":
		return cmdMigrateData(ctx, rest, getenv, stdout)
	case "backup":
		return cmdBackup(ctx, rest, getenv, stdout)
	case "restore":
		return cmdRestore(ctx, rest, getenv, stdout)
	case "config":
		return cmdConfigCheck(rest[1:], getenv, environ, stdout, stderr)
	case "version", "--version", "-version":
		fs := newFlagSet("version", stdout)
		if err := parseNoArgs(fs, rest); err != nil {
			return err
		}
		bi, ok := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(version, bi, ok))
		return nil
	case "help", "-h", "--help", "-help":
		return cmdHelp(ctx, rest, getenv, environ, stdout, stderr)
	default:
		if strings.HasPrefix(cmd, "-") {
			flags := []string{"--help", "--version"}
			if s, ok := nearest(cmd, flags); ok {
				return usagef("unknown flag %s; did you mean %s?", cmd, s)
			}
			return usagef("unknown flag %s (gatehouse help)", cmd)
		}
		return unknownWord("", "command", cmd, commands)
	}
}

// cmdHelp prints the usage of gatehouse, or of the command args name, by
// asking that command for its --help.
func cmdHelp(ctx context.Context, args []string, getenv func(string) string, environ func() []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
		return nil
	case isHelpFlag(args[0]) || args[0] == "help" || args[0] == "version":
		if len(args) > 1 {
			return usagef("help: unexpected argument %q", args[1])
		}
		name := args[0]
		if isHelpFlag(name) {
			name = "help"
		}
		printHelp(stdout, name, nil)
		return nil
	case len(args) > 2:
		return usagef("help: unexpected argument %q", args[2])
	}
	if !slices.Contains(commands, args[0]) {
		return unknownWord("help", "command", args[0], commands)
	}
	if len(args) == 2 && subcommands[args[0]] == nil {
		return usagef("help: %s has no subcommand %q", args[0], args[1])
	}
	// The command prints its own help, flags included; it reads nothing.
	return dispatch(ctx, append(args[:len(args):len(args)], "--help"), getenv, environ, strings.NewReader(""), stdout, stderr)
}

// commonFlags are the flags every command that opens the store takes.
type commonFlags struct {
	config, data string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration `file` (YAML)")
	fs.StringVar(&c.data, "data", "", "`dir`ectory for the database and keys")
}

// loadSettings reads and validates the configuration, applying flags last.
func loadSettings(cf commonFlags, addr string, getenv func(string) string) (*settings, error) {
	file := cf.config
	if file == "" {
		file = getenv("GATEHOUSE_CONFIG")
	}
	c, src, err := loadConfig(file, getenv)
	if err != nil {
		var ce *configError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, &configError{where: "config", msg: err.Error()}
	}
	if cf.data != "" {
		c.DataDir = cf.data
		src.env["data_dir"] = "--data"
	}
	if addr != "" {
		c.Addr = addr
		src.env["addr"] = "--addr"
	}
	return c.validate(src)
}

// cmdConfigCheck validates the configuration: the file, the settings and
// the GATEHOUSE_ variables of environ, every one of which must be known.
func cmdConfigCheck(args []string, getenv func(string) string, environ func() []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", stdout)
	var cf commonFlags
	cf.register(fs)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	unknown := unknownEnv(environ())
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		if len(unknown) > 0 {
			return errors.Join(err, unknown)
		}
		return err
	}
	if len(unknown) > 0 {
		return unknown
	}
	if err := s.checkTLSFiles(); err != nil {
		return err
	}
	for _, w := range append(s.logDrivers, s.warnings...) {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}

// redisLog is the logger go-redis's own lines go to (see main); nil until
// serve sets it, and then they are discarded.
var redisLog atomic.Pointer[slog.Logger]

// redisLogger hands go-redis's lines to redisLog.
type redisLogger struct{}

func (redisLogger) Printf(ctx context.Context, format string, v ...any) {
	redis.Logger{Log: redisLog.Load()}.Printf(ctx, format, v...)
}
