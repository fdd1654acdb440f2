package linkapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
)

// NormalizeURL returns the form of an http or https URL by which an account's
// links are told apart: two URLs that differ only in what it changes are the same
// bookmark. It lower-cases the scheme and the host, drops the port when it is the
// scheme's default (80, 443), drops the fragment (#...), and gives an empty path
// the path "/". Everything else (user information, path, query, their case and
// percent-encoding, a trailing slash) is kept as written, because a server may
// tell those apart: /A and /a, ?a=1&b=2 and ?b=2&a=1, /docs and /docs/ may be
// different pages. BAD_USER_INPUT for what ValidateURL refuses.
func NormalizeURL(s string) (string, error) {
	if err := ValidateURL(s); err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", Errorf(EINVALID, "url is not a valid URL")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" || strings.Contains(host, ":") {
		// JoinHostPort brackets an IPv6 address; without a port, keep the brackets.
		u.Host = net.JoinHostPort(host, port)
		if port == "" {
			u.Host = strings.TrimSuffix(u.Host, ":")
		}
	} else {
		u.Host = host
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" && u.RawPath == "" {
		u.Path = "/"
	}
	return u.String(), nil
}

// URLKey is the key by which the store finds an account's link for a URL: the
// SHA-256, in hex, of its NormalizeURL form, or of the URL itself when it does
// not normalise (which validation refuses before anything is saved).
func URLKey(s string) string {
	n, err := NormalizeURL(s)
	if err != nil {
		n = s
	}
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:])
}
