package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
)

// tokenCreate makes an API token for an account, with at most its scopes, and
// prints the token, which is not shown again.
func (p *Program) tokenCreate(ctx context.Context, args []string) error {
	var email, name, scopes, lifetime string
	_, db, err := p.open(ctx, "token create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account the token acts for")
		fs.StringVar(&name, "name", "", "a name to tell the token by")
		fs.StringVar(&scopes, "scopes", "", "space-separated scopes, at most the account's")
		fs.StringVar(&lifetime, "expires-in", "90d", "lifetime, from 1m to 366d: a number of days (90d) or a Go duration (12h, 30m)")
	}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	expiresIn, err := parseLifetime(lifetime)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	if email == "" || name == "" || strings.TrimSpace(scopes) == "" {
		return errors.New("token create: --email, --name and --scopes are required")
	}
	st := store.New(db)
	a, err := st.FindAccountByEmail(auth.NewContext(ctx, auth.System()), email)
	if err != nil {
		return fmt.Errorf("token create: no account has email %q", email)
	}
	as := auth.NewContext(ctx, &auth.Caller{AccountID: a.ID, Scopes: auth.Expand(a.Scopes), Account: a})
	tok, secret, err := st.CreateAPIToken(as, linkapi.APITokenCreate{Name: name, Scopes: auth.SplitScopes(scopes), ExpiresIn: &expiresIn})
	if err != nil {
		return fmt.Errorf("token create: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stderr, "created API token %d %q for %s with scopes %q, expiring %s; it is shown only this once:\n",
		tok.ID, tok.Name, a.Email, strings.Join(tok.Scopes, " "), tok.ExpiresAt.Format(time.RFC3339))
	fmt.Fprintln(p.Stdout, secret)
	return nil
}

// parseLifetime reads an API token's lifetime as days (90d) or a Go duration
// (12h, 30m) and checks it is within the bounds the API allows, in the same
// words.
func parseLifetime(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, scanErr := fmt.Sscanf(days, "%d", &n); scanErr == nil && fmt.Sprint(n) == days {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil {
		return 0, fmt.Errorf("--expires-in %q is neither a number of days such as 90d nor a duration such as 12h", s)
	}
	if d < linkapi.MinAPITokenLifetime || d > linkapi.MaxAPITokenLifetime {
		return 0, fmt.Errorf("--expires-in %s is outside 1m to 366d", s)
	}
	return d, nil
}
