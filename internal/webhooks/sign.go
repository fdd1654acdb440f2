// Package webhooks sends the events of the store's outbox to the webhooks that
// want them: a worker in the server takes due deliveries, signs them per the
// Standard Webhooks specification (standardwebhooks.com), posts them through
// the guarded client of internal/safehttp, and records each attempt, retrying
// with exponential backoff and jitter for a bounded number of attempts. It also
// serves the webhook operations of the API, checking a new webhook's URL.
package webhooks

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// secretPrefix starts every webhook secret, as Standard Webhooks has it.
const secretPrefix = "whsec_"

// secretBytes is the length of a secret's key: 24 random bytes, within the
// 24 to 64 the specification asks for.
const secretBytes = 24

// NewSecret returns a new webhook secret: whsec_ and the base64 of 24 random
// bytes.
func NewSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// errBadSecret is the error of a secret that is not whsec_ and base64.
var errBadSecret = errors.New("webhooks: a secret is whsec_ and base64")

// Sign returns the webhook-signature header of a message: "v1," and the base64
// of the HMAC-SHA256, keyed with the secret's decoded bytes, of
// "msgID.timestamp.body", timestamp being in Unix seconds.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || !strings.HasPrefix(secret, secretPrefix) || len(key) == 0 {
		return "", errBadSecret
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
