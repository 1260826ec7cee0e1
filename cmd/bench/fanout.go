package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// fanout connects n websocket subscribers to one run (a February run over some
// accounts, slowed by the server's batch pause so it lasts while they connect) and
// reports how many saw FINISHED, how long after the run's finishedAt the last one
// did, and the server's memory per connection.
func fanout(ch *child, n int, accountIDs []int) (seen int, lag time.Duration, perConnKB float64, err error) {
	ids := make([]string, len(accountIDs))
	for i, id := range accountIDs {
		ids[i] = fmt.Sprint(id)
	}
	idv, err := gql(ch.base, `mutation($ids: [ID!]) { startBillRun(input: {periodStart: "2024-02-02", periodEnd: "2024-03-01", accountIds: $ids}) { id } }`,
		map[string]any{"ids": ids}, "startBillRun", "id")
	if err != nil {
		return 0, 0, 0, err
	}
	id := idv.(string)
	before, _ := ch.rss()
	wsURL := "ws" + strings.TrimPrefix(ch.base, "http") + "/query"
	q := `subscription($id: ID!) { billRunProgress(id: $id) { kind billRun { status accountsProcessed } } }`
	var mu sync.Mutex
	var finishedAt []time.Time
	var conns []*websocket.Conn
	ready := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 30 * time.Second}
		conn, _, err := d.Dial(wsURL, nil)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns = append(conns, conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + benchKey}})
			_ = conn.WriteJSON(map[string]any{"id": "1", "type": "subscribe",
				"payload": map[string]any{"query": q, "variables": map[string]any{"id": id}}})
			first := true
			for {
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Minute))
				var m struct {
					Type    string
					Payload json.RawMessage
				}
				if conn.ReadJSON(&m) != nil {
					return
				}
				if m.Type == "next" && first {
					first = false
					ready <- struct{}{}
				}
				if m.Type == "next" && strings.Contains(string(m.Payload), `"FINISHED"`) {
					mu.Lock()
					finishedAt = append(finishedAt, time.Now())
					mu.Unlock()
				}
				if m.Type == "complete" || m.Type == "error" {
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		<-ready
	}
	after, _ := ch.rss()
	perConnKB = float64(after-before) / float64(n) / 1024
	wg.Wait()
	for _, c := range conns {
		_ = c.Close()
	}
	run, err := waitRun(ch.base, id, func(int) {})
	if err != nil {
		return 0, 0, 0, err
	}
	if run.FinishedAt == nil || len(finishedAt) == 0 {
		return len(finishedAt), 0, perConnKB, nil
	}
	last := finishedAt[0]
	for _, t := range finishedAt {
		if t.After(last) {
			last = t
		}
	}
	return len(finishedAt), last.Sub(*run.FinishedAt), perConnKB, nil
}
