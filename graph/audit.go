package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/billd/billd/internal/access"
)

// audit records every mutation field of an operation once it has run (or was
// refused): who, what, when and whether it succeeded.
func (a *Access) audit(log *slog.Logger) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		oc := graphql.GetOperationContext(ctx)
		if oc.Operation == nil || oc.Operation.Operation != ast.Mutation {
			return next(ctx)
		}
		fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Mutation"})
		h := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			resp := h(ctx)
			var data map[string]json.RawMessage
			if resp != nil && len(resp.Data) > 0 {
				_ = json.Unmarshal(resp.Data, &data)
			}
			for _, f := range fields {
				if strings.HasPrefix(f.Name, "__") {
					continue
				}
				e := access.Entry{Operation: f.Name, Success: true}
				e.IDs = argIDs(f.ArgumentMap(oc.Variables))
				if raw, ok := data[f.Alias]; ok {
					var v any
					if json.Unmarshal(raw, &v) == nil {
						e.IDs = idsIn(v, "", e.IDs)
					}
				}
				if resp != nil {
					for _, err := range resp.Errors {
						if len(err.Path) == 0 || fmt.Sprint(err.Path[0]) == f.Alias {
							e.Success = false
							e.ErrorCode, _ = err.Extensions["code"].(string)
							e.Message = err.Message
							break
						}
					}
				}
				slices.Sort(e.IDs)
				e.IDs = slices.Compact(e.IDs)
				if err := a.Audit.Record(ctx, e); err != nil {
					log.ErrorContext(ctx, "writing the audit log", "error", err)
				}
			}
			return resp
		}
	}
}

// argIDs collects the ids among a field's arguments, which decode into ints and
// domain input structs: walked as JSON, with Go field names (AccountID) lowered to
// GraphQL-like ones (accountID).
func argIDs(args map[string]any) []int {
	b, err := json.Marshal(args)
	if err != nil {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // ids stay integers
	if dec.Decode(&v) != nil {
		return nil
	}
	return idsIn(lowerKeys(v), "", nil)
}

// idsIn collects the ids in v: the values of keys named id or ending in Id, Ids, ID
// or IDs.
func idsIn(v any, key string, out []int) []int {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out = idsIn(x, k, out)
		}
	case []any:
		for _, x := range v {
			out = idsIn(x, key, out)
		}
	case string:
		isID := key == "id" || strings.HasSuffix(key, "Id") || strings.HasSuffix(key, "Ids") ||
			strings.HasSuffix(key, "ID") || strings.HasSuffix(key, "IDs")
		if n, err := strconv.Atoi(v); err == nil && isID {
			out = append(out, n)
		}
	}
	return out
}

// lowerKeys turns Go field names (AccountID) into GraphQL-like ones (accountID) so
// idsIn recognizes them.
func lowerKeys(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			if k != "" {
				k = strings.ToLower(k[:1]) + k[1:]
			}
			m[k] = lowerKeys(x)
		}
		return m
	case []any:
		for i, x := range v {
			v[i] = lowerKeys(x)
		}
		return v
	case json.Number:
		return v.String()
	}
	return v
}

// dispatchedKey marks a context that went through the operation middlewares: its
// responses come from an operation that ran.
type dispatchedKey struct{}

// markDispatched marks the operation's context as dispatched.
func markDispatched(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	return next(context.WithValue(ctx, dispatchedKey{}, true))
}

// maxAuditedFields is the most root fields of one refused document that are recorded,
// and maxFieldName the longest name kept: a refused document is whatever the client
// sent.
const (
	maxAuditedFields = 20
	maxFieldName     = 100
)

// auditRefusals records the mutations refused before they ran: a document that does
// not validate, or that a depth or complexity limit refuses, never becomes an
// operation, so audit never sees it. Each mutation field the document asked for gets
// an entry with the code and message it was refused with and RefusedBeforeExecution.
// A document too broken to parse is recorded as "(unparsable mutation)" when it
// starts like one. Requests refused before authentication have no key to record.
func (a *Access) auditRefusals(log *slog.Logger) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := next(ctx)
		if resp == nil || len(resp.Errors) == 0 || ctx.Value(dispatchedKey{}) != nil || !graphql.HasOperationContext(ctx) {
			return resp
		}
		if _, ok := access.FromContext(ctx); !ok {
			return resp
		}
		oc := graphql.GetOperationContext(ctx)
		fields, isMutation := attemptedMutation(oc)
		if !isMutation {
			return resp
		}
		first := resp.Errors[0]
		code, _ := first.Extensions["code"].(string)
		for _, f := range fields {
			e := access.Entry{Operation: f, ErrorCode: code, Message: first.Message, RefusedBeforeExecution: true}
			if err := a.Audit.Record(ctx, e); err != nil {
				log.ErrorContext(ctx, "writing the audit log", "error", err)
			}
		}
		return resp
	}
}

// attemptedMutation returns the root fields of the mutation a refused document asked
// for, and whether it was a mutation at all.
func attemptedMutation(oc *graphql.OperationContext) ([]string, bool) {
	doc := oc.Doc
	if doc == nil {
		var err error
		if doc, err = parser.ParseQuery(&ast.Source{Input: oc.RawQuery}); err != nil {
			if startsWithMutation(oc.RawQuery) {
				return []string{"(unparsable mutation)"}, true
			}
			return nil, false
		}
	}
	op := doc.Operations.ForName(oc.OperationName)
	if op == nil && len(doc.Operations) == 1 {
		op = doc.Operations[0]
	}
	if op == nil || op.Operation != ast.Mutation {
		return nil, false
	}
	var names []string
	var walk func(set ast.SelectionSet, depth int)
	walk = func(set ast.SelectionSet, depth int) {
		for _, sel := range set {
			if len(names) >= maxAuditedFields || depth > 3 {
				return
			}
			switch s := sel.(type) {
			case *ast.Field:
				if !strings.HasPrefix(s.Name, "__") {
					names = append(names, cut(s.Name, maxFieldName))
				}
			case *ast.InlineFragment:
				walk(s.SelectionSet, depth+1)
			case *ast.FragmentSpread:
				if f := doc.Fragments.ForName(s.Name); f != nil {
					walk(f.SelectionSet, depth+1)
				}
			}
		}
	}
	walk(op.SelectionSet, 0)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		names = []string{"(empty mutation)"}
	}
	return names, true
}

// startsWithMutation reports whether a document's first word is "mutation".
func startsWithMutation(q string) bool {
	for {
		q = strings.TrimLeft(q, " \t\r\n,\ufeff")
		if !strings.HasPrefix(q, "#") {
			break
		}
		if i := strings.IndexByte(q, '\n'); i >= 0 {
			q = q[i+1:]
		} else {
			return false
		}
	}
	rest, ok := strings.CutPrefix(q, "mutation")
	return ok && (rest == "" || !isNameChar(rest[0]))
}

func isNameChar(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// cut shortens s to at most n bytes on a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
