// Package linkapi holds the domain of the link manager: accounts, links and tags,
// the errors its services return, and the service interfaces the GraphQL layer uses.
// It depends on the standard library only.
package linkapi

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. Each maps to one GraphQL extensions.code in the error presenter.
const (
	EUNAUTHENTICATED = "UNAUTHENTICATED"
	EFORBIDDEN       = "FORBIDDEN"
	ENOTFOUND        = "NOT_FOUND"
	EINVALID         = "BAD_USER_INPUT"
	ECONFLICT        = "CONFLICT"
	ERATELIMITED     = "RATE_LIMITED"
	ECURSOREXPIRED   = "CURSOR_EXPIRED"
	EINTERNAL        = "INTERNAL"
)

// Error is an application error whose message is safe to show to the caller.
type Error struct {
	Code    string
	Message string
	// RetryAfter, when positive, is how long the caller should wait before trying
	// again; RATE_LIMITED errors carry it, shown as extensions.retryAfter.
	RetryAfter time.Duration
	// ExistingLinkID, when not 0, is the account's link that already has the
	// URL a CONFLICT refused; shown as extensions.existingLinkId.
	ExistingLinkID int64
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("linkapi error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// RetryAfter returns the RetryAfter of the application error in err's chain, or
// 0 when there is none.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// ErrorCode returns the code of the application error in err's chain, EINTERNAL
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the application error in err's chain, and a
// generic message for any other error, whose details stay in the log.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
