package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/agnivade/levenshtein"
)

// command is one command of the binary: how it is called, what it reads and one
// example, which its help shows, and what runs it.
type command struct {
	name     string // "serve", "account create"
	synopsis string // the flags after the name
	summary  string
	// env names the variables the command reads, each a key of envHelp.
	env     []string
	example string
	run     func(p *Program, ctx context.Context, args []string) error
}

// dbEnv are the variables every command that opens the database reads.
var dbEnv = []string{"LINKAPI_DATABASE_URL", "LINKAPI_JWT_SECRET", "LINKAPI_JWT_PREVIOUS_SECRETS", "LINKAPI_ENV"}

// redisEnv are the variables of a command that changes accounts: with
// LINKAPI_REDIS_URL it tells the running instances.
var redisEnv = append(append([]string{}, dbEnv...), "LINKAPI_REDIS_URL")

// quotaEnv are the bounds of what an account may store.
var quotaEnv = []string{"LINKAPI_MAX_LINKS_PER_ACCOUNT, LINKAPI_MAX_TEXT_PER_ACCOUNT"}

// commands is the command table, in the order help lists it. It is filled in
// init, as its commands' help reads it.
var commands []command

func init() {
	commands = []command{
		{
			name: "serve", synopsis: "[--addr HOST:PORT] [--database-url URL]",
			summary: "migrate, create admin@localhost on an empty database, and serve GraphQL on /graphql (the default command)",
			env: append(append([]string{"LINKAPI_ADDR"}, dbEnv...), "LINKAPI_TOKEN_TTL",
				"LINKAPI_REFRESH_TTL, LINKAPI_SESSION_MAX_AGE", "LINKAPI_CORS_ORIGINS",
				"LINKAPI_SHUTDOWN_GRACE", "LINKAPI_DRAIN_DELAY", "LINKAPI_GRAPHIQL", "LINKAPI_TRUSTED_PROXIES", "LINKAPI_REQUEST_TIMEOUT",
				"LINKAPI_FETCH_METADATA", "LINKAPI_FETCH_TIMEOUT",
				"LINKAPI_OIDC_ISSUER", "LINKAPI_OIDC_AUDIENCE, LINKAPI_OIDC_AUTO_CREATE, LINKAPI_OIDC_DEFAULT_SCOPES",
				"LINKAPI_ACCOUNT_CACHE_TTL", "LINKAPI_REDIS_URL", "LINKAPI_RATE_LIMIT",
				"LINKAPI_MAX_DEPTH, LINKAPI_MAX_COMPLEXITY, LINKAPI_MAX_ALIASES",
				"LINKAPI_MAX_DOCUMENT_BYTES, LINKAPI_MAX_TOKENS, LINKAPI_MAX_SELECTIONS, LINKAPI_MAX_FIELD_REPEATS",
				"LINKAPI_MAX_FRAGMENTS, LINKAPI_MAX_OPERATIONS, LINKAPI_MAX_DIRECTIVES",
				"LINKAPI_MAX_VARIABLES, LINKAPI_MAX_VARIABLE_VALUES, LINKAPI_MAX_ERRORS",
				"LINKAPI_ANON_CONCURRENCY, LINKAPI_ANON_CONCURRENCY_PER_ADDR", quotaEnv[0]),
			example: "LINKAPI_ADDR=127.0.0.1:9090 linkapi serve",
			run:     (*Program).serve,
		},
		{
			name: "migrate", summary: "apply pending schema migrations, print the schema version and exit",
			env: dbEnv, example: "LINKAPI_DATABASE_URL=sqlite:/var/lib/linkapi/linkapi.db linkapi migrate",
			run: (*Program).migrate,
		},
		{
			name: "account create", synopsis: `--email E [--scopes "a b"] --password-stdin`,
			summary: "create an account; the password is the first line of standard input",
			env:     dbEnv,
			example: `printf '%s\n' 'correct horse battery' | linkapi account create --email alice@example.com --password-stdin`,
			run:     (*Program).accountCreate,
		},
		{
			name: "account list", summary: "print every account: id, email, scopes, creation time",
			env: dbEnv, example: "linkapi account list", run: (*Program).accountList,
		},
		{
			name: "account set-scopes", synopsis: `--email E --scopes "a b"`,
			summary: `replace an account's scopes (--scopes "" removes them all)`,
			env:     redisEnv, example: `linkapi account set-scopes --email reader@example.com --scopes "links:read tags:read"`,
			run: (*Program).accountSetScopes,
		},
		{
			name: "account set-password", synopsis: "--email E --password-stdin",
			summary: "give an account a new password read from standard input; its tokens issued before end",
			env:     redisEnv, example: `printf '%s\n' 'a new long password' | linkapi account set-password --email alice@example.com --password-stdin`,
			run: (*Program).accountSetPassword,
		},
		{
			name: "account delete", synopsis: "--email E",
			summary: "delete an account with its links, tags and API tokens",
			env:     redisEnv, example: "linkapi account delete --email alice@example.com",
			run: (*Program).accountDelete,
		},
		{
			name: "account link", synopsis: "--email E [--issuer I] --subject SUB",
			summary: "link an identity of the OpenID Connect provider (issuer, subject) to an account: its tokens then act as the account",
			env:     append(append([]string{}, dbEnv...), "LINKAPI_OIDC_ISSUER"),
			example: "linkapi account link --email alice@example.com --subject 248289761001",
			run:     (*Program).accountLink,
		},
		{
			name: "account unlink", synopsis: "[--email E] [--issuer I] --subject SUB",
			summary: "remove the link of an identity of the OpenID Connect provider; its tokens stop working at once",
			env:     append(append([]string{}, dbEnv...), "LINKAPI_OIDC_ISSUER"),
			example: "linkapi account unlink --subject 248289761001",
			run:     (*Program).accountUnlink,
		},
		{
			name: "token create", synopsis: `--email E --name N --scopes "a b" [--expires-in 90d]`,
			summary: "make an API token for an account, with at most its scopes; prints it once on standard output",
			env:     dbEnv, example: `linkapi token create --email alice@example.com --name backup --scopes "links:read tags:read" --expires-in 30d`,
			run: (*Program).tokenCreate,
		},
		{
			name: "import", synopsis: "--email E [--file F] [--format netscape|json]",
			summary: "import a Netscape bookmark file or a JSON export (standard input by default) into an account",
			env:     append(append([]string{}, dbEnv...), quotaEnv...), example: "linkapi import --email bob@example.com --format json --file alice.json",
			run: (*Program).importBookmarks,
		},
		{
			name: "export", synopsis: "--email E [--file F] [--format netscape|json]",
			summary: "write an account's links as a Netscape bookmark file, or its links and tags as JSON (standard output by default)",
			env:     dbEnv, example: "linkapi export --email alice@example.com --format json > alice.json",
			run: (*Program).exportBookmarks,
		},
	}
}

// envHelp says what each variable a command reads means, with its default.
var envHelp = map[string]string{
	"LINKAPI_ADDR":                                 "listen address HOST:PORT (default 127.0.0.1:8080; --addr)",
	"LINKAPI_DATABASE_URL":                         "sqlite:PATH or mysql://USER[:PASS]@HOST[:PORT]/DB[?params] (default sqlite:linkapi.db; --database-url)",
	"LINKAPI_JWT_SECRET":                           "HMAC signing key, at least 32 bytes; required with MySQL (default: a key file beside a SQLite database)",
	"LINKAPI_JWT_PREVIOUS_SECRETS":                 "older HMAC keys, comma-separated, each at least 32 bytes, that still verify tokens while the key rotates",
	"LINKAPI_ENV":                                  "development (default) or production: JSON logs, no introspection, no GraphiQL",
	"LINKAPI_TOKEN_TTL":                            "access-token lifetime (default 15m; --token-ttl)",
	"LINKAPI_REFRESH_TTL, LINKAPI_SESSION_MAX_AGE": "a refresh token's idle lifetime, a session's absolute lifetime (default 720h, 2160h)",
	"LINKAPI_CORS_ORIGINS":                         "comma-separated origins allowed to call /graphql from a browser (--cors-origins)",
	"LINKAPI_SHUTDOWN_GRACE":                       "how long requests in flight may finish after SIGTERM (default 20s; --shutdown-grace)",
	"LINKAPI_DRAIN_DELAY":                          "after SIGTERM, how long /readyz fails while requests are still served, before shutting down (default 0s)",
	"LINKAPI_GRAPHIQL":                             "serve GraphiQL on / (default true in development, false in production)",
	"LINKAPI_TRUSTED_PROXIES":                      "proxies (CIDRs or addresses) whose X-Forwarded-For names the client",
	"LINKAPI_REQUEST_TIMEOUT":                      "deadline of each GraphQL request (default 10s)",
	"LINKAPI_FETCH_METADATA":                       "fetch pages' titles and icons from public addresses (default true; false: no outbound request)",
	"LINKAPI_FETCH_TIMEOUT":                        "fetch budget of a request (default 5s, at most 1m, capped at half LINKAPI_REQUEST_TIMEOUT)",
	"LINKAPI_ACCOUNT_CACHE_TTL":                    "how long the account read for a token is reused (default 1s, at most 1m)",
	"LINKAPI_REDIS_URL":                            "redis://[:PASS@]HOST:PORT[/DB]: limits, persisted queries and account changes shared by every instance (MySQL only)",
	"LINKAPI_RATE_LIMIT":                           "GraphQL requests a minute per account or API token (default 0: no limit)",
	"LINKAPI_MAX_DEPTH, LINKAPI_MAX_COMPLEXITY, LINKAPI_MAX_ALIASES": "query limits (default 8, 25000, 30)",
	"LINKAPI_OIDC_ISSUER": "OpenID Connect provider whose tokens are accepted beside ours; the default --issuer of account link",
	"LINKAPI_OIDC_AUDIENCE, LINKAPI_OIDC_AUTO_CREATE, LINKAPI_OIDC_DEFAULT_SCOPES":                      "aud of the provider's tokens; make an account on a first token with email_verified (default false), with these scopes",
	"LINKAPI_MAX_DOCUMENT_BYTES, LINKAPI_MAX_TOKENS, LINKAPI_MAX_SELECTIONS, LINKAPI_MAX_FIELD_REPEATS": "document budget (default 65536, 5000, 2000, 30)",
	"LINKAPI_MAX_FRAGMENTS, LINKAPI_MAX_OPERATIONS, LINKAPI_MAX_DIRECTIVES":                             "document budget (default 100, 20, 100)",
	"LINKAPI_MAX_VARIABLES, LINKAPI_MAX_VARIABLE_VALUES, LINKAPI_MAX_ERRORS":                            "variables and errors (default 100, 10000, 20)",
	"LINKAPI_ANON_CONCURRENCY, LINKAPI_ANON_CONCURRENCY_PER_ADDR":                                       "requests without a token at once, in all and per address (0: no bound)",
	"LINKAPI_MAX_LINKS_PER_ACCOUNT, LINKAPI_MAX_TEXT_PER_ACCOUNT":                                       "what one account may store (default 200000 links, 134217728 bytes)",
}

// families are the words that take a second one: "account create".
func families() []string {
	var out []string
	for _, c := range commands {
		if family, _, ok := strings.Cut(c.name, " "); ok && (len(out) == 0 || out[len(out)-1] != family) {
			out = append(out, family)
		}
	}
	return out
}

// findCommand returns the command args start with and the rest of args, or an
// error that says what was meant.
func findCommand(args []string) (*command, []string, error) {
	if len(args) == 0 {
		return nil, nil, errors.New("no command")
	}
	for i := range commands {
		if commands[i].name == args[0] {
			return &commands[i], args[1:], nil
		}
	}
	var names []string
	for _, family := range families() {
		if args[0] != family {
			continue
		}
		for i, c := range commands {
			if strings.HasPrefix(c.name, family+" ") {
				if len(args) > 1 && c.name == family+" "+args[1] {
					return &commands[i], args[2:], nil
				}
				names = append(names, c.name)
			}
		}
		if len(args) == 1 || strings.HasPrefix(args[1], "-") {
			return nil, nil, fmt.Errorf("%s needs a command: %s", family, strings.Join(names, ", "))
		}
		return nil, nil, fmt.Errorf("unknown command %q%s", family+" "+args[1], didYouMean(family+" "+args[1], names, "run linkapi help "+family))
	}
	all := []string{"help"}
	for _, c := range commands {
		all = append(all, c.name)
	}
	all = append(all, families()...)
	word := args[0]
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		// "acount list" is closer to "account list" than to "account".
		if s := closest(word+" "+args[1], all); s != "" {
			return nil, nil, fmt.Errorf("unknown command %q; did you mean %q?", word, s)
		}
	}
	return nil, nil, fmt.Errorf("unknown command %q%s", word, didYouMean(word, all, "run linkapi help for the list"))
}

// closest returns the name nearest to word by edit distance, when it is near
// enough to be a slip (at most 2 edits, or a third of the word), or "".
func closest(word string, names []string) string {
	best, bestDist := "", 0
	for _, n := range names {
		d := levenshtein.ComputeDistance(word, n)
		if best == "" || d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" || bestDist > max(2, len(word)/3) {
		return ""
	}
	return best
}

// didYouMean is "; did you mean X?" for the name nearest to word, or "; " and
// otherwise when none is near.
func didYouMean(word string, names []string, otherwise string) string {
	if s := closest(word, names); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return "; " + otherwise
}

// unknownFlag turns the flag package's error about a flag fs does not define
// into one that names the nearest flag fs has.
func unknownFlag(name string, fs *flag.FlagSet, err error) error {
	bad, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: ")
	if !ok {
		return fmt.Errorf("%s: %w", name, err)
	}
	bad = strings.TrimLeft(bad, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := closest(bad, names); s != "" {
		return fmt.Errorf("%s: unknown flag --%s; did you mean --%s?", name, bad, s)
	}
	return fmt.Errorf("%s: unknown flag --%s; run linkapi help %s for its flags", name, bad, name)
}

// printUsage lists every command with its synopsis and summary.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: linkapi [COMMAND] [FLAGS]   (no command: serve)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	fmt.Fprintf(tw, "  help [COMMAND]\tthis list, or a command's flags, environment variables and an example\n")
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Every command reads LINKAPI_DATABASE_URL (default sqlite:linkapi.db); `linkapi help COMMAND`")
	fmt.Fprintln(w, "or `linkapi COMMAND --help` shows what else it reads. After `go build -o linkapi ./cmd/linkapi`,")
	fmt.Fprintln(w, "run it as ./linkapi; without building, as go run ./cmd/linkapi.")
}

// printCommandHelp shows a command's synopsis, flags, environment variables and
// example; fs holds its flags.
func printCommandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: linkapi %s %s\n\n%s.\n\nflags:\n", c.name, c.synopsis, upperFirst(c.summary))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		name := "--" + f.Name
		if kind != "" {
			name += " " + kind
		}
		if f.DefValue != "" && f.DefValue != "false" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	fmt.Fprintf(tw, "  -h, --help\tthis help\n")
	tw.Flush()
	fmt.Fprintln(w, "\nenvironment:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var groups []string
	for _, e := range c.env {
		if strings.Contains(e, ", ") {
			groups = append(groups, e)
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\n", e, envHelp[e])
	}
	tw.Flush()
	for _, g := range groups {
		fmt.Fprintf(w, "  %s\n      %s\n", g, envHelp[g])
	}
	fmt.Fprintf(w, "\nexample:\n  %s\n", c.example)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
