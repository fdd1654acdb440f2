package graph

import (
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

var responseDataCases = []string{
	`{}`,
	`null`,
	`{"me":{"id":"1","email":"ann@example.com"}}`,
	`{"a" : [ 1 , 2.5e3 , true , false , null ] ,` + "\n\t\r" + `"b":{ }}` + "\n",
	`{"t":"quote \" back\\slash \\\" <b>&amp;</b> \u00e9 ☃ ` + "\u2028 \u2029 \xe2\x80" + `","s":"\\"}`,
	`{"x":"\\u003c \\/ \\n \\t","y":"<>&","z":"` + "\u2027\u202a" + `"}`,
	`{"k<&>":["\u2028"]}`,
	`"` + "\xe2\x80\xa8" + `"`,
	`[` + "\n" + `]`,
}

// TestResponseDataAsEncodingJSON checks that appendResponseData writes what
// gqlgen's transport writes, json.Marshal of a graphql.Response with that data.
func TestResponseDataAsEncodingJSON(t *testing.T) {
	for _, data := range responseDataCases {
		checkResponseData(t, []byte(data))
	}
}

func FuzzResponseData(f *testing.F) {
	for _, data := range responseDataCases {
		f.Add([]byte(data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			t.Skip()
		}
		checkResponseData(t, data)
	})
}

func checkResponseData(t *testing.T, data []byte) {
	t.Helper()
	want, err := json.Marshal(&graphql.Response{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if got := appendResponseData([]byte("prefix"), data); string(got) != "prefix"+string(want) {
		t.Errorf("appendResponseData(%q)\ngot  %q\nwant %q", data, got[len("prefix"):], want)
	}
}
