// Package progress carries bill-run events from the workers that bill to the
// subscribers that watch, on this node and, through PostgreSQL LISTEN/NOTIFY, on every
// node sharing the database. See README.md.
package progress

import (
	"sync"
)

// Kind is the kind of an event.
type Kind string

// The event kinds a run publishes.
const (
	Progress      Kind = "PROGRESS"       // counters moved
	AccountFailed Kind = "ACCOUNT_FAILED" // one account failed
	Finished      Kind = "FINISHED"       // the run reached a final status
	Changed       Kind = "CHANGED"        // status changed (queued, running) without counters
)

// Event is something that happened to a run. Events carry ids, not state: a receiver
// reads the run's current state, so a lost or merged PROGRESS event loses nothing.
type Event struct {
	Kind      Kind   `json:"k"`
	RunID     int    `json:"r"`
	AccountID int    `json:"a,omitempty"`
	Message   string `json:"m,omitempty"`
}

// Bus publishes events to subscribers. Implementations deliver every event to every
// subscriber of every node, each subscriber at most once.
type Bus interface {
	// Publish sends an event. It never blocks on subscribers.
	Publish(e Event)
	// Subscribe returns a subscription to all events. Its channel is closed by
	// Close.
	Subscribe() *Subscription
}

// SubscriberBuffer is how many events a subscriber may fall behind before it starts
// losing PROGRESS events (which are merged: the next one says as much).
const SubscriberBuffer = 256

// Subscription is one subscriber's stream of events.
type Subscription struct {
	C       <-chan Event
	c       chan Event
	hub     *Hub
	mu      sync.Mutex
	closed  bool
	dropped int
}

// Close ends the subscription and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	s.hub.remove(s)
}

// Dropped reports how many events were dropped because the subscriber was slow.
func (s *Subscription) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Hub is the in-process fan-out: every published event goes to every subscription's
// buffered channel, without waiting. A subscriber whose buffer is full loses that
// event (counted in Dropped) instead of slowing the publisher or anyone else; a
// FINISHED event is never dropped: it replaces the oldest buffered one.
type Hub struct {
	mu   sync.RWMutex
	subs map[*Subscription]struct{}
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{subs: map[*Subscription]struct{}{}} }

// Publish delivers e to every subscriber of this process.
func (h *Hub) Publish(e Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs {
		s.deliver(e)
	}
}

func (s *Subscription) deliver(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.c <- e:
		return
	default:
	}
	if e.Kind != Finished {
		s.dropped++
		return
	}
	// Make room for the event that ends a stream.
	select {
	case <-s.c:
		s.dropped++
	default:
	}
	select {
	case s.c <- e:
	default:
		s.dropped++
	}
}

// Subscribe adds a subscriber.
func (h *Hub) Subscribe() *Subscription {
	c := make(chan Event, SubscriberBuffer)
	s := &Subscription{C: c, c: c, hub: h}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Subscribers returns the number of subscribers; for tests and metrics.
func (h *Hub) Subscribers() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.c)
	}
	s.mu.Unlock()
}

// Local is the Bus of a single process (SQLite): events go straight to the hub.
type Local struct{ *Hub }

// NewLocal returns a single-process bus.
func NewLocal() *Local { return &Local{NewHub()} }
