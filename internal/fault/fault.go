// Package fault holds billd's small set of error codes. Domain code returns *Error for
// every refusal a client should see; anything else is an internal error, logged and
// never shown. The GraphQL error presenter is the one place that turns these into
// extensions.code.
package fault

import (
	"errors"
	"fmt"
)

// Code classifies an error for clients.
type Code string

// The codes of the API contract.
const (
	Invalid            Code = "BAD_USER_INPUT"      // an argument is wrong; Field names it
	NotFound           Code = "NOT_FOUND"           // an id or code that does not exist
	Conflict           Code = "CONFLICT"            // a unique name taken, a concurrent change
	FailedPrecondition Code = "FAILED_PRECONDITION" // a business rule refuses it now
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	Internal           Code = "INTERNAL" // anything else; its message is not shown

	// Limits: the request was refused before it ran.
	RateLimited        Code = "RATE_LIMITED"              // too many requests for this key; retry later
	TooLarge           Code = "REQUEST_TOO_LARGE"         // the request body is over the limit
	TooDeep            Code = "QUERY_TOO_DEEP"            // the selection nests deeper than allowed
	TooComplex         Code = "COMPLEXITY_LIMIT_EXCEEDED" // the query would cost more than allowed
	TooManyConnections Code = "TOO_MANY_CONNECTIONS"      // websocket connections or subscriptions per key

	// TooManyRows: a plain list holds more rows than one answer may carry; Instead
	// names the paged field that reads them.
	TooManyRows Code = "RESULT_TOO_LARGE"

	// The HTTP request is not one /query serves.
	MethodNotAllowed     Code = "METHOD_NOT_ALLOWED"     // 405: a mutation over GET, a PUT
	UnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE" // 415: a POST body that is not JSON
	NotAcceptable        Code = "NOT_ACCEPTABLE"         // 406: accepts no JSON answer
	RequestTimeout       Code = "REQUEST_TIMEOUT"        // 408: the body came too slowly
)

// Error is an error a client may see: a code, the input field at fault if any (an
// input path such as "input.frequencies[0].prices[1].currency"), and a message that
// names the problem.
type Error struct {
	Code    Code
	Field   string
	Message string
	// Instead names the field to use in its place, for RESULT_TOO_LARGE the
	// connection that pages through the list.
	Instead string
	// Reason is a finer code for a failure recorded on a bill run (NO_RATE_PLAN);
	// empty for most errors.
	Reason string
}

// Error returns the message, with the field when there is one.
func (e *Error) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// Invalidf returns a BAD_USER_INPUT error about field.
func Invalidf(field, format string, args ...any) *Error {
	return &Error{Code: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// NotFoundf returns a NOT_FOUND error; field names the argument that held the id, if any.
func NotFoundf(field, format string, args ...any) *Error {
	return &Error{Code: NotFound, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Conflictf returns a CONFLICT error.
func Conflictf(field, format string, args ...any) *Error {
	return &Error{Code: Conflict, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Unauthenticatedf returns an UNAUTHENTICATED error.
func Unauthenticatedf(format string, args ...any) *Error {
	return &Error{Code: Unauthenticated, Message: fmt.Sprintf(format, args...)}
}

// Forbiddenf returns a FORBIDDEN error.
func Forbiddenf(format string, args ...any) *Error {
	return &Error{Code: Forbidden, Message: fmt.Sprintf(format, args...)}
}

// PreconditionAt returns a FAILED_PRECONDITION error about field: the argument is
// well formed, but what the database holds now refuses it (a package's limits, a
// status that is read-only, a date the account-package's billing has passed).
func PreconditionAt(field, format string, args ...any) *Error {
	return &Error{Code: FailedPrecondition, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Preconditionf returns a FAILED_PRECONDITION error.
func Preconditionf(format string, args ...any) *Error {
	return &Error{Code: FailedPrecondition, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// CodeOf returns err's code: the code of the *Error in its chain, else Internal.
func CodeOf(err error) Code {
	if e, ok := As(err); ok {
		return e.Code
	}
	return Internal
}

// Path joins an input path and a child: Path("input.services", 2, "serviceId") is
// "input.services[2].serviceId". Strings are field names, ints are list indexes.
func Path(parts ...any) string {
	s := ""
	for _, p := range parts {
		switch v := p.(type) {
		case int:
			s += fmt.Sprintf("[%d]", v)
		case string:
			if s != "" {
				s += "."
			}
			s += v
		}
	}
	return s
}
