package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"linkapi/internal/linkapi"
)

// TestCommonPasswordsRefused checks that ValidatePassword refuses the embedded
// common passwords in any case and with surrounding spaces, and accepts others.
func TestCommonPasswordsRefused(t *testing.T) {
	for _, p := range []string{"password", "Password1", "PASSWORD123", "qwerty123", "iloveyou", " sunshine ", "Trustno1", "1q2w3e4r", "letmein!", "Monkey123", "p@ssw0rd"} {
		if got := linkapi.ErrorCode(ValidatePassword(p)); got != linkapi.EINVALID {
			t.Errorf("ValidatePassword(%q) code = %q, want BAD_USER_INPUT", p, got)
		}
	}
	for _, p := range []string{"ann-password", "correct horse battery staple", "x7kq2lzp", "password-for-linkapi-ann"} {
		if err := ValidatePassword(p); err != nil {
			t.Errorf("ValidatePassword(%q) = %v, want nil", p, err)
		}
	}
}

// TestCommonPasswordsList checks the embedded list: about a thousand entries,
// each a password the length rules alone would let through, lower-case, with no
// stray spaces.
func TestCommonPasswordsList(t *testing.T) {
	set := commonPasswords()
	if len(set) < 1000 || len(set) > 5000 {
		t.Errorf("%d common passwords, want a short list of about a thousand", len(set))
	}
	for p := range set {
		if n := utf8.RuneCountInString(p); n < minPasswordLen || n > maxPasswordLen {
			t.Errorf("%q: %d characters, outside what length alone allows", p, n)
		}
		if p != strings.ToLower(strings.TrimSpace(p)) {
			t.Errorf("%q is not lower-case and trimmed, so it could never match", p)
		}
	}
	for line := range strings.Lines(commonPasswordsText) {
		if strings.HasPrefix(line, "#") {
			continue
		}
		if _, ok := set[strings.TrimRight(line, "\n")]; !ok {
			t.Errorf("line %q is not in the set", line)
		}
	}
}
