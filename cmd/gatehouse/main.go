// Command gatehouse runs the gatehouse authentication server and manages its
// users from the command line.
//
// Usage:
//
//	gatehouse serve [--config FILE] [--addr HOST:PORT] [--data DIR]
//	gatehouse user create --username U --email E [--name N] [--group G]... --password-stdin
//	gatehouse user list | disable U | unlock U | reset-link U
//	gatehouse policy explain --user U --method M --path P [--addr IP] [--json]
//	gatehouse import users FILE [--format csv|json] [--dry-run]
//	gatehouse migrate
//	gatehouse config check
//	gatehouse version
//
// Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
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

const usage = `usage: gatehouse <command> [flags]

commands:
  serve            run the server
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
  config check     validate the configuration
  version          print the version

common flags: --config FILE  --data DIR  (also GATEHOUSE_CONFIG, GATEHOUSE_DATA_DIR)
`

// run is the whole program, with its environment passed in so tests can
// call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	var ue *usageError
	var ce *configError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue), errors.As(err, &ce):
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "gatehouse: %v\n", err)
		return exitFailure
	}
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usagef("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stderr)
	case "user":
		if len(rest) == 0 {
			return usagef("user: expected create, list, disable, unlock or reset-link")
		}
		return cmdUser(ctx, rest[0], rest[1:], getenv, stdin, stdout, stderr)
	case "policy":
		return cmdPolicy(ctx, rest, getenv, stdout, stderr)
	case "import":
		return cmdImport(ctx, rest, getenv, stdin, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			return usagef("config: expected check")
		}
		return cmdConfigCheck(rest[1:], getenv, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "gatehouse %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usagef("unknown command %q", cmd)
	}
}

// commonFlags are the flags every command that opens the store takes.
type commonFlags struct {
	config, data string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "configuration file (YAML)")
	fs.StringVar(&c.data, "data", "", "data directory")
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%s: %v", fs.Name(), err)
	}
	return nil
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

func cmdConfigCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config check", stderr)
	var cf commonFlags
	cf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	for _, w := range s.warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	fmt.Fprintln(stdout, "configuration OK")
	return nil
}
