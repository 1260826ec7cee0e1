package billing_test

// The billing core at the package that holds it: Service.Bill on real databases, with
// the catalog, accounts and account-packages built through their own services.
//
// Every expected amount is worked out by hand from docs/billing.md, with the
// arithmetic in a comment beside it; none is copied from what the code prints.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

func d(s string) calendar.Date { return calendar.MustParse(s) }
func m(s string) money.Decimal { return money.MustParse(s) }

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

// testBundle is a fresh database with the services that build what billing reads.
type testBundle struct {
	t    *testing.T
	ctx  context.Context
	db   *store.DB
	clk  *clock.Fixed
	bill *billing.Service
	cat  *catalog.Service
	acc  *account.Service
	prov *provisioning.Service
}

// issued is the day the fixed clock says, which invoices carry as their issue date.
const issued = "2024-02-01"

func setup(t *testing.T, dia string) *testBundle {
	t.Helper()
	db := testenv.OpenDB(t, dia)
	clk := clock.NewFixed(time.Date(2024, 2, 1, 9, 30, 0, 0, time.UTC))
	return &testBundle{t: t, ctx: t.Context(), db: db, clk: clk, bill: billing.New(db, clk, nil),
		cat: catalog.New(db.Client), acc: account.New(db, clk), prov: provisioning.New(db, clk)}
}

func (b *testBundle) service(name string, kind service.Kind) int {
	b.t.Helper()
	s, err := b.cat.CreateService(b.ctx, catalog.CreateServiceInput{Name: name, Kind: kind})
	require.NoError(b.t, err)
	return s.ID
}

// recurring is a USD ACTIVE price of a service.
func recurring(svc int, amount string) *catalog.ServicePriceInput {
	return &catalog.ServicePriceInput{ServiceID: svc, Currency: "USD",
		Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m(amount)}}}
}

// oneTime is a USD one-time price of a service.
func oneTime(svc int, amount string) *catalog.ServicePriceInput {
	x := m(amount)
	return &catalog.ServicePriceInput{ServiceID: svc, Currency: "USD", OneTime: &x}
}

type pkg struct{ id, freq int }

type flags struct{ bulk, postpaid bool }

// pkg creates a USD package of the priced services (required, one instance each) on
// one frequency of interval.
func (b *testBundle) pkg(name string, fl flags, interval packagefrequency.Interval, prices ...*catalog.ServicePriceInput) pkg {
	b.t.Helper()
	in := catalog.CreatePackageInput{Name: name, Currencies: []string{"USD"},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: string(interval), Interval: interval, Prices: prices}}}
	if fl.bulk {
		in.BulkQuantity = &fl.bulk
	}
	if fl.postpaid {
		in.Postpaid = &fl.postpaid
	}
	for _, p := range prices {
		in.Services = append(in.Services, &catalog.PackageServiceInput{ServiceID: p.ServiceID})
	}
	p, err := b.cat.CreatePackage(b.ctx, in)
	require.NoError(b.t, err)
	f, err := b.db.Client.PackageFrequency.Query().Where(packagefrequency.PackageID(p.ID)).Only(b.ctx)
	require.NoError(b.t, err)
	return pkg{id: p.ID, freq: f.ID}
}

// duo is the package of the first examples: Service A 50.00 and Service B 25.00 monthly.
func (b *testBundle) duo() pkg {
	b.t.Helper()
	a, bb := b.service("Service A", service.KindRECURRING), b.service("Service B", service.KindRECURRING)
	return b.pkg("Duo", flags{}, packagefrequency.IntervalMONTH, recurring(a, "50.00"), recurring(bb, "25.00"))
}

func (b *testBundle) account(name string, billDay int) int {
	b.t.Helper()
	a, err := b.acc.Create(b.ctx, account.CreateAccountInput{Name: name, Currency: "USD", BillDay: billDay})
	require.NoError(b.t, err)
	return a.ID
}

// provision adds p to acc from effective (bulk 0: the default) and returns the
// account-package.
func (b *testBundle) provision(acc int, p pkg, effective string, bulk int) int {
	b.t.Helper()
	in := provisioning.ProvisionPackageInput{AccountID: acc, PackageID: p.id, FrequencyID: p.freq, EffectiveDate: d(effective)}
	if bulk > 0 {
		in.BulkQuantity = &bulk
	}
	aps, err := b.prov.Provision(b.ctx, in)
	require.NoError(b.t, err)
	require.Len(b.t, aps, 1)
	return aps[0].ID
}

// run creates the bill run row invoices hang off and returns the request billing it.
func (b *testBundle) run(start, end string) billing.Request {
	b.t.Helper()
	r, err := b.db.Client.BillRun.Create().SetPeriodStart(d(start)).SetPeriodEnd(d(end)).SetPostingDate(d(end)).
		SetCreatedAt(b.clk.Now()).Save(b.ctx)
	require.NoError(b.t, err)
	return billing.Request{BillRunID: r.ID, Range: rating.Range{Start: d(start), End: d(end)},
		PostingDate: d(end), BillCharges: true}
}

// billIn bills the accounts in a transaction of its own, as bill-run workers do.
func (b *testBundle) billIn(ctx context.Context, req billing.Request, ids ...int) (map[int]billing.AccountResult, error) {
	var out map[int]billing.AccountResult
	err := b.db.InConnTx(ctx, func(ctx context.Context, _ *sql.Conn) error {
		var err error
		out, err = b.bill.Bill(ctx, req, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mustBill bills and requires success.
func (b *testBundle) mustBill(req billing.Request, ids ...int) map[int]billing.AccountResult {
	b.t.Helper()
	res, err := b.billIn(b.ctx, req, ids...)
	require.NoError(b.t, err)
	return res
}

// line is a charge line: kind, service, account-package, period, quantity, unit
// amount and amount.
type line struct {
	Kind       string
	Service    string
	AP         int
	Start, End string
	Qty        int
	Unit       string
	Amount     string
}

func sortLines(ls []line) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		for _, c := range [][2]string{{a.Start, b.Start}, {a.Kind, b.Kind}, {a.Service, b.Service}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return a.AP < b.AP
	})
}

// inv is an invoice with its lines, sorted.
type inv struct {
	ID, Account            int
	Number, Status, Total  string
	IssueDate, PostingDate string
	Lines                  []line
}

func dateStr(x *calendar.Date) string {
	if x == nil {
		return "null"
	}
	return x.String()
}

// invoices returns the invoices of a bill run, in id order.
func (b *testBundle) invoices(runID int) []inv {
	b.t.Helper()
	rows, err := b.db.Client.Invoice.Query().Where(invoice.BillRunID(runID)).Order(ent.Asc(invoice.FieldID)).
		WithLines(func(q *ent.ChargeQuery) { q.WithService() }).All(b.ctx)
	require.NoError(b.t, err)
	out := make([]inv, len(rows))
	for i, r := range rows {
		out[i] = inv{ID: r.ID, Account: r.AccountID, Number: r.Number, Status: string(r.Status), Total: r.Total.String(),
			IssueDate: r.IssueDate.String(), PostingDate: r.PostingDate.String()}
		for _, l := range r.Edges.Lines {
			require.Equal(b.t, r.AccountID, l.AccountID, "a line's account is its invoice's")
			out[i].Lines = append(out[i].Lines, line{Kind: string(l.Kind), Service: l.Edges.Service.Name,
				AP: *l.AccountPackageID, Start: dateStr(l.PeriodStart), End: dateStr(l.PeriodEnd), Qty: l.Quantity,
				Unit: l.UnitAmount.String(), Amount: l.Amount.String()})
		}
		sortLines(out[i].Lines)
	}
	return out
}

// requireInvoice checks that the run made exactly one invoice, for acc, with these
// lines and total, and returns it.
func (b *testBundle) requireInvoice(req billing.Request, acc int, status, total string, lines ...line) inv {
	b.t.Helper()
	invs := b.invoices(req.BillRunID)
	require.Len(b.t, invs, 1, "invoices of run %d", req.BillRunID)
	got := invs[0]
	require.Equal(b.t, acc, got.Account)
	want := append([]line(nil), lines...)
	sortLines(want)
	require.Equal(b.t, want, got.Lines, "lines of invoice %s", got.Number)
	require.Equal(b.t, total, got.Total, "total of invoice %s", got.Number)
	require.Equal(b.t, status, got.Status)
	require.Equal(b.t, issued, got.IssueDate, "issued on the clock's day")
	require.Equal(b.t, req.PostingDate.String(), got.PostingDate)
	return got
}

// requireResult checks what Bill reported for one account.
func requireResult(t *testing.T, res map[int]billing.AccountResult, acc int, invoiced bool, charges int, total string) {
	t.Helper()
	r, ok := res[acc]
	require.True(t, ok, "a result for account %d", acc)
	require.Equal(t, invoiced, r.Invoice, "invoice written for account %d", acc)
	require.Equal(t, charges, r.Charges, "charges of account %d", acc)
	require.Equal(t, "USD", r.Currency)
	require.True(t, m(total).Equal(r.Total), "total of account %d: %s, want %s", acc, r.Total, total)
}

// pos is an account-package's billing position.
type pos struct {
	Status        string
	Next, Through string
	Services      []string
}

func (b *testBundle) position(ap int) pos {
	b.t.Helper()
	row, err := b.db.Client.AccountPackage.Query().Where(accountpackage.ID(ap)).WithStatus().
		WithServices(func(q *ent.AccountServiceQuery) {
			q.WithStatus().Order(ent.Asc(accountservice.FieldID))
		}).Only(b.ctx)
	require.NoError(b.t, err)
	p := pos{Status: row.Edges.Status.Code, Next: dateStr(row.NextBillDate), Through: dateStr(row.BilledThrough)}
	for _, s := range row.Edges.Services {
		p.Services = append(p.Services, s.Edges.Status.Code)
	}
	return p
}

// requirePosition checks an account-package's status, next bill date and billed
// through ("null" for none).
func (b *testBundle) requirePosition(ap int, status, next, through string) {
	b.t.Helper()
	p := b.position(ap)
	require.Equal(b.t, status, p.Status, "status of account-package %d", ap)
	require.Equal(b.t, next, p.Next, "nextBillDate of account-package %d", ap)
	require.Equal(b.t, through, p.Through, "billedThrough of account-package %d", ap)
}

// state is everything billing writes, to prove a failed or empty call wrote nothing.
// (The invoice counter is left out: on PostgreSQL numbers are drawn outside the
// transaction, and a rollback leaves a gap by design.)
type state struct {
	Invoices, Charges int
	Packages          []string
	Services          []string
	Changes           []string
}

func (b *testBundle) state() state {
	b.t.Helper()
	var s state
	var err error
	s.Invoices, err = b.db.Client.Invoice.Query().Count(b.ctx)
	require.NoError(b.t, err)
	s.Charges, err = b.db.Client.Charge.Query().Count(b.ctx)
	require.NoError(b.t, err)
	aps, err := b.db.Client.AccountPackage.Query().Order(ent.Asc(accountpackage.FieldID)).All(b.ctx)
	require.NoError(b.t, err)
	for _, ap := range aps {
		s.Packages = append(s.Packages, fmt.Sprintf("%d status=%d next=%s through=%s last=%s own=%v new=%v", ap.ID,
			ap.StatusID, dateStr(ap.NextBillDate), dateStr(ap.BilledThrough), dateStr(ap.LastPeriodStart),
			deref(ap.OwnBillDay), deref(ap.NewBillDay)))
	}
	svcs, err := b.db.Client.AccountService.Query().Order(ent.Asc(accountservice.FieldID)).All(b.ctx)
	require.NoError(b.t, err)
	for _, sv := range svcs {
		s.Services = append(s.Services, fmt.Sprintf("%d status=%d once=%v", sv.ID, sv.StatusID, sv.OneTimeBilled))
	}
	chs, err := b.db.Client.StatusChange.Query().All(b.ctx)
	require.NoError(b.t, err)
	for _, ch := range chs {
		s.Changes = append(s.Changes, fmt.Sprintf("%d charged=%v", ch.ID, ch.Charged))
	}
	sort.Strings(s.Changes)
	return s
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// execSQL runs a raw statement with ?-placeholders on either database.
func (b *testBundle) execSQL(query string, args ...any) {
	b.t.Helper()
	if b.db.Dialect == "postgres" {
		for i := 1; strings.Contains(query, "?"); i++ {
			query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
		}
	}
	_, err := b.db.SQL.ExecContext(b.ctx, query, args...)
	require.NoError(b.t, err)
}

// TestWorkedExamples bills the worked examples of docs/billing.md section 4 straight
// through Bill: each line (kind, period, quantity, unit amount, amount), the invoice
// total, what Bill reports, and each package's new position.
func TestWorkedExamples(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		test func(t *testing.T, b *testBundle)
	}{
		{"full month", func(t *testing.T, b *testBundle) {
			acc := b.account("Full month", 1)
			ap := b.provision(acc, b.duo(), "2024-01-01", 0)
			b.requirePosition(ap, "ACTIVE", "2024-01-01", "null") // in advance: nextBillDate starts at E
			jan := b.run("2024-01-01", "2024-01-31")
			res := b.mustBill(jan, acc)
			// E = 2024-01-01 is the anchor of bill day 1: no partial period. The period
			// [01-01, 02-01) in full: A 50.00, B 25.00; 50.00 + 25.00 = 75.00.
			requireResult(t, res, acc, true, 2, "75.00")
			b.requireInvoice(jan, acc, "OPEN", "75.00",
				line{"RECURRING", "Service A", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"},
				line{"RECURRING", "Service B", ap, "2024-01-01", "2024-01-31", 1, "25.00", "25.00"})
			// nextBillDate moves to the day after the period, billedThrough to its last day.
			b.requirePosition(ap, "ACTIVE", "2024-02-01", "2024-01-31")
		}},
		{"mid-month start", func(t *testing.T, b *testBundle) {
			acc := b.account("Mid-month", 1)
			ap := b.provision(acc, b.duo(), "2024-01-15", 0)
			jan := b.run("2024-01-01", "2024-01-31")
			res := b.mustBill(jan, acc)
			// A0 = 2024-02-01; [01-15, 02-01) = 17 days of [01-01, 02-01) = 31.
			// A: 50 × 17 / 31 = 850/31 = 27.419… → 27.42; B: 25 × 17 / 31 = 425/31 = 13.709… → 13.71.
			// 27.42 + 13.71 = 41.13.
			requireResult(t, res, acc, true, 2, "41.13")
			b.requireInvoice(jan, acc, "OPEN", "41.13",
				line{"RECURRING", "Service A", ap, "2024-01-15", "2024-01-31", 1, "50.00", "27.42"},
				line{"RECURRING", "Service B", ap, "2024-01-15", "2024-01-31", 1, "25.00", "13.71"})
			b.requirePosition(ap, "ACTIVE", "2024-02-01", "2024-01-31")
		}},
		{"bulk 100 with a one-time charge", func(t *testing.T, b *testBundle) {
			ln, install := b.service("iLine", service.KindRECURRING), b.service("Install", service.KindONE_TIME)
			p := b.pkg("Bulk iLine", flags{bulk: true}, packagefrequency.IntervalMONTH, recurring(ln, "1.00"), oneTime(install, "25.00"))
			acc := b.account("Bulk", 1)
			ap := b.provision(acc, p, "2024-01-01", 100)
			jan := b.run("2024-01-01", "2024-01-31")
			res := b.mustBill(jan, acc)
			// Quantity = bulk 100 × 1 instance. iLine 1.00 × 100 = 100.00; Install
			// 25.00 × 100 = 2500.00, once, with the first billing. 100.00 + 2500.00 = 2600.00.
			requireResult(t, res, acc, true, 2, "2600.00")
			b.requireInvoice(jan, acc, "OPEN", "2600.00",
				line{"RECURRING", "iLine", ap, "2024-01-01", "2024-01-31", 100, "1.00", "100.00"},
				line{"ONE_TIME", "Install", ap, "2024-01-01", "2024-01-31", 100, "25.00", "2500.00"})
			b.requirePosition(ap, "ACTIVE", "2024-02-01", "2024-01-31")
			// February: the one-time charge is not made again.
			feb := b.run("2024-02-01", "2024-02-29")
			requireResult(t, b.mustBill(feb, acc), acc, true, 1, "100.00")
			b.requireInvoice(feb, acc, "OPEN", "100.00",
				line{"RECURRING", "iLine", ap, "2024-02-01", "2024-02-29", 100, "1.00", "100.00"})
			b.requirePosition(ap, "ACTIVE", "2024-03-01", "2024-02-29")
		}},
		{"postpaid", func(t *testing.T, b *testBundle) {
			ln := b.service("Line", service.KindRECURRING)
			p := b.pkg("Postpaid", flags{postpaid: true}, packagefrequency.IntervalMONTH, recurring(ln, "30.00"))
			acc := b.account("Postpaid", 1)
			ap := b.provision(acc, p, "2024-01-10", 0)
			// Postpaid: nextBillDate starts after the first period [01-10, 02-01).
			b.requirePosition(ap, "ACTIVE", "2024-02-01", "null")
			jan := b.run("2024-01-01", "2024-01-31")
			res := b.mustBill(jan, acc)
			// 02-01 is past January: nothing due, no invoice.
			requireResult(t, res, acc, false, 0, "0")
			require.Empty(t, b.invoices(jan.BillRunID))
			b.requirePosition(ap, "ACTIVE", "2024-02-01", "null")
			feb := b.run("2024-02-01", "2024-02-29")
			res = b.mustBill(feb, acc)
			// The period just ended, [01-10, 02-01) = 22 days of 31: 30 × 22 / 31 = 660/31 =
			// 21.290… → 21.29. nextBillDate: the end of [02-01, 03-01).
			requireResult(t, res, acc, true, 1, "21.29")
			b.requireInvoice(feb, acc, "OPEN", "21.29",
				line{"RECURRING", "Line", ap, "2024-01-10", "2024-01-31", 1, "30.00", "21.29"})
			b.requirePosition(ap, "ACTIVE", "2024-03-01", "2024-01-31")
		}},
		{"bill day 31", func(t *testing.T, b *testBundle) {
			ln := b.service("Line", service.KindRECURRING)
			p := b.pkg("Monthly", flags{}, packagefrequency.IntervalMONTH, recurring(ln, "31.00"))
			acc := b.account("Day 31", 31)
			ap := b.provision(acc, p, "2024-02-10", 0)
			req := b.run("2024-02-01", "2024-03-15")
			res := b.mustBill(req, acc)
			// February's anchor of day 31 is 02-29 (2024). Partial [02-10, 02-29) = 19 days
			// of [01-31, 02-29) = 29: 31 × 19 / 29 = 589/29 = 20.310… → 20.31. Then
			// [02-29, 03-31) in full: 31.00. nextBillDate 03-31 is past 03-15.
			// 20.31 + 31.00 = 51.31.
			requireResult(t, res, acc, true, 2, "51.31")
			b.requireInvoice(req, acc, "OPEN", "51.31",
				line{"RECURRING", "Line", ap, "2024-02-10", "2024-02-28", 1, "31.00", "20.31"},
				line{"RECURRING", "Line", ap, "2024-02-29", "2024-03-30", 1, "31.00", "31.00"})
			b.requirePosition(ap, "ACTIVE", "2024-03-31", "2024-03-30")
		}},
		{"yearly", func(t *testing.T, b *testBundle) {
			ln := b.service("Line", service.KindRECURRING)
			p := b.pkg("Yearly", flags{}, packagefrequency.IntervalYEAR, recurring(ln, "120.00"))
			acc := b.account("Yearly", 1)
			ap := b.provision(acc, p, "2024-03-15", 0)
			mar := b.run("2024-03-01", "2024-03-31")
			// A0 = 2024-04-01; [03-15, 04-01) = 17 days of [2023-04-01, 2024-04-01) = 366
			// (it holds 2024-02-29): 120 × 17 / 366 = 2040/366 = 5.573… → 5.57.
			requireResult(t, b.mustBill(mar, acc), acc, true, 1, "5.57")
			b.requireInvoice(mar, acc, "OPEN", "5.57",
				line{"RECURRING", "Line", ap, "2024-03-15", "2024-03-31", 1, "120.00", "5.57"})
			b.requirePosition(ap, "ACTIVE", "2024-04-01", "2024-03-31")
			apr := b.run("2024-04-01", "2024-04-30")
			requireResult(t, b.mustBill(apr, acc), acc, true, 1, "120.00")
			b.requireInvoice(apr, acc, "OPEN", "120.00",
				line{"RECURRING", "Line", ap, "2024-04-01", "2025-03-31", 1, "120.00", "120.00"})
			b.requirePosition(ap, "ACTIVE", "2025-04-01", "2025-03-31")
		}},
		{"weekly", func(t *testing.T, b *testBundle) {
			ln := b.service("Line", service.KindRECURRING)
			p := b.pkg("Weekly", flags{}, packagefrequency.IntervalWEEK, recurring(ln, "7.00"))
			acc := b.account("Weekly", 15) // weeks ignore the bill day
			ap := b.provision(acc, p, "2024-01-01", 0)
			jan := b.run("2024-01-01", "2024-01-31")
			res := b.mustBill(jan, acc)
			// Weeks from E, billed while nextBillDate is in the range: 01-01, 01-08, 01-15,
			// 01-22, 01-29 (which ends 02-04); 5 × 7.00 = 35.00; nextBillDate 02-05.
			requireResult(t, res, acc, true, 5, "35.00")
			b.requireInvoice(jan, acc, "OPEN", "35.00",
				line{"RECURRING", "Line", ap, "2024-01-01", "2024-01-07", 1, "7.00", "7.00"},
				line{"RECURRING", "Line", ap, "2024-01-08", "2024-01-14", 1, "7.00", "7.00"},
				line{"RECURRING", "Line", ap, "2024-01-15", "2024-01-21", 1, "7.00", "7.00"},
				line{"RECURRING", "Line", ap, "2024-01-22", "2024-01-28", 1, "7.00", "7.00"},
				line{"RECURRING", "Line", ap, "2024-01-29", "2024-02-04", 1, "7.00", "7.00"})
			b.requirePosition(ap, "ACTIVE", "2024-02-05", "2024-02-04")
		}},
		{"cancellation credit", func(t *testing.T, b *testBundle) {
			ln := b.service("Line", service.KindRECURRING)
			p := b.pkg("Bulk Line", flags{bulk: true}, packagefrequency.IntervalMONTH, recurring(ln, "1.00"))
			acc := b.account("Cancel", 1)
			old := b.provision(acc, p, "2024-01-01", 20)
			jan := b.run("2024-01-01", "2024-01-31")
			// 20 × 1.00 = 20.00 for [01-01, 02-01).
			requireResult(t, b.mustBill(jan, acc), acc, true, 1, "20.00")
			b.requireInvoice(jan, acc, "OPEN", "20.00",
				line{"RECURRING", "Line", old, "2024-01-01", "2024-01-31", 20, "1.00", "20.00"})
			_, err := b.prov.Cancel(b.ctx, old, provisioning.CancelAccountPackageInput{
				CancellationDate: d("2024-01-21"), BillingOption: accountpackage.CancelBillingOptionPRORATED})
			require.NoError(t, err)
			add := b.provision(acc, p, "2024-01-21", 30)

			req := b.run("2024-01-21", "2024-01-31")
			res := b.mustBill(req, acc)
			// Old: the final period [01-01, 02-01) was billed 20.00; its days in service
			// [01-01, 01-21) = 20 of 31 cost 20 × 1.00 × 20 / 31 = 400/31 = 12.903… → 12.90:
			// a credit of 12.90 − 20.00 = −7.10 for 01-21..01-31, with the billed line's
			// quantity and unit amount.
			// New: [01-21, 02-01) = 11 of 31 days: 30 × 1.00 × 11 / 31 = 330/31 = 10.645… → 10.65.
			// −7.10 + 10.65 = 3.55.
			requireResult(t, res, acc, true, 2, "3.55")
			b.requireInvoice(req, acc, "OPEN", "3.55",
				line{"CREDIT", "Line", old, "2024-01-21", "2024-01-31", 20, "1.00", "-7.10"},
				line{"RECURRING", "Line", add, "2024-01-21", "2024-01-31", 30, "1.00", "10.65"})
			// The canceled package and its services are CANCELED, with no next bill date,
			// billed through its last day in service, C − 1.
			b.requirePosition(old, "CANCELED", "null", "2024-01-20")
			require.Equal(t, []string{"CANCELED"}, b.position(old).Services)
			b.requirePosition(add, "ACTIVE", "2024-02-01", "2024-01-31")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) { tt.test(t, setup(t, dia)) })
		})
	}
}

// TestBillExactlyOnce holds that billing a range already billed writes nothing: no
// invoice, no line, no position moved (docs/billing.md 4.8).
func TestBillExactlyOnce(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		p := b.duo()
		acc := b.account("Once", 1)
		ap := b.provision(acc, p, "2024-01-01", 0)
		requireResult(t, b.mustBill(b.run("2024-01-01", "2024-01-31"), acc), acc, true, 2, "75.00")
		before := b.state()
		require.Equal(t, 1, before.Invoices)
		require.Equal(t, 2, before.Charges)

		for _, rng := range [][2]string{{"2024-01-01", "2024-01-31"}, {"2024-01-15", "2024-01-31"}, {"2023-12-01", "2024-01-31"}} {
			again := b.run(rng[0], rng[1])
			res := b.mustBill(again, acc)
			// nextBillDate 2024-02-01 is past every range's end: nothing is due.
			requireResult(t, res, acc, false, 0, "0")
			require.Empty(t, b.invoices(again.BillRunID))
			require.Equal(t, before, b.state(), "billing %s..%s again writes nothing", rng[0], rng[1])
		}
		b.requirePosition(ap, "ACTIVE", "2024-02-01", "2024-01-31")
	})
}

// TestBillConcurrently holds exactly once under a race: two bill runs over the same
// accounts, each in its own transaction, charge every period once in total; each
// either wins, loses with an error Concurrent recognizes, or finds nothing left. On
// PostgreSQL accounts are locked in id order, so runs listing them in opposite orders
// take turns instead of deadlocking.
func TestBillConcurrently(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		p := b.duo()
		const accounts = 4
		var ids, aps []int
		for i := range accounts {
			acc := b.account(fmt.Sprintf("Race %d", i), 1)
			ids = append(ids, acc)
			aps = append(aps, b.provision(acc, p, "2024-01-01", 0))
		}
		reversed := make([]int, accounts)
		for i, id := range ids {
			reversed[accounts-1-i] = id
		}
		months := [][2]string{{"2024-01-01", "2024-01-31"}, {"2024-02-01", "2024-02-29"}, {"2024-03-01", "2024-03-31"}}
		for round, mo := range months {
			reqs := []billing.Request{b.run(mo[0], mo[1]), b.run(mo[0], mo[1])}
			lists := [][]int{ids, reversed}
			var (
				wg      sync.WaitGroup
				start   = make(chan struct{})
				results = make([]map[int]billing.AccountResult, 2)
				errs    = make([]error, 2)
			)
			for i := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					results[i], errs[i] = b.billIn(b.ctx, reqs[i], lists[i]...)
				}()
			}
			close(start)
			wg.Wait()
			invoiced := map[int]int{}
			for i := range 2 {
				if errs[i] != nil {
					require.True(t, billing.Concurrent(errs[i]), "round %d run %d failed with a non-race error: %v", round, i, errs[i])
					continue
				}
				for acc, r := range results[i] {
					if r.Invoice {
						invoiced[acc]++
						require.Equal(t, 2, r.Charges)
						require.True(t, m("75.00").Equal(r.Total), "total %s", r.Total)
					}
				}
			}
			for _, acc := range ids {
				require.Equal(t, 1, invoiced[acc], "round %d: account %d invoiced once in total", round, acc)
			}
			// Each month: one invoice of 75.00 (A 50.00 + B 25.00) per account; 2 lines each.
			n, err := b.db.Client.Invoice.Query().Count(b.ctx)
			require.NoError(t, err)
			require.Equal(t, accounts*(round+1), n)
			lines, err := b.db.Client.Charge.Query().Where(charge.PeriodStart(d(mo[0]))).All(b.ctx)
			require.NoError(t, err)
			require.Len(t, lines, 2*accounts, "round %d: each service's period charged once", round)
		}
		// Three months billed: next bill date 04-01, billed through 03-31.
		for _, ap := range aps {
			b.requirePosition(ap, "ACTIVE", "2024-04-01", "2024-03-31")
		}
		total, err := b.db.Client.Charge.Query().Count(b.ctx)
		require.NoError(t, err)
		require.Equal(t, 3*2*accounts, total)
	})
}

// TestBillNeedsConnTx holds that Bill runs only in a transaction opened by InConnTx:
// outside one, or in a plain InTx transaction, it fails and writes nothing.
func TestBillNeedsConnTx(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		acc := b.account("Tx", 1)
		b.provision(acc, b.duo(), "2024-01-01", 0)
		req := b.run("2024-01-01", "2024-01-31")
		before := b.state()

		_, err := b.bill.Bill(b.ctx, req, []int{acc})
		require.Error(t, err, "no transaction")
		require.Equal(t, before, b.state())

		err = store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
			_, err := b.bill.Bill(ctx, req, []int{acc})
			return err
		})
		require.Error(t, err, "a transaction InConnTx did not open")
		require.Equal(t, before, b.state())
		require.Empty(t, b.invoices(req.BillRunID))
	})
}

// TestBillFailingAccount holds all or nothing: when one account cannot be billed, Bill
// returns an error naming it and the transaction writes nothing, for the good accounts
// billed with it either; billed alone afterwards, the good account is billed in full.
func TestBillFailingAccount(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		// broken provisions an account that cannot be billed over rng and returns it.
		broken func(b *testBundle) int
		rng    [2]string
		// want is in the error's message.
		want func(acc int) []string
		code fault.Code
	}{
		{
			name: "interval count 0",
			broken: func(b *testBundle) int {
				ln := b.service("Broken line", service.KindRECURRING)
				p := b.pkg("Broken", flags{}, packagefrequency.IntervalMONTH, recurring(ln, "10.00"))
				acc := b.account("Broken", 1)
				b.provision(acc, p, "2024-01-01", 0)
				b.execSQL("UPDATE package_frequencies SET interval_count = 0 WHERE id = ?", p.freq)
				return acc
			},
			rng:  [2]string{"2024-01-01", "2024-01-31"},
			want: func(acc int) []string { return []string{fmt.Sprintf("account %d", acc), "interval count 0"} },
			code: fault.Internal,
		},
		{
			name: "unbilled beyond MaxSpanDays",
			broken: func(b *testBundle) int {
				ln := b.service("Old line", service.KindRECURRING)
				p := b.pkg("Old", flags{}, packagefrequency.IntervalMONTH, recurring(ln, "1.00"))
				acc := b.account("Old", 1)
				b.provision(acc, p, "2000-01-01", 0)
				return acc
			},
			// days(2000-01-01, 2024-02-01) = 8797 > 7320. The latest end allowed is
			// 2000-01-01 + 7319 days: 2020-01-01 is 7305 days on (20 years, 5 of them
			// leap), + 14 = 2020-01-15.
			rng:  [2]string{"2024-01-01", "2024-01-31"},
			want: func(acc int) []string { return []string{fmt.Sprintf("account %d", acc), "2020-01-15"} },
			code: fault.FailedPrecondition,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachDialect(t, func(t *testing.T, dia string) {
				b := setup(t, dia)
				good := b.account("Good", 1)
				goodAP := b.provision(good, b.duo(), "2024-01-01", 0)
				bad := tt.broken(b)
				req := b.run(tt.rng[0], tt.rng[1])
				before := b.state()

				_, err := b.billIn(b.ctx, req, good, bad)
				require.Error(t, err)
				for _, s := range tt.want(bad) {
					require.Contains(t, err.Error(), s)
				}
				require.Equal(t, tt.code, fault.CodeOf(err))
				require.False(t, billing.Concurrent(err), "a broken account is no race")
				require.Equal(t, before, b.state(), "nothing written, not even for the good account")
				require.Empty(t, b.invoices(req.BillRunID))

				res := b.mustBill(req, good)
				requireResult(t, res, good, true, 2, "75.00")
				b.requirePosition(goodAP, "ACTIVE", "2024-02-01", "2024-01-31")
			})
		})
	}
}

// TestBillMaxSpanBoundary holds the catch-up bound exactly: an account-package may be
// billed up to MaxSpanDays days from its next bill date in one run, and a run ending
// one day later fails.
func TestBillMaxSpanBoundary(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	ln := b.service("Line", service.KindRECURRING)
	p := b.pkg("Old", flags{}, packagefrequency.IntervalMONTH, recurring(ln, "1.00"))
	acc := b.account("Old", 1)
	ap := b.provision(acc, p, "2000-01-01", 0)

	// days(2000-01-01, 2020-01-17) = 7305 + 16 = 7321 > 7320.
	_, err := b.billIn(b.ctx, b.run("2020-01-01", "2020-01-16"), acc)
	require.Error(t, err)
	require.Equal(t, fault.FailedPrecondition, fault.CodeOf(err))

	// days(2000-01-01, 2020-01-16) = 7320: allowed. Monthly periods from 2000-01-01
	// through 2020-01-01: 20 × 12 + 1 = 241 lines of 1.00.
	res := b.mustBill(b.run("2020-01-01", "2020-01-15"), acc)
	requireResult(t, res, acc, true, 241, "241.00")
	b.requirePosition(ap, "ACTIVE", "2020-02-01", "2020-01-31")
	require.Equal(t, 7320, rating.MaxSpanDays, "the bound this test is written for")
}

// TestBillOptions holds the request's options: BillCharges false bills nothing and
// writes nothing; CloseInvoices makes the invoices CLOSED; an account with nothing due
// gets no invoice.
func TestBillOptions(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		p := b.duo()
		acc := b.account("Options", 1)
		ap := b.provision(acc, p, "2024-01-01", 0)
		idle := b.account("Idle", 1) // nothing provisioned

		dry := b.run("2024-01-01", "2024-01-31")
		dry.BillCharges = false
		before := b.state()
		res := b.mustBill(dry, acc, idle)
		for _, r := range res {
			require.False(t, r.Invoice, "a dry pass invoices nothing")
		}
		require.Equal(t, before, b.state(), "BillCharges false writes nothing")
		b.requirePosition(ap, "ACTIVE", "2024-01-01", "null")

		closed := b.run("2024-01-01", "2024-01-31")
		closed.CloseInvoices = true
		res = b.mustBill(closed, acc, idle)
		requireResult(t, res, acc, true, 2, "75.00")
		requireResult(t, res, idle, false, 0, "0")
		b.requireInvoice(closed, acc, "CLOSED", "75.00",
			line{"RECURRING", "Service A", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"},
			line{"RECURRING", "Service B", ap, "2024-01-01", "2024-01-31", 1, "25.00", "25.00"})

		feb := b.run("2024-02-01", "2024-02-29")
		requireResult(t, b.mustBill(feb, acc), acc, true, 2, "75.00")
		require.Equal(t, "OPEN", b.invoices(feb.BillRunID)[0].Status, "invoices are OPEN unless asked")

		// Nothing to bill at all: no account, an unknown account.
		before = b.state()
		res = b.mustBill(b.run("2024-03-01", "2024-03-31"))
		require.Empty(t, res)
		res = b.mustBill(b.run("2024-03-01", "2024-03-31"), 1<<40)
		require.Empty(t, res)
		require.Equal(t, before, b.state())
	})
}

// TestInvoiceNumbers holds that invoice numbers are INV- and ten digits, unique and
// ascending: one invoice per account per call, numbered in account id order, and later
// calls number after earlier ones.
func TestInvoiceNumbers(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		p := b.duo()
		var accs []int
		for i := range 3 {
			acc := b.account(fmt.Sprintf("Numbered %d", i), 1)
			accs = append(accs, acc)
			b.provision(acc, p, "2024-01-01", 0)
		}
		numbers := func(req billing.Request) map[int]string {
			out := map[int]string{}
			for _, in := range b.invoices(req.BillRunID) {
				out[in.Account] = in.Number
			}
			return out
		}
		jan := b.run("2024-01-01", "2024-01-31")
		b.mustBill(jan, accs[2], accs[0], accs[1])
		require.Equal(t, map[int]string{accs[0]: "INV-0000000001", accs[1]: "INV-0000000002", accs[2]: "INV-0000000003"}, numbers(jan))

		feb := b.run("2024-02-01", "2024-02-29")
		b.mustBill(feb, accs[2], accs[0])
		require.Equal(t, map[int]string{accs[0]: "INV-0000000004", accs[2]: "INV-0000000005"}, numbers(feb))

		mar := b.run("2024-03-01", "2024-03-31")
		b.mustBill(mar, accs...)
		// accs[1] was not billed in February: March bills its February and March.
		require.Equal(t, map[int]string{accs[0]: "INV-0000000006", accs[1]: "INV-0000000007", accs[2]: "INV-0000000008"}, numbers(mar))

		all, err := b.db.Client.Invoice.Query().Order(ent.Asc(invoice.FieldID)).All(b.ctx)
		require.NoError(t, err)
		require.Len(t, all, 8)
		for i := 1; i < len(all); i++ {
			require.Less(t, all[i-1].Number, all[i].Number, "numbers ascend with the invoices")
		}
	})
}

// TestGuardRefusesSecondCharge holds exactly once by the database: a line whose guard
// is already in the charges table makes Bill fail, and its transaction writes nothing.
func TestGuardRefusesSecondCharge(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, dia string) {
		b := setup(t, dia)
		ln := b.service("Line", service.KindRECURRING)
		p := b.pkg("Monthly", flags{}, packagefrequency.IntervalMONTH, recurring(ln, "10.00"))
		acc := b.account("Guarded", 1)
		ap := b.provision(acc, p, "2024-01-01", 0)
		svc, err := b.db.Client.AccountService.Query().Where(accountservice.AccountPackageID(ap)).Only(b.ctx)
		require.NoError(t, err)
		// What another writer charged for the January period, under its guard.
		_, err = b.db.Client.Charge.Create().SetKind(charge.KindRECURRING).SetDescription("Line").
			SetAccountID(acc).SetAccountServiceID(svc.ID).SetPeriodStart(d("2024-01-01")).
			SetQuantity(1).SetUnitAmount(m("10.00")).SetAmount(m("10.00")).
			SetGuard(rating.Guard(rating.Recurring, svc.ID, "2024-01-01")).Save(b.ctx)
		require.NoError(t, err)
		req := b.run("2024-01-01", "2024-01-31")
		before := b.state()

		_, err = b.billIn(b.ctx, req, acc)
		require.Error(t, err, "the guard index refuses a second charge of the period")
		require.True(t, billing.Concurrent(err), "a guard refusal through the bulk writer means billed concurrently: %v", err)
		require.Equal(t, before, b.state(), "the transaction wrote nothing")
		require.Empty(t, b.invoices(req.BillRunID))
		b.requirePosition(ap, "ACTIVE", "2024-01-01", "null")
	})
}

// TestConcurrent holds which errors mean "billed concurrently": ErrConcurrent, a
// moved position and an ent constraint error, wrapped or not; nothing else.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	// A real ent constraint error: a second currency with a code taken.
	_, constraint := b.db.Client.Currency.Create().SetCode("USD").SetName("Again").SetPrecision(2).Save(b.ctx)
	require.True(t, ent.IsConstraintError(constraint))

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"ErrConcurrent", billing.ErrConcurrent, true},
		{"wrapped ErrConcurrent", fmt.Errorf("account 7: %w", billing.ErrConcurrent), true},
		{"position moved", store.ErrPositionMoved, true},
		{"wrapped position moved", fmt.Errorf("batch: %w", store.ErrPositionMoved), true},
		{"constraint", constraint, true},
		{"other", errors.New("billed concurrently"), false},
		{"coded", fault.Preconditionf("no"), false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, billing.Concurrent(tt.err))
		})
	}
}
