package main

import (
	"bytes"
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
	res, err := bookmarks.Service{Store: st}.Import(sys, &a.ID, in)
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
	// The file is written whole once the links are read, so that a failed
	// export leaves an earlier file as it was.
	var out bytes.Buffer
	if err := (bookmarks.Service{Store: st}).Export(sys, &a.ID, &out, 0); err != nil {
		return fmt.Errorf("export: %s", linkapi.ErrorMessage(err))
	}
	if file == "" {
		_, err = out.WriteTo(p.Stdout)
	} else {
		err = os.WriteFile(file, out.Bytes(), 0o600)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
