package scalar

import (
	"bytes"
	"io"

	"entgo.io/contrib/entgql"
	"github.com/99designs/gqlgen/graphql"

	"github.com/billd/billd/internal/fault"
)

// MaxCursorLen bounds a cursor's text: billd's own cursors are a few dozen characters.
const MaxCursorLen = 512

// MarshalCursor writes a connection cursor as Ent writes it (opaque base64 text).
func MarshalCursor(c entgql.Cursor[int]) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) { c.MarshalGQL(w) })
}

// UnmarshalCursor reads a cursor that billd gave out. Anything else, a string that is
// not one, one cut short, or one whose bytes decode to an empty position, is refused
// with BAD_USER_INPUT rather than read as the start of the list: a client paging
// with a broken cursor learns of it instead of seeing the first page again.
func UnmarshalCursor(v any) (entgql.Cursor[int], error) {
	var c entgql.Cursor[int]
	s, ok := v.(string)
	if !ok {
		return c, fault.Invalidf("", "a cursor must be a string, not %T", v)
	}
	if s == "" || len(s) > MaxCursorLen {
		return c, fault.Invalidf("", "not a cursor billd gave out")
	}
	if err := c.UnmarshalGQL(s); err != nil || c.ID <= 0 {
		return entgql.Cursor[int]{}, fault.Invalidf("", "not a cursor billd gave out")
	}
	// A cursor is canonical: what decodes must encode to the same text, or the
	// string carried bytes billd did not write (padding, trailing garbage).
	var buf bytes.Buffer
	c.MarshalGQL(&buf)
	if buf.String() != `"`+s+`"` {
		return entgql.Cursor[int]{}, fault.Invalidf("", "not a cursor billd gave out")
	}
	return c, nil
}
