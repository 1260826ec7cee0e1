package graph

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"
)

// loaderWait is how long a loader collects keys before it queries: the resolvers of a
// list's rows start within microseconds of each other, so a millisecond gathers a
// page into one statement without adding noticeable latency.
const loaderWait = time.Millisecond

// loaders holds one response's batch loaders. A fresh set per response (per event of
// a subscription) keeps what they cache from outliving the data it was read from.
type loaders struct {
	mu sync.Mutex
	m  map[any]any
}

type loadersKey struct{}

// withLoaders gives every response a fresh set of loaders.
func withLoaders(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(context.WithValue(ctx, loadersKey{}, &loaders{m: map[any]any{}}))
}

// loaderFor returns the response's loader under key, making it with fetch the first
// time. Without a loader set in ctx (a call outside a GraphQL response) it returns a
// loader of its own, which batches nothing but still answers.
func loaderFor[K comparable, V any](ctx context.Context, key any,
	fetch func(ctx context.Context, keys []K) ([]V, []error)) *dataloadgen.Loader[K, V] {
	ls, ok := ctx.Value(loadersKey{}).(*loaders)
	if !ok {
		return dataloadgen.NewLoader(fetch, dataloadgen.WithWait(0))
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if l, ok := ls.m[key].(*dataloadgen.Loader[K, V]); ok {
		return l
	}
	l := dataloadgen.NewLoader(fetch, dataloadgen.WithWait(loaderWait))
	ls.m[key] = l
	return l
}

// fieldKey names a loader of one field of the document: the rows of a list are loaded
// with the selection of the field they were asked through, so parents reached through
// different fields (or aliases) get loaders of their own.
type fieldKey struct {
	name  string
	field any // the field's *ast.Field
}

// thisField returns the key of the loader for the field being resolved.
func thisField(ctx context.Context, name string) fieldKey {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		return fieldKey{name: name, field: fc.Field.Field}
	}
	return fieldKey{name: name}
}
