package auth

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"linkapi/internal/linkapi"
)

// Argon2id parameters for new hashes (the OWASP minimum: 19 MiB, two passes, one
// lane). CheckPassword reads the parameters from each hash, so older hashes keep
// working when these change.
const (
	argonMemory  = 19456 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Limits on parameters read from a stored hash, so that a corrupt row cannot make
// a login spend unbounded memory or time.
const (
	maxArgonMemory = 1 << 21 // 2 GiB in KiB
	maxArgonTime   = 64
	maxArgonKeyLen = 128
	minArgonKeyLen = 16
	minPasswordLen = 8    // runes
	maxPasswordLen = 1024 // runes, NIST SP 800-63B's "at least 64" with room
)

// HashPassword returns the argon2id hash of password in PHC string form:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches the encoded argon2id hash, using
// the parameters recorded in it. A malformed hash matches nothing.
func CheckPassword(encoded, password string) bool {
	h, ok := parseHash(encoded)
	if !ok {
		return false
	}
	key := argon2.IDKey([]byte(password), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

var (
	dummyOnce sync.Once
	dummyHash string
)

// CheckDummyPassword spends the same work as CheckPassword against a hash made
// once, so that a login with an unknown email costs as much as a wrong password.
func CheckDummyPassword(password string) {
	dummyOnce.Do(func() {
		h, err := HashPassword("dummy password for timing equalisation")
		if err != nil {
			// Still spend comparable work on every call, with a fixed salt.
			key := argon2.IDKey([]byte("dummy"), make([]byte, argonSaltLen), argonTime, argonMemory, argonThreads, argonKeyLen)
			h = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
				argon2.Version, argonMemory, argonTime, argonThreads,
				base64.RawStdEncoding.EncodeToString(make([]byte, argonSaltLen)),
				base64.RawStdEncoding.EncodeToString(key))
		}
		dummyHash = h
	})
	CheckPassword(dummyHash, password)
}

// ValidatePassword returns BAD_USER_INPUT when p is shorter than 8 characters,
// longer than 1024, not valid UTF-8, holds a NUL, or is one of the most common
// passwords (NIST SP 800-63B 3.1.1.2).
func ValidatePassword(p string) error {
	if utf8.RuneCountInString(p) < minPasswordLen {
		return linkapi.Errorf(linkapi.EINVALID, "password must be at least %d characters", minPasswordLen)
	}
	if utf8.RuneCountInString(p) > maxPasswordLen || !utf8.ValidString(p) || strings.ContainsRune(p, 0) {
		return linkapi.Errorf(linkapi.EINVALID, "password must be valid text of at most %d characters, without NUL", maxPasswordLen)
	}
	if IsCommonPassword(p) {
		return linkapi.Errorf(linkapi.EINVALID, "password is one of the most common passwords; choose another")
	}
	return nil
}

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the set of lines of common-passwords.txt, lower-cased.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 1500)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// IsCommonPassword reports whether p, ignoring case and surrounding spaces, is in
// the embedded list of common passwords.
func IsCommonPassword(p string) bool {
	_, ok := commonPasswords()[strings.ToLower(strings.TrimSpace(p))]
	return ok
}

// argonHash is a parsed PHC argon2id string.
type argonHash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseHash parses $argon2id$v=19$m=M,t=T,p=P$salt$key, rejecting anything else
// and parameters outside sane bounds.
func parseHash(encoded string) (argonHash, bool) {
	var h argonHash
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, false
	}
	var version int
	if n, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || n != 1 || version != argon2.Version {
		return h, false
	}
	if parts[2] != fmt.Sprintf("v=%d", version) {
		return h, false
	}
	var m, t, p uint64
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || n != 3 {
		return h, false
	}
	if parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", m, t, p) {
		return h, false
	}
	if t < 1 || t > maxArgonTime || p < 1 || p > 255 || m < 8*p || m > maxArgonMemory {
		return h, false
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return h, false
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < minArgonKeyLen || len(key) > maxArgonKeyLen {
		return h, false
	}
	h.memory, h.time, h.threads, h.salt, h.key = uint32(m), uint32(t), uint8(p), salt, key
	return h, true
}
