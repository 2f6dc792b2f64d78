package hlsd

import (
	"errors"
	"fmt"
)

// Error codes. They are few on purpose: each maps to one HTTP status and one
// CLI behaviour at the edge (see internal/server), and callers branch on them
// with ErrorCode instead of matching message text.
const (
	ECONFLICT     = "conflict"
	EINTERNAL     = "internal"
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_media"
	EUNAVAILABLE  = "unavailable"
	// ENOSPACE is a full disk (HTTP 507): nothing is wrong with the request
	// or the media, and the same work succeeds once space is freed.
	ENOSPACE = "insufficient_storage"
)

// Error is an error meant for the user: Message is one clear sentence that
// can be shown as is, Code says what kind of failure it is.
type Error struct {
	Code    string
	Message string
}

// Error returns the message alone, so that the CLI prints one clean line.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
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

// ErrorMessage returns the user-facing message of the first *Error in err's
// chain. Other errors get a generic sentence, so internals (paths, SQL,
// stack details) never leak to API clients; log the original instead.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
