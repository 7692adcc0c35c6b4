package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/httpapi"
)

// cmdPolicy runs `gatehouse policy explain`: the decision for a request,
// from gatehouse's own endpoint's built-in requirement (under base_path)
// and the route table, and the rule that made it.
func cmdPolicy(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "explain" {
		return usagef("policy: expected explain")
	}
	fs := newFlagSet("policy explain", stdout)
	var cf commonFlags
	cf.register(fs)
	var req account.ExplainRequest
	fs.StringVar(&req.User, "user", "", "username or email of the caller (empty: anonymous)")
	fs.StringVar(&req.Method, "method", "GET", "request method")
	fs.StringVar(&req.Path, "path", "", "request path, as sent (percent-encoded)")
	fs.StringVar(&req.Addr, "addr", "", "client IP address, for rules with networks")
	fs.StringVar(&req.Host, "host", "", "host the request is for (its Host header, e.g. admin.example.com), for rules with hosts")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	if err := parseNoArgs(fs, args[1:]); err != nil {
		return err
	}
	if req.Path == "" {
		return usagef("policy explain: --path is required")
	}
	req.Method = strings.ToUpper(req.Method)
	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	own, err := httpapi.BuiltinRoutes(s.basePath)
	if err != nil {
		return err
	}
	if s.routes == nil && account.BuiltinFor(own, req.Method, req.Path) == nil {
		return &configError{where: "config", field: "routes", msg: "no route table is configured"}
	}
	a, err := openApp(ctx, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := a.Accounts.Explain(ctx, s.routes, own, req)
	if err != nil {
		return describe(err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	who := "anonymous"
	if out.User != nil {
		who = out.User.Username
	}
	fmt.Fprintf(stdout, "%s %s%s as %s: %s (%d)\n", out.Method, out.Host, out.Path, who, out.Decision, out.Status)
	if b := out.BuiltIn; b != nil {
		fmt.Fprintf(stdout, "built-in: %s %s requires %s: %s (%d)\n", b.Method, b.Path, b.Describe(), b.Decision, b.Status)
	}
	if out.Rule != nil {
		r := out.Rule
		paths := append([]string{}, r.Paths...)
		if r.Path != "" {
			paths = append([]string{r.Path}, paths...)
		}
		fmt.Fprintf(stdout, "rule:   routes[%d] path %s", r.Index, strings.Join(paths, ", "))
		if len(r.Methods) > 0 {
			fmt.Fprintf(stdout, " methods %s", strings.Join(r.Methods, ","))
		}
		fmt.Fprintf(stdout, " access %s", r.Access)
		if perms := append(nonEmpty(r.Permission), r.Permissions...); len(perms) > 0 {
			fmt.Fprintf(stdout, " %s", strings.Join(perms, " | "))
		}
		if len(r.Networks) > 0 {
			fmt.Fprintf(stdout, " networks %s", strings.Join(r.Networks, ","))
		}
		if len(r.Hosts) > 0 {
			fmt.Fprintf(stdout, " hosts %s", strings.Join(r.Hosts, ","))
		}
		fmt.Fprintln(stdout)
	}
	fmt.Fprintf(stdout, "reason: %s\n", out.Why)
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
