package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"linkapi/internal/linkapi"
)

// codes maps domain error codes to GraphQL extensions.code, Apollo's names.
var codes = map[string]string{
	linkapi.EUNAUTHENTICATED: "UNAUTHENTICATED",
	linkapi.EFORBIDDEN:       "FORBIDDEN",
	linkapi.ENOTFOUND:        "NOT_FOUND",
	linkapi.EINVALID:         "BAD_USER_INPUT",
	linkapi.ECONFLICT:        "CONFLICT",
	linkapi.ERATELIMITED:     "RATE_LIMITED",
	linkapi.ECURSOREXPIRED:   "CURSOR_EXPIRED",
	linkapi.EINTERNAL:        "INTERNAL_SERVER_ERROR",
}

// errPanic is what RecoverFunc turns a panic into.
var errPanic = errors.New("panic in resolver")

// errInternal is what a caller sees of any error that is not a domain error.
const errInternal = "internal server error"

// ErrorPresenter returns the one presenter of every field error: domain errors keep
// their message and get their code (and extensions.retryAfter, in seconds, when
// they carry a RetryAfter, extensions.existingLinkId when an ExistingLinkID); errors gqlgen already coded pass through; a passed
// request deadline is TIMEOUT; any other error is logged with its path and shown
// as a generic internal error carrying the request id and nothing else.
func ErrorPresenter(logger *slog.Logger, requestID func(context.Context) string) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		var domainErr *linkapi.Error
		if errors.As(err, &domainErr) {
			gqlErr.Message = domainErr.Message
			setCode(gqlErr, codes[domainErr.Code])
			if domainErr.RetryAfter > 0 {
				// Whole seconds, rounded up, like the Retry-After header.
				gqlErr.Extensions["retryAfter"] = int64(math.Ceil(domainErr.RetryAfter.Seconds()))
			}
			if domainErr.ExistingLinkID != 0 {
				gqlErr.Extensions["existingLinkId"] = formatID(domainErr.ExistingLinkID)
			}
			return gqlErr
		}
		if code, ok := gqlErr.Extensions["code"].(string); ok && code != "" {
			return gqlErr
		}
		var reqErr *gqlerror.Error
		if len(gqlErr.Path) == 0 && errors.As(err, &reqErr) && !errors.Is(err, errPanic) {
			// An uncoded error outside any field is gqlgen's transport refusing the
			// request itself: a body that is not JSON, a batch, a query that is not
			// a string. The client's mistake; its text would echo the body.
			gqlErr.Message = "the request body is not a GraphQL request (one JSON object with a query string)"
			setCode(gqlErr, "BAD_REQUEST")
			return gqlErr
		}
		// Past the deadline, drivers fail in their own words (an interrupted
		// statement, a connection gone); the context says what happened.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			logger.WarnContext(ctx, "request deadline passed", "path", gqlErr.Path.String())
			gqlErr.Message = "the request took longer than the server allows"
			setCode(gqlErr, "TIMEOUT")
			return gqlErr
		}
		id := ""
		if requestID != nil {
			id = requestID(ctx)
		}
		logger.ErrorContext(ctx, "internal error", "request_id", id, "path", gqlErr.Path.String(), "err", err)
		gqlErr.Message = errInternal
		setCode(gqlErr, codes[linkapi.EINTERNAL])
		if id != "" {
			gqlErr.Extensions["requestId"] = id
		}
		return gqlErr
	}
}

func setCode(e *gqlerror.Error, code string) {
	if e.Extensions == nil {
		e.Extensions = map[string]any{}
	}
	e.Extensions["code"] = code
}

// RecoverFunc turns a panic in a resolver into an internal error, logging the stack.
func RecoverFunc(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		path := ""
		if fc := graphql.GetFieldContext(ctx); fc != nil {
			path = fc.Path().String()
		}
		logger.ErrorContext(ctx, "panic in resolver", "path", path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errPanic
	}
}
