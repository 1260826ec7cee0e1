package usage_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/currency"
	"github.com/billd/billd/ent/packagefrequency"
	"github.com/billd/billd/ent/service"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/catalog"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/store"
	"github.com/billd/billd/internal/testenv"
	"github.com/billd/billd/internal/usage"
)

func d(s string) calendar.Date { return calendar.MustParse(s) }
func m(s string) money.Decimal { return money.MustParse(s) }
func ptr[T any](v T) *T        { return &v }

// testBundle is a fresh database with a Mobile package (Line, RECURRING; Data, USAGE
// in MB; Volume, USAGE in GB with 3 decimals) and one account holding it from
// 2024-01-01: data and volume are its USAGE account-services, line the other one.
type testBundle struct {
	ctx                context.Context
	db                 *store.DB
	svc                *usage.Service
	account            int
	data, volume, line int
	ap                 *ent.AccountPackage
}

func setup(t *testing.T) *testBundle { return setupOn(t, "sqlite") }

func setupOn(t *testing.T, dialect string) *testBundle {
	t.Helper()
	db := testenv.OpenDB(t, dialect)
	ctx := t.Context()
	cat := catalog.New(db.Client)
	mk := func(in catalog.CreateServiceInput) *ent.Service {
		sv, err := cat.CreateService(ctx, in)
		require.NoError(t, err)
		return sv
	}
	line := mk(catalog.CreateServiceInput{Name: "Line", Kind: service.KindRECURRING})
	data := mk(catalog.CreateServiceInput{Name: "Data", Kind: service.KindUSAGE, Unit: ptr("MB")})
	volume := mk(catalog.CreateServiceInput{Name: "Volume", Kind: service.KindUSAGE, Unit: ptr("GB"), UnitDecimals: ptr(3)})
	pkg, err := cat.CreatePackage(ctx, catalog.CreatePackageInput{Name: "Mobile", Currencies: []string{"USD"},
		Services: []*catalog.PackageServiceInput{{ServiceID: line.ID}, {ServiceID: data.ID, Included: ptr(m("100"))},
			{ServiceID: volume.ID, Included: ptr(m("1.5"))}},
		Frequencies: []*catalog.PackageFrequencyInput{{Name: "Monthly", Interval: packagefrequency.IntervalMONTH,
			Prices: []*catalog.ServicePriceInput{{ServiceID: line.ID, Currency: "USD",
				Recurring: []*catalog.StatusPriceInput{{Status: "ACTIVE", Amount: m("10")}}}}}}})
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, db: db, svc: usage.New(db, clock.NewFixed(time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC)))}
	b.account, b.ap = b.newAccount(t, pkg.ID)
	svcs, err := b.ap.QueryServices().All(ctx)
	require.NoError(t, err)
	for _, sv := range svcs {
		switch sv.ServiceID {
		case data.ID:
			b.data = sv.ID
		case volume.ID:
			b.volume = sv.ID
		case line.ID:
			b.line = sv.ID
		}
	}
	return b
}

// newAccount writes an account holding the package from 2024-01-01, with its
// services, straight through ent (as provisioning leaves them).
func (b *testBundle) newAccount(t *testing.T, pkgID int) (int, *ent.AccountPackage) {
	t.Helper()
	c := b.db.Client
	usd, err := c.Currency.Query().Where(currency.Code("USD")).OnlyID(b.ctx)
	require.NoError(t, err)
	active, err := c.Status.Query().Where(status.Code("ACTIVE")).OnlyID(b.ctx)
	require.NoError(t, err)
	acc, err := c.Account.Create().SetName("Customer").SetCurrencyID(usd).SetBillDay(1).Save(b.ctx)
	require.NoError(t, err)
	freq, err := c.PackageFrequency.Query().Where(packagefrequency.PackageID(pkgID)).First(b.ctx)
	require.NoError(t, err)
	ap, err := c.AccountPackage.Create().SetAccountID(acc.ID).SetPackageID(pkgID).SetFrequencyID(freq.ID).
		SetStatusID(active).SetBulkQuantity(1).SetEffectiveDate(d("2024-01-01")).SetNextBillDate(d("2024-01-01")).
		SetChargeFullPeriod(false).SetPostpaid(false).Save(b.ctx)
	require.NoError(t, err)
	pss, err := c.PackageService.Query().All(b.ctx)
	require.NoError(t, err)
	for _, ps := range pss {
		if ps.PackageID != pkgID {
			continue
		}
		require.NoError(t, c.AccountService.Create().SetAccountPackageID(ap.ID).SetServiceID(ps.ServiceID).
			SetStatusID(active).SetQuantity(1).SetEffectiveDate(d("2024-01-01")).Exec(b.ctx))
	}
	return acc.ID, ap
}

func (b *testBundle) rec(key string, as int, qty, date string) usage.RecordInput {
	return usage.RecordInput{Key: key, AccountServiceID: ptr(as), Quantity: m(qty), Date: d(date)}
}

// days returns an account-service's daily totals as "date quantity/records".
func (b *testBundle) days(t *testing.T, as int) map[string]string {
	t.Helper()
	rows, err := b.db.Client.UsageDay.Query().Where(usageday.AccountServiceID(as)).All(b.ctx)
	require.NoError(t, err)
	out := map[string]string{}
	for _, r := range rows {
		out[r.Day.String()] = fmt.Sprintf("%s/%d", r.Quantity, r.Records)
	}
	return out
}

func (b *testBundle) records(t *testing.T) int {
	t.Helper()
	n, err := b.db.Client.UsageRecord.Query().Count(b.ctx)
	require.NoError(t, err)
	return n
}

func TestRecord(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, dialect)
			res, err := b.svc.Record(b.ctx, []usage.RecordInput{
				b.rec("a", b.data, "4", "2024-01-03"),
				b.rec("b", b.data, "7", "2024-01-05"),
				b.rec("c", b.data, "0", "2024-01-05"),
				b.rec("d", b.volume, "1.25", "2024-01-05"),
			})
			require.NoError(t, err)
			require.Equal(t, usage.Result{Accepted: 4}, res)
			require.Equal(t, map[string]string{"2024-01-03": "4/1", "2024-01-05": "7/2"}, b.days(t, b.data))
			require.Equal(t, map[string]string{"2024-01-05": "1.25/1"}, b.days(t, b.volume))

			// Sent again, with one new record and a duplicate inside the batch: only the
			// new one counts.
			res, err = b.svc.Record(b.ctx, []usage.RecordInput{
				b.rec("a", b.data, "4", "2024-01-03"),
				b.rec("e", b.data, "10", "2024-01-05"),
				b.rec("e", b.data, "10", "2024-01-05"),
				b.rec("d", b.volume, "1.25", "2024-01-05"),
			})
			require.NoError(t, err)
			require.Equal(t, usage.Result{Accepted: 1, Duplicates: 3}, res)
			require.Equal(t, map[string]string{"2024-01-03": "4/1", "2024-01-05": "17/3"}, b.days(t, b.data))
			require.Equal(t, 5, b.records(t))
		})
	}
}

func TestRecordRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.Record(b.ctx, []usage.RecordInput{b.rec("k1", b.data, "3", "2024-01-02")})
	require.NoError(t, err)
	// The account-package canceled on 2024-02-10; Volume ended on 2024-01-20.
	require.NoError(t, b.db.Client.AccountPackage.UpdateOneID(b.ap.ID).SetCancellationDate(d("2024-02-10")).Exec(b.ctx))
	require.NoError(t, b.db.Client.AccountService.UpdateOneID(b.volume).SetEndDate(d("2024-01-20")).Exec(b.ctx))
	many := make([]usage.RecordInput, usage.MaxRecords+1)
	for i := range many {
		many[i] = b.rec(fmt.Sprintf("m%d", i), b.data, "1", "2024-01-02")
	}
	long := make([]byte, usage.MaxKeyLen+1)
	for i := range long {
		long[i] = 'k'
	}
	ok := b.rec("fine", b.data, "1", "2024-01-04")
	for _, tc := range []struct {
		name    string
		records []usage.RecordInput
		code    fault.Code
		field   string
	}{
		{"no records", nil, fault.Invalid, "records"},
		{"too many", many, fault.Invalid, "records"},
		{"empty key", []usage.RecordInput{ok, b.rec("", b.data, "1", "2024-01-02")}, fault.Invalid, "records[1].key"},
		{"key too long", []usage.RecordInput{b.rec(string(long), b.data, "1", "2024-01-02")}, fault.Invalid, "records[0].key"},
		{"control character", []usage.RecordInput{b.rec("a\nb", b.data, "1", "2024-01-02")}, fault.Invalid, "records[0].key"},
		{"no account-service", []usage.RecordInput{{Key: "x", Quantity: m("1"), Date: d("2024-01-02")}}, fault.Invalid, "records[0].accountServiceId"},
		{"both references", []usage.RecordInput{{Key: "x", AccountServiceID: ptr(b.data), UsageIdentifier: ptr("555"),
			Quantity: m("1"), Date: d("2024-01-02")}}, fault.Invalid, "records[0].usageIdentifier"},
		{"negative", []usage.RecordInput{ok, b.rec("x", b.data, "-1", "2024-01-02")}, fault.Invalid, "records[1].quantity"},
		{"finer than MB", []usage.RecordInput{ok, b.rec("x", b.data, "1.5", "2024-01-02")}, fault.Invalid, "records[1].quantity"},
		{"finer than GB's 3 decimals", []usage.RecordInput{b.rec("x", b.volume, "1.2345", "2024-01-02")}, fault.Invalid, "records[0].quantity"},
		{"not a USAGE service", []usage.RecordInput{ok, b.rec("x", b.line, "1", "2024-01-02")}, fault.Invalid, "records[1].accountServiceId"},
		{"before the effective date", []usage.RecordInput{b.rec("x", b.data, "1", "2023-12-31")}, fault.Invalid, "records[0].date"},
		{"on the cancellation date", []usage.RecordInput{ok, b.rec("x", b.data, "1", "2024-02-10")}, fault.Invalid, "records[1].date"},
		{"after the service ended", []usage.RecordInput{b.rec("x", b.volume, "1", "2024-01-20")}, fault.Invalid, "records[0].date"},
		{"unknown account-service", []usage.RecordInput{ok, b.rec("x", b.data+100000, "1", "2024-01-02")}, fault.NotFound, "records[1].accountServiceId"},
		{"unknown identifier", []usage.RecordInput{{Key: "x", UsageIdentifier: ptr("555-0100"), Quantity: m("1"), Date: d("2024-01-02")}},
			fault.NotFound, "records[0].usageIdentifier"},
		{"a key recorded with other content", []usage.RecordInput{ok, b.rec("k1", b.data, "4", "2024-01-02")}, fault.Conflict, "records[1].key"},
		{"a key twice in the batch with other content", []usage.RecordInput{ok, b.rec("fine", b.data, "2", "2024-01-04")}, fault.Conflict, "records[1].key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, days := b.records(t), b.days(t, b.data)
			_, err := b.svc.Record(b.ctx, tc.records)
			require.Error(t, err)
			require.Equal(t, tc.code, fault.CodeOf(err), "%v", err)
			fe, _ := fault.As(err)
			require.Equal(t, tc.field, fe.Field, "%v", err)
			require.Equal(t, before, b.records(t), "nothing written")
			require.Equal(t, days, b.days(t, b.data))
		})
	}
}

// TestRecordByIdentifier sends records by usage identifier: each goes to the
// account-service that had the identifier on the record's date.
func TestRecordByIdentifier(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.db.Client
	// Data had 555-0100 until the line was moved on 2024-01-15 to a new
	// account-service (Volume here, effective then).
	require.NoError(t, c.AccountService.UpdateOneID(b.data).SetUsageIdentifier("555-0100").SetEndDate(d("2024-01-15")).Exec(b.ctx))
	require.NoError(t, c.AccountService.UpdateOneID(b.volume).SetUsageIdentifier("555-0100").SetEffectiveDate(d("2024-01-15")).Exec(b.ctx))
	res, err := b.svc.Record(b.ctx, []usage.RecordInput{
		{Key: "i1", UsageIdentifier: ptr("555-0100"), Quantity: m("5"), Date: d("2024-01-14")},
		{Key: "i2", UsageIdentifier: ptr("555-0100"), Quantity: m("6"), Date: d("2024-01-15")},
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)
	require.Equal(t, map[string]string{"2024-01-14": "5/1"}, b.days(t, b.data))
	require.Equal(t, map[string]string{"2024-01-15": "6/1"}, b.days(t, b.volume))
	_, err = b.svc.Record(b.ctx, []usage.RecordInput{{Key: "i3", UsageIdentifier: ptr("555-0100"), Quantity: m("1"), Date: d("2023-12-01")}})
	require.Equal(t, fault.NotFound, fault.CodeOf(err))
}

// TestRecordConcurrently sends the same batches from several writers at once: every
// record counts once in the totals, whoever stored it.
func TestRecordConcurrently(t *testing.T) {
	t.Parallel()
	for _, dialect := range testenv.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			b := setupOn(t, dialect)
			var batches [][]usage.RecordInput
			for n := 0; n < 6; n++ {
				var batch []usage.RecordInput
				for i := 0; i < 50; i++ {
					k := (n*37 + i) % 120 // batches overlap
					batch = append(batch, b.rec(fmt.Sprintf("k%d", k), b.data, fmt.Sprint(k%7+1), fmt.Sprintf("2024-01-%02d", k%28+1)))
				}
				batches = append(batches, batch)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 6*len(batches))
			for w := 0; w < 6; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					for i := range batches {
						_, err := b.svc.Record(b.ctx, batches[(i+w)%len(batches)])
						errs <- err
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			// What the distinct keys add up to, by day.
			want := map[string]money.Decimal{}
			count := map[string]int{}
			seen := map[string]bool{}
			for _, batch := range batches {
				for _, r := range batch {
					if seen[r.Key] {
						continue
					}
					seen[r.Key] = true
					want[r.Date.String()] = want[r.Date.String()].Add(r.Quantity)
					count[r.Date.String()]++
				}
			}
			wantDays := map[string]string{}
			for day, q := range want {
				wantDays[day] = fmt.Sprintf("%s/%d", q, count[day])
			}
			require.Equal(t, wantDays, b.days(t, b.data))
			require.Equal(t, len(seen), b.records(t))
		})
	}
}

// TestSummarize checks the buckets a summary shows against the rules' proration
// (docs/billing.md 6.3): a final period cut by a PRORATED cancellation prorates it
// (U14: 100 × 20/31 → 65), other options and chargeFullPeriod keep it whole.
func TestSummarize(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		change   func(u *ent.AccountPackageUpdateOne)
		svcFrom  string // the Data account-service's own effective date, if later
		on       string
		included string
		end      string
	}{
		{"a full month", func(*ent.AccountPackageUpdateOne) {}, "", "2024-01-20", "100", "2024-02-01"},
		{"U14 canceled PRORATED on the 21st", func(u *ent.AccountPackageUpdateOne) {
			u.SetCancellationDate(d("2024-01-21")).SetCancelBillingOption(accountpackage.CancelBillingOptionPRORATED)
		}, "", "2024-01-20", "65", "2024-01-21"},
		{"canceled FULL_PERIOD keeps the bucket", func(u *ent.AccountPackageUpdateOne) {
			u.SetCancellationDate(d("2024-01-21")).SetCancelBillingOption(accountpackage.CancelBillingOptionFULL_PERIOD)
		}, "", "2024-01-20", "100", "2024-01-21"},
		{"a service added on the 15th", func(*ent.AccountPackageUpdateOne) {}, "2024-01-15", "2024-01-20", "55", "2024-02-01"},
		{"chargeFullPeriod keeps it whole", func(u *ent.AccountPackageUpdateOne) { u.SetChargeFullPeriod(true) },
			"2024-01-15", "2024-01-20", "100", "2024-02-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			u := b.db.Client.AccountPackage.UpdateOneID(b.ap.ID)
			tc.change(u)
			require.NoError(t, u.Exec(b.ctx))
			if tc.svcFrom != "" {
				require.NoError(t, b.db.Client.AccountService.UpdateOneID(b.data).SetEffectiveDate(d(tc.svcFrom)).Exec(b.ctx))
			}
			_, err := b.svc.Record(b.ctx, []usage.RecordInput{b.rec("a", b.data, "7", "2024-01-16"), b.rec("b", b.data, "5", "2024-01-18")})
			require.NoError(t, err)
			on := d(tc.on)
			sum, err := b.svc.Summarize(b.ctx, b.data, &on)
			require.NoError(t, err)
			require.Equal(t, tc.included, sum.Included.String())
			require.Equal(t, "12", sum.Used.String())
			require.Equal(t, tc.end, sum.End.String())
		})
	}
	// Without a day: today, the clock's 2024-01-20; GB keeps its 3 decimals.
	b := setup(t)
	sum, err := b.svc.Summarize(b.ctx, b.volume, nil)
	require.NoError(t, err)
	require.Equal(t, "2024-01-01", sum.Start.String())
	require.Equal(t, "1.500", sum.Included.String())
}
