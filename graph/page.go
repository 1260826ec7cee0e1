package graph

import (
	"github.com/billd/billd/internal/fault"
)

// Page sizes of connections: a request that names no size gets DefaultPageSize
// rows, and none may ask for more than MaxPageSize.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// pageSize applies the connection limits to first/last.
func pageSize(first, last *int) (*int, *int, error) {
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
