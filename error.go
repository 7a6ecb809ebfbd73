package chatr

import (
	"errors"
	"fmt"
)

// Application error codes. Each layer maps them once: httpapi to HTTP
// statuses, the chat layer to ack error names. Any other error is internal:
// it is logged with its context and shown to users only as "internal error".
const (
	ECONFLICT  = "conflict"     // the thing exists already (409, ack "Duplicate")
	EFORBIDDEN = "forbidden"    // the caller may not do this (403, ack "Forbidden")
	EINVALID   = "invalid"      // bad input (400, ack "BadRequest")
	ELIMIT     = "limit"        // a rate or size limit was hit (429, ack "TooManyRequests")
	ENOTFOUND  = "not_found"    // no such thing, or not visible to the caller (404, ack "NotFound")
	EUNAUTH    = "unauthorized" // no valid session (401)
	EINTERNAL  = "internal"     // anything unexpected (500, ack "InternalServerError")
)

// Error is an application error: a code from the list above and a message
// that is safe to show to the user.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("chatr: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of an application error anywhere in err's chain,
// "" for nil, and EINTERNAL for any other error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of an application error, and
// "internal error" for any other error.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
