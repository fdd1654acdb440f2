package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"

	"linkapi/internal/linkapi"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q, want argon2id PHC string with m=19456,t=2,p=1", h)
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Errorf("CheckPassword(right) = false, want true")
	}
	if CheckPassword(h, "correct horse batterY") {
		t.Errorf("CheckPassword(wrong) = true, want false")
	}
	h2, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if h2 == h {
		t.Errorf("two hashes of one password are equal: salt is not random")
	}
}

func TestCheckPasswordParamsFromString(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte("old password"), salt, 1, 8192, 2, 16)
	enc := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=2$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	if !CheckPassword(enc, "old password") {
		t.Errorf("CheckPassword(old params) = false, want true")
	}
	if CheckPassword(enc, "other password") {
		t.Errorf("CheckPassword(old params, wrong) = true, want false")
	}
}

func TestCheckPasswordMalformed(t *testing.T) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	tests := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$",
		"$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$extra",
		"$argon2id$v=19$m=19456,t=2,p=1x$" + salt + "$" + key,
	}
	for _, enc := range tests {
		if CheckPassword(enc, "whatever password") {
			t.Errorf("CheckPassword(%q) = true, want false", enc)
		}
		if _, ok := parseHash(enc); ok {
			t.Errorf("parseHash(%q) ok, want rejected", enc)
		}
	}
}

func TestCheckDummyPassword(t *testing.T) {
	CheckDummyPassword("anything at all")
	if _, ok := parseHash(dummyHash); !ok {
		t.Errorf("dummy hash %q does not parse", dummyHash)
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantCode string
	}{
		{"empty", "", linkapi.EINVALID},
		{"seven", "1234567", linkapi.EINVALID},
		{"eight", "x7kq2lzp", ""},
		{"common", "12345678", linkapi.EINVALID},
		{"eight runes, more bytes", "éééééééé", ""},
		{"seven runes, many bytes", "ééééééé", linkapi.EINVALID},
		{"1024 runes", strings.Repeat("é", 1024), ""},
		{"1025 runes", strings.Repeat("a", 1025), linkapi.EINVALID},
		{"NUL", "12345678\x00", linkapi.EINVALID},
		{"invalid UTF-8", "12345678\xff", linkapi.EINVALID},
	}
	for _, tt := range tests {
		if got := linkapi.ErrorCode(ValidatePassword(tt.password)); got != tt.wantCode {
			t.Errorf("%s: ValidatePassword code = %q, want %q", tt.name, got, tt.wantCode)
		}
	}
}
