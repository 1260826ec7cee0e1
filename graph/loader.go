package graph

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vikstrous/dataloadgen"

	"github.com/billd/billd/ent"
)

// Per-row figures (an account's balance, an account-package's services, an invoice's
// lines) are loaded for many rows at once, so that a response costs the same number
// of statements whatever the size of its lists.
//
// Rows that came out of one query are siblings: the accounts of a page, the
// account-packages eager-loaded for all of them. The first row of a group of siblings
// to need a figure loads it for the whole group in one statement; the others find it
// loaded. Which rows are siblings is known before any of their fields resolves (every
// query's result is recorded as it returns, see recordQueries), so the grouping does
// not depend on timing. A group may hold one row more per parent than the response
// shows (a connection reads one row beyond its page to answer hasNextPage), so it
// costs at most what the page sizes allow for twice the rows.
//
// Rows that came from nowhere recorded (a mutation's result) fall back to a loader
// that gathers the keys asked for within loaderWait.

// loaderWait is how long a fallback loader collects keys before it queries.
const loaderWait = time.Millisecond

// loaders holds one response's loading state. A fresh set per response (per event of
// a subscription) keeps what it caches from outliving the data it was read from.
type loaders struct {
	mu sync.Mutex
	m  map[any]any // fallback loaders by key
	// batchOf maps each row a query of this response returned (its pointer) to the
	// query's result, batches[i].
	batchOf map[any]int
	batches [][]any
	groups  map[groupKey]*group
	cells   map[cellKey]*cell
}

type loadersKey struct{}

// withLoaders gives every response a fresh set of loaders.
func withLoaders(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(context.WithValue(ctx, loadersKey{}, newLoaders()))
}

func newLoaders() *loaders {
	return &loaders{m: map[any]any{}, batchOf: map[any]int{}, groups: map[groupKey]*group{}, cells: map[cellKey]*cell{}}
}

// recordQueries is the ent interceptor that records, in a response's loaders, the
// rows each query returns as one batch of siblings. Outside a GraphQL response it does
// nothing.
func recordQueries(next ent.Querier) ent.Querier {
	return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
		v, err := next.Query(ctx, q)
		if err != nil {
			return v, err
		}
		if ls, ok := ctx.Value(loadersKey{}).(*loaders); ok {
			ls.record(v)
		}
		return v, nil
	})
}

// record notes the rows of a query result (a slice of entity pointers) as a batch.
func (ls *loaders) record(v ent.Value) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice || rv.Len() == 0 || rv.Type().Elem().Kind() != reflect.Pointer {
		return
	}
	rows := make([]any, rv.Len())
	for i := range rows {
		rows[i] = rv.Index(i).Interface()
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b := len(ls.batches)
	ls.batches = append(ls.batches, rows)
	for _, r := range rows {
		if _, seen := ls.batchOf[r]; !seen {
			ls.batchOf[r] = b
		}
	}
}

// groupKey names the load of one figure for one batch of siblings (batch -1: the
// figure of the whole response, see onceFor).
type groupKey struct {
	loader any
	batch  int
}

// group is the claim of one loader on one batch, made once: the first row of the
// batch to need the figure asks for the keys of all its siblings.
type group struct {
	once sync.Once
	res  map[any]result // onceFor's figure
}

// cell is one key's figure, loaded by whichever group claimed the key first; done
// closes when it is there.
type cell struct {
	done chan struct{}
	r    result
}

type result struct {
	v   any
	err error
}

// loadFor returns the figure of row, whose key is key, loaded by the loader named name
// for row and all its siblings at once: keyOf gives a sibling's key (false for a row
// the figure does not apply to); fetch loads the figures of keys, in order. A key is
// loaded once per response, whichever batches ask for it (the same runs listed under
// two aliases).
func loadFor[K comparable, V any](ctx context.Context, name any, row any, key K, keyOf func(row any) (K, bool),
	fetch func(ctx context.Context, keys []K) ([]V, []error)) (V, error) {
	if ls, ok := ctx.Value(loadersKey{}).(*loaders); ok {
		if g, b := ls.group(name, row); g != nil {
			g.once.Do(func() { claim(ctx, ls, name, b, keyOf, fetch) })
			ls.mu.Lock()
			c := ls.cells[cellKey{loader: name, key: key}]
			ls.mu.Unlock()
			if c != nil {
				<-c.done
				v, _ := c.r.v.(V)
				return v, c.r.err
			}
		}
	}
	return loaderFor(ctx, name, fetch).Load(ctx, key)
}

// cellKey names one key's figure of one loader.
type cellKey struct {
	loader any
	key    any
}

// group returns the group of row's batch for loader name and the batch, nil when row
// is not from a recorded query.
func (ls *loaders) group(name any, row any) (*group, int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	b, ok := ls.batchOf[row]
	if !ok {
		return nil, 0
	}
	k := groupKey{loader: name, batch: b}
	g, ok := ls.groups[k]
	if !ok {
		g = &group{}
		ls.groups[k] = g
	}
	return g, b
}

// claim takes the keys of batch b's rows that no group has claimed yet and loads them
// in one fetch.
func claim[K comparable, V any](ctx context.Context, ls *loaders, name any, b int, keyOf func(any) (K, bool),
	fetch func(ctx context.Context, keys []K) ([]V, []error)) {
	var keys []K
	var cells []*cell
	ls.mu.Lock()
	for _, row := range ls.batches[b] {
		k, ok := keyOf(row)
		if !ok {
			continue
		}
		ck := cellKey{loader: name, key: k}
		if _, taken := ls.cells[ck]; taken {
			continue
		}
		c := &cell{done: make(chan struct{})}
		ls.cells[ck] = c
		keys, cells = append(keys, k), append(cells, c)
	}
	ls.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	var vals []V
	var errs []error
	defer func() {
		// Even if fetch panics, no sibling waits for ever (the panic goes on to the
		// recover of the resolver that ran it).
		for i, c := range cells {
			if i < len(vals) {
				c.r.v = vals[i]
			}
			if i < len(errs) {
				c.r.err = errs[i]
			} else if len(vals) == 0 {
				c.r.err = errLoadFailed
			}
			close(c.done)
		}
	}()
	vals, errs = fetch(ctx, keys)
}

// errLoadFailed is the figure of keys whose fetch gave nothing back (it panicked).
var errLoadFailed = errors.New("loading failed")

// onceFor returns what fn gives, computed once per response under name (on every call
// outside a response).
func onceFor[V any](ctx context.Context, name any, fn func(ctx context.Context) (V, error)) (V, error) {
	ls, ok := ctx.Value(loadersKey{}).(*loaders)
	if !ok {
		return fn(ctx)
	}
	ls.mu.Lock()
	k := groupKey{loader: name, batch: -1}
	g, ok := ls.groups[k]
	if !ok {
		g = &group{}
		ls.groups[k] = g
	}
	ls.mu.Unlock()
	g.once.Do(func() {
		v, err := fn(ctx)
		g.res = map[any]result{nil: {v: v, err: err}}
	})
	r := g.res[nil]
	v, _ := r.v.(V)
	return v, r.err
}

// loaderFor returns the response's fallback loader under key, making it with fetch the
// first time. Without a loader set in ctx (a call outside a GraphQL response) it
// returns a loader of its own, which batches nothing but still answers.
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

// rowOf returns a keyOf for loadFor over rows of type P whose key is key(p).
func rowOf[P any, K comparable](key func(P) (K, bool)) func(any) (K, bool) {
	return func(row any) (K, bool) {
		p, ok := row.(P)
		if !ok {
			var zero K
			return zero, false
		}
		return key(p)
	}
}
