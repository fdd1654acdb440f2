package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"linkapi/internal/auth"
	"linkapi/internal/linkapi"
	"linkapi/internal/store"
)

// accountCreate creates an account, its password read from standard input.
func (p *Program) accountCreate(ctx context.Context, args []string) error {
	var email, scopes string
	var scopesSet, passwordStdin bool
	_, db, err := p.open(ctx, "account create", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the new account")
		fs.Func("scopes", "space-separated `scopes` (default: links:write tags:write account:write)", func(s string) error {
			scopes, scopesSet = s, true
			return nil
		})
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if email == "" {
		return errors.New("account create: --email is required")
	}
	if !passwordStdin {
		return errors.New("account create: --password-stdin is required (the password is never taken as an argument)")
	}
	password, err := readPassword(p.Stdin)
	if err != nil {
		return err
	}
	in := linkapi.AccountCreate{Email: email, Password: password}
	if scopesSet {
		in.Scopes = auth.SplitScopes(scopes)
		if in.Scopes == nil {
			in.Scopes = []string{}
		}
	}
	a, err := store.New(db).CreateAccount(auth.NewContext(ctx, auth.System()), in)
	if err != nil {
		return fmt.Errorf("account create: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "created account %d %s with scopes %q\n", a.ID, a.Email, strings.Join(a.Scopes, " "))
	return nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("account create: no password on standard input")
	}
	return line, nil
}

// accountList prints every account: id, email, scopes and creation time.
func (p *Program) accountList(ctx context.Context, args []string) error {
	_, db, err := p.open(ctx, "account list", args, nil, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	st := store.New(db)
	sys := auth.NewContext(ctx, auth.System())
	w := tabwriter.NewWriter(p.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tEMAIL\tSCOPES\tCREATED")
	page := linkapi.Page{First: linkapi.MaxPageSize}
	for {
		list, err := st.FindAccounts(sys, linkapi.AccountFilter{Page: page})
		if err != nil {
			return fmt.Errorf("account list: %s", linkapi.ErrorMessage(err))
		}
		for _, a := range list.Accounts {
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", a.ID, a.Email, strings.Join(a.Scopes, " "), a.CreatedAt.Format(time.RFC3339))
			page.After = a.ID
		}
		if !list.HasNextPage {
			break
		}
	}
	return w.Flush()
}

// accountSetScopes replaces an account's scopes.
func (p *Program) accountSetScopes(ctx context.Context, args []string) error {
	var email, scopes string
	var scopesSet bool
	cfg, db, err := p.open(ctx, "account set-scopes", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account")
		fs.Func("scopes", "space-separated `scopes`; \"\" removes them all", func(s string) error {
			scopes, scopesSet = s, true
			return nil
		})
	}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if email == "" || !scopesSet {
		return errors.New("account set-scopes: --email and --scopes are required")
	}
	st, closeStore, err := p.accountStore(ctx, cfg, db)
	if err != nil {
		return err
	}
	defer closeStore()
	a, err := st.FindAccountByEmail(auth.NewContext(ctx, auth.System()), email)
	if err != nil {
		return fmt.Errorf("account set-scopes: no account has email %q", email)
	}
	list := auth.SplitScopes(scopes)
	if list == nil {
		list = []string{}
	}
	a, err = st.SetAccountScopes(auth.NewContext(ctx, auth.System()), a.ID, list)
	if err != nil {
		return fmt.Errorf("account set-scopes: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "account %d %s now has scopes %q\n", a.ID, a.Email, strings.Join(a.Scopes, " "))
	return nil
}

// accountFlags opens the database for a command that acts on one account, named by
// --email, and returns the account with a context that may act on it.
func (p *Program) accountFlags(ctx context.Context, name string, args []string, extra func(*flag.FlagSet)) (*store.Store, *linkapi.Account, context.Context, func(), error) {
	var email string
	cfg, db, err := p.open(ctx, name, args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "email address of the account")
		if extra != nil {
			extra(fs)
		}
	}, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if email == "" {
		db.Close()
		return nil, nil, nil, nil, fmt.Errorf("%s: --email is required", name)
	}
	st, closeStore, err := p.accountStore(ctx, cfg, db)
	if err != nil {
		db.Close()
		return nil, nil, nil, nil, err
	}
	done := func() { closeStore(); db.Close() }
	sys := auth.NewContext(ctx, auth.System())
	a, err := st.FindAccountByEmail(sys, email)
	if err != nil {
		done()
		return nil, nil, nil, nil, fmt.Errorf("%s: no account has email %q", name, email)
	}
	return st, a, sys, done, nil
}

// accountSetPassword replaces an account's password with one read from standard
// input, without the current one; the account's tokens issued before it end.
func (p *Program) accountSetPassword(ctx context.Context, args []string) error {
	var passwordStdin bool
	st, a, sys, done, err := p.accountFlags(ctx, "account set-password", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the new password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer done()
	if !passwordStdin {
		return errors.New("account set-password: --password-stdin is required (a password never goes on the command line)")
	}
	password, err := readPassword(p.Stdin)
	if err != nil {
		return fmt.Errorf("account set-password: %w", err)
	}
	if err := st.SetPassword(sys, a.ID, password); err != nil {
		return fmt.Errorf("account set-password: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "account %d %s has a new password; its tokens issued before now no longer work\n", a.ID, a.Email)
	return nil
}

// accountDelete deletes an account with its links, tags and API tokens.
func (p *Program) accountDelete(ctx context.Context, args []string) error {
	st, a, sys, done, err := p.accountFlags(ctx, "account delete", args, nil)
	if err != nil {
		return err
	}
	defer done()
	if err := st.DeleteAccount(sys, a.ID); err != nil {
		return fmt.Errorf("account delete: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "deleted account %d %s with its links, tags and API tokens\n", a.ID, a.Email)
	return nil
}

// identityFlags are the --issuer and --subject of account link and unlink;
// --issuer defaults to LINKAPI_OIDC_ISSUER.
func (p *Program) identityFlags(issuer, subject *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(issuer, "issuer", strings.TrimSpace(p.Getenv("LINKAPI_OIDC_ISSUER")), "the identity provider's `issuer` (default LINKAPI_OIDC_ISSUER)")
		fs.StringVar(subject, "subject", "", "the identity's `subject` (sub) at the provider")
	}
}

// accountLink links an identity of the provider, (issuer, subject), to an
// account: the provider's tokens for it then act as the account.
func (p *Program) accountLink(ctx context.Context, args []string) error {
	var issuer, subject string
	st, a, sys, done, err := p.accountFlags(ctx, "account link", args, p.identityFlags(&issuer, &subject))
	if err != nil {
		return err
	}
	defer done()
	if issuer == "" || subject == "" {
		return errors.New("account link: --subject is required, and --issuer unless LINKAPI_OIDC_ISSUER is set")
	}
	if _, err := st.LinkExternalIdentity(sys, a.ID, issuer, subject); err != nil {
		return fmt.Errorf("account link: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "linked subject %q of %s to account %d %s\n", subject, issuer, a.ID, a.Email)
	return nil
}

// accountUnlink removes the link of an identity; its tokens stop working at
// once. --email, when given, must name the account it is linked to.
func (p *Program) accountUnlink(ctx context.Context, args []string) error {
	var issuer, subject, email string
	_, db, err := p.open(ctx, "account unlink", args, func(fs *flag.FlagSet) {
		p.identityFlags(&issuer, &subject)(fs)
		fs.StringVar(&email, "email", "", "email address of the account it is linked to (checked when given)")
	}, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	if issuer == "" || subject == "" {
		return errors.New("account unlink: --subject is required, and --issuer unless LINKAPI_OIDC_ISSUER is set")
	}
	st, sys := store.New(db), auth.NewContext(ctx, auth.System())
	if email != "" {
		a, err := st.FindAccountByEmail(sys, email)
		if err != nil {
			return fmt.Errorf("account unlink: no account has email %q", email)
		}
		ids, err := st.FindExternalIdentities(sys, a.ID)
		if err != nil {
			return fmt.Errorf("account unlink: %s", linkapi.ErrorMessage(err))
		}
		if !slices.ContainsFunc(ids, func(id *linkapi.ExternalIdentity) bool { return id.Issuer == issuer && id.Subject == subject }) {
			return fmt.Errorf("account unlink: subject %q of %s is not linked to %s", subject, issuer, a.Email)
		}
	}
	id, err := st.UnlinkExternalIdentity(sys, issuer, subject)
	if err != nil {
		return fmt.Errorf("account unlink: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "unlinked subject %q of %s from account %d\n", subject, issuer, id.AccountID)
	return nil
}
