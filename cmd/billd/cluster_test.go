package main_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// clusterAccounts is the size of the crash tests' run.
const clusterAccounts = 5000

// seedDB writes the seed catalog and n accounts (15.00 a month each) into the
// database at url, through an instance that bills nothing itself.
func seedDB(t *testing.T, url string, n int) {
	t.Helper()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DatabaseURL: url, NoWorkers: true})
	require.NoError(t, err)
	defer srv.Close()
	cat, err := seed.NewCatalog(ctx, srv.Catalog, "Seed")
	require.NoError(t, err)
	_, err = seed.Accounts(ctx, srv.DB.Client, cat, n, calendar.MustParse("2024-01-01"))
	require.NoError(t, err)
}

// invoiceBook is what a run billed, per account name: the invoice total and its lines.
type invoiceBook map[string]string

// book reads every invoice of the database: account name → total and line amounts.
func book(t *testing.T, url string) invoiceBook {
	t.Helper()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DatabaseURL: url, NoWorkers: true})
	require.NoError(t, err)
	defer srv.Close()
	invs, err := srv.DB.Client.Invoice.Query().WithAccount().WithLines().All(ctx)
	require.NoError(t, err)
	out := invoiceBook{}
	for _, inv := range invs {
		var lines []string
		sum := money.Zero
		for _, l := range inv.Edges.Lines {
			lines = append(lines, l.Description+" "+l.PeriodStart.String()+" "+l.Amount.String())
			sum = sum.Add(l.Amount)
		}
		require.True(t, sum.Equal(inv.Total), "invoice %s total %s, lines add up to %s", inv.Number, inv.Total, sum)
		sort.Strings(lines)
		name := inv.Edges.Account.Name
		require.NotContains(t, out, name, "one invoice per account and run")
		out[name] = inv.Total.String() + " | " + strings.Join(lines, ", ")
	}
	var dup int
	require.NoError(t, srv.DB.SQL.QueryRow("SELECT COUNT(*) FROM (SELECT guard FROM charges GROUP BY guard HAVING COUNT(*) > 1) d").Scan(&dup))
	require.Zero(t, dup, "no guard is charged twice")
	return out
}

// referenceBook bills the same set-up without interruption, in-process.
func referenceBook(t *testing.T, dialect string, n int) invoiceBook {
	t.Helper()
	url := testenv.DatabaseURL(t, dialect)
	seedDB(t, url, n)
	b := testenv.StartURL(t, dialect, url)
	b.MustQuery(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-01-31", wait: true}) { status } }`, nil, nil)
	return book(t, url)
}

// node is a `billd serve` process.
type node struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

func startNode(t *testing.T, bin, dbURL string, extraEnv ...string) *node {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"BILLD_ADDR=" + addr, "BILLD_DATABASE_URL=" + dbURL,
		"BILLD_BOOTSTRAP_ADMIN_KEY=" + testenv.AdminKey, "BILLD_RATE_LIMIT=-1",
		"BILLD_LOG_LEVEL=warn", "BILLD_BATCH_LEASE=2s", "BILLD_BATCH_SIZE=25", "BILLD_BATCH_PAUSE=15ms"}, extraEnv...)...)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	n := &node{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { n.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 50*time.Millisecond, "node never became ready")
	return n
}

func (n *node) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, n.cmd.Process.Signal(syscall.SIGKILL))
	<-n.done
}

// startRun starts a January run through a node's API and returns its id at once.
func (n *node) startRun(t *testing.T) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+n.addr+"/query", strings.NewReader(
		`{"query":"mutation { startBillRun(input: {periodStart: \"2024-01-01\", periodEnd: \"2024-01-31\"}) { id status } }"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testenv.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct {
		Data struct {
			StartBillRun struct{ ID, Status string }
		}
		Errors []any
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Empty(t, out.Errors)
	require.Contains(t, []string{"QUEUED", "RUNNING"}, out.Data.StartBillRun.Status, "startBillRun returns at once")
	return out.Data.StartBillRun.ID
}

type progressEvent struct {
	Kind    string
	BillRun struct {
		Status            string
		AccountsProcessed int
		InvoicesCreated   int
		ChargesCreated    int
		Totals            []struct{ Amount string }
	}
}

// watch subscribes to a run on a node with one of the protocols and sends every
// event to events, closing it when the server completes the subscription.
func watch(t *testing.T, n *node, protocol, runID string, events chan<- progressEvent) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocol}, HandshakeTimeout: 5 * time.Second}
	conn, _, err := d.Dial("ws://"+n.addr+"/query", nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	start, result := "subscribe", "next"
	if protocol == "graphql-ws" {
		start, result = "start", "data"
	}
	require.NoError(t, conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + testenv.AdminKey}}))
	q := `subscription($id: ID!) { billRunProgress(id: $id) { kind billRun { status accountsProcessed invoicesCreated chargesCreated totals { amount } } } }`
	require.NoError(t, conn.WriteJSON(map[string]any{"id": "1", "type": start,
		"payload": map[string]any{"query": q, "variables": map[string]any{"id": runID}}}))
	go func() {
		defer close(events)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(90 * time.Second))
			var m struct {
				Type    string
				Payload json.RawMessage
			}
			if err := conn.ReadJSON(&m); err != nil {
				return
			}
			switch m.Type {
			case result:
				var res struct {
					Data struct{ BillRunProgress progressEvent }
				}
				if json.Unmarshal(m.Payload, &res) == nil {
					events <- res.Data.BillRunProgress
				}
			case "complete", "error":
				return
			}
		}
	}()
}

// collect drains a subscriber's events and checks their order.
func collect(t *testing.T, name string, events <-chan progressEvent) progressEvent {
	t.Helper()
	var all []progressEvent
	for e := range events {
		all = append(all, e)
	}
	require.GreaterOrEqual(t, len(all), 2, "%s: events", name)
	require.Equal(t, "SNAPSHOT", all[0].Kind, name)
	require.Equal(t, "FINISHED", all[len(all)-1].Kind, name)
	for i := 1; i < len(all); i++ {
		require.GreaterOrEqual(t, all[i].BillRun.AccountsProcessed, all[i-1].BillRun.AccountsProcessed, "%s: counters never go back", name)
	}
	return all[len(all)-1]
}

func checkFinal(t *testing.T, final progressEvent) {
	t.Helper()
	require.Equal(t, "COMPLETED", final.BillRun.Status)
	require.Equal(t, clusterAccounts, final.BillRun.AccountsProcessed)
	require.Equal(t, clusterAccounts, final.BillRun.InvoicesCreated)
	require.Equal(t, 2*clusterAccounts, final.BillRun.ChargesCreated)
	require.Len(t, final.BillRun.Totals, 1)
	require.Equal(t, "75000.00", final.BillRun.Totals[0].Amount) // 5,000 × (10.00 + 5.00)
}

// TestClusterSurvivesSIGKILL runs three nodes on one PostgreSQL database. A run of
// 5,000 accounts started on one node is billed by all three and watched from the two
// others (one per websocket protocol); the billing node is killed with SIGKILL once a
// quarter is billed. The run finishes on the survivors, both subscribers see it end,
// and the invoices are those of an uninterrupted run.
func TestClusterSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if os.Getenv(testenv.PostgresEnv) == "" {
		t.Skipf("several nodes need PostgreSQL: set %s (make test and CI do)", testenv.PostgresEnv)
	}
	bin := buildBilld(t)
	want := referenceBook(t, "postgres", clusterAccounts)

	url := testenv.DatabaseURL(t, "postgres")
	seedDB(t, url, clusterAccounts)
	a, b, c := startNode(t, bin, url), startNode(t, bin, url), startNode(t, bin, url)

	runID := c.startRun(t)
	evA, evB := make(chan progressEvent, 1000), make(chan progressEvent, 1000)
	watch(t, a, "graphql-transport-ws", runID, evA)
	watch(t, b, "graphql-ws", runID, evB)

	// Kill c once a quarter of the run is billed, from what a's subscriber sees.
	tee := make(chan progressEvent, 1000)
	var once sync.Once
	killedAt := -1
	go func() {
		defer close(tee)
		for e := range evA {
			if e.BillRun.AccountsProcessed >= clusterAccounts/4 {
				once.Do(func() {
					killedAt = e.BillRun.AccountsProcessed
					c.kill(t)
				})
			}
			tee <- e
		}
	}()
	finalA := collect(t, "node a", tee)
	finalB := collect(t, "node b", evB)
	require.Positive(t, killedAt, "node c was killed")
	require.Less(t, killedAt, clusterAccounts, "node c was killed before the run finished")
	checkFinal(t, finalA)
	checkFinal(t, finalB)
	require.Equal(t, want, book(t, url), "the same invoices as an uninterrupted run")
}

// TestRestartResumesRun kills the only node of an SQLite database in the middle of a
// run; started again, it resumes the run and ends with the invoices of an
// uninterrupted run.
func TestRestartResumesRun(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	want := referenceBook(t, "sqlite", clusterAccounts)

	url := testenv.DatabaseURL(t, "sqlite")
	seedDB(t, url, clusterAccounts)
	n := startNode(t, bin, url)
	runID := n.startRun(t)
	events := make(chan progressEvent, 1000)
	watch(t, n, "graphql-transport-ws", runID, events)
	killedAt := 0
	for e := range events {
		if e.BillRun.AccountsProcessed >= clusterAccounts/4 {
			killedAt = e.BillRun.AccountsProcessed
			break
		}
	}
	n.kill(t)
	require.Positive(t, killedAt)
	require.Less(t, killedAt, clusterAccounts, "the node was killed before the run finished")

	again := startNode(t, bin, url)
	events = make(chan progressEvent, 1000)
	watch(t, again, "graphql-transport-ws", runID, events)
	final := collect(t, "restarted node", events)
	checkFinal(t, final)
	require.Equal(t, want, book(t, url), "the same invoices as an uninterrupted run")
}
