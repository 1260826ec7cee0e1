package billrun_test

// Package tests of bill runs (internal/billrun/README.md, docs/bill-runs.md,
// docs/billing.md 4.8 and 5) on real databases, SQLite always and PostgreSQL when
// BILLD_TEST_POSTGRES_URL is set. The catalog, accounts and account-packages are built
// through their own services; the batches are billed by real River workers.
//
// Each bundle's Service inserts jobs through a runner that works none, so a test
// arranges the queued jobs (holds some back, exhausts their attempts, queues one
// twice) before it starts a billing node with work(). Every expected amount is worked
// out by hand from docs/billing.md, with the arithmetic in a comment beside it.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

func d(s string) calendar.Date { return calendar.MustParse(s) }
func m(s string) money.Decimal { return money.MustParse(s) }
func ptr[T any](v T) *T        { return &v }

// patience bounds every wait: a run of a few batches takes well under a second.
const patience = 20 * time.Second

// now is the fixed clock: runs are created, started and finished at it, and invoices
// are issued on its day.
var now = time.Date(2024, 2, 1, 9, 30, 0, 0, time.UTC)

// eachDialect runs fn as a parallel subtest per database testenv offers.
func eachDialect(t *testing.T, fn func(t *testing.T, dia string)) {
	t.Helper()
	for _, dia := range testenv.Dialects() {
		t.Run(dia, func(t *testing.T) {
			t.Parallel()
			fn(t, dia)
		})
	}
}

// nodes numbers the River clients of the test binary, whose ids must differ.
var nodes atomic.Int64

// pkg is a catalog package and its one frequency.
type pkg struct{ id, freq int }

// bundle is a fresh database with the catalog below and the services over it:
//
//   - Duo: Service A 50.00 and Service B 25.00, monthly, USD (docs/billing.md 4.1);
//   - Line: Line 30.00 USD or 27.00 EUR, monthly;
//   - Weekly: Week 7.00 USD, weekly.
//
// runs is the Service under test; its runner (jobs) only inserts: nothing is billed
// until work() starts a node that works the billing queue.
type bundle struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	clk  *clock.Fixed
	bus  *progress.Local
	cat  *catalog.Service
	acc  *account.Service
	prov *provisioning.Service
	bill *billing.Service
	jobs *job.Runner
	runs *billrun.Service

	duo, line, weekly pkg
}

func setup(t *testing.T, dia string) *bundle { return setupWith(t, dia, billrun.Config{}) }

// setupWith builds the bundle with a bill-run configuration of its own; BatchSize
// defaults to 2, so the seven accounts of world() make four batches.
func setupWith(t *testing.T, dia string, cfg billrun.Config) *bundle {
	t.Helper()
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 2
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = 20 * time.Millisecond
	}
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 50 * time.Millisecond
	}
	db := testenv.OpenDB(t, dia)
	clk := clock.NewFixed(now)
	b := &bundle{t: t, ctx: t.Context(), db: db, clk: clk, bus: progress.NewLocal(), cat: catalog.New(db.Client),
		acc: account.New(db, clk), prov: provisioning.New(db, clk), bill: billing.New(db, clk, nil)}
	jobs, err := job.New(db, job.Config{ClientID: fmt.Sprintf("billrun-test-planner-%d", nodes.Add(1))}, nil)
	require.NoError(t, err)
	b.jobs = jobs
	b.runs = billrun.New(db, b.bill, jobs, clk, nil, b.bus, cfg)
	b.runs.RegisterWorkers(jobs)
	require.NoError(t, jobs.Start(context.Background()))

	svc := func(name string) int {
		s, err := b.cat.CreateService(b.ctx, catalog.CreateServiceInput{Name: name, Kind: service.KindRECURRING})
		require.NoError(t, err)
		return s.ID
	}
	price := func(svc int, cur, amount string) *catalog.ServicePriceInput {
		return &catalog.ServicePriceInput{ServiceID: svc, Currency: cur,
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m(amount)}}}
	}
	a, bb, ln, wk := svc("Service A"), svc("Service B"), svc("Line"), svc("Week")
	b.duo = b.pkg("Duo", []string{"USD"}, packagefrequency.IntervalMONTH, price(a, "USD", "50.00"), price(bb, "USD", "25.00"))
	b.line = b.pkg("Line", []string{"USD", "EUR"}, packagefrequency.IntervalMONTH, price(ln, "USD", "30.00"), price(ln, "EUR", "27.00"))
	b.weekly = b.pkg("Weekly", []string{"USD"}, packagefrequency.IntervalWEEK, price(wk, "USD", "7.00"))
	return b
}

// pkg creates a package of the priced services (one instance each) on one frequency.
func (b *bundle) pkg(name string, currencies []string, interval packagefrequency.Interval, prices ...*catalog.ServicePriceInput) pkg {
	b.t.Helper()
	in := catalog.CreatePackageInput{Name: name, Currencies: currencies,
		Frequencies: []*catalog.PackageFrequencyInput{{Name: string(interval), Interval: interval, Prices: prices}}}
	seen := map[int]bool{}
	for _, p := range prices {
		if !seen[p.ServiceID] {
			seen[p.ServiceID] = true
			in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: p.ServiceID})
		}
	}
	p, err := b.cat.CreatePackage(b.ctx, in)
	require.NoError(b.t, err)
	f, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(p.ID)).Only(b.ctx)
	require.NoError(b.t, err)
	return pkg{id: p.ID, freq: f.ID}
}

// account opens an account and provisions p on it from effective ("" for none).
func (b *bundle) account(name, currency string, billDay int, p pkg, effective string) int {
	b.t.Helper()
	a, err := b.acc.Create(b.ctx, account.CreateAccountInput{Name: name, Currency: currency, BillDay: billDay})
	require.NoError(b.t, err)
	if effective != "" {
		_, err := b.prov.Provision(b.ctx, provisioning.ProvisionPackageInput{AccountID: a.ID, PackageID: p.id,
			FrequencyID: p.freq, EffectiveDate: d(effective)})
		require.NoError(b.t, err)
	}
	return a.ID
}

// bill is what runs billed one account: its invoices' currency, their total and their
// lines.
type bill struct {
	Currency string
	Total    string
	Charges  int
}

// world is the accounts most tests bill, in id order; with BatchSize 2 they make
// four batches: [duoFull, duoMid], [lineMid, lineDay15], [weekly, idle], [euro].
type world struct {
	duoFull, duoMid, lineMid, lineDay15, weekly, idle, euro int
	jan, feb, janFeb                                        map[int]bill
}

// world opens the seven accounts, each with what a January run (2024-01-01..01-31)
// bills it, a February run after it, and one run over both months from scratch.
func (b *bundle) world() *world {
	b.t.Helper()
	w := &world{}
	w.duoFull = b.account("Duo full", "USD", 1, b.duo, "2024-01-01")
	w.duoMid = b.account("Duo mid", "USD", 1, b.duo, "2024-01-15")
	w.lineMid = b.account("Line mid", "USD", 1, b.line, "2024-01-10")
	w.lineDay15 = b.account("Line day 15", "USD", 15, b.line, "2024-01-20")
	w.weekly = b.account("Weekly", "USD", 1, b.weekly, "2024-01-01")
	w.idle = b.account("Idle", "USD", 1, pkg{}, "")
	w.euro = b.account("Euro", "EUR", 1, b.line, "2024-01-01")
	w.jan = map[int]bill{
		// E = 01-01 is bill day 1's anchor: the period [01-01, 02-01) in full, A 50.00 +
		// B 25.00 = 75.00 (docs/billing.md 4.1, "full month").
		w.duoFull: {"USD", "75.00", 2},
		// [01-15, 02-01) = 17 of 31 days: A 50 × 17/31 = 27.419… → 27.42, B 25 × 17/31 =
		// 13.709… → 13.71; 27.42 + 13.71 = 41.13 ("mid-month start").
		w.duoMid: {"USD", "41.13", 2},
		// [01-10, 02-01) = 22 of 31 days: 30 × 22/31 = 660/31 = 21.290… → 21.29.
		w.lineMid: {"USD", "21.29", 1},
		// Bill day 15: A0 = 02-15; [01-20, 02-15) = 26 days of the full period
		// [01-15, 02-15) = 31: 30 × 26/31 = 780/31 = 25.161… → 25.16.
		w.lineDay15: {"USD", "25.16", 1},
		// Weeks from E while nextBillDate ≤ 01-31: 01-01, 08, 15, 22, 29: 5 × 7.00 = 35.00.
		w.weekly: {"USD", "35.00", 5},
		// idle: nothing provisioned, no invoice (docs/billing.md 4.3).
		// [01-01, 02-01) in full in EUR: 27.00.
		w.euro: {"EUR", "27.00", 1},
	}
	w.feb = map[int]bill{
		w.duoFull: {"USD", "75.00", 2}, // [02-01, 03-01) in full: 50.00 + 25.00
		w.duoMid:  {"USD", "75.00", 2}, // nextBillDate 02-01: the same full period
		w.lineMid: {"USD", "30.00", 1}, // [02-01, 03-01)
		// nextBillDate 02-15 ≤ 02-29: [02-15, 03-15) in full.
		w.lineDay15: {"USD", "30.00", 1},
		// nextBillDate 02-05: weeks 02-05, 12, 19, 26: 4 × 7.00 = 28.00.
		w.weekly: {"USD", "28.00", 4},
		w.euro:   {"EUR", "27.00", 1},
	}
	// One run over 2024-01-01..02-29 from scratch bills January and February of each
	// account: the sums of the two.
	w.janFeb = map[int]bill{
		w.duoFull:   {"USD", "150.00", 4}, // 75.00 + 75.00
		w.duoMid:    {"USD", "116.13", 4}, // 41.13 + 75.00
		w.lineMid:   {"USD", "51.29", 2},  // 21.29 + 30.00
		w.lineDay15: {"USD", "55.16", 2},  // 25.16 + 30.00
		w.weekly:    {"USD", "63.00", 9},  // 9 weeks, 01-01 to 02-26: 35.00 + 28.00
		w.euro:      {"EUR", "54.00", 2},  // 27.00 + 27.00
	}
	return w
}

// janFigures is what a January run over world() ends with: 7 accounts; 6 invoices
// (idle has none); 2 + 2 + 1 + 1 + 5 + 1 = 12 lines; USD 75.00 + 41.13 + 21.29 +
// 25.16 + 35.00 = 197.58, EUR 27.00.
var janFigures = figures{Status: "COMPLETED", Total: 7, Processed: 7, Invoices: 6, Charges: 12,
	Totals: map[string]string{"USD": "197.58", "EUR": "27.00"}}

// janBatches is what each batch of that run ends with.
var janBatches = []batchFigures{
	{State: "DONE", Accounts: 2, Invoices: 2, Charges: 4, Totals: map[string]string{"USD": "116.13"}}, // 75.00 + 41.13
	{State: "DONE", Accounts: 2, Invoices: 2, Charges: 2, Totals: map[string]string{"USD": "46.45"}},  // 21.29 + 25.16
	{State: "DONE", Accounts: 2, Invoices: 1, Charges: 5, Totals: map[string]string{"USD": "35.00"}},  // weekly; idle none
	{State: "DONE", Accounts: 1, Invoices: 1, Charges: 1, Totals: map[string]string{"EUR": "27.00"}},
}

// firstBatch is what the run holds once only its first batch (duoFull, duoMid) is
// billed: 2 of 7 accounts, 2 invoices, 4 lines, 75.00 + 41.13 = 116.13.
func firstBatch(status string) figures {
	return figures{Status: status, Total: 7, Processed: 2, Invoices: 2, Charges: 4,
		Totals: map[string]string{"USD": "116.13"}}
}

func jan() billrun.StartInput {
	return billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-01-31")}
}

func feb() billrun.StartInput {
	return billrun.StartInput{PeriodStart: d("2024-02-01"), PeriodEnd: d("2024-02-29")}
}

// work starts a node that bills: a runner working the billing queue with two
// workers, stopped when the test ends.
func (b *bundle) work() {
	b.t.Helper()
	r, err := job.New(b.db, job.Config{ClientID: fmt.Sprintf("billrun-test-worker-%d", nodes.Add(1)),
		Queues:     map[string]job.Queue{job.QueueBilling: {Workers: 2, PollInterval: 20 * time.Millisecond}},
		RetryDelay: 10 * time.Millisecond}, nil)
	require.NoError(b.t, err)
	b.runs.RegisterWorkers(r)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(b.t, r.Start(ctx))
	b.t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = r.Stop(sctx)
		cancel()
	})
}

func (b *bundle) start(in billrun.StartInput) *ent.BillRun {
	b.t.Helper()
	run, err := b.runs.Start(b.ctx, in)
	require.NoError(b.t, err)
	return run
}

func (b *bundle) run(id int) *ent.BillRun {
	b.t.Helper()
	run, err := b.db.Client.BillRun.Get(b.ctx, id)
	require.NoError(b.t, err)
	return run
}

// eventually polls cond until it holds, failing the test after patience.
func (b *bundle) eventually(what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %s for %s", patience, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finished waits for the run's final status and returns it.
func (b *bundle) finished(id int) *ent.BillRun {
	b.t.Helper()
	var run *ent.BillRun
	b.eventually(fmt.Sprintf("bill run %d to finish", id), func() bool {
		run = b.run(id)
		return billrun.Final(run.Status)
	})
	return run
}

// settled waits until every job has completed: nothing is left to run.
func (b *bundle) settled() []jobRow {
	b.t.Helper()
	var rows []jobRow
	b.eventually("every job to complete", func() bool {
		rows = b.jobRows()
		for _, r := range rows {
			if r.State != "completed" {
				return false
			}
		}
		return true
	})
	return rows
}

// figures is what a run's row holds.
type figures struct {
	Status                                      string
	Total, Processed, Failed, Invoices, Charges int
	Totals                                      map[string]string // by currency code
}

func amounts(ms map[string]money.Decimal) map[string]string {
	out := map[string]string{}
	for code, v := range ms {
		out[code] = money.AtLeastScale(v, 2).String()
	}
	return out
}

func figuresOf(r *ent.BillRun) figures {
	return figures{Status: string(r.Status), Total: r.AccountsTotal, Processed: r.AccountsProcessed,
		Failed: r.AccountsFailed, Invoices: r.InvoicesCreated, Charges: r.ChargesCreated, Totals: amounts(r.Totals)}
}

func (f figures) with(status string) figures {
	f.Status = status
	return f
}

// batchFigures is what a batch's row holds.
type batchFigures struct {
	State                               string
	Accounts, Failed, Invoices, Charges int
	Totals                              map[string]string
}

func (b *bundle) batches(runID int) []*ent.BillRunBatch {
	b.t.Helper()
	bs, err := b.db.Client.BillRunBatch.Query().Where(billrunbatch.BillRunID(runID)).
		Order(ent.Asc(billrunbatch.FieldSeq)).All(b.ctx)
	require.NoError(b.t, err)
	return bs
}

func (b *bundle) batchFigures(runID int) []batchFigures {
	b.t.Helper()
	var out []batchFigures
	for _, bt := range b.batches(runID) {
		out = append(out, batchFigures{State: string(bt.State), Accounts: bt.Accounts, Failed: bt.Failed,
			Invoices: bt.Invoices, Charges: bt.Charges, Totals: amounts(bt.Totals)})
	}
	return out
}

func (b *bundle) batchStates(runID int) []string {
	b.t.Helper()
	var out []string
	for _, bt := range b.batches(runID) {
		out = append(out, string(bt.State))
	}
	return out
}

// billed sums the invoices of the given runs by account: currency, total and lines.
// It requires at most one invoice per account per run (docs/billing.md 4.3), each
// invoice's total the sum of its lines.
func (b *bundle) billed(runs ...int) map[int]bill {
	b.t.Helper()
	invs, err := b.db.Client.Invoice.Query().Where(invoice.BillRunIDIn(runs...)).WithCurrency().WithLines().
		Order(ent.Asc(invoice.FieldID)).All(b.ctx)
	require.NoError(b.t, err)
	sums := map[int]money.Decimal{}
	out := map[int]bill{}
	seen := map[[2]int]bool{}
	for _, in := range invs {
		key := [2]int{*in.BillRunID, in.AccountID}
		require.False(b.t, seen[key], "run %d made two invoices for account %d", *in.BillRunID, in.AccountID)
		seen[key] = true
		lines := money.Zero
		for _, l := range in.Edges.Lines {
			require.Equal(b.t, in.AccountID, l.AccountID)
			lines = lines.Add(l.Amount)
		}
		require.True(b.t, lines.Equal(in.Total), "invoice %s totals its lines", in.Number)
		sums[in.AccountID] = sums[in.AccountID].Add(in.Total)
		got := out[in.AccountID]
		got.Currency = in.Edges.Currency.Code
		got.Charges += len(in.Edges.Lines)
		out[in.AccountID] = got
	}
	for acc, sum := range sums {
		got := out[acc]
		got.Total = money.AtLeastScale(sum, 2).String()
		out[acc] = got
	}
	return out
}

// only returns the entries of want for the given accounts.
func only(want map[int]bill, accs ...int) map[int]bill {
	out := map[int]bill{}
	for _, a := range accs {
		if v, ok := want[a]; ok {
			out[a] = v
		}
	}
	return out
}

func (b *bundle) count(table string) int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.db.SQL.QueryRowContext(b.ctx, "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// rows counts what runs write: runs, batches, jobs, invoices, lines, errors.
func (b *bundle) rows() map[string]int {
	b.t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"bill_runs", "bill_run_batches", "river_job", "invoices", "charges", "bill_run_errors"} {
		out[tbl] = b.count(tbl)
	}
	return out
}

// exec runs a raw statement with ?-placeholders on either database.
func (b *bundle) exec(query string, args ...any) {
	b.t.Helper()
	if b.db.Dialect == "postgres" {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	_, err := b.db.SQL.ExecContext(b.ctx, query, args...)
	require.NoError(b.t, err)
}

// jobRow is a row of River's river_job table.
type jobRow struct {
	ID          int64
	Kind, Queue string
	State       string
	Attempt     int
	MaxAttempts int
	Errors      int // the errors of failed attempts River recorded
	Batch       int // BatchArgs.Batch
}

func (b *bundle) jobRows() []jobRow {
	b.t.Helper()
	// River keeps args as SQLite's binary JSON there, and errors as jsonb[] on
	// PostgreSQL.
	errs, args := "COALESCE(json_array_length(errors), 0)", "json(args)"
	if b.db.Dialect == "postgres" {
		errs, args = "COALESCE(array_length(errors, 1), 0)", "args::text"
	}
	rs, err := b.db.SQL.QueryContext(b.ctx, "SELECT id, kind, queue, state, attempt, max_attempts, "+errs+
		", "+args+" FROM river_job ORDER BY id")
	require.NoError(b.t, err)
	defer rs.Close()
	var out []jobRow
	for rs.Next() {
		var r jobRow
		var args []byte
		require.NoError(b.t, rs.Scan(&r.ID, &r.Kind, &r.Queue, &r.State, &r.Attempt, &r.MaxAttempts, &r.Errors, &args))
		var a billrun.BatchArgs
		require.NoError(b.t, json.Unmarshal(args, &a), "args %s", args)
		r.Batch = a.Batch
		out = append(out, r)
	}
	require.NoError(b.t, rs.Err())
	return out
}

// jobsOf returns the run's jobs in the order of their batches, one per batch.
func (b *bundle) jobsOf(runID int) []jobRow {
	b.t.Helper()
	seq := map[int]int{}
	for _, bt := range b.batches(runID) {
		seq[bt.ID] = bt.Seq
	}
	var out []jobRow
	for _, r := range b.jobRows() {
		if _, ok := seq[r.Batch]; ok {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return seq[out[i].Batch] < seq[out[j].Batch] })
	require.Len(b.t, out, len(seq), "one job per batch of run %d", runID)
	return out
}

func (b *bundle) job(id int64) jobRow {
	b.t.Helper()
	for _, r := range b.jobRows() {
		if r.ID == id {
			return r
		}
	}
	b.t.Fatalf("no job %d", id)
	return jobRow{}
}

// hold moves jobs to a queue no node works; release moves them back.
func (b *bundle) hold(jobs ...jobRow) {
	b.t.Helper()
	for _, j := range jobs {
		b.exec("UPDATE river_job SET queue = 'held' WHERE id = ?", j.ID)
	}
}

func (b *bundle) release(jobs ...jobRow) {
	b.t.Helper()
	for _, j := range jobs {
		b.exec("UPDATE river_job SET queue = ? WHERE id = ?", job.QueueBilling, j.ID)
	}
}

// again makes a completed job available to run once more, as if River had lost track
// of its completion.
func (b *bundle) again(jobs ...jobRow) {
	b.t.Helper()
	for _, j := range jobs {
		b.exec("UPDATE river_job SET state = 'available', finalized_at = NULL WHERE id = ?", j.ID)
	}
}

// exhaust records MaxAttempts tries on jobs, as if each had failed that often.
func (b *bundle) exhaust(jobs ...jobRow) {
	b.t.Helper()
	for _, j := range jobs {
		b.exec("UPDATE river_job SET attempt = ? WHERE id = ?", billrun.MaxAttempts, j.ID)
	}
}

// billAlone bills one account for run in a transaction of its own, as a node billing
// a batch one account at a time does.
func (b *bundle) billAlone(run *ent.BillRun, account int) {
	b.t.Helper()
	cc, err := billing.LoadCatalog(b.ctx, b.db.Client)
	require.NoError(b.t, err)
	req := billing.Request{BillRunID: run.ID, Range: rating.Range{Start: run.PeriodStart, End: run.PeriodEnd},
		PostingDate: run.PostingDate, BillCharges: run.BillCharges, CloseInvoices: run.CloseInvoices, Catalog: cc}
	require.NoError(b.t, b.db.InConnTx(b.ctx, func(ctx context.Context, _ *sql.Conn) error {
		_, err := b.bill.Bill(ctx, req, []int{account})
		return err
	}))
}

// completedAt waits until a job has completed after its n-th attempt.
func (b *bundle) completedAt(j jobRow, attempt int) {
	b.t.Helper()
	b.eventually(fmt.Sprintf("job %d to complete attempt %d", j.ID, attempt), func() bool {
		r := b.job(j.ID)
		return r.State == "completed" && r.Attempt == attempt
	})
}

func (b *bundle) batchDone(runID, seq int) {
	b.t.Helper()
	b.eventually(fmt.Sprintf("batch %d of run %d to be done", seq, runID), func() bool {
		return b.batches(runID)[seq].State == billrunbatch.StateDONE
	})
}

// requireFault checks err's code and field.
func requireFault(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "a coded error: %v", err)
	require.Equal(t, code, fe.Code, "code of %v", err)
	require.Equal(t, field, fe.Field, "field of %v", err)
}

// TestStartRefuses holds Start's refusals (docs/bill-runs.md "Starting and stopping";
// docs/access.md: a run's range is at most 3,660 days): a range out of order or far too
// long and an empty account list are BAD_USER_INPUT on the field at fault, an unknown
// account NOT_FOUND on its index in the list; a refused Start writes nothing, neither
// run nor batch nor job. Ranges within the bound are accepted, and a run with no
// account to bill finishes at once, COMPLETED with nothing planned.
func TestStartRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    billrun.StartInput
		code  fault.Code // "" when accepted
		field string
	}{
		{"end before start", billrun.StartInput{PeriodStart: d("2024-02-01"), PeriodEnd: d("2024-01-31")},
			fault.Invalid, "input.periodEnd"},
		// 2024-01-01..end covers 3,660 + 1 = 3,661 days, one more than a run may.
		{"range one day too long", billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-01-01").AddDays(3660)},
			fault.Invalid, "input.periodEnd"},
		{"empty account list", billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-01-31"), AccountIDs: []int{}},
			fault.Invalid, "input.accountIds"},
		{"unknown account", billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-01-31"), AccountIDs: []int{1 << 40}},
			fault.NotFound, "input.accountIds[0]"},
		{"one day", billrun.StartInput{PeriodStart: d("2024-01-31"), PeriodEnd: d("2024-01-31")}, "", ""},
		// 2024-01-01..end covers 3,659 + 1 = 3,660 days.
		{"3,660 days", billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-01-01").AddDays(3659)}, "", ""},
	}
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia) // no account: an accepted run has nothing to bill
		for _, tt := range tests {
			before := b.rows()
			run, err := b.runs.Start(b.ctx, tt.in)
			if tt.code != "" {
				requireFault(t, err, tt.code, tt.field)
				require.Nil(t, run)
				require.Equal(t, before, b.rows(), "%s: a refused run writes nothing", tt.name)
				continue
			}
			require.NoError(t, err, tt.name)
			require.Equal(t, figures{Status: "COMPLETED", Totals: map[string]string{}}, figuresOf(run), tt.name)
			require.NotNil(t, run.FinishedAt)
			require.Empty(t, b.batches(run.ID), "nothing to plan")
			after := b.rows()
			require.Equal(t, before["bill_runs"]+1, after["bill_runs"])
			require.Equal(t, before["river_job"], after["river_job"], "no batch, no job")
		}
	})
}

// TestStartPlans holds the plan (internal/billrun/README.md, "The flow" 1): Start
// writes the run QUEUED with its accounts in id order, BatchSize at a time (id ranges
// for a run over every account, the ids for a run over listed accounts, listed once
// each), and one job of kind bill_run_batch per batch on the billing queue, tried
// MaxAttempts + 1 times; the posting date defaults to periodEnd. It does so in one
// transaction: inside a transaction that rolls back it leaves nothing, and when the
// jobs cannot be queued no run or batch is written either.
func TestStartPlans(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()

		t.Run("every account", func(t *testing.T) {
			run := b.start(jan())
			require.Equal(t, figures{Status: "QUEUED", Total: 7, Totals: map[string]string{}}, figuresOf(run))
			require.Equal(t, "2024-01-31", run.PostingDate.String(), "postingDate defaults to periodEnd")
			require.True(t, run.BillCharges)
			require.False(t, run.CloseInvoices)
			require.Nil(t, run.AccountIds)
			require.True(t, now.Equal(run.CreatedAt))
			require.Nil(t, run.StartedAt)
			bs := b.batches(run.ID)
			require.Len(t, bs, 4, "7 accounts, 2 a batch: 2 + 2 + 2 + 1")
			for i, want := range [][]int{{w.duoFull, w.duoMid}, {w.lineMid, w.lineDay15}, {w.weekly, w.idle}, {w.euro}} {
				bt := bs[i]
				require.Equal(t, i, bt.Seq)
				require.Equal(t, billrunbatch.StatePENDING, bt.State)
				require.Equal(t, want[0], bt.FirstAccountID)
				require.Equal(t, want[len(want)-1], bt.LastAccountID)
				require.Equal(t, len(want), bt.Accounts)
				require.Nil(t, bt.AccountIds, "a range, not a list")
			}
			jobs := b.jobsOf(run.ID)
			for i, j := range jobs {
				require.Equal(t, bs[i].ID, j.Batch)
				require.Equal(t, "bill_run_batch", j.Kind)
				require.Equal(t, job.QueueBilling, j.Queue)
				require.Equal(t, "available", j.State)
				require.Equal(t, billrun.MaxAttempts+1, j.MaxAttempts)
				require.Zero(t, j.Attempt)
			}
		})

		t.Run("listed accounts", func(t *testing.T) {
			in := jan()
			in.AccountIDs = []int{w.euro, w.duoFull, w.lineMid, w.duoFull}
			in.PostingDate = ptr(d("2024-02-05"))
			run := b.start(in)
			require.Equal(t, []int{w.euro, w.duoFull, w.lineMid}, run.AccountIds, "listed once each")
			require.Equal(t, 3, run.AccountsTotal)
			require.Equal(t, "2024-02-05", run.PostingDate.String())
			bs := b.batches(run.ID)
			require.Len(t, bs, 2)
			require.Equal(t, []int{w.duoFull, w.lineMid}, bs[0].AccountIds, "in id order")
			require.Equal(t, []int{w.euro}, bs[1].AccountIds)
			require.Len(t, b.jobsOf(run.ID), 2)
		})

		t.Run("one transaction", func(t *testing.T) {
			before := b.rows()
			rollback := errors.New("rolled back")
			err := store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
				// Start joins the transaction ctx carries (store.InTx) and answers
				// the run as it stands there; it cannot wait for it there.
				in := jan()
				in.Wait = ptr(true)
				_, err := b.runs.Start(ctx, in)
				require.ErrorContains(t, err, "cannot be waited for")
				run, err := b.runs.Start(ctx, jan())
				require.NoError(t, err)
				require.Equal(t, "QUEUED", string(run.Status))
				require.Equal(t, 7, run.AccountsTotal)
				c := store.Client(ctx, b.db.Client)
				runs, err := c.BillRun.Query().Count(ctx)
				require.NoError(t, err)
				require.Equal(t, before["bill_runs"]+1, runs)
				batches, err := c.BillRunBatch.Query().Count(ctx)
				require.NoError(t, err)
				require.Equal(t, before["bill_run_batches"]+4, batches)
				tx, ok := store.SQLTx(ctx)
				require.True(t, ok)
				var jobs int
				require.NoError(t, tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM river_job").Scan(&jobs))
				require.Equal(t, before["river_job"]+4, jobs, "the jobs are in the transaction")
				require.Equal(t, before, b.rows(), "nothing is visible outside it")
				return rollback
			})
			require.ErrorIs(t, err, rollback)
			require.Equal(t, before, b.rows(), "the run, its batches and its jobs rolled back together")
		})

		t.Run("jobs not queued", func(t *testing.T) {
			before := b.rows()
			// A runner never started cannot insert jobs.
			idle, err := job.New(b.db, job.Config{}, nil)
			require.NoError(t, err)
			s := billrun.New(b.db, b.bill, idle, b.clk, nil, b.bus, billrun.Config{BatchSize: 2})
			_, err = s.Start(b.ctx, jan())
			require.Error(t, err)
			require.Equal(t, before, b.rows(), "no run and no batch without their jobs")
		})
	})
}

// TestRunBillsEveryAccount holds a run over more accounts than one batch
// (docs/bill-runs.md; docs/billing.md 4.1, 4.2, 4.3, 5): every account of the run is
// billed once with the amounts of the rules, each batch ends DONE with what it billed
// and its job completed at the first attempt, and the run ends COMPLETED with counters
// and totals that add up its accounts'. An account opened after the run started is
// not in it, and the next run catches it up; Wait returns the finished run.
func TestRunBillsEveryAccount(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()
		run := b.start(jan())
		require.Equal(t, "QUEUED", string(run.Status), "Start returns at once")
		late := b.account("Late", "USD", 1, b.duo, "2024-01-01")
		b.work()

		got := b.finished(run.ID)
		require.Equal(t, janFigures, figuresOf(got))
		require.Equal(t, w.jan, b.billed(run.ID))
		require.Equal(t, janBatches, b.batchFigures(run.ID))
		require.True(t, now.Equal(*got.StartedAt))
		require.True(t, now.Equal(*got.FinishedAt))
		for _, j := range b.settled() {
			require.Equal(t, 1, j.Attempt, "job %d completed at its first attempt", j.ID)
		}
		require.Zero(t, b.count("bill_run_errors"))
		invs, err := b.db.Client.Invoice.Query().Where(invoice.BillRunID(run.ID)).All(b.ctx)
		require.NoError(t, err)
		for _, in := range invs {
			require.Equal(t, invoice.StatusOPEN, in.Status)
			require.Equal(t, "2024-02-01", in.IssueDate.String(), "issued on the clock's day")
			require.Equal(t, "2024-01-31", in.PostingDate.String())
		}
		require.Equal(t, 12, b.count("charges"), "every line of the run, and nothing else")

		// February, waited for. Late was not in January's run: its nextBillDate
		// 2024-01-01 is caught up, January and February: 2 × (50.00 + 25.00) = 150.00,
		// 4 lines (docs/billing.md 4.2). USD 238.00 + 150.00 = 388.00; 6 + 1 invoices;
		// 11 + 4 = 15 lines.
		next := b.start(func() billrun.StartInput { in := feb(); in.Wait = ptr(true); return in }())
		require.Equal(t, figures{Status: "COMPLETED", Total: 8, Processed: 8, Invoices: 7, Charges: 15,
			Totals: map[string]string{"USD": "388.00", "EUR": "27.00"}}, figuresOf(next))
		want := map[int]bill{late: {"USD", "150.00", 4}}
		for acc, bl := range w.feb {
			want[acc] = bl
		}
		require.Equal(t, want, b.billed(next.ID))
		require.Equal(t, w.jan, b.billed(run.ID), "January's invoices are untouched")
	})
}

// TestRetriedBatchBillsNothingTwice holds exactly once under retries
// (internal/billrun/README.md "Invariants"; docs/billing.md 4.8): a batch's job run
// again after its work committed, or a second job for the same batch, charges no
// account twice and leaves the counters as they were: they are the hand-worked ones
// of a run tried once.
func TestRetriedBatchBillsNothingTwice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		test func(t *testing.T, b *bundle, w *world, run *ent.BillRun)
	}{
		{"a second job for a batch", func(t *testing.T, b *bundle, w *world, run *ent.BillRun) {
			first := b.jobsOf(run.ID)[0]
			require.NoError(t, store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
				return b.jobs.Insert(ctx, billrun.BatchArgs{Batch: first.Batch}, nil)
			}))
			b.work() // both jobs of the first batch are taken at once by the two workers
			require.Equal(t, janFigures, figuresOf(b.finished(run.ID)))
			jobs := b.settled()
			require.Len(t, jobs, 5, "4 batches, one of them queued twice")
			require.Equal(t, janFigures, figuresOf(b.run(run.ID)))
			require.Equal(t, w.jan, b.billed(run.ID))
			require.Equal(t, janBatches, b.batchFigures(run.ID))
		}},
		{"a job run again while its run is open", func(t *testing.T, b *bundle, w *world, run *ent.BillRun) {
			jobs := b.jobsOf(run.ID)
			b.hold(jobs[1:]...)
			b.work()
			b.batchDone(run.ID, 0)
			b.completedAt(jobs[0], 1)
			require.Equal(t, firstBatch("RUNNING"), figuresOf(b.run(run.ID)))

			b.again(jobs[0])
			b.completedAt(jobs[0], 2)
			require.Equal(t, firstBatch("RUNNING"), figuresOf(b.run(run.ID)), "the second run of the job counts nothing")
			require.Equal(t, only(w.jan, w.duoFull, w.duoMid), b.billed(run.ID))
			require.Equal(t, 4, b.count("charges"))

			b.release(jobs[1:]...)
			require.Equal(t, janFigures, figuresOf(b.finished(run.ID)))
			require.Equal(t, w.jan, b.billed(run.ID))
			require.Equal(t, janBatches, b.batchFigures(run.ID))
		}},
		{"every job run again after the run finished", func(t *testing.T, b *bundle, w *world, run *ent.BillRun) {
			b.work()
			done := b.finished(run.ID)
			require.Equal(t, janFigures, figuresOf(done))
			jobs := b.settled()
			before := b.rows()

			b.again(jobs...)
			for _, j := range jobs {
				b.completedAt(j, 2)
			}
			after := b.run(run.ID)
			require.Equal(t, janFigures, figuresOf(after))
			require.Equal(t, done.FinishedAt, after.FinishedAt)
			require.Equal(t, before, b.rows(), "nothing written")
			require.Equal(t, w.jan, b.billed(run.ID))
			require.Equal(t, janBatches, b.batchFigures(run.ID))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				w := b.world()
				tt.test(t, b, w, b.start(jan()))
			})
		})
	}
}

// TestOverlappingRuns holds exactly once across runs (docs/billing.md 4.8: "two
// overlapping runs ... never charge a period twice"): two runs over the same accounts,
// billed at once, charge every period once in total, whichever bills an account first;
// each finishes COMPLETED with counters that are exactly what it billed.
func TestOverlappingRuns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		second billrun.StartInput
		// want is what both runs bill together; usd, eur their totals and lines their
		// line count.
		want     func(w *world) map[int]bill
		usd, eur string
		lines    int
	}{
		// Both January: each account's January once; USD 197.58, EUR 27.00, 12 lines.
		{"same range", jan(), func(w *world) map[int]bill { return w.jan }, "197.58", "27.00", 12},
		// January, and January through February: each account's two months once. USD
		// 150.00 + 116.13 + 51.29 + 55.16 + 63.00 = 435.58, EUR 54.00; 4 + 4 + 2 + 2 + 9
		// + 2 = 23 lines.
		{"overlapping ranges", billrun.StartInput{PeriodStart: d("2024-01-01"), PeriodEnd: d("2024-02-29")},
			func(w *world) map[int]bill { return w.janFeb }, "435.58", "54.00", 23},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				w := b.world()
				one, two := b.start(jan()), b.start(tt.second)
				b.work()
				runs := []*ent.BillRun{b.finished(one.ID), b.finished(two.ID)}
				require.Equal(t, tt.want(w), b.billed(one.ID, two.ID), "each period billed once, by one run or the other")
				require.Equal(t, tt.lines, b.count("charges"))
				sum := map[string]money.Decimal{}
				invoices, lines := 0, 0
				for _, r := range runs {
					f := figuresOf(r)
					require.Equal(t, "COMPLETED", f.Status)
					require.Equal(t, 7, f.Processed)
					require.Zero(t, f.Failed)
					// The run's counters are what it billed.
					mine := b.billed(r.ID)
					n, totals := 0, map[string]money.Decimal{}
					for _, bl := range mine {
						n += bl.Charges
						totals[bl.Currency] = totals[bl.Currency].Add(m(bl.Total))
					}
					require.Equal(t, len(mine), f.Invoices, "invoices of run %d", r.ID)
					require.Equal(t, n, f.Charges, "lines of run %d", r.ID)
					require.Equal(t, amounts(totals), f.Totals, "totals of run %d", r.ID)
					invoices += f.Invoices
					lines += f.Charges
					for code, v := range r.Totals {
						sum[code] = sum[code].Add(v)
					}
				}
				require.Equal(t, b.count("invoices"), invoices)
				require.Equal(t, tt.lines, lines)
				require.Equal(t, map[string]string{"USD": tt.usd, "EUR": tt.eur}, amounts(sum))
			})
		})
	}
}

// broken opens an account whose package's frequency is corrupted (interval count 0,
// as graph/billrun_live_test.go does): billing it fails with an internal error.
func (b *bundle) broken() int {
	b.t.Helper()
	s, err := b.cat.CreateService(b.ctx, catalog.CreateServiceInput{Name: "Broken line", Kind: service.KindRECURRING})
	require.NoError(b.t, err)
	p := b.pkg("Broken", []string{"USD"}, packagefrequency.IntervalMONTH, &catalog.ServicePriceInput{ServiceID: s.ID,
		Currency: "USD", Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("10.00")}}})
	acc := b.account("Broken", "USD", 1, p, "2024-01-01")
	b.exec("UPDATE package_frequencies SET interval_count = 0 WHERE id = ?", p.freq)
	return acc
}

// behind opens an account whose Line package is unbilled since 2000-01-01: a run ending
// 2024-01-31 is beyond MaxSpanDays of it (docs/billing.md 4.2). It returns the account
// and its account-package.
func (b *bundle) behind() (int, int) {
	b.t.Helper()
	acc := b.account("Behind", "USD", 1, b.line, "2000-01-01")
	ap, err := b.db.Client.AccountPackage.Query().Where(accountpackage.AccountID(acc)).Only(b.ctx)
	require.NoError(b.t, err)
	return acc, ap.ID
}

// behindReason is why behind's account fails: days(2000-01-01, 2024-02-01) = 8,797 >
// 7,320; the latest periodEnd a catch-up run may have is 2000-01-01 + 7,319 days:
// 2020-01-01 is 7,305 days on (20 years, 5 of them leap), + 14 = 2020-01-15.
func behindReason(ap int) string {
	return fmt.Sprintf("account-package %d is unbilled since 2000-01-01: one run bills at most 7320 days of an "+
		"account-package, so bill it first with a run ending on or before 2020-01-15", ap)
}

// internalReason is what a run shows of a failure that is not a coded one.
const internalReason = "internal error while billing the account"

// TestFailingAccount holds "one failure is one failure" (docs/billing.md 4.8;
// internal/billrun/README.md "The flow" 4): an account that cannot be billed is
// recorded in the run's errors with its reason (the coded message, or an internal
// error) and nothing of it is written, while the other accounts of its batch and of
// the run are billed in full; the run finishes COMPLETED_WITH_ERRORS with the failures
// counted.
func TestFailingAccount(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		brk := b.broken()
		w := b.world()
		late, lateAP := b.behind()
		// Batches: [broken, duoFull], [duoMid, lineMid], [lineDay15, weekly],
		// [idle, euro], [behind].
		run := b.start(jan())
		b.work()
		got := b.finished(run.ID)

		// The good accounts' January, as in janFigures; 9 accounts, 2 failed.
		require.Equal(t, figures{Status: "COMPLETED_WITH_ERRORS", Total: 9, Processed: 9, Failed: 2, Invoices: 6,
			Charges: 12, Totals: map[string]string{"USD": "197.58", "EUR": "27.00"}}, figuresOf(got))
		require.Equal(t, w.jan, b.billed(run.ID))
		errs, err := b.db.Client.BillRunError.Query().Where(billrunerror.BillRunID(run.ID)).
			Order(ent.Asc(billrunerror.FieldAccountID)).All(b.ctx)
		require.NoError(t, err)
		reasons := map[int]string{}
		for _, e := range errs {
			reasons[e.AccountID] = e.Message
		}
		require.Equal(t, map[int]string{brk: internalReason, late: behindReason(lateAP)}, reasons)
		for _, acc := range []int{brk, late} {
			n, err := b.db.Client.Charge.Query().Where(charge.AccountID(acc)).Count(b.ctx)
			require.NoError(t, err)
			require.Zero(t, n, "nothing written for failed account %d", acc)
		}
		ap, err := b.db.Client.AccountPackage.Get(b.ctx, lateAP)
		require.NoError(t, err)
		require.Equal(t, "2000-01-01", ap.NextBillDate.String(), "its position did not move")
		fs := b.batchFigures(run.ID)
		require.Equal(t, batchFigures{State: "DONE", Accounts: 2, Failed: 1, Invoices: 1, Charges: 2,
			Totals: map[string]string{"USD": "75.00"}}, fs[0], "broken failed, duoFull billed beside it")
		require.Equal(t, batchFigures{State: "DONE", Accounts: 1, Failed: 1, Totals: map[string]string{}}, fs[4])
		b.settled()
	})
}

// TestCancel holds cancelBillRun (docs/bill-runs.md "Starting and stopping";
// internal/billrun/README.md "Invariants"): a run canceled before its batches run ends
// CANCELED at once and its jobs, when they run, bill nothing; canceled between batches
// it keeps what was billed, whole accounts, and bills nothing more; a batch being
// billed one account at a time (CLAIMED) keeps the run open until its job has closed
// it. Canceling a finished run is FAILED_PRECONDITION, an unknown run NOT_FOUND.
func TestCancel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		test func(t *testing.T, b *bundle, w *world)
	}{
		{"before any batch runs", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			canceled, err := b.runs.Cancel(b.ctx, run.ID)
			require.NoError(t, err)
			want := figures{Status: "CANCELED", Total: 7, Totals: map[string]string{}}
			require.Equal(t, want, figuresOf(canceled))
			require.True(t, canceled.CancelRequested)
			require.NotNil(t, canceled.FinishedAt)
			require.Equal(t, []string{"CANCELED", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))

			b.work()
			b.settled()
			require.Equal(t, want, figuresOf(b.run(run.ID)))
			require.Zero(t, b.count("invoices"))
			require.Zero(t, b.count("charges"))

			_, err = b.runs.Cancel(b.ctx, run.ID)
			requireFault(t, err, fault.FailedPrecondition, "")
		}},
		{"between batches", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			jobs := b.jobsOf(run.ID)
			b.hold(jobs[1:]...)
			b.work()
			b.batchDone(run.ID, 0)
			canceled, err := b.runs.Cancel(b.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, firstBatch("CANCELED"), figuresOf(canceled), "no batch is left: it ends at once")

			b.release(jobs[1:]...)
			b.settled()
			require.Equal(t, firstBatch("CANCELED"), figuresOf(b.run(run.ID)))
			require.Equal(t, []string{"DONE", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Equal(t, only(w.jan, w.duoFull, w.duoMid), b.billed(run.ID), "what was billed stays billed")
			require.Equal(t, 4, b.count("charges"))
		}},
		{"with a batch claimed", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			first := b.batches(run.ID)[0]
			// A node took the first batch to bill it one account at a time, billed
			// duoFull (75.00 USD, 2 lines) and stopped there.
			require.NoError(t, b.db.Client.BillRunBatch.UpdateOneID(first.ID).SetState(billrunbatch.StateCLAIMED).Exec(b.ctx))
			b.billAlone(run, w.duoFull)
			canceled, err := b.runs.Cancel(b.ctx, run.ID)
			require.NoError(t, err)
			require.Equal(t, "QUEUED", string(canceled.Status), "the claimed batch is still open")
			require.True(t, canceled.CancelRequested)
			require.Nil(t, canceled.FinishedAt)
			require.Equal(t, []string{"CLAIMED", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))

			// The batch's job (run again, its node gone) finds the run being canceled
			// and closes the batch with what it billed counted.
			b.work()
			want := figures{Status: "CANCELED", Total: 7, Processed: 1, Invoices: 1, Charges: 2,
				Totals: map[string]string{"USD": "75.00"}}
			require.Equal(t, want, figuresOf(b.finished(run.ID)))
			b.settled()
			require.Equal(t, want, figuresOf(b.run(run.ID)))
			require.Equal(t, []string{"DONE", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Equal(t, only(w.jan, w.duoFull), b.billed(run.ID))
		}},
		{"refusals", func(t *testing.T, b *bundle, w *world) {
			b.work()
			run := b.start(func() billrun.StartInput { in := jan(); in.Wait = ptr(true); return in }())
			require.Equal(t, janFigures, figuresOf(run))
			before := b.rows()
			_, err := b.runs.Cancel(b.ctx, run.ID)
			requireFault(t, err, fault.FailedPrecondition, "")
			require.Contains(t, err.Error(), "finished")
			require.Equal(t, janFigures, figuresOf(b.run(run.ID)))
			require.False(t, b.run(run.ID).CancelRequested)
			_, err = b.runs.Cancel(b.ctx, 1<<40)
			requireFault(t, err, fault.NotFound, "id")
			require.Equal(t, before, b.rows())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				tt.test(t, b, b.world())
			})
		})
	}
}

// TestRunFailsAfterMaxAttempts holds the FAILED status (docs/bill-runs.md "Starting and
// stopping"; internal/billrun/README.md "Invariants"): a batch whose job was tried
// MaxAttempts times without completing fails its run on the next try; the open
// batches are canceled, every job completes, and what was billed stays billed, so a
// new run over the same range bills only what is left.
func TestRunFailsAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		test func(t *testing.T, b *bundle, w *world)
	}{
		{"every job exhausted", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			b.exhaust(b.jobsOf(run.ID)...) // as graph/billrun_live_test.go does
			b.work()
			got := b.finished(run.ID)
			require.Equal(t, figures{Status: "FAILED", Total: 7, Totals: map[string]string{}}, figuresOf(got))
			require.NotNil(t, got.StartedAt)
			require.NotNil(t, got.FinishedAt)
			for _, j := range b.settled() {
				require.Equal(t, billrun.MaxAttempts+1, j.Attempt)
			}
			require.Equal(t, []string{"CANCELED", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Zero(t, b.count("invoices"))
		}},
		{"a batch failing as a whole", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			// A run row its workers cannot read: every try of every batch fails as a
			// whole, before billing anything.
			b.exec(`UPDATE bill_runs SET totals = '"unreadable"' WHERE id = ?`, run.ID)
			b.work()
			b.eventually("the run to fail", func() bool {
				var status string
				require.NoError(t, b.db.SQL.QueryRowContext(b.ctx, "SELECT status FROM bill_runs").Scan(&status))
				return status == "FAILED"
			})
			jobs := b.settled()
			b.exec("UPDATE bill_runs SET totals = NULL WHERE id = ?", run.ID)
			require.Equal(t, figures{Status: "FAILED", Total: 7, Totals: map[string]string{}}, figuresOf(b.run(run.ID)))
			for _, j := range jobs {
				require.Equal(t, billrun.MaxAttempts+1, j.Attempt)
				require.Equal(t, billrun.MaxAttempts, j.Errors, "job %d failed MaxAttempts times, then failed the run", j.ID)
			}
			require.Equal(t, []string{"CANCELED", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Zero(t, b.count("invoices"))
		}},
		{"with a batch claimed and partly billed", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			jobs := b.jobsOf(run.ID)
			b.hold(jobs...)
			// A node took the first batch to bill it one account at a time, billed
			// duoFull (75.00 USD, 2 lines) and stopped there.
			first := b.batches(run.ID)[0]
			require.NoError(t, b.db.Client.BillRunBatch.UpdateOneID(first.ID).SetState(billrunbatch.StateCLAIMED).Exec(b.ctx))
			b.billAlone(run, w.duoFull)
			b.exhaust(jobs[1])
			b.work()
			b.release(jobs[1])
			// The claimed batch closes with what it billed counted.
			want := figures{Status: "FAILED", Total: 7, Processed: 1, Invoices: 1, Charges: 2,
				Totals: map[string]string{"USD": "75.00"}}
			require.Equal(t, want, figuresOf(b.finished(run.ID)))
			b.release(jobs[0])
			b.release(jobs[2:]...)
			b.settled()
			require.Equal(t, want, figuresOf(b.run(run.ID)))
			require.Equal(t, []string{"DONE", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Equal(t, only(w.jan, w.duoFull), b.billed(run.ID))
		}},
		{"after a batch was billed", func(t *testing.T, b *bundle, w *world) {
			run := b.start(jan())
			jobs := b.jobsOf(run.ID)
			b.hold(jobs[1:]...)
			b.work()
			b.batchDone(run.ID, 0)
			b.exhaust(jobs[1])
			b.release(jobs[1])
			require.Equal(t, firstBatch("FAILED"), figuresOf(b.finished(run.ID)))
			b.release(jobs[2:]...)
			b.settled()
			require.Equal(t, firstBatch("FAILED"), figuresOf(b.run(run.ID)), "the run's jobs bill nothing once it failed")
			require.Equal(t, []string{"DONE", "CANCELED", "CANCELED", "CANCELED"}, b.batchStates(run.ID))
			require.Equal(t, only(w.jan, w.duoFull, w.duoMid), b.billed(run.ID), "what was billed stays billed")

			// A new run over January bills the rest: 21.29 + 25.16 + 35.00 = 81.45 USD,
			// 27.00 EUR; 4 invoices, 1 + 1 + 5 + 1 = 8 lines.
			in := jan()
			in.Wait = ptr(true)
			rest := b.start(in)
			require.Equal(t, figures{Status: "COMPLETED", Total: 7, Processed: 7, Invoices: 4, Charges: 8,
				Totals: map[string]string{"USD": "81.45", "EUR": "27.00"}}, figuresOf(rest))
			require.Equal(t, only(w.jan, w.lineMid, w.lineDay15, w.weekly, w.euro), b.billed(rest.ID))
			require.Equal(t, w.jan, b.billed(run.ID, rest.ID))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				tt.test(t, b, b.world())
			})
		})
	}
}

// next reads the next update of a watch, failing the test after patience.
func next(t *testing.T, ch <-chan billrun.Update) (billrun.Update, bool) {
	t.Helper()
	select {
	case u, ok := <-ch:
		return u, ok
	case <-time.After(patience):
		t.Fatalf("no update within %s", patience)
		return billrun.Update{}, false
	}
}

// TestWatchSlowReaderKeepsFailures holds that a watcher that reads late loses only
// PROGRESS updates (docs/bill-runs.md "Watching a run"): every ACCOUNT_FAILED reaches
// it before FINISHED, also when so many events came meanwhile that its subscription
// overflowed (the failures are then read back from the run).
func TestWatchSlowReaderKeepsFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		flood int // PROGRESS events published while the watcher does not read
	}{
		{"one update behind", 1},
		{"subscription overflowed", progress.SubscriberBuffer + 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				late, lateAP := b.behind()
				b.world()
				run := b.start(jan())
				ch, err := b.runs.Watch(b.ctx, run.ID)
				require.NoError(t, err)
				u, ok := next(t, ch)
				require.True(t, ok)
				require.Equal(t, billrun.Snapshot, u.Kind)
				// The watcher stops reading: its stream fills (one PROGRESS waits in
				// it, the next blocks the sender), then its subscription.
				b.bus.Publish(progress.Event{Kind: progress.Progress, RunID: run.ID})
				time.Sleep(5 * 20 * time.Millisecond) // a few ProgressEvery: the sender is blocked
				for range tc.flood {
					b.bus.Publish(progress.Event{Kind: progress.Progress, RunID: run.ID})
				}
				b.work()
				b.finished(run.ID)

				var kinds []billrun.EventKind
				failures := 0
				for {
					u, ok := next(t, ch)
					if !ok {
						break
					}
					kinds = append(kinds, u.Kind)
					if u.Kind == billrun.AccountFailed {
						failures++
						require.Equal(t, late, u.Account.ID)
						require.Equal(t, behindReason(lateAP), u.Message)
					}
				}
				require.Equal(t, 1, failures, "the failure reached the watcher: %v", kinds)
				require.Equal(t, billrun.Finished, kinds[len(kinds)-1], "FINISHED last: %v", kinds)
			})
		})
	}
}

// TestWatch holds the progress stream (docs/bill-runs.md "Watching a run"): SNAPSHOT
// first, then PROGRESS with counters that never go back and ACCOUNT_FAILED with the
// account and its reason, FINISHED last with the final counters, then the channel
// closes; a finished run gives SNAPSHOT and FINISHED; an unknown run is NOT_FOUND.
func TestWatch(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		late, lateAP := b.behind() // first, so its failure is in the first batch
		w := b.world()
		// Batches: [behind, duoFull], [duoMid, lineMid], [lineDay15, weekly], [idle, euro].
		run := b.start(jan())
		jobs := b.jobsOf(run.ID)
		b.hold(jobs[1:]...)
		ch, err := b.runs.Watch(b.ctx, run.ID)
		require.NoError(t, err)
		u, ok := next(t, ch)
		require.True(t, ok)
		require.Equal(t, billrun.Snapshot, u.Kind)
		require.Equal(t, figures{Status: "QUEUED", Total: 8, Totals: map[string]string{}}, figuresOf(u.Run))

		// The first batch: behind fails, duoFull is billed 75.00; the run cannot finish
		// while the others are held.
		b.work()
		processed, failures := 0, 0
		for processed < 2 || failures < 1 {
			u, ok := next(t, ch)
			require.True(t, ok, "the stream ended early")
			require.GreaterOrEqual(t, u.Run.AccountsProcessed, processed, "counters never go back")
			switch u.Kind {
			case billrun.Progress:
				processed = u.Run.AccountsProcessed
			case billrun.AccountFailed:
				failures++
				require.Equal(t, late, u.Account.ID)
				require.Equal(t, behindReason(lateAP), u.Message)
			default:
				t.Fatalf("unexpected %s while the run is open", u.Kind)
			}
		}
		require.Equal(t, 2, processed)

		b.release(jobs[1:]...)
		var last billrun.Update
		for {
			u, ok := next(t, ch)
			if !ok {
				break
			}
			require.NotEqual(t, billrun.Finished, last.Kind, "nothing after FINISHED")
			require.Contains(t, []billrun.EventKind{billrun.Progress, billrun.Finished}, u.Kind)
			require.GreaterOrEqual(t, u.Run.AccountsProcessed, processed, "counters never go back")
			processed = u.Run.AccountsProcessed
			last = u
		}
		require.Equal(t, billrun.Finished, last.Kind, "FINISHED last")
		// The January of world(), with behind's failure: 8 accounts.
		final := figures{Status: "COMPLETED_WITH_ERRORS", Total: 8, Processed: 8, Failed: 1, Invoices: 6, Charges: 12,
			Totals: map[string]string{"USD": "197.58", "EUR": "27.00"}}
		require.Equal(t, final, figuresOf(last.Run))
		require.Equal(t, w.jan, b.billed(run.ID))

		// Watched after the end: SNAPSHOT and FINISHED, then the end.
		ch, err = b.runs.Watch(b.ctx, run.ID)
		require.NoError(t, err)
		for _, kind := range []billrun.EventKind{billrun.Snapshot, billrun.Finished} {
			u, ok := next(t, ch)
			require.True(t, ok)
			require.Equal(t, kind, u.Kind)
			require.Equal(t, final, figuresOf(u.Run))
		}
		_, ok = next(t, ch)
		require.False(t, ok)

		_, err = b.runs.Watch(b.ctx, 1<<40)
		requireFault(t, err, fault.NotFound, "id")
		b.eventually("every subscription to be released", func() bool { return b.bus.Subscribers() == 0 })
	})
}

// TestWatchEndsWithContext holds that a watch ends when its context does: its channel
// closes and its subscription is released, whether it was being read or its goroutine
// was waiting to deliver an update no one reads.
func TestWatchEndsWithContext(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		b.world()
		run := b.start(jan()) // no node bills it: it stays QUEUED

		ctx, cancel := context.WithCancel(b.ctx)
		read, err := b.runs.Watch(ctx, run.ID)
		require.NoError(t, err)
		unread, err := b.runs.Watch(ctx, run.ID)
		require.NoError(t, err)
		u, ok := next(t, read)
		require.True(t, ok)
		require.Equal(t, billrun.Snapshot, u.Kind)
		// Something to report: the unread watch's goroutine, its buffer full with the
		// snapshot, waits to deliver a PROGRESS update.
		b.bus.Publish(progress.Event{Kind: progress.Progress, RunID: run.ID})
		u, ok = next(t, read)
		require.True(t, ok)
		require.Equal(t, billrun.Progress, u.Kind)
		require.Equal(t, 2, b.bus.Subscribers())

		cancel()
		_, ok = next(t, read)
		require.False(t, ok, "the watch read ends")
		for {
			u, ok := next(t, unread)
			if !ok {
				break
			}
			require.Equal(t, billrun.Snapshot, u.Kind, "the unread watch held only its snapshot")
		}
		b.eventually("the subscriptions to be released", func() bool { return b.bus.Subscribers() == 0 })
	})
}

// TestStartWait holds wait (docs/bill-runs.md, "wait: return only when the run has
// finished"): bounded by Config.MaxWait, Start answers with the run as it stands; a
// context that ends first makes Start answer its error; the run stays queued either
// way.
func TestStartWait(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setupWith(t, dia, billrun.Config{MaxWait: 100 * time.Millisecond})
		b.world()
		in := jan()
		in.Wait = ptr(true)
		run := b.start(in) // no node bills it
		require.Equal(t, figures{Status: "QUEUED", Total: 7, Totals: map[string]string{}}, figuresOf(run))

		s := billrun.New(b.db, b.bill, b.jobs, b.clk, nil, b.bus, billrun.Config{BatchSize: 2}) // no MaxWait
		// Long enough for the run to be written, far too short for it to be billed.
		ctx, cancel := context.WithTimeout(b.ctx, 500*time.Millisecond)
		defer cancel()
		_, err := s.Start(ctx, in)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 2, b.count("bill_runs"), "the run was started all the same")
	})
}

// TestRunOptions holds the run's options (docs/bill-runs.md "Starting and stopping";
// docs/billing.md 5): billCharges false is a dry pass that processes every account and
// bills nothing; closeInvoices makes the invoices CLOSED; postingDate dates them
// (issued on the clock's day all the same).
func TestRunOptions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()
		b.work()
		in := jan()
		in.Wait = ptr(true)
		in.BillCharges = ptr(false)
		dry := b.start(in)
		require.Equal(t, figures{Status: "COMPLETED", Total: 7, Processed: 7, Totals: map[string]string{}}, figuresOf(dry))
		require.Zero(t, b.count("invoices"))

		in = jan()
		in.Wait = ptr(true)
		in.CloseInvoices = ptr(true)
		in.PostingDate = ptr(d("2024-02-05"))
		run := b.start(in)
		require.Equal(t, janFigures, figuresOf(run))
		require.Equal(t, w.jan, b.billed(run.ID))
		invs, err := b.db.Client.Invoice.Query().Where(invoice.BillRunID(run.ID)).All(b.ctx)
		require.NoError(t, err)
		require.Len(t, invs, 6)
		for _, inv := range invs {
			require.Equal(t, invoice.StatusCLOSED, inv.Status)
			require.Equal(t, "2024-02-05", inv.PostingDate.String())
			require.Equal(t, "2024-02-01", inv.IssueDate.String())
		}
	})
}

// TestPartnerViews holds a partner's figures of runs (internal/billrun/README.md
// "Invariants"; docs/bill-runs.md "Watching a run"): only the partner's accounts count,
// processed once their batch is done, with their invoices, lines and totals; a partner
// with no account in a run sees zeros.
func TestPartnerViews(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		w := b.world()
		p, err := b.acc.CreatePartner(b.ctx, account.CreatePartnerInput{Name: "Reseller"})
		require.NoError(t, err)
		other, err := b.acc.CreatePartner(b.ctx, account.CreatePartnerInput{Name: "Other"})
		require.NoError(t, err)
		for _, acc := range []int{w.duoMid, w.weekly, w.euro} {
			require.NoError(t, b.db.Client.Account.UpdateOneID(acc).SetPartnerID(p.ID).Exec(b.ctx))
		}
		all := b.start(jan())
		listed := b.start(func() billrun.StartInput {
			in := feb()
			in.AccountIDs = []int{w.duoFull, w.duoMid}
			return in
		}())

		views, err := b.runs.PartnerViews(b.ctx, []int{all.ID, listed.ID}, p.ID)
		require.NoError(t, err)
		require.Equal(t, 3, views[all.ID].AccountsTotal, "duoMid, weekly, euro")
		require.Zero(t, views[all.ID].AccountsProcessed, "nothing billed yet")
		require.Equal(t, 1, views[listed.ID].AccountsTotal, "duoMid")

		// February's run waits for January's: billed first, it would catch up duoMid's
		// January itself (docs/billing.md 4.2).
		held := b.jobsOf(listed.ID)
		b.hold(held...)
		b.work()
		b.finished(all.ID)
		b.release(held...)
		b.finished(listed.ID)
		views, err = b.runs.PartnerViews(b.ctx, []int{all.ID, listed.ID}, p.ID)
		require.NoError(t, err)
		// January of duoMid 41.13 (2 lines), weekly 35.00 (5), euro 27.00 EUR (1):
		// USD 76.13, 8 lines.
		want := &billrun.View{AccountsTotal: 3, AccountsProcessed: 3, InvoicesCreated: 3, ChargesCreated: 8,
			Totals: map[string]money.Decimal{"USD": m("76.13"), "EUR": m("27.00")}}
		require.True(t, want.Equal(views[all.ID]), "%+v", views[all.ID])
		// February of duoMid, after January: 75.00, 2 lines.
		want = &billrun.View{AccountsTotal: 1, AccountsProcessed: 1, InvoicesCreated: 1, ChargesCreated: 2,
			Totals: map[string]money.Decimal{"USD": m("75.00")}}
		require.True(t, want.Equal(views[listed.ID]), "%+v", views[listed.ID])

		views, err = b.runs.PartnerViews(b.ctx, []int{all.ID}, other.ID)
		require.NoError(t, err)
		require.True(t, (&billrun.View{Totals: map[string]money.Decimal{}}).Equal(views[all.ID]), "%+v", views[all.ID])
	})
}
