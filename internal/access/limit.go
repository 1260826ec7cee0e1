package access

import (
	"sync"
	"time"

	"github.com/billd/billd/internal/clock"
)

// Limits are the abuse limits applied per key. Zero values take the defaults of
// DefaultLimits; a negative value turns a limit off.
type Limits struct {
	RatePerSecond    int // sustained requests (and websocket operations) per key and node
	Burst            int // requests allowed at once above the sustained rate
	Connections      int // open websocket connections per key and node
	Subscriptions    int // running subscriptions per key and node
	MaxBodyBytes     int64
	MaxDepth         int // selection nesting
	MaxComplexity    int // gqlgen complexity, connections counted by their page size
	MaxPageSize      int // the largest first/last a connection accepts
	Introspection    bool
	IntrospectionSet bool // Introspection was configured (else it is on)
}

// DefaultLimits are generous for dashboards and integrations and stop runaway
// clients.
var DefaultLimits = Limits{RatePerSecond: 50, Burst: 100, Connections: 20, Subscriptions: 100,
	MaxBodyBytes: 1 << 20, MaxDepth: 12, MaxComplexity: 250000, MaxPageSize: 100}

// WithDefaults fills zero values from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits
	if l.RatePerSecond == 0 {
		l.RatePerSecond = d.RatePerSecond
	}
	if l.Burst == 0 {
		l.Burst = max(d.Burst, l.RatePerSecond)
	}
	if l.Connections == 0 {
		l.Connections = d.Connections
	}
	if l.Subscriptions == 0 {
		l.Subscriptions = d.Subscriptions
	}
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxComplexity == 0 {
		l.MaxComplexity = d.MaxComplexity
	}
	if l.MaxPageSize == 0 {
		l.MaxPageSize = d.MaxPageSize
	}
	if !l.IntrospectionSet {
		l.Introspection = true
	}
	return l
}

// Limiter counts, per key, requests (a token bucket) and open connections and
// subscriptions. Counts are per node: n nodes allow n times the rate.
type Limiter struct {
	limits Limits
	clock  clock.Clock

	mu      sync.Mutex
	buckets map[int]*bucket
	conns   map[int]int
	subs    map[int]int
}

// bucket holds a key's tokens in token-nanoseconds (a token is a second's worth), so
// the refill is exact integer arithmetic: rate tokens a second is rate per nanosecond.
type bucket struct {
	tokens int64
	at     time.Time
}

const tokenUnit = int64(time.Second)

// NewLimiter returns a limiter enforcing l (with defaults filled in).
func NewLimiter(l Limits, clk clock.Clock) *Limiter {
	return &Limiter{limits: l.WithDefaults(), clock: clk, buckets: map[int]*bucket{}, conns: map[int]int{},
		subs: map[int]int{}}
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits { return l.limits }

// Allow takes one request of key from its bucket. When the bucket is empty it
// returns false and how long until a request would be allowed.
func (l *Limiter) Allow(key int) (bool, time.Duration) {
	if l.limits.RatePerSecond < 0 {
		return true, 0
	}
	now := l.clock.Now()
	rate, full := int64(l.limits.RatePerSecond), int64(l.limits.Burst)*tokenUnit
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: full, at: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.at); elapsed >= time.Duration(full/max(rate, 1)) {
		b.tokens = full
	} else if elapsed > 0 {
		b.tokens = min(full, b.tokens+int64(elapsed)*rate)
	}
	b.at = now
	if b.tokens >= tokenUnit {
		b.tokens -= tokenUnit
		return true, 0
	}
	wait := time.Duration((tokenUnit - b.tokens + rate - 1) / max(rate, 1))
	return false, max(wait, time.Millisecond)
}

// Connect counts a websocket connection of key; ok is false (and nothing is
// counted) when the key already has as many as allowed. Call release when it closes.
func (l *Limiter) Connect(key int) (release func(), ok bool) {
	return l.acquire(l.conns, key, l.limits.Connections)
}

// Subscribe counts a running subscription of key, like Connect.
func (l *Limiter) Subscribe(key int) (release func(), ok bool) {
	return l.acquire(l.subs, key, l.limits.Subscriptions)
}

func (l *Limiter) acquire(counts map[int]int, key, limit int) (func(), bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if limit >= 0 && counts[key] >= limit {
		return nil, false
	}
	counts[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if counts[key]--; counts[key] <= 0 {
				delete(counts, key)
			}
		})
	}, true
}
