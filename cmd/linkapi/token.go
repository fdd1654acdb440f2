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
	var email, name, scopes string
	var expiresIn time.Duration
	_, db, err := p.open(ctx, "token create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account the token acts for")
		fs.StringVar(&name, "name", "", "a name to tell the token by")
		fs.StringVar(&scopes, "scopes", "", "space-separated scopes, at most the account's")
		fs.DurationVar(&expiresIn, "expires-in", linkapi.DefaultAPITokenLifetime, "lifetime")
	}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
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
