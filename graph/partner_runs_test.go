package graph_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// TestPartnerRunView: a bill run seen through a PARTNER key carries the partner's own
// figures, and its live events tell only of the partner's accounts.
//
// Five USD accounts on a 50.00 monthly package: A1 and A2 are partner A's, B1 and B2
// partner B's (B2 on a package whose frequency is broken, so billing it fails), and
// House belongs to no partner. January billed: 4 invoices of 50.00, 1 failure.
//
//	admin:     5 accounts, 5 processed, 1 failed, 4 invoices, 4 charges, USD 200.00
//	partner A: 2 accounts, 2 processed, 0 failed, 2 invoices, 2 charges, USD 100.00
//	partner B: 2 accounts, 2 processed, 1 failed, 1 invoice,  1 charge,  USD  50.00
func TestPartnerRunView(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			// No workers: the run waits until both partners are subscribed.
			b := testenv.StartWith(t, dialect, server.Config{NoWorkers: true})
			e := &bxEnv{t: t, b: b}
			_, accs, _ := bxSimple(e, "50.00", "A1", "A2", "B1", "House")
			line := e.service("Broken line", "RECURRING")
			broken := e.pkg("Broken", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "50.00"))
			b2 := e.account("B2", 1)
			e.provision(broken, b2, "2024-01-01", nil)
			_, err := b.DB.SQL.Exec("UPDATE package_frequencies SET interval_count = 0 WHERE id = " + broken.Freq)
			require.NoError(t, err)

			partner := func(name string) string {
				var out struct{ CreatePartner struct{ ID string } }
				b.MustQuery(`mutation($n: String!) { createPartner(input: {name: $n}) { id } }`, map[string]any{"n": name}, &out)
				return out.CreatePartner.ID
			}
			pa, pb := partner("Reseller A"), partner("Reseller B")
			for acc, p := range map[string]string{accs[0]: pa, accs[1]: pa, accs[2]: pb, b2: pb} {
				b.MustQuery(`mutation($id: ID!, $p: ID!) { updateAccount(id: $id, input: {partnerId: $p}) { id } }`,
					map[string]any{"id": acc, "p": p}, nil)
			}
			key := func(p string) *testenv.Billd {
				var out struct{ CreateApiKey struct{ Key string } }
				b.MustQuery(`mutation($p: ID!) { createApiKey(input: {name: "portal", role: PARTNER, partnerId: $p}) { key } }`,
					map[string]any{"p": p}, &out)
				return b.As(out.CreateApiKey.Key)
			}
			asA, asB := key(pa), key(pb)

			id := startRun(t, b)
			connA, connB := followRun(t, asA, id), followRun(t, asB, id)
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			require.NoError(t, b.StartWorkers(ctx))
			evA, evB := readRun(t, connA), readRun(t, connB)

			usd := func(r liveRun) string {
				var s []string
				for _, x := range r.Totals {
					s = append(s, x.Currency.Code+" "+x.Amount)
				}
				return strings.Join(s, ", ")
			}
			type figures struct {
				Total, Processed, Failed, Invoices, Charges int
				Totals                                      string
			}
			fig := func(r liveRun) figures {
				return figures{r.AccountsTotal, r.AccountsProcessed, r.AccountsFailed, r.InvoicesCreated, r.ChargesCreated, usd(r)}
			}
			wantA := figures{2, 2, 0, 2, 2, "USD 100.00"}
			wantB := figures{2, 2, 1, 1, 1, "USD 50.00"}

			lastA, lastB := checkSequence(t, evA), checkSequence(t, evB)
			require.Equal(t, "COMPLETED_WITH_ERRORS", lastA.Status)
			require.Equal(t, wantA, fig(lastA))
			require.Equal(t, wantB, fig(lastB))
			for _, ev := range evA {
				require.NotEqual(t, "ACCOUNT_FAILED", ev.Kind, "B2's failure is not partner A's to see")
				require.LessOrEqual(t, ev.BillRun.AccountsTotal, 2)
			}
			var failed []string
			for _, ev := range evB {
				if ev.Kind == "ACCOUNT_FAILED" {
					failed = append(failed, ev.Account.ID)
				}
			}
			require.Equal(t, []string{b2}, failed)

			const q = `query($id: ID!) { node(id: $id) { ... on BillRun { id status accountsTotal accountsProcessed
				accountsFailed invoicesCreated chargesCreated totals { currency { code } amount } errors { account { id } } } } }`
			read := func(v *testenv.Billd) (liveRun, []string) {
				var out struct {
					Node struct {
						liveRun
						Errors []struct{ Account struct{ ID string } }
					}
				}
				v.MustQuery(q, map[string]any{"id": id}, &out)
				var errs []string
				for _, e := range out.Node.Errors {
					errs = append(errs, e.Account.ID)
				}
				return out.Node.liveRun, errs
			}
			admin, adminErrs := read(b)
			require.Equal(t, figures{5, 5, 1, 4, 4, "USD 200.00"}, fig(admin))
			require.Equal(t, []string{b2}, adminErrs)
			runA, errsA := read(asA)
			require.Equal(t, wantA, fig(runA))
			require.Empty(t, errsA)
			runB, errsB := read(asB)
			require.Equal(t, wantB, fig(runB))
			require.Equal(t, []string{b2}, errsB)

			// The same view through the list and through an invoice's run.
			var list struct {
				BillRuns struct {
					TotalCount int
					Edges      []struct{ Node liveRun }
				}
			}
			asA.MustQuery(`{ billRuns { totalCount edges { node { id status accountsTotal accountsProcessed accountsFailed
				invoicesCreated chargesCreated totals { currency { code } amount } } } } }`, nil, &list)
			require.Equal(t, 1, list.BillRuns.TotalCount)
			require.Equal(t, wantA, fig(list.BillRuns.Edges[0].Node))
			var invs struct {
				Invoices struct {
					TotalCount int
					Edges      []struct {
						Node struct {
							Account struct{ ID string }
							BillRun liveRun
						}
					}
				}
			}
			asA.MustQuery(`{ invoices { totalCount edges { node { account { id } billRun { id accountsTotal accountsProcessed
				accountsFailed invoicesCreated chargesCreated totals { currency { code } amount } } } } } }`, nil, &invs)
			require.Equal(t, 2, invs.Invoices.TotalCount)
			for _, edge := range invs.Invoices.Edges {
				require.Contains(t, []string{accs[0], accs[1]}, edge.Node.Account.ID)
				require.Equal(t, wantA, fig(edge.Node.BillRun))
			}
		})
	}
}

// followRun subscribes v's key to a run over graphql-transport-ws and waits for its
// SNAPSHOT, so every later event reaches it.
func followRun(t *testing.T, v *testenv.Billd, runID string) *followed {
	t.Helper()
	conn := dialWS(t, v, []string{"graphql-transport-ws"})
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: v.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	payload, _ := json.Marshal(map[string]any{"query": qProgress, "variables": map[string]any{"id": runID}})
	require.NoError(t, conn.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload}))
	f := &followed{conn: conn}
	f.events = readEvents(t, conn, 1)
	require.Equal(t, "SNAPSHOT", f.events[0].Kind)
	return f
}

// followed is a subscription to a run and the events read from it so far.
type followed struct {
	conn   *websocket.Conn
	events []liveEvent
}

// readRun reads a followed run's events until the server completes it.
func readRun(t *testing.T, f *followed) []liveEvent {
	t.Helper()
	return append(f.events, readEvents(t, f.conn, -1)...)
}

// readEvents reads n events (all of them until completion if n < 0).
func readEvents(t *testing.T, conn *websocket.Conn, n int) []liveEvent {
	t.Helper()
	var events []liveEvent
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		m := readWS(t, conn)
		switch m.Type {
		case "next":
			var res struct {
				Data   struct{ BillRunProgress liveEvent }
				Errors []any
			}
			require.NoError(t, json.Unmarshal(m.Payload, &res))
			require.Empty(t, res.Errors)
			events = append(events, res.Data.BillRunProgress)
			if len(events) == n {
				return events
			}
		case "complete":
			require.Negative(t, n, "the subscription completed early")
			return events
		case "ping":
		default:
			t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
		}
	}
	t.Fatal("the subscription did not complete")
	return nil
}
