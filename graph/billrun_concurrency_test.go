package graph_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/testenv"
)

// The exactly-once guarantee of bill runs (docs/billing.md 4.8) under load: two billd
// instances on one database bill overlapping ranges at the same time, and the result
// must be what one instance billing the same runs one after another produces.

// concAccounts is how many accounts the set-up opens.
const concAccounts = 40

// concRuns are the runs billed, all at once, alternating between the instances:
// January twice and January 15..February 15 twice over every account, and January
// 15..February 15 once more over the accounts from the 11th on (listed by id, so
// its batches start in the middle of the others').
var concRuns = []struct {
	start, end string
	from       int // the first account of the run; 0: every account, unlisted
}{
	{"2024-01-01", "2024-01-31", 0},
	{"2024-01-15", "2024-02-15", 0},
	{"2024-01-01", "2024-01-31", 0},
	{"2024-01-15", "2024-02-15", 0},
	{"2024-01-15", "2024-02-15", 10},
}

// concPost posts a GraphQL document without a *testing.T, for goroutines.
func concPost(url, query string, vars map[string]any) (testenv.Response, error) {
	var out testenv.Response
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return out, err
	}
	req, err := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	if err != nil {
		return out, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+testenv.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&out)
	return out, err
}

// concSetUp builds the catalog and the accounts through the API of b. It is
// deterministic, so two databases set up with it hold the same accounts (by name).
//
// Packages (USD, bill day of the account unless said):
//   - "Conc Monthly", in advance: Line 30.00 (ACTIVE→CANCELED 15.00), Support 7.50,
//     Setup one-time 20.00;
//   - "Conc Postpaid", postpaid: Line 45.00 monthly;
//   - "Conc Weekly": Line 7.00 a week;
//   - "Conc Bulk", bulk component: Line 1.00 monthly, provisioned at bulk 20.
//
// Account i has 1..3 account-packages with effective dates from 2023-12-20 to
// 2024-02-03 and bill days 1, 15, 31, 28 and 10; every eighth account has its first
// package canceled (PRORATED, FULL_PERIOD or NONE, on a date inside the runs or after
// them), and another every eighth an end date. It returns the account ids in order.
func concSetUp(t *testing.T, b *testenv.Billd) []string {
	t.Helper()
	var accounts []string
	service := func(name, kind string) string {
		var out struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation($in: CreateServiceInput!) { createService(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"name": name, "kind": kind}}, &out)
		return out.CreateService.ID
	}
	line, support, setup := service("Conc Line", "RECURRING"), service("Conc Support", "RECURRING"), service("Conc Setup", "ONE_TIME")
	recurring := func(svc, amount string, transitions ...any) map[string]any {
		p := map[string]any{"serviceId": svc, "currency": "USD",
			"recurring": []any{map[string]any{"status": "ACTIVE", "amount": amount}}}
		if len(transitions) > 0 {
			p["transitions"] = transitions
		}
		return p
	}
	type pkgRef struct{ id, freq string }
	pkg := func(name string, flags map[string]any, interval string, services []string, prices ...any) pkgRef {
		in := map[string]any{"name": name, "currencies": []any{"USD"},
			"frequencies": []any{map[string]any{"name": interval, "interval": interval, "prices": prices}}}
		var svcs []any
		for _, s := range services {
			svcs = append(svcs, map[string]any{"serviceId": s})
		}
		in["services"] = svcs
		for k, v := range flags {
			in[k] = v
		}
		var out struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
			map[string]any{"in": in}, &out)
		require.Len(t, out.CreatePackage.Frequencies, 1)
		return pkgRef{out.CreatePackage.ID, out.CreatePackage.Frequencies[0].ID}
	}
	packages := []pkgRef{
		pkg("Conc Monthly", nil, "MONTH", []string{line, support, setup},
			recurring(line, "30.00", map[string]any{"from": "ACTIVE", "to": "CANCELED", "amount": "15.00"}),
			recurring(support, "7.50"),
			map[string]any{"serviceId": setup, "currency": "USD", "oneTime": "20.00"}),
		pkg("Conc Postpaid", map[string]any{"postpaid": true}, "MONTH", []string{line}, recurring(line, "45.00")),
		pkg("Conc Weekly", nil, "WEEK", []string{line}, recurring(line, "7.00")),
		pkg("Conc Bulk", map[string]any{"bulkQuantity": true}, "MONTH", []string{line}, recurring(line, "1.00")),
	}
	effective := []string{"2023-12-20", "2024-01-01", "2024-01-10", "2024-01-25", "2024-02-03"}
	billDays := []int{1, 15, 31, 28, 10}
	cancellations := []struct {
		days   int
		option string
	}{
		{12, "PRORATED"}, {40, "FULL_PERIOD"}, {5, "NONE"}, {90, "PRORATED"}, {0, "PRORATED"},
	}
	for i := range concAccounts {
		var acc struct{ CreateAccount struct{ ID string } }
		b.MustQuery(`mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`,
			map[string]any{"in": map[string]any{"name": fmt.Sprintf("Conc %02d", i), "currency": "USD", "billDay": billDays[i%5]}}, &acc)
		accounts = append(accounts, acc.CreateAccount.ID)
		for j := range i%3 + 1 {
			p := packages[(i+j)%len(packages)]
			eff := effective[(i+2*j)%len(effective)]
			in := map[string]any{"accountId": acc.CreateAccount.ID, "packageId": p.id, "frequencyId": p.freq, "effectiveDate": eff}
			if p == packages[3] {
				in["bulkQuantity"] = 20
			}
			if j == 1 && i%4 == 1 {
				in["billDay"] = 20 // the package's own bill day
			}
			if j == 0 && i%8 == 5 {
				in["endDate"] = calendar.MustParse(eff).AddDays(20).String() // PRORATED on the day after
			}
			var out struct{ ProvisionPackage []struct{ ID string } }
			b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`, map[string]any{"in": in}, &out)
			require.Len(t, out.ProvisionPackage, 1)
			if j == 0 && i%8 == 3 {
				c := cancellations[(i/8)%len(cancellations)]
				b.MustQuery(`mutation($id: ID!, $in: CancelAccountPackageInput!) { cancelAccountPackage(id: $id, input: $in) { id } }`,
					map[string]any{"id": out.ProvisionPackage[0].ID, "in": map[string]any{
						"cancellationDate": calendar.MustParse(eff).AddDays(c.days).String(), "billingOption": c.option}}, nil)
			}
		}
	}
	return accounts
}

// concRun is a bill run as the API shows it.
type concRun struct {
	ID                string
	Status            string
	PeriodStart       string
	PeriodEnd         string
	AccountsTotal     int
	AccountsProcessed int
	AccountsFailed    int
	InvoicesCreated   int
	ChargesCreated    int
	Totals            []struct {
		Currency struct{ Code string }
		Amount   string
	}
	Errors []struct {
		Account struct{ ID string }
		Message string
	}
}

const concRunFields = `id status periodStart periodEnd accountsTotal accountsProcessed accountsFailed
	invoicesCreated chargesCreated totals { currency { code } amount } errors { account { id } message }`

// concStart starts a run on the instance at url without a *testing.T, for goroutines;
// accountIDs nil bills every account.
func concStart(url, start, end string, accountIDs []string) (string, error) {
	in := map[string]any{"periodStart": start, "periodEnd": end}
	if accountIDs != nil {
		in["accountIds"] = accountIDs
	}
	r, err := concPost(url, `mutation($in: BillRunInput!) { startBillRun(input: $in) { id } }`, map[string]any{"in": in})
	if err != nil {
		return "", err
	}
	if len(r.Errors) > 0 {
		return "", fmt.Errorf("startBillRun %s..%s: %s (%s)", start, end, r.Errors[0].Message, r.Errors[0].Code())
	}
	var out struct{ StartBillRun struct{ ID string } }
	if err := json.Unmarshal(r.Data, &out); err != nil {
		return "", err
	}
	return out.StartBillRun.ID, nil
}

// concWait polls a run until it reaches a final status and returns it.
func concWait(t *testing.T, b *testenv.Billd, id string) concRun {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var r struct{ Node concRun }
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on BillRun { `+concRunFields+` } } }`, map[string]any{"id": id}, &r)
		switch r.Node.Status {
		case "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED":
			return r.Node
		}
		require.True(t, time.Now().Before(deadline), "bill run %s still %s after a minute", id, r.Node.Status)
		time.Sleep(20 * time.Millisecond)
	}
}

// concInvoice is an invoice and its lines, read straight from the database.
type concInvoice struct {
	id, account, run int64
	number           string
	total            money.Decimal
	lines            []concCharge
}

type concCharge struct {
	kind, guard            string
	accountService         int64
	periodStart, periodEnd calendar.Date
	amount                 money.Decimal
}

// concDB is everything billing wrote, read with plain SQL (amounts as exact decimals,
// added in Go), and the account names by id.
type concDB struct {
	invoices map[int64]*concInvoice
	charges  []concCharge
	accounts map[int64]string
}

func concRead(t *testing.T, b *testenv.Billd) concDB {
	t.Helper()
	db := concDB{invoices: map[int64]*concInvoice{}, accounts: map[int64]string{}}
	rows, err := b.DB.SQL.Query(`SELECT id, name FROM accounts`)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		var name string
		require.NoError(t, rows.Scan(&id, &name))
		db.accounts[id] = name
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	rows, err = b.DB.SQL.Query(`SELECT id, account_id, bill_run_id, number, total FROM invoices`)
	require.NoError(t, err)
	for rows.Next() {
		inv := &concInvoice{}
		var run sql.NullInt64
		require.NoError(t, rows.Scan(&inv.id, &inv.account, &run, &inv.number, &inv.total))
		inv.run = run.Int64
		db.invoices[inv.id] = inv
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())

	rows, err = b.DB.SQL.Query(`SELECT kind, guard, account_service_id, invoice_id, period_start, period_end, amount FROM charges`)
	require.NoError(t, err)
	for rows.Next() {
		var c concCharge
		var svc, inv sql.NullInt64
		require.NoError(t, rows.Scan(&c.kind, &c.guard, &svc, &inv, &c.periodStart, &c.periodEnd, &c.amount))
		c.accountService = svc.Int64
		require.True(t, inv.Valid, "charge %s is on no invoice", c.guard)
		require.Contains(t, db.invoices, inv.Int64, "charge %s", c.guard)
		db.invoices[inv.Int64].lines = append(db.invoices[inv.Int64].lines, c)
		db.charges = append(db.charges, c)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	return db
}

// accountTotals sums the invoice totals per account name.
func (db concDB) accountTotals() map[string]money.Decimal {
	out := map[string]money.Decimal{}
	for _, inv := range db.invoices {
		name := db.accounts[inv.account]
		out[name] = out[name].Add(inv.total)
	}
	return out
}

func (db concDB) grandTotal() money.Decimal {
	sum := money.Zero
	for _, inv := range db.invoices {
		sum = sum.Add(inv.total)
	}
	return sum
}

// concPackageStates is the billing position of every account-package, by account name
// and position in the account: "Conc 07/1" → "Conc Postpaid ACTIVE next 2024-03-01
// through 2024-01-31".
func concPackageStates(t *testing.T, b *testenv.Billd) map[string]string {
	t.Helper()
	var out struct {
		Accounts struct {
			Edges []struct {
				Node struct {
					Name            string
					AccountPackages struct {
						Edges []struct {
							Node struct {
								ID            string
								Package       struct{ Name string }
								Status        struct{ Code string }
								NextBillDate  *string
								BilledThrough *string
							}
						}
					}
				}
			}
		}
	}
	b.MustQuery(`{ accounts(first: 1000) { edges { node { name accountPackages(first: 10) { edges { node {
		id package { name } status { code } nextBillDate billedThrough } } } } } } }`, nil, &out)
	states := map[string]string{}
	str := func(s *string) string {
		if s == nil {
			return "-"
		}
		return *s
	}
	for _, a := range out.Accounts.Edges {
		aps := a.Node.AccountPackages.Edges
		num := func(id string) int64 {
			n, err := strconv.ParseInt(id, 10, 64)
			require.NoError(t, err)
			return n
		}
		sort.Slice(aps, func(i, j int) bool { return num(aps[i].Node.ID) < num(aps[j].Node.ID) })
		for k, ap := range aps {
			states[fmt.Sprintf("%s/%d", a.Node.Name, k)] = fmt.Sprintf("%s %s next %s through %s",
				ap.Node.Package.Name, ap.Node.Status.Code, str(ap.Node.NextBillDate), str(ap.Node.BilledThrough))
		}
	}
	return states
}

// requireExactlyOnce checks what billing wrote in db: no guard twice (asked of the
// database itself), no period of an account-service charged twice even under another
// guard, one-time charges once, every invoice's total the exact sum of its lines, and
// unique invoice numbers.
func requireExactlyOnce(t *testing.T, b *testenv.Billd, db concDB) {
	t.Helper()
	rows, err := b.DB.SQL.Query(`SELECT guard, COUNT(*) FROM charges GROUP BY guard HAVING COUNT(*) > 1`)
	require.NoError(t, err)
	var dups []string
	for rows.Next() {
		var g string
		var n int
		require.NoError(t, rows.Scan(&g, &n))
		dups = append(dups, fmt.Sprintf("%s ×%d", g, n))
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	require.Empty(t, dups, "guards charged more than once")

	// RECURRING periods of one account-service never overlap; ONE_TIME at most once.
	byService := map[int64][]concCharge{}
	oneTimes := map[int64]int{}
	for _, c := range db.charges {
		switch c.kind {
		case "RECURRING":
			byService[c.accountService] = append(byService[c.accountService], c)
		case "ONE_TIME":
			oneTimes[c.accountService]++
			require.Equal(t, 1, oneTimes[c.accountService], "one-time charge of account-service %d made twice", c.accountService)
		}
	}
	for svc, cs := range byService {
		sort.Slice(cs, func(i, j int) bool { return cs[i].periodStart.Before(cs[j].periodStart) })
		for i := 1; i < len(cs); i++ {
			require.True(t, cs[i].periodStart.After(cs[i-1].periodEnd), "account-service %d: %s..%s overlaps %s..%s",
				svc, cs[i-1].periodStart, cs[i-1].periodEnd, cs[i].periodStart, cs[i].periodEnd)
		}
	}

	numbers := map[string]bool{}
	perRunAccount := map[[2]int64]bool{}
	for _, inv := range db.invoices {
		require.NotEmpty(t, inv.lines, "invoice %s has no lines", inv.number)
		sum := money.Zero
		for _, l := range inv.lines {
			sum = sum.Add(l.amount)
		}
		require.True(t, sum.Equal(inv.total), "invoice %s: total %s, lines sum to %s", inv.number, inv.total, sum)
		require.False(t, numbers[inv.number], "invoice number %s twice", inv.number)
		numbers[inv.number] = true
		key := [2]int64{inv.run, inv.account}
		require.False(t, perRunAccount[key], "run %d made two invoices for account %d", inv.run, inv.account)
		perRunAccount[key] = true
	}
}

// requireRunAddsUp checks a finished run over accounts accounts: its counters against
// the invoices it made.
func requireRunAddsUp(t *testing.T, run concRun, accounts int, db concDB) (invoices, charges int) {
	t.Helper()
	require.Equal(t, "COMPLETED", run.Status, "run %s: errors %v", run.ID, run.Errors)
	require.Empty(t, run.Errors, "run %s", run.ID)
	require.Equal(t, accounts, run.AccountsTotal, "run %s", run.ID)
	require.Equal(t, accounts, run.AccountsProcessed, "run %s", run.ID)
	require.Zero(t, run.AccountsFailed, "run %s", run.ID)
	total := money.Zero
	for _, inv := range db.invoices {
		if fmt.Sprint(inv.run) == run.ID {
			invoices++
			charges += len(inv.lines)
			total = total.Add(inv.total)
		}
	}
	require.Equal(t, invoices, run.InvoicesCreated, "run %s: invoicesCreated", run.ID)
	require.Equal(t, charges, run.ChargesCreated, "run %s: chargesCreated", run.ID)
	got := money.Zero
	for _, tot := range run.Totals {
		require.Equal(t, "USD", tot.Currency.Code, "run %s", run.ID)
		got = got.Add(money.MustParse(tot.Amount))
	}
	require.True(t, got.Equal(total), "run %s: totals %v, its invoices add up to %s", run.ID, run.Totals, total)
	return invoices, charges
}

func TestBillRunConcurrency(t *testing.T) {
	t.Parallel()
	for _, dia := range testenv.Dialects() {
		t.Run(dia, func(t *testing.T) {
			t.Parallel()
			began := time.Now()
			url := testenv.DatabaseURL(t, dia)
			one := testenv.StartURL(t, dia, url)
			two := testenv.StartURL(t, dia, url)
			accounts := concSetUp(t, one)
			listed := func(from int) []string {
				if from == 0 {
					return nil
				}
				return accounts[from:]
			}

			// All four runs at once, two on each instance.
			ids := make([]string, len(concRuns))
			errs := make([]error, len(concRuns))
			var wg sync.WaitGroup
			gate := make(chan struct{})
			for i, r := range concRuns {
				inst := []*testenv.Billd{one, two}[i%2]
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-gate
					ids[i], errs[i] = concStart(inst.HTTP.URL, r.start, r.end, listed(r.from))
				}()
			}
			close(gate)
			wg.Wait()
			for i := range concRuns {
				require.NoError(t, errs[i], "run %d", i)
			}
			runs := make([]concRun, len(ids))
			for i, id := range ids {
				runs[i] = concWait(t, []*testenv.Billd{one, two}[i%2], id)
				require.Equal(t, concRuns[i].start, runs[i].PeriodStart)
				require.Equal(t, concRuns[i].end, runs[i].PeriodEnd)
			}

			db := concRead(t, one)
			require.NotEmpty(t, db.invoices)
			requireExactlyOnce(t, one, db)
			invoices, charges := 0, 0
			for i, r := range runs {
				n, c := requireRunAddsUp(t, r, concAccounts-concRuns[i].from, db)
				invoices, charges = invoices+n, charges+c
			}
			require.Equal(t, len(db.invoices), invoices, "invoices of the runs vs in the database")
			require.Equal(t, len(db.charges), charges, "charges of the runs vs in the database")

			// Re-running the ranges, again at once on both instances, creates nothing.
			again := make([]string, 2)
			for i := range again {
				wg.Add(1)
				go func() {
					defer wg.Done()
					again[i], errs[i] = concStart([]*testenv.Billd{one, two}[i].HTTP.URL, "2024-01-01", "2024-02-15", nil)
				}()
			}
			wg.Wait()
			for i, id := range again {
				require.NoError(t, errs[i])
				r := concWait(t, one, id)
				require.Equal(t, "COMPLETED", r.Status)
				require.Zero(t, r.InvoicesCreated, "re-run %s", id)
				require.Zero(t, r.ChargesCreated, "re-run %s", id)
			}
			require.Equal(t, len(db.charges), one.Count("charges"))

			// The same set-up billed by one instance, the same runs one after another.
			ref := testenv.Start(t, dia)
			refAccounts := concSetUp(t, ref)
			for _, r := range concRuns {
				var ids []string
				if r.from > 0 {
					ids = refAccounts[r.from:]
				}
				id, err := concStart(ref.HTTP.URL, r.start, r.end, ids)
				require.NoError(t, err)
				requireRunAddsUpAlone(t, concWait(t, ref, id), concAccounts-r.from)
			}
			refDB := concRead(t, ref)
			requireExactlyOnce(t, ref, refDB)
			require.True(t, db.grandTotal().Equal(refDB.grandTotal()), "all invoices: %s concurrently, %s sequentially",
				db.grandTotal(), refDB.grandTotal())
			got, want := db.accountTotals(), refDB.accountTotals()
			var diffs []string
			for name, w := range want {
				if !got[name].Equal(w) {
					diffs = append(diffs, fmt.Sprintf("%s: %s concurrently, %s sequentially", name, got[name], w))
				}
			}
			for name, g := range got {
				if _, ok := want[name]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s: %s concurrently, nothing sequentially", name, g))
				}
			}
			sort.Strings(diffs)
			require.Empty(t, diffs, "account totals differ:\n%s", strings.Join(diffs, "\n"))
			require.Equal(t, concPackageStates(t, ref), concPackageStates(t, one), "account-package positions")
			var perRun []string
			for _, r := range runs {
				perRun = append(perRun, fmt.Sprintf("%s..%s: %d invoices", r.PeriodStart, r.PeriodEnd, r.InvoicesCreated))
			}
			t.Logf("%s: %d invoices, %d charges, total %s (%s), in %s", dia, len(db.invoices), len(db.charges),
				db.grandTotal(), strings.Join(perRun, ", "), time.Since(began).Round(time.Millisecond))
		})
	}
}

// requireRunAddsUpAlone checks a run of the sequential reference: finished, every
// account billed, none failed.
func requireRunAddsUpAlone(t *testing.T, run concRun, accounts int) {
	t.Helper()
	require.Equal(t, "COMPLETED", run.Status, "run %s: errors %v", run.ID, run.Errors)
	require.Equal(t, accounts, run.AccountsProcessed, "run %s", run.ID)
	require.Zero(t, run.AccountsFailed, "run %s", run.ID)
}
