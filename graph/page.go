package graph

import (
	"reflect"

	"github.com/billd/billd/internal/fault"
)

// Page sizes of connections: a request that names no size gets DefaultPageSize
// rows, and none may ask for more than MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// pageSize applies the connection limits to first/last. A page is read forward
// (first, after) or backward (last, before): mixing the directions is refused rather
// than answered with a window the paginator would get wrong.
func pageSize(first, last *int, after, before any) (*int, *int, error) {
	switch {
	case first != nil && last != nil:
		return nil, nil, fault.Invalidf("last", "give first or last, not both")
	case first != nil && !isNilCursor(before):
		return nil, nil, fault.Invalidf("before", "first pages forward: use it with after, and last with before")
	case last != nil && !isNilCursor(after):
		return nil, nil, fault.Invalidf("after", "last pages backward: use it with before, and first with after")
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"first", first}, {"last", last}} {
		if p.v != nil && (*p.v < 0 || *p.v > MaxPageSize) {
			return nil, nil, fault.Invalidf(p.name, "%s must be between 0 and %d", p.name, MaxPageSize)
		}
	}
	if first == nil && last == nil {
		n := DefaultPageSize
		first = &n
	}
	return first, last, nil
}

// isNilCursor reports whether a cursor argument was omitted.
func isNilCursor(c any) bool {
	if c == nil {
		return true
	}
	v := reflect.ValueOf(c)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
