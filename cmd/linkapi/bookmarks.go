package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"linkapi/internal/bookmarks"
	"linkapi/internal/linkapi"
)

// importBookmarks reads a Netscape bookmark file into an account.
func (p *Program) importBookmarks(ctx context.Context, args []string) error {
	var file string
	st, a, sys, done, err := p.accountFlags(ctx, "import", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "the bookmark file (default: standard input)")
	})
	if err != nil {
		return err
	}
	defer done()
	in := p.Stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		in = f
	}
	links, err := bookmarks.ReadImports(in)
	if err != nil {
		return fmt.Errorf("import: %s", linkapi.ErrorMessage(err))
	}
	res, err := st.ImportLinks(sys, &a.ID, links)
	if err != nil {
		return fmt.Errorf("import: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "imported %d links into %s; skipped %d already there or repeated, %d invalid; created %d tags\n",
		res.Imported, a.Email, res.Skipped, res.Invalid, res.TagsMade)
	return nil
}

// exportBookmarks writes an account's links as a Netscape bookmark file.
func (p *Program) exportBookmarks(ctx context.Context, args []string) error {
	var file string
	st, a, sys, done, err := p.accountFlags(ctx, "export", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "where to write (default: standard output)")
	})
	if err != nil {
		return err
	}
	defer done()
	links, tags, err := st.ExportLinks(sys, &a.ID)
	if err != nil {
		return fmt.Errorf("export: %s", linkapi.ErrorMessage(err))
	}
	out := p.Stdout
	if file != "" {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer f.Close()
		out = f
	}
	if err := bookmarks.WriteLinks(out, links, tags); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
