package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/store"
)

// ErrorPresenter is the one place where errors become GraphQL errors. A *fault.Error
// keeps its message and gets extensions.code (and extensions.field for bad input); a
// request the schema rejects is BAD_USER_INPUT; anything else is logged with its
// path and shown only as INTERNAL with no detail.
func ErrorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		gqlErr := graphql.DefaultErrorPresenter(ctx, err)
		if fe, ok := fault.As(store.Translate(err, "")); ok {
			gqlErr.Message = fe.Message
			ext := map[string]any{"code": string(fe.Code)}
			field := fe.Field
			if field == "" && fe.Code == fault.Invalid {
				// A scalar that failed to decode knows no field; gqlgen's path does.
				field = inputPath(gqlErr.Path)
			}
			if field != "" {
				ext["field"] = field
				if !strings.Contains(gqlErr.Message, field) && fe.Field == "" {
					gqlErr.Message = field + ": " + gqlErr.Message
				}
			}
			if fe.Instead != "" {
				ext["connection"] = fe.Instead
			}
			gqlErr.Extensions = ext
			return gqlErr
		}
		switch code, _ := gqlErr.Extensions["code"].(string); code {
		case string(fault.TooComplex), string(fault.TooDeep), string(fault.RateLimited), string(fault.Forbidden),
			string(fault.Unauthenticated), string(fault.TooManyConnections), string(fault.TooLarge):
			return gqlErr // a limit refused the request; the message says which
		case "PERSISTED_QUERY_NOT_FOUND", "PERSISTED_QUERY_NOT_SUPPORTED":
			// Apollo clients resend the document on PERSISTED_QUERY_NOT_FOUND.
			gqlErr.Extensions = map[string]any{"code": code}
			return gqlErr
		}
		if gqlErr.Message == "introspection disabled" {
			return &gqlerror.Error{Message: "introspection is disabled on this server", Path: gqlErr.Path,
				Extensions: map[string]any{"code": string(fault.Forbidden)}}
		}
		if code, _ := gqlErr.Extensions["code"].(string); code == "GRAPHQL_VALIDATION_FAILED" || code == "GRAPHQL_PARSE_FAILED" {
			// The document or its variables do not fit the schema: the client's input.
			gqlErr.Extensions = map[string]any{"code": string(fault.Invalid), "reason": code}
			// A variable that does not fit its type: its path is variable.<name>...
			if len(gqlErr.Path) > 1 {
				if first, ok := gqlErr.Path[0].(ast.PathName); ok && first == "variable" {
					field := joinPath(gqlErr.Path[1:])
					gqlErr.Extensions["field"] = field
					if !strings.Contains(gqlErr.Message, field) {
						gqlErr.Message = field + ": " + gqlErr.Message
					}
				}
			}
			return gqlErr
		}
		if ge := (*gqlerror.Error)(nil); errors.As(err, &ge) && ge.Err == nil && len(ge.Path) == 0 && gqlErr.Extensions["code"] == nil {
			// gqlgen refused the request itself (a persisted-query extension it cannot
			// use, a websocket message that is not JSON): the client's input.
			return &gqlerror.Error{Message: gqlErr.Message, Extensions: map[string]any{"code": string(fault.Invalid)}}
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return &gqlerror.Error{Message: "the request was canceled or timed out", Path: gqlErr.Path,
				Extensions: map[string]any{"code": string(fault.Internal)}}
		}
		log.ErrorContext(ctx, "internal error in a GraphQL request", "path", gqlErr.Path.String(), "error", err)
		return &gqlerror.Error{Message: "internal error", Path: gqlErr.Path,
			Extensions: map[string]any{"code": string(fault.Internal)}}
	}
}

// RecoverFunc turns a resolver panic into a logged INTERNAL error.
func RecoverFunc(log *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in a GraphQL resolver", "panic", fmt.Sprint(p))
		return errors.New("panic in resolver")
	}
}

// inputPath renders gqlgen's path of an argument ("input", "prices", 0, "amount") as
// the contract's field path ("input.prices[0].amount"), dropping the operation field.
func inputPath(p ast.Path) string {
	var parts []any
	for i, el := range p {
		switch v := el.(type) {
		case ast.PathName:
			if i == 0 && len(p) > 1 && isOperationField(p) {
				continue
			}
			parts = append(parts, string(v))
		case ast.PathIndex:
			parts = append(parts, int(v))
		}
	}
	return fault.Path(parts...)
}

// joinPath renders a path as "in.prices[0].amount".
func joinPath(p ast.Path) string {
	parts := make([]any, 0, len(p))
	for _, el := range p {
		switch v := el.(type) {
		case ast.PathName:
			parts = append(parts, string(v))
		case ast.PathIndex:
			parts = append(parts, int(v))
		}
	}
	return fault.Path(parts...)
}

// isOperationField reports whether the path starts with the field being resolved
// rather than an argument name; argument paths in gqlgen start at the argument.
func isOperationField(p ast.Path) bool {
	first, ok := p[0].(ast.PathName)
	if !ok {
		return false
	}
	switch string(first) {
	case "input", "id", "ids", "packageId", "first", "last", "after", "before", "code":
		return false
	}
	return true
}
