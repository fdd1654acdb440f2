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

// Formats of import and export.
const (
	formatNetscape = "netscape"
	formatJSON     = "json"
)

// formatFlag adds --format to fs.
func formatFlag(fs *flag.FlagSet, format *string) {
	fs.StringVar(format, "format", formatNetscape, "`netscape` (a bookmark file browsers and services read) or json (the account's whole state, for scripts; see docs/import-export.md)")
}

func checkFormat(name, format string) error {
	if format != formatNetscape && format != formatJSON {
		return fmt.Errorf("%s: --format is netscape or json, not %q", name, format)
	}
	return nil
}

// importBookmarks reads a Netscape bookmark file or a JSON account state into
// an account.
func (p *Program) importBookmarks(ctx context.Context, args []string) error {
	var file, format string
	st, a, sys, done, err := p.accountFlags(ctx, "import", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "the file to read (default: standard input)")
		formatFlag(fs, &format)
	})
	if err != nil {
		return err
	}
	defer done()
	if err := checkFormat("import", format); err != nil {
		return err
	}
	in := p.Stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		in = f
	}
	svc := bookmarks.Service{Store: st}
	var res *linkapi.ImportResult
	if format == formatJSON {
		res, err = svc.ImportState(sys, &a.ID, in)
	} else {
		res, err = svc.Import(sys, &a.ID, in)
	}
	if err != nil {
		return fmt.Errorf("import: %s", linkapi.ErrorMessage(err))
	}
	fmt.Fprintf(p.Stdout, "imported %d links into %s; skipped %d already there or repeated, %d invalid; created %d tags\n",
		res.Imported, a.Email, res.Skipped, res.Invalid, res.TagsMade)
	return nil
}

// exportBookmarks writes an account's links as a Netscape bookmark file, or its
// links and tags as a JSON account state.
func (p *Program) exportBookmarks(ctx context.Context, args []string) error {
	var file, format string
	st, a, sys, done, err := p.accountFlags(ctx, "export", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "where to write (default: standard output)")
		formatFlag(fs, &format)
	})
	if err != nil {
		return err
	}
	defer done()
	if err := checkFormat("export", format); err != nil {
		return err
	}
	// The file is written whole once the links are read, so that a failed
	// export leaves an earlier file as it was.
	var out bytes.Buffer
	svc := bookmarks.Service{Store: st}
	if format == formatJSON {
		err = svc.ExportState(sys, &a.ID, &out)
	} else {
		err = svc.Export(sys, &a.ID, &out, 0)
	}
	if err != nil {
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
