package graph_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// liveRun is the bill run as the subscription shows it.
type liveRun struct {
	ID                string `json:"id"`
	Status            string `json:"status"`
	AccountsTotal     int    `json:"accountsTotal"`
	AccountsProcessed int    `json:"accountsProcessed"`
	AccountsFailed    int    `json:"accountsFailed"`
	InvoicesCreated   int    `json:"invoicesCreated"`
	ChargesCreated    int    `json:"chargesCreated"`
	Totals            []struct {
		Currency struct{ Code string } `json:"currency"`
		Amount   string                `json:"amount"`
	} `json:"totals"`
}

type liveEvent struct {
	Kind    string  `json:"kind"`
	Message *string `json:"message"`
	Account *struct {
		ID string `json:"id"`
	} `json:"account"`
	BillRun liveRun `json:"billRun"`
}

const qProgress = `subscription ($id: ID!) { billRunProgress(id: $id) {
	kind message account { id }
	billRun { id status accountsTotal accountsProcessed accountsFailed invoicesCreated chargesCreated
	          totals { currency { code } amount } } } }`

// seedAccounts writes n accounts, each with the seed package (10.00 + 5.00 monthly)
// effective 2024-01-01.
func seedAccounts(t *testing.T, b *testenv.Billd, n int) seed.Catalog {
	t.Helper()
	ctx := context.Background()
	cat, err := seed.NewCatalog(ctx, b.Catalog, "Seed")
	require.NoError(t, err)
	_, err = seed.Accounts(ctx, b.DB.Client, cat, n, calendar.MustParse("2024-01-01"))
	require.NoError(t, err)
	return cat
}

// startRun starts a January bill run without waiting and returns its id.
func startRun(t *testing.T, b *testenv.Billd) string {
	t.Helper()
	var out struct {
		StartBillRun struct {
			ID     string
			Status string
		}
	}
	b.MustQuery(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "2024-01-31", wait: false}) { id status } }`, nil, &out)
	require.Contains(t, []string{"QUEUED", "RUNNING", "COMPLETED"}, out.StartBillRun.Status)
	return out.StartBillRun.ID
}

// subscribeLegacy follows a run over the legacy graphql-ws protocol with gorilla and
// returns its events once the server completes the subscription.
func subscribeLegacy(t *testing.T, b *testenv.Billd, runID string) []liveEvent {
	t.Helper()
	conn := dialWS(t, b, []string{"graphql-ws"})
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	payload, _ := json.Marshal(map[string]any{"query": qProgress, "variables": map[string]any{"id": runID}})
	require.NoError(t, conn.WriteJSON(wsMessage{ID: "1", Type: "start", Payload: payload}))
	var events []liveEvent
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
		var m wsMessage
		require.NoError(t, conn.ReadJSON(&m))
		switch m.Type {
		case "ka":
		case "data":
			var res struct {
				Data   struct{ BillRunProgress liveEvent }
				Errors []any
			}
			require.NoError(t, json.Unmarshal(m.Payload, &res))
			require.Empty(t, res.Errors)
			events = append(events, res.Data.BillRunProgress)
		case "complete":
			return events
		default:
			t.Fatalf("unexpected message %s: %s", m.Type, m.Payload)
		}
	}
	t.Fatal("the subscription did not complete")
	return nil
}

// checkSequence asserts the contract's event order: SNAPSHOT first, FINISHED last,
// PROGRESS in between with counters that never go back.
func checkSequence(t *testing.T, events []liveEvent) liveRun {
	t.Helper()
	require.GreaterOrEqual(t, len(events), 2)
	require.Equal(t, "SNAPSHOT", events[0].Kind)
	last := events[len(events)-1]
	require.Equal(t, "FINISHED", last.Kind)
	prev := events[0].BillRun.AccountsProcessed
	for _, e := range events[1 : len(events)-1] {
		require.Contains(t, []string{"PROGRESS", "ACCOUNT_FAILED"}, e.Kind)
		require.GreaterOrEqual(t, e.BillRun.AccountsProcessed, prev, "counters never go back")
		prev = e.BillRun.AccountsProcessed
	}
	return last.BillRun
}

// TestBillRunProgressLegacy follows a run of 1,200 accounts over the legacy protocol:
// 1,200 invoices of 15.00 (10.00 + 5.00 for January), 2,400 charges, 18,000.00 USD.
// A subscriber that joins after the end still gets the snapshot and FINISHED.
func TestBillRunProgressLegacy(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		seedAccounts(t, b, 1200)
		id := startRun(t, b)
		final := checkSequence(t, subscribeLegacy(t, b, id))
		require.Equal(t, "COMPLETED", final.Status)
		require.Equal(t, 1200, final.AccountsTotal)
		require.Equal(t, 1200, final.AccountsProcessed)
		require.Equal(t, 0, final.AccountsFailed)
		require.Equal(t, 1200, final.InvoicesCreated)
		require.Equal(t, 2400, final.ChargesCreated)
		require.Len(t, final.Totals, 1)
		require.Equal(t, "USD", final.Totals[0].Currency.Code)
		require.Equal(t, "18000.00", final.Totals[0].Amount)

		late := subscribeLegacy(t, b, id)
		require.Len(t, late, 2)
		require.Equal(t, "SNAPSHOT", late[0].Kind)
		require.Equal(t, "FINISHED", late[1].Kind)
		require.Equal(t, final, late[1].BillRun)
	})
}

// TestBillRunJSClient follows a run of 3,000 accounts with the npm graphql-ws client
// (protocol graphql-transport-ws) in Node.js, installed by `npm ci` in test/js.
func TestBillRunJSClient(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the JavaScript client test (CI installs it)")
	dir, err := filepath.Abs("../test/js")
	require.NoError(t, err)
	npmCI(t, dir)
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		seedAccounts(t, b, 3000)
		id := startRun(t, b)
		url := "ws" + strings.TrimPrefix(b.HTTP.URL, "http") + "/query"
		cmd := exec.Command(node, filepath.Join(dir, "watch-run.mjs"), url, id)
		cmd.Env = append(os.Environ(), "BILLD_API_KEY="+b.Key)
		out, err := cmd.Output()
		require.NoError(t, err, "node: %s", out)
		var res struct {
			Completed bool        `json:"completed"`
			Error     any         `json:"error"`
			Events    []liveEvent `json:"events"`
		}
		require.NoError(t, json.Unmarshal(out, &res), "%s", out)
		require.Nil(t, res.Error)
		require.True(t, res.Completed)
		final := checkSequence(t, res.Events)
		require.Equal(t, "COMPLETED", final.Status)
		require.Equal(t, 3000, final.AccountsProcessed)
		require.Equal(t, 3000, final.InvoicesCreated)
		require.Equal(t, 6000, final.ChargesCreated)
		require.Equal(t, "45000.00", final.Totals[0].Amount) // 3,000 × 15.00
		require.Equal(t, 0, b.Count("bill_run_errors"))
	})
}

// npmCI installs the JavaScript client once per test binary.
func npmCI(t *testing.T, dir string) {
	t.Helper()
	npmOnce.Do(func() {
		installed := true
		for _, pkg := range []string{"graphql-ws", "graphql-http", "graphql"} {
			if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
				installed = false
			}
		}
		if installed {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		npmErr = err
		if err != nil {
			npmErr = &npmError{err: err, out: string(out)}
		}
	})
	require.NoError(t, npmErr)
}

// TestBillRunCancel cancels a run while it bills: it ends CANCELED, and what it billed
// is whole: every account has both of its charges on one invoice, or nothing.
func TestBillRunCancel(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			// Small batches and a pause after each make the run last a few seconds,
			// so the cancel surely finds it running.
			b := testenv.StartWith(t, dialect, server.Config{Workers: 1, Billing: billrun.Config{
				BatchSize: 20, Pause: 50 * time.Millisecond}})
			cancelMidRun(t, b)
		})
	}
}

func cancelMidRun(t *testing.T, b *testenv.Billd) {
	{
		seedAccounts(t, b, 2000)
		id := startRun(t, b)
		var out struct{ CancelBillRun liveRun }
		b.MustQuery(`mutation($id: ID!) { cancelBillRun(id: $id) { id status accountsTotal accountsProcessed } }`,
			map[string]any{"id": id}, &out)
		final := checkSequence(t, subscribeLegacy(t, b, id))
		require.Equal(t, "CANCELED", final.Status)
		require.Less(t, final.AccountsProcessed, 2000, "the cancel stopped the run early")
		require.Equal(t, final.AccountsProcessed, final.InvoicesCreated)
		require.Equal(t, 2*final.InvoicesCreated, final.ChargesCreated)
		require.Equal(t, final.InvoicesCreated, b.Count("invoices"))
		require.Equal(t, 2*final.InvoicesCreated, b.Count("charges"))
		// Canceling again is refused: the run has finished.
		e := b.MustFail(`mutation($id: ID!) { cancelBillRun(id: $id) { id } }`, map[string]any{"id": id}, "FAILED_PRECONDITION")
		require.Contains(t, e.Message, "finished")
	}
}

// TestBillRunFailingAccount breaks one package's frequency in the database: its
// account is recorded as failed (ACCOUNT_FAILED on the stream, an error on the run),
// and the others are billed.
func TestBillRunFailingAccount(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			testFailingAccount(t, testenv.StartWith(t, dialect, server.Config{NoWorkers: true}))
		})
	}
}

func testFailingAccount(t *testing.T, b *testenv.Billd) {
	cat := seedAccounts(t, b, 300)
	// A second package whose frequency is corrupted (interval count 0).
	broken, err := seed.NewCatalog(context.Background(), b.Catalog, "Broken")
	require.NoError(t, err)
	ids, err := seed.Accounts(context.Background(), b.DB.Client, broken, 1, calendar.MustParse("2024-01-01"))
	require.NoError(t, err)
	_, err = b.DB.SQL.Exec("UPDATE package_frequencies SET interval_count = 0 WHERE id = " + strconv.Itoa(broken.FrequencyID))
	require.NoError(t, err)
	_ = cat
	id := startRun(t, b)
	// Subscribed before any worker bills, so the failure is seen live.
	f := followRun(t, b, id)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, b.StartWorkers(ctx))
	events := readRun(t, f)
	final := checkSequence(t, events)
	require.Equal(t, "COMPLETED_WITH_ERRORS", final.Status)
	require.Equal(t, 301, final.AccountsProcessed)
	require.Equal(t, 1, final.AccountsFailed)
	require.Equal(t, 300, final.InvoicesCreated)
	failed := 0
	for _, e := range events {
		if e.Kind == "ACCOUNT_FAILED" {
			failed++
			require.Equal(t, strconv.Itoa(ids[0]), e.Account.ID)
			require.NotEmpty(t, *e.Message)
		}
	}
	// The event may be merged away only if the subscriber was slow; this one is not.
	require.Equal(t, 1, failed)
	var q struct {
		Node struct {
			Errors []struct {
				Account struct{ ID string }
				Message string
			}
		}
	}
	b.MustQuery(`query($id: ID!) { node(id: $id) { ... on BillRun { errors { account { id } message } } } }`,
		map[string]any{"id": id}, &q)
	require.Len(t, q.Node.Errors, 1)
	require.Equal(t, strconv.Itoa(ids[0]), q.Node.Errors[0].Account.ID)
}

// TestBillRunsChanged streams run changes for a dashboard over graphql-transport-ws.
func TestBillRunsChanged(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	seedAccounts(t, b, 500)
	conn := dialWS(t, b, []string{"graphql-transport-ws"})
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	payload, _ := json.Marshal(map[string]any{"query": `subscription { billRunsChanged { id status accountsProcessed } }`})
	require.NoError(t, conn.WriteJSON(wsMessage{ID: "d", Type: "subscribe", Payload: payload}))
	time.Sleep(200 * time.Millisecond) // the subscription is registered before the run starts
	id := startRun(t, b)
	for {
		m := readWS(t, conn)
		require.Equal(t, "next", m.Type, "%s", m.Payload)
		var res struct {
			Data struct {
				BillRunsChanged struct {
					ID                string
					Status            string
					AccountsProcessed int
				}
			}
		}
		require.NoError(t, json.Unmarshal(m.Payload, &res))
		r := res.Data.BillRunsChanged
		require.Equal(t, id, r.ID)
		if r.Status == "COMPLETED" {
			require.Equal(t, 500, r.AccountsProcessed)
			break
		}
	}
	require.NoError(t, conn.WriteJSON(wsMessage{ID: "d", Type: "complete"}))
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

var (
	npmOnce sync.Once
	npmErr  error
)

type npmError struct {
	err error
	out string
}

func (e *npmError) Error() string { return "npm ci: " + e.err.Error() + "\n" + e.out }

// TestSlowAndGoneSubscribers: a subscriber that never reads does not hold the run or
// the other subscribers back, and subscribers that go away (abruptly or not) leave
// nothing behind.
func TestSlowAndGoneSubscribers(t *testing.T) {
	t.Parallel()
	b := testenv.Start(t, "sqlite")
	seedAccounts(t, b, 1500)
	hub, ok := b.Bus.(interface{ Subscribers() int })
	require.True(t, ok)
	id := startRun(t, b)

	subscribe := func(protocol string) *websocket.Conn {
		conn := dialWS(t, b, []string{protocol})
		require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: b.InitPayload()}))
		require.Equal(t, "connection_ack", readWS(t, conn).Type)
		payload, _ := json.Marshal(map[string]any{"query": qProgress, "variables": map[string]any{"id": id}})
		require.NoError(t, conn.WriteJSON(wsMessage{ID: "s", Type: "subscribe", Payload: payload}))
		return conn
	}
	// Ten subscribers that never read again, one that hangs up after its first event.
	var stalled []*websocket.Conn
	for i := 0; i < 10; i++ {
		stalled = append(stalled, subscribe("graphql-transport-ws"))
	}
	gone := subscribe("graphql-transport-ws")
	require.Equal(t, "next", readWS(t, gone).Type)
	require.NoError(t, gone.UnderlyingConn().Close()) // no close frame: the client just vanishes

	final := checkSequence(t, subscribeLegacy(t, b, id))
	require.Equal(t, "COMPLETED", final.Status)
	require.Equal(t, 1500, final.AccountsProcessed)

	for _, c := range stalled {
		_ = c.Close()
	}
	require.Eventually(t, func() bool { return hub.Subscribers() == 0 }, 10*time.Second, 20*time.Millisecond,
		"every subscription is released when its client is gone")
}

// TestBillRunFailsAfterRepeatedBatchFailures: a batch tried MaxAttempts times without
// completing (its workers died or it failed as a whole each time) fails its run
// instead of being retried forever; subscribers see FINISHED with FAILED.
func TestBillRunFailsAfterRepeatedBatchFailures(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := testenv.DatabaseURL(t, dialect)
			// An instance without workers plans the run; nothing bills it yet.
			planner := testenv.StartWith(t, dialect, server.Config{DatabaseURL: url, NoWorkers: true})
			seedAccounts(t, planner, 50)
			id := startRun(t, planner)
			// Its one batch's job has been tried MaxAttempts times already.
			_, err := planner.DB.SQL.Exec("UPDATE river_job SET attempt = " + strconv.Itoa(billrun.MaxAttempts))
			require.NoError(t, err)
			// A worker now finds the exhausted batch.
			worker := testenv.StartURL(t, dialect, url)
			final := checkSequence(t, subscribeLegacy(t, worker, id))
			require.Equal(t, "FAILED", final.Status)
			require.Zero(t, final.InvoicesCreated)
			require.Zero(t, planner.Count("invoices"))
		})
	}
}

// TestCancelWithDeadNodesBatch: a run is canceled while its batch's job runs on a node
// that died; once the job system rescues that job a live worker closes the batch, and
// the run ends CANCELED with nothing billed.
func TestCancelWithDeadNodesBatch(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			url := testenv.DatabaseURL(t, dialect)
			planner := testenv.StartWith(t, dialect, server.Config{DatabaseURL: url, NoWorkers: true})
			seedAccounts(t, planner, 50)
			id := startRun(t, planner)
			// A node that took the batch's job, started billing it account by account
			// (CLAIMED) and died: the job is running, attempted by it, long ago.
			require.NoError(t, planner.DB.Client.BillRunBatch.Update().SetState(billrunbatch.StateCLAIMED).
				Exec(context.Background()))
			long := "2000-01-01 00:00:00"
			_, err := planner.DB.SQL.Exec("UPDATE river_job SET state = 'running', attempt = 1, attempted_at = '" + long +
				"', attempted_by = " + map[string]string{"sqlite": `'["dead"]'`, "postgres": `'{dead}'`}[dialect])
			require.NoError(t, err)
			var out struct{ CancelBillRun liveRun }
			planner.MustQuery(`mutation($id: ID!) { cancelBillRun(id: $id) { status } }`, map[string]any{"id": id}, &out)
			require.Equal(t, "QUEUED", out.CancelBillRun.Status, "the dead node's batch is still open")
			worker := testenv.StartWith(t, dialect, server.Config{DatabaseURL: url, Lease: time.Second})
			final := checkSequence(t, subscribeLegacy(t, worker, id))
			require.Equal(t, "CANCELED", final.Status)
			require.Zero(t, final.InvoicesCreated)
		})
	}
}
