// Package scalar holds the GraphQL scalars billd defines beyond the domain types: the
// ID, an integer on the wire as a string, with a coded error for malformed input.
package scalar

import (
	"encoding/json"
	"io"
	"strconv"

	"github.com/99designs/gqlgen/graphql"

	"github.com/billd/billd/internal/fault"
)

// MarshalID writes an id as a GraphQL ID (a JSON string).
func MarshalID(id int) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { _, _ = io.WriteString(w, strconv.Quote(strconv.Itoa(id))) })
}

// UnmarshalID reads a GraphQL ID. billd ids are positive integers; anything else is a
// BAD_USER_INPUT.
func UnmarshalID(v any) (int, error) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
	case int64:
		s = strconv.FormatInt(v, 10)
	case int:
		s = strconv.Itoa(v)
	default:
		return 0, fault.Invalidf("", "an ID must be a string, not %T", v)
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.Invalidf("", "%q is not a billd ID", s)
	}
	return int(id), nil
}
