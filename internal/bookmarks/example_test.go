package bookmarks_test

import (
	"fmt"
	"os"
	"strings"
	"time"

	"linkapi/internal/bookmarks"
)

func ExampleParse() {
	const file = `<!DOCTYPE NETSCAPE-Bookmark-file-1>
<DL><p>
    <DT><H3>Folder names are not tags</H3>
    <DL><p>
        <DT><A HREF="https://go.dev/?a=1&amp;b=2" ADD_DATE="1700000000" TAGS="go, to read,go" PRIVATE="1">Go &amp; more</A>
        <DD>The Go programming language
    </DL><p>
    <DT><A HREF="https://example.com/">Example</A>
</DL><p>`
	bs, err := bookmarks.Parse(strings.NewReader(file))
	if err != nil {
		panic(err)
	}
	for _, b := range bs {
		fmt.Printf("%s %q %q %q %v\n", b.URL, b.Title, b.Description, b.Tags, b.AddDate)
	}
	// Output:
	// https://go.dev/?a=1&b=2 "Go & more" "The Go programming language" ["go" "to read"] 2023-11-14 22:13:20 +0000 UTC
	// https://example.com/ "Example" "" [] 0001-01-01 00:00:00 +0000 UTC
}

func ExampleWrite() {
	err := bookmarks.Write(os.Stdout, []bookmarks.Bookmark{{
		URL:         "https://go.dev/?a=1&b=2",
		Title:       "Go <3",
		Description: `"Simple" & reliable`,
		Tags:        []string{"go", "to read"},
		AddDate:     time.Unix(1700000000, 0),
	}})
	if err != nil {
		panic(err)
	}
	// Output:
	// <!DOCTYPE NETSCAPE-Bookmark-file-1>
	// <!-- This is an automatically generated file.
	//      It will be read and overwritten.
	//      DO NOT EDIT! -->
	// <META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
	// <TITLE>Bookmarks</TITLE>
	// <H1>Bookmarks</H1>
	// <DL><p>
	//     <DT><A HREF="https://go.dev/?a=1&amp;b=2" ADD_DATE="1700000000" TAGS="go,to read">Go &lt;3</A>
	//     <DD>&#34;Simple&#34; &amp; reliable
	// </DL><p>
}
