package progress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the PostgreSQL notification channel of bill-run events. Notifications
// are per database, not per schema, so a database URL that picks a schema
// (search_path) gets a channel of that schema's own.
const Channel = "billd_bill_runs"

// channelFor returns the channel for a database URL.
func channelFor(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Channel
	}
	sp := u.Query().Get("search_path")
	if sp == "" {
		return Channel
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(sp))
	return fmt.Sprintf("%s_%08x", Channel, h.Sum32())
}

// Postgres is the Bus of nodes sharing a PostgreSQL database: Publish sends a
// NOTIFY, and every node (this one included) LISTENs on a dedicated connection and
// hands what it hears to its hub. Publishing never waits for a subscriber; it queues
// the event and a sender goroutine issues the NOTIFYs.
type Postgres struct {
	*Hub
	url     string
	channel string
	log     *slog.Logger
	out     chan Event
	done    chan struct{}
}

// NewPostgres starts listening and sending on the database at url until ctx ends.
// It returns once the listener is connected, so no event published after it returns
// is missed by this node.
func NewPostgres(ctx context.Context, url string, log *slog.Logger) (*Postgres, error) {
	p := &Postgres{Hub: NewHub(), url: url, channel: channelFor(url), log: log, out: make(chan Event, 4096), done: make(chan struct{})}
	conn, err := p.listen(ctx)
	if err != nil {
		return nil, err
	}
	go p.receive(ctx, conn)
	go p.send(ctx)
	return p, nil
}

// Publish queues e for every node. If the queue is full (the database is not keeping
// up) PROGRESS events are dropped; they are merged by nature.
func (p *Postgres) Publish(e Event) {
	if e.Kind == Progress {
		select {
		case p.out <- e:
		default:
		}
		return
	}
	select {
	case p.out <- e:
	case <-p.done:
	}
}

func (p *Postgres) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{p.channel}.Sanitize()); err != nil {
		_ = conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// receive hands notifications to the hub, reconnecting after a lost connection.
func (p *Postgres) receive(ctx context.Context, conn *pgx.Conn) {
	defer close(p.done)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			_ = conn.Close(context.Background())
			if ctx.Err() != nil {
				return
			}
			p.log.Warn("progress listener lost its connection; reconnecting", "error", err)
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
				if conn, err = p.listen(ctx); err == nil {
					break
				}
			}
			continue
		}
		var e Event
		if err := json.Unmarshal([]byte(n.Payload), &e); err != nil {
			p.log.Warn("ignoring a malformed progress notification", "payload", n.Payload)
			continue
		}
		p.Hub.Publish(e)
	}
}

// send issues the queued NOTIFYs on a connection of its own.
func (p *Postgres) send(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.Background())
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-p.out:
			payload, _ := json.Marshal(e)
			for attempt := 0; ; attempt++ {
				if conn == nil {
					c, err := pgx.Connect(ctx, p.url)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						time.Sleep(200 * time.Millisecond)
						continue
					}
					conn = c
				}
				_, err := conn.Exec(ctx, "SELECT pg_notify($1, $2)", p.channel, string(payload))
				if err == nil {
					break
				}
				_ = conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil || errors.Is(err, context.Canceled) || attempt >= 3 {
					p.log.Warn("dropping a progress event", "error", err)
					break
				}
			}
		}
	}
}
