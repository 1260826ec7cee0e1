package invoicing_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/internal/account"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/invoicing"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
)

// Package tests of invoicing (docs/billing.md 1, 4.3, 4.7; README.md): numbering,
// closing, totals and removing charges, on SQLite and on PostgreSQL, whose counters,
// numeric columns and locks differ. Invoices and lines are written through ent as a
// bill run writes them.

func d(s string) calendar.Date { return calendar.MustParse(s) }
func m(s string) money.Decimal { return money.MustParse(s) }

// testBundle is what a test works on: a database of its own with a catalog package
// (service Line, priced in USD and JPY), accounts in USD and JPY, and a finished bill
// run for the invoices billing creates. The cases of a table share their test's
// database, each with accounts of its own (fork) whose rows only its snapshots see.
type testBundle struct {
	ctx      context.Context
	db       *store.DB
	invoices *invoicing.Service
	accts    *account.Service
	line     int // the service lines charge
	run      *ent.BillRun
	usd, jpy *ent.Account
	scoped   bool
}

// guards numbers the lines tests write, whose guards must be unique.
var guards atomic.Int64

// setup builds the bundle on a fresh database of the given kind.
func setup(t *testing.T, dialect string) *testBundle {
	t.Helper()
	ctx := context.Background()
	db := testenv.OpenDB(t, dialect)
	clk := clock.NewFixed(time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC))
	cat := catalog.New(db.Client)
	line, err := cat.CreateService(ctx, catalog.CreateServiceInput{Name: "Line", Kind: service.KindRECURRING})
	require.NoError(t, err)
	price := func(cur, amount string) *catalog.ServicePriceInput {
		return &catalog.ServicePriceInput{ServiceID: line.ID, Currency: cur,
			Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m(amount)}}}
	}
	_, err = cat.CreatePackage(ctx, catalog.CreatePackageInput{
		Name: "Pro", Currencies: []string{"USD", "JPY"},
		Services: []*catalog.PackageServiceInput{{ServiceID: line.ID}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
			Prices: []*catalog.ServicePriceInput{price("USD", "10.00"), price("JPY", "1000")}}},
	})
	require.NoError(t, err)
	run, err := db.Client.BillRun.Create().SetStatus(billrun.StatusCOMPLETED).SetPeriodStart(d("2024-01-01")).
		SetPeriodEnd(d("2024-01-31")).SetPostingDate(d("2024-01-31")).SetCreatedAt(clk.Now()).Save(ctx)
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, db: db, invoices: invoicing.New(db.Client), accts: account.New(db, clk),
		line: line.ID, run: run}
	b.openAccounts(t)
	return b
}

func (b *testBundle) openAccounts(t *testing.T) {
	t.Helper()
	acc := func(name, cur string) *ent.Account {
		a, err := b.accts.Create(b.ctx, account.CreateAccountInput{Name: name, Currency: cur, BillDay: 1})
		require.NoError(t, err)
		return a
	}
	b.usd, b.jpy = acc("Dollar Co", "USD"), acc("Yen Co", "JPY")
}

// fork returns the bundle with accounts of its own, for a case sharing its test's
// database with others running in parallel.
func (b *testBundle) fork(t *testing.T) *testBundle {
	t.Helper()
	f := *b
	f.openAccounts(t)
	f.scoped = true
	return &f
}

// invoice writes an invoice of acc, numbered from the counter, with the given total
// (not computed: tests set it as billing would, or wrong on purpose), created by the
// bill run unless manual.
func (b *testBundle) invoice(t *testing.T, acc *ent.Account, manual bool, total string) *ent.Invoice {
	t.Helper()
	n, err := invoicing.NextNumbers(b.ctx, b.db, 1)
	require.NoError(t, err)
	q := b.db.Client.Invoice.Create().SetNumber(invoicing.FormatNumber(n)).SetAccountID(acc.ID).
		SetCurrencyID(acc.CurrencyID).SetIssueDate(d("2024-01-31")).SetPostingDate(d("2024-01-31")).SetTotal(m(total))
	if !manual {
		q.SetBillRunID(b.run.ID)
	}
	inv, err := q.Save(b.ctx)
	require.NoError(t, err)
	return inv
}

// lines writes one line per amount on inv, or on no invoice when inv is nil.
func (b *testBundle) lines(t *testing.T, acc *ent.Account, inv *ent.Invoice, amounts ...string) []int {
	t.Helper()
	builders := make([]*ent.ChargeCreate, len(amounts))
	for i, a := range amounts {
		q := b.db.Client.Charge.Create().SetKind(charge.KindRECURRING).SetDescription("Line").SetAccountID(acc.ID).
			SetServiceID(b.line).SetPeriodStart(d("2024-01-01")).SetPeriodEnd(d("2024-01-31")).SetQuantity(1).
			SetUnitAmount(m(a)).SetAmount(m(a)).SetGuard(fmt.Sprintf("TEST:%d", guards.Add(1)))
		if m(a).IsNegative() {
			q.SetKind(charge.KindCREDIT)
		}
		if inv != nil {
			q.SetInvoiceID(inv.ID)
		}
		builders[i] = q
	}
	var ids []int
	for start := 0; start < len(builders); start += 500 {
		chs, err := b.db.Client.Charge.CreateBulk(builders[start:min(start+500, len(builders))]...).Save(b.ctx)
		require.NoError(t, err)
		for _, c := range chs {
			ids = append(ids, c.ID)
		}
	}
	return ids
}

// get reads an invoice back; nil when it is gone.
func (b *testBundle) get(t *testing.T, id int) *ent.Invoice {
	t.Helper()
	inv, err := b.db.Client.Invoice.Get(b.ctx, id)
	if ent.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return inv
}

func (b *testBundle) total(t *testing.T, id int) string {
	t.Helper()
	inv := b.get(t, id)
	require.NotNil(t, inv, "invoice %d is gone", id)
	return inv.Total.String()
}

// state is the invoices and lines of the bundle's accounts (all of them unless
// forked), counted with ent and printed.
type state struct {
	invoices, charges int
	rows              []string
}

func (b *testBundle) snapshot(t *testing.T) state {
	t.Helper()
	invs, chs := b.db.Client.Invoice.Query(), b.db.Client.Charge.Query()
	if b.scoped {
		invs.Where(invoice.AccountIDIn(b.usd.ID, b.jpy.ID))
		chs.Where(charge.AccountIDIn(b.usd.ID, b.jpy.ID))
	}
	var s state
	var err error
	s.invoices, err = invs.Clone().Count(b.ctx)
	require.NoError(t, err)
	s.charges, err = chs.Clone().Count(b.ctx)
	require.NoError(t, err)
	invRows, err := invs.Order(ent.Asc(invoice.FieldID)).All(b.ctx)
	require.NoError(t, err)
	for _, inv := range invRows {
		s.rows = append(s.rows, inv.String())
	}
	chRows, err := chs.Order(ent.Asc(charge.FieldID)).All(b.ctx)
	require.NoError(t, err)
	for _, c := range chRows {
		s.rows = append(s.rows, c.String())
	}
	return s
}

func requireFault(t *testing.T, err error, code fault.Code, field string) {
	t.Helper()
	require.Error(t, err)
	fe, ok := fault.As(err)
	require.True(t, ok, "want a *fault.Error, got %v", err)
	require.Equal(t, code, fe.Code, "code; message: %s", fe.Message)
	require.Equal(t, field, fe.Field, "field; message: %s", fe.Message)
}

// race runs n calls at once and returns their errors.
func race(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// TestFormatNumber holds the number format: "INV-" and the number zero-padded to ten
// digits, so that numbers sort the same as text and as numbers.
func TestFormatNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "INV-0000000000"},
		{1, "INV-0000000001"},
		{42, "INV-0000000042"},
		{1234567890, "INV-1234567890"},
		{9999999999, "INV-9999999999"},
		{10000000000, "INV-10000000000"}, // past ten digits nothing is cut off
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got := invoicing.FormatNumber(tt.n)
			require.Equal(t, tt.want, got)
			require.True(t, strings.HasPrefix(got, invoicing.NumberPrefix))
		})
	}

	t.Run("text order is number order", func(t *testing.T) {
		t.Parallel()
		ns := []int64{1, 2, 9, 10, 11, 99, 100, 999999999, 1000000000, 9999999999}
		var texts []string
		for _, n := range ns {
			texts = append(texts, invoicing.FormatNumber(n))
		}
		require.True(t, sort.StringsAreSorted(texts), "%v", texts)
	})
}

// TestNextNumbers holds invoice numbering (README.md): NextNumbers(n) reserves n
// numbers and returns the first, unique and ascending in the order they are drawn,
// also when drawn concurrently; n must be positive. Inside a transaction that rolls
// back, SQLite (one writer, the counter in that transaction) gives the numbers out
// again, while PostgreSQL (the counter in a statement of its own) leaves a gap.
func TestNextNumbers(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()

			t.Run("in order", func(t *testing.T) {
				t.Parallel()
				b := setup(t, dialect)
				draws := []struct {
					n     int
					first int64
				}{{1, 1}, {3, 2}, {1, 5}, {10, 6}, {1, 16}}
				for _, dr := range draws {
					first, err := invoicing.NextNumbers(b.ctx, b.db, dr.n)
					require.NoError(t, err)
					require.Equal(t, dr.first, first, "drawing %d", dr.n)
				}
			})

			t.Run("n must be positive", func(t *testing.T) {
				t.Parallel()
				b := setup(t, dialect)
				first, err := invoicing.NextNumbers(b.ctx, b.db, 2)
				require.NoError(t, err)
				require.EqualValues(t, 1, first)
				for _, n := range []int{0, -1} {
					_, err := invoicing.NextNumbers(b.ctx, b.db, n)
					require.Error(t, err, "n = %d", n)
				}
				first, err = invoicing.NextNumbers(b.ctx, b.db, 1)
				require.NoError(t, err)
				require.EqualValues(t, 3, first, "a refused draw reserves nothing")
			})

			t.Run("concurrently: unique, without gaps, ascending per caller", func(t *testing.T) {
				t.Parallel()
				b := setup(t, dialect)
				const callers, draws = 12, 6
				type draw struct{ first, n int64 }
				got := make([][]draw, callers)
				errs := race(callers, func(i int) error {
					for k := range draws {
						n := 1 + (i+k)%4
						first, err := invoicing.NextNumbers(b.ctx, b.db, n)
						if err != nil {
							return err
						}
						got[i] = append(got[i], draw{first, int64(n)})
					}
					return nil
				})
				var all []draw
				var total int64
				for i, err := range errs {
					require.NoError(t, err)
					for k, dr := range got[i] {
						if k > 0 {
							require.Greater(t, dr.first, got[i][k-1].first, "caller %d: ascending in the order drawn", i)
						}
						all = append(all, dr)
						total += dr.n
					}
				}
				sort.Slice(all, func(i, j int) bool { return all[i].first < all[j].first })
				next := int64(1)
				for _, dr := range all {
					require.Equal(t, next, dr.first, "the ranges are disjoint and leave no gap")
					next += dr.n
				}
				require.Equal(t, total+1, next)
				after, err := invoicing.NextNumbers(b.ctx, b.db, 1)
				require.NoError(t, err)
				require.Equal(t, total+1, after)
			})

			t.Run("inside a transaction that rolls back", func(t *testing.T) {
				t.Parallel()
				b := setup(t, dialect)
				_, err := invoicing.NextNumbers(b.ctx, b.db, 1)
				require.NoError(t, err)
				errRollback := errors.New("the batch failed")
				err = store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
					first, err := invoicing.NextNumbers(ctx, b.db, 3)
					require.NoError(t, err)
					require.EqualValues(t, 2, first)
					return errRollback
				})
				require.ErrorIs(t, err, errRollback)
				first, err := invoicing.NextNumbers(b.ctx, b.db, 1)
				require.NoError(t, err)
				if dialect == "postgres" {
					require.EqualValues(t, 5, first, "PostgreSQL: 2..4 stay reserved, a gap")
				} else {
					require.EqualValues(t, 2, first, "SQLite: no gap")
				}
			})

			t.Run("inside a transaction that commits", func(t *testing.T) {
				t.Parallel()
				b := setup(t, dialect)
				err := store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
					for want := int64(1); want <= 3; want++ {
						first, err := invoicing.NextNumbers(ctx, b.db, 1)
						require.NoError(t, err)
						require.Equal(t, want, first)
					}
					return nil
				})
				require.NoError(t, err)
				first, err := invoicing.NextNumbers(b.ctx, b.db, 1)
				require.NoError(t, err)
				require.EqualValues(t, 4, first)
			})
		})
	}
}

// TestClose holds closeInvoice (docs/billing.md 4.3): an OPEN invoice becomes CLOSED
// once, keeping its number, total and lines; closing it again is FAILED_PRECONDITION
// and an unknown id NOT_FOUND, both writing nothing. Concurrent closes of one invoice:
// exactly one wins, the others are refused with a code.
func TestClose(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			shared := setup(t, dialect)

			t.Run("OPEN to CLOSED once", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				inv := b.invoice(t, b.usd, false, "3.55")
				b.lines(t, b.usd, inv, "10.65", "-7.10")
				other := b.invoice(t, b.usd, false, "1.00")
				require.Equal(t, invoice.StatusOPEN, inv.Status, "invoices start OPEN")

				got, err := b.invoices.Close(b.ctx, inv.ID)
				require.NoError(t, err)
				require.Equal(t, invoice.StatusCLOSED, got.Status)
				require.Equal(t, inv.Number, got.Number)
				require.Equal(t, "3.55", got.Total.String())
				require.Equal(t, got.String(), b.get(t, inv.ID).String(), "what Close returns is what it wrote")
				n, err := b.db.Client.Charge.Query().Where(charge.InvoiceID(inv.ID)).Count(b.ctx)
				require.NoError(t, err)
				require.Equal(t, 2, n)
				require.Equal(t, invoice.StatusOPEN, b.get(t, other.ID).Status, "only that invoice")

				before := b.snapshot(t)
				_, err = b.invoices.Close(b.ctx, inv.ID)
				requireFault(t, err, fault.FailedPrecondition, "")
				require.Equal(t, before, b.snapshot(t))
			})

			t.Run("unknown id", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				inv := b.invoice(t, b.usd, false, "0.00")
				before := b.snapshot(t)
				_, err := b.invoices.Close(b.ctx, inv.ID+1_000_000)
				requireFault(t, err, fault.NotFound, "id")
				require.Equal(t, before, b.snapshot(t))
			})

			t.Run("concurrently: exactly one close wins", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				for round := range 5 {
					inv := b.invoice(t, b.usd, false, "1.00")
					errs := race(6, func(int) error { _, err := b.invoices.Close(b.ctx, inv.ID); return err })
					won := 0
					for _, err := range errs {
						if err == nil {
							won++
							continue
						}
						fe, ok := fault.As(err)
						require.True(t, ok, "round %d: want a coded refusal, got %v", round, err)
						require.Contains(t, []fault.Code{fault.FailedPrecondition, fault.Conflict}, fe.Code, fe.Message)
					}
					require.Equal(t, 1, won, "round %d", round)
					require.Equal(t, invoice.StatusCLOSED, b.get(t, inv.ID).Status)
				}
			})
		})
	}
}

// TestRemoveCharges holds the removal of charges (README.md, docs/billing.md 3.1): lines
// on OPEN invoices or on none are deleted, the invoices they leave are retotaled to the
// exact sum of their remaining lines, an invoice billing created left with no lines is
// deleted (one made otherwise stays, at zero), and a line on a CLOSED invoice refuses
// the whole removal with FAILED_PRECONDITION, removing nothing.
func TestRemoveCharges(t *testing.T) {
	t.Parallel()

	// fixture: on the USD account, A (billing, 3.56) with lines 10.65, −7.10 and 0.01;
	// B (billing, 20.00) with 20.00; M (made outside billing, 5.00) with 5.00; C
	// (billing, CLOSED, 1.00) with 1.00; and a line of 15.00 on no invoice. On the JPY
	// account, Y (billing, 667) with 1000 and −333.
	type fixture struct {
		a, b, m, c, y      *ent.Invoice
		aL, bL, mL, cL, yL []int
		loose              []int
	}
	prepare := func(t *testing.T, b *testBundle) fixture {
		var f fixture
		f.a = b.invoice(t, b.usd, false, "3.56")
		f.aL = b.lines(t, b.usd, f.a, "10.65", "-7.10", "0.01")
		f.b = b.invoice(t, b.usd, false, "20.00")
		f.bL = b.lines(t, b.usd, f.b, "20.00")
		f.m = b.invoice(t, b.usd, true, "5.00")
		f.mL = b.lines(t, b.usd, f.m, "5.00")
		f.c = b.invoice(t, b.usd, false, "1.00")
		f.cL = b.lines(t, b.usd, f.c, "1.00")
		_, err := b.invoices.Close(b.ctx, f.c.ID)
		require.NoError(t, err)
		f.y = b.invoice(t, b.jpy, false, "667")
		f.yL = b.lines(t, b.jpy, f.y, "1000", "-333")
		f.loose = b.lines(t, b.usd, nil, "15.00")
		return f
	}
	type want struct {
		a, b, m, y string // totals; "gone" when deleted
		charges    int    // lines removed
	}
	unchanged := want{a: "3.56", b: "20.00", m: "5.00", y: "667"}
	tests := []struct {
		name   string
		remove func(f fixture) []int
		want   want
	}{
		{"no charges", func(fixture) []int { return nil }, unchanged},
		{"one line of A", func(f fixture) []int { return f.aL[1:2] },
			want{a: "10.66", b: "20.00", m: "5.00", y: "667", charges: 1}},
		{"two lines of A: a negative total", func(f fixture) []int { return []int{f.aL[0], f.aL[2]} },
			want{a: "-7.10", b: "20.00", m: "5.00", y: "667", charges: 2}},
		{"every line of A: billing's invoice is deleted", func(f fixture) []int { return f.aL },
			want{a: "gone", b: "20.00", m: "5.00", y: "667", charges: 3}},
		{"every line of M: an invoice made outside billing stays, at zero", func(f fixture) []int { return f.mL },
			want{a: "3.56", b: "20.00", m: "0.00", y: "667", charges: 1}},
		{"lines of A, B and Y at once", func(f fixture) []int { return []int{f.aL[0], f.bL[0], f.yL[1]} },
			want{a: "-7.09", b: "gone", m: "5.00", y: "1000", charges: 3}},
		{"a line on no invoice", func(f fixture) []int { return f.loose },
			want{a: "3.56", b: "20.00", m: "5.00", y: "667", charges: 1}},
		{"ids of no charge are ignored", func(f fixture) []int { return []int{f.loose[0] + 1_000_000} }, unchanged},
	}
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			shared := setup(t, dialect)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					b := shared.fork(t)
					f := prepare(t, b)
					before := b.snapshot(t)
					err := store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
						return invoicing.RemoveCharges(ctx, store.Client(ctx, b.db.Client), tt.remove(f))
					})
					require.NoError(t, err)
					after := b.snapshot(t)
					require.Equal(t, before.charges-tt.want.charges, after.charges)
					for _, c := range []struct {
						inv  *ent.Invoice
						want string
					}{{f.a, tt.want.a}, {f.b, tt.want.b}, {f.m, tt.want.m}, {f.y, tt.want.y}} {
						if c.want == "gone" {
							require.Nil(t, b.get(t, c.inv.ID), "invoice %s", c.inv.Number)
							continue
						}
						require.Equal(t, c.want, b.total(t, c.inv.ID), "invoice %s", c.inv.Number)
					}
					require.Equal(t, "1.00", b.total(t, f.c.ID), "the CLOSED invoice never changes")
					require.Equal(t, invoice.StatusCLOSED, b.get(t, f.c.ID).Status)
				})
			}

			t.Run("a line on a CLOSED invoice refuses the removal", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				f := prepare(t, b)
				before := b.snapshot(t)
				err := store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
					return invoicing.RemoveCharges(ctx, store.Client(ctx, b.db.Client), append(append([]int{}, f.aL...), f.cL[0], f.loose[0]))
				})
				requireFault(t, err, fault.FailedPrecondition, "")
				require.Equal(t, before, b.snapshot(t))
			})

			t.Run("runs in the caller's transaction", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				f := prepare(t, b)
				before := b.snapshot(t)
				errRollback := errors.New("the caller failed afterwards")
				err := store.InTx(b.ctx, b.db.Client, func(ctx context.Context) error {
					if err := invoicing.RemoveCharges(ctx, store.Client(ctx, b.db.Client), f.aL); err != nil {
						return err
					}
					gone, err := store.Client(ctx, b.db.Client).Invoice.Query().Where(invoice.ID(f.a.ID)).Exist(ctx)
					require.NoError(t, err)
					require.False(t, gone, "the transaction sees the removal")
					require.Equal(t, before, b.snapshot(t), "nothing shows outside it before it commits")
					return errRollback
				})
				require.ErrorIs(t, err, errRollback)
				require.Equal(t, before, b.snapshot(t), "the rollback undoes the removal")
			})
		})
	}
}

// TestRetotal holds the invoice total rule (docs/billing.md 1, README.md): the exact sum
// of its lines in the currency's precision, added in Go (never in SQL, where SQLite
// would add text amounts as floats), whatever the total stored before; an invoice
// billing created left with no lines is deleted, one made otherwise stays at zero, and
// an id of no invoice is skipped.
func TestRetotal(t *testing.T) {
	t.Parallel()
	many := func(n int, amount string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = amount
		}
		return out
	}
	tests := []struct {
		name   string
		yen    bool
		manual bool
		stored string
		lines  []string
		want   string // "gone" when deleted
	}{
		{name: "one line", stored: "0.00", lines: []string{"50.00"}, want: "50.00"},
		{name: "a stored total that is wrong is corrected", stored: "99.99", lines: []string{"1.00", "2.00"}, want: "3.00"},
		{name: "a credit: 10.65 − 7.10", stored: "0.00", lines: []string{"10.65", "-7.10"}, want: "3.55"},
		{name: "cents that floats would not add exactly", stored: "0.00", lines: []string{"0.10", "0.20", "0.10", "0.10"}, want: "0.50"},
		{name: "a negative total", stored: "0.00", lines: []string{"5.00", "-12.34"}, want: "-7.34"},
		{name: "large amounts", stored: "0.00", lines: []string{"9999999999.99", "0.01", "1234567.89"}, want: "10001234567.89"},
		{name: "a thousand cents", stored: "0.00", lines: many(1000, "0.01"), want: "10.00"},
		{name: "yen, precision 0", yen: true, stored: "0", lines: []string{"1000", "-333", "1"}, want: "668"},
		{name: "no lines, made by billing: deleted", stored: "12.00", want: "gone"},
		{name: "no lines, made outside billing: zero", manual: true, stored: "12.00", want: "0.00"},
		{name: "no lines in yen, made outside billing: zero", yen: true, manual: true, stored: "12", want: "0"},
	}
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			shared := setup(t, dialect)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					b := shared.fork(t)
					acc := b.usd
					if tt.yen {
						acc = b.jpy
					}
					inv := b.invoice(t, acc, tt.manual, tt.stored)
					b.lines(t, acc, inv, tt.lines...)
					other := b.invoice(t, acc, false, "1")
					require.NoError(t, invoicing.Retotal(b.ctx, b.db.Client, []int{inv.ID}))
					if tt.want == "gone" {
						require.Nil(t, b.get(t, inv.ID))
					} else {
						require.Equal(t, tt.want, b.total(t, inv.ID))
					}
					require.Equal(t, "1", b.total(t, other.ID), "only the invoices asked for")
				})
			}

			t.Run("random lines: the total is their exact sum", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				rng := rand.New(rand.NewPCG(4, 2))
				for round := range 5 {
					var amounts []string
					cents := int64(0)
					for range 1 + rng.IntN(300) {
						c := rng.Int64N(2_000_001) - 1_000_000 // −10,000.00..10,000.00
						cents += c
						amounts = append(amounts, centsText(c))
					}
					inv := b.invoice(t, b.usd, false, "0.00")
					b.lines(t, b.usd, inv, amounts...)
					require.NoError(t, invoicing.Retotal(b.ctx, b.db.Client, []int{inv.ID}))
					require.Equal(t, centsText(cents), b.total(t, inv.ID), "round %d: %d lines", round, len(amounts))
				}
			})

			t.Run("several ids, unknown and repeated ones", func(t *testing.T) {
				t.Parallel()
				b := shared.fork(t)
				x := b.invoice(t, b.usd, false, "0.00")
				b.lines(t, b.usd, x, "1.10", "2.20")
				empty := b.invoice(t, b.usd, false, "4.00")
				before := b.snapshot(t)
				require.NoError(t, invoicing.Retotal(b.ctx, b.db.Client, []int{x.ID + 1_000_000, empty.ID, x.ID, empty.ID, x.ID}))
				require.Equal(t, "3.30", b.total(t, x.ID))
				require.Nil(t, b.get(t, empty.ID))
				after := b.snapshot(t)
				require.Equal(t, before.invoices-1, after.invoices)
				require.Equal(t, before.charges, after.charges)
				require.NoError(t, invoicing.Retotal(b.ctx, b.db.Client, nil))
			})
		})
	}
}

// centsText writes an amount of cents as a two-place decimal, independently of money.
func centsText(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, c/100, c%100)
}
