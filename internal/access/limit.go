package access

import (
	"sync"
	"time"

	"github.com/billd/billd/internal/clock"
)

// Limits are the abuse limits applied per key. Zero values take the defaults of
// DefaultLimits; a negative value turns a limit off.
type Limits struct {
	RatePerSecond int // sustained requests (and websocket operations) per key and node
	Burst         int // requests allowed at once above the sustained rate
	Connections   int // open websocket connections per key and node
	// PendingWebsockets bounds, per client address and node, the websockets that
	// have not sent connection_init yet (so carry no key that could be counted).
	PendingWebsockets int
	Subscriptions     int // running subscriptions per key and node
	MaxBodyBytes      int64
	MaxDepth          int // selection nesting
	MaxComplexity     int // gqlgen complexity, connections counted by their page size
	MaxPageSize       int // the largest first/last a connection accepts
	MaxListRows       int // the most rows a plain list field (Invoice.lines, ...) answers
	MaxNodes          int // the most ids nodes(ids) takes
	// AuthFailureRate and AuthFailureBurst bound failed authentications per client
	// address and node (a token bucket, like RatePerSecond): an address that spent
	// its burst on bad keys is refused, whatever key it sends, until tokens refill.
	AuthFailureRate  int
	AuthFailureBurst int
	Introspection    bool
	IntrospectionSet bool // Introspection was configured (else it is on)
}

// DefaultLimits are generous for dashboards and integrations and stop runaway
// clients.
var DefaultLimits = Limits{RatePerSecond: 50, Burst: 100, Connections: 20, PendingWebsockets: 10, Subscriptions: 100,
	MaxBodyBytes: 1 << 20, MaxDepth: 12, MaxComplexity: 250000, MaxPageSize: 100, MaxListRows: 250, MaxNodes: 100,
	AuthFailureRate: 1, AuthFailureBurst: 20}

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
	if l.PendingWebsockets == 0 {
		l.PendingWebsockets = d.PendingWebsockets
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
	if l.MaxListRows == 0 {
		l.MaxListRows = d.MaxListRows
	}
	if l.MaxNodes == 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.AuthFailureRate == 0 {
		l.AuthFailureRate = d.AuthFailureRate
	}
	if l.AuthFailureBurst == 0 {
		l.AuthFailureBurst = max(d.AuthFailureBurst, l.AuthFailureRate)
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

	mu       sync.Mutex
	buckets  map[int]*bucket
	failures map[string]*bucket // failed authentications per client address
	swept    time.Time          // when failures was last cleared of refilled buckets
	conns    map[int]int
	subs     map[int]int
	pending  map[string]int // websockets not yet initialized, per client address
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
	return &Limiter{limits: l.WithDefaults(), clock: clk, buckets: map[int]*bucket{},
		failures: map[string]*bucket{}, conns: map[int]int{}, subs: map[int]int{},
		pending: map[string]int{}}
}

// Limits returns the limits in force.
func (l *Limiter) Limits() Limits { return l.limits }

// Allow takes one request of key from its bucket. When the bucket is empty it
// returns false and how long until a request would be allowed.
func (l *Limiter) Allow(key int) (bool, time.Duration) {
	if l.limits.RatePerSecond < 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = newBucket(l.limits.Burst, l.clock.Now())
		l.buckets[key] = b
	}
	return b.take(l.clock.Now(), l.limits.RatePerSecond, l.limits.Burst, true)
}

// AuthAllowed reports whether addr may try to authenticate: false, with how long
// until it may, once its failures have spent its burst.
func (l *Limiter) AuthAllowed(addr string) (bool, time.Duration) {
	if l.limits.AuthFailureRate < 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.failures[addr]
	if b == nil {
		return true, 0
	}
	return b.take(l.clock.Now(), l.limits.AuthFailureRate, l.limits.AuthFailureBurst, false)
}

// AuthFailed counts a failed authentication from addr.
func (l *Limiter) AuthFailed(addr string) {
	if l.limits.AuthFailureRate < 0 {
		return
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.failures[addr]
	if b == nil {
		if len(l.failures) >= maxFailureAddrs && now.Sub(l.swept) >= time.Second {
			l.forgetRefilled(now)
			l.swept = now
		}
		b = newBucket(l.limits.AuthFailureBurst, now)
		l.failures[addr] = b
	}
	b.take(now, l.limits.AuthFailureRate, l.limits.AuthFailureBurst, true)
}

// maxFailureAddrs is how many addresses are remembered before refilled ones are
// dropped, at most once a second: a flood from many addresses then neither grows the
// map without end (a bucket refills within burst/rate seconds) nor makes every new
// address pay for a sweep.
const maxFailureAddrs = 10000

// forgetRefilled drops the addresses whose buckets are full again: remembering them
// changes nothing. Called with l.mu held.
func (l *Limiter) forgetRefilled(now time.Time) {
	rate, burst := l.limits.AuthFailureRate, l.limits.AuthFailureBurst
	for addr, b := range l.failures {
		if b.refill(now, rate, burst); b.tokens >= int64(burst)*tokenUnit {
			delete(l.failures, addr)
		}
	}
}

func newBucket(burst int, now time.Time) *bucket {
	return &bucket{tokens: int64(burst) * tokenUnit, at: now}
}

// refill adds the tokens earned since the bucket was last touched, up to burst.
func (b *bucket) refill(now time.Time, rate, burst int) {
	r, full := int64(max(rate, 1)), int64(burst)*tokenUnit
	if elapsed := now.Sub(b.at); elapsed >= time.Duration(full/r) {
		b.tokens = full
	} else if elapsed > 0 {
		b.tokens = min(full, b.tokens+int64(elapsed)*r)
	}
	b.at = now
}

// take refills the bucket, then reports whether it holds a token, spending it if
// spend is set; when it holds none, it also returns how long until it will.
func (b *bucket) take(now time.Time, rate, burst int, spend bool) (bool, time.Duration) {
	b.refill(now, rate, burst)
	if b.tokens >= tokenUnit {
		if spend {
			b.tokens -= tokenUnit
		}
		return true, 0
	}
	r := int64(max(rate, 1))
	wait := time.Duration((tokenUnit - b.tokens + r - 1) / r)
	return false, max(wait, time.Millisecond)
}

// Connect counts a websocket connection of key; ok is false (and nothing is
// counted) when the key already has as many as allowed. Call release when it closes.
func (l *Limiter) Connect(key int) (release func(), ok bool) {
	return acquire(l, l.conns, key, l.limits.Connections)
}

// Subscribe counts a running subscription of key, like Connect.
func (l *Limiter) Subscribe(key int) (release func(), ok bool) {
	return acquire(l, l.subs, key, l.limits.Subscriptions)
}

// PendingWebsocket counts a websocket from addr that has not sent connection_init,
// like Connect; release it when the connection is initialized or closes.
func (l *Limiter) PendingWebsocket(addr string) (release func(), ok bool) {
	return acquire(l, l.pending, addr, l.limits.PendingWebsockets)
}

func acquire[K comparable](l *Limiter, counts map[K]int, key K, limit int) (func(), bool) {
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
