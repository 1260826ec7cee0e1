package graph_test

// Billing through the API: every worked example of docs/billing.md, and the
// billing behaviours around them (invoices, deleting and moving billed packages,
// status changes, cancellation options, quantities, run options and refusals).
//
// Every expected amount below is worked out by hand from the rules, with the
// arithmetic in a comment next to it; none is copied from what the code prints.
// Conventions the rules leave to the implementation, asserted here as billd defines
// them: a line's quantity is bulkQuantity × instances and its unitAmount the unit
// price for a full period (a prorated line keeps the full-period unit price; a credit
// carries the unit price and quantity of the line it gives back); a one-time line
// shows the period billed with it; a transition line shows the day of the change
// (for a cancellation, the cancellation date) as both periodStart and periodEnd.

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// bxEnv drives one billd instance through GraphQL for the billing tests.
type bxEnv struct {
	t *testing.T
	b *testenv.Billd
}

// bxEach runs fn on each database, with a fresh instance per database.
func bxEach(t *testing.T, fn func(e *bxEnv)) {
	t.Helper()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) { fn(&bxEnv{t: t, b: b}) })
}

func (e *bxEnv) service(name, kind string) string {
	e.t.Helper()
	var out struct{ CreateService struct{ ID string } }
	e.b.MustQuery(`mutation($in: CreateServiceInput!) { createService(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": name, "kind": kind}}, &out)
	return out.CreateService.ID
}

// bxPrice prices a service in USD: pairs of status code and recurring amount.
func bxPrice(serviceID string, statusAmounts ...string) map[string]any {
	var rec []any
	for i := 0; i+1 < len(statusAmounts); i += 2 {
		rec = append(rec, map[string]any{"status": statusAmounts[i], "amount": statusAmounts[i+1]})
	}
	return map[string]any{"serviceId": serviceID, "currency": "USD", "recurring": rec}
}

// bxOneTime is a USD one-time price of a service.
func bxOneTime(serviceID, amount string) map[string]any {
	return map[string]any{"serviceId": serviceID, "currency": "USD", "oneTime": amount}
}

// bxPkg is a package with its one frequency.
type bxPkg struct{ ID, Freq string }

// pkg creates a USD package whose services are required with one instance each, and
// one frequency of interval with the given prices. flags adds package fields
// (bulkQuantity, postpaid, oneTimeBilling).
func (e *bxEnv) pkg(name string, flags map[string]any, services []string, interval string, prices ...map[string]any) bxPkg {
	e.t.Helper()
	var svcs, ps []any
	for _, s := range services {
		svcs = append(svcs, map[string]any{"serviceId": s})
	}
	for _, p := range prices {
		ps = append(ps, p)
	}
	in := map[string]any{
		"name": name, "currencies": []any{"USD"}, "services": svcs,
		"frequencies": []any{map[string]any{"name": interval, "interval": interval, "prices": ps}},
	}
	for k, v := range flags {
		in[k] = v
	}
	var out struct {
		CreatePackage struct {
			ID          string
			Frequencies []struct{ ID string }
		}
	}
	e.b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
		map[string]any{"in": in}, &out)
	require.Len(e.t, out.CreatePackage.Frequencies, 1)
	return bxPkg{ID: out.CreatePackage.ID, Freq: out.CreatePackage.Frequencies[0].ID}
}

// account opens a USD account.
func (e *bxEnv) account(name string, billDay int) string {
	e.t.Helper()
	var out struct{ CreateAccount struct{ ID string } }
	e.b.MustQuery(`mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": name, "currency": "USD", "billDay": billDay}}, &out)
	return out.CreateAccount.ID
}

// provision adds a package to an account effective on effective; extra adds input
// fields. It returns the ids of the account-packages created.
func (e *bxEnv) provision(p bxPkg, acc, effective string, extra map[string]any) []string {
	e.t.Helper()
	in := map[string]any{"accountId": acc, "packageId": p.ID, "frequencyId": p.Freq, "effectiveDate": effective}
	for k, v := range extra {
		in[k] = v
	}
	var out struct{ ProvisionPackage []struct{ ID string } }
	e.b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`,
		map[string]any{"in": in}, &out)
	ids := make([]string, len(out.ProvisionPackage))
	for i, ap := range out.ProvisionPackage {
		ids[i] = ap.ID
	}
	return ids
}

// bxAP is the billing state of an account-package as the API shows it.
type bxAP struct {
	ID                  string
	Status              string
	BulkQuantity        int
	EffectiveDate       string
	EndDate             *string
	CancellationDate    *string
	CancelBillingOption *string
	BillDay             int
	NewBillDay          *int
	NextBillDate        *string
	BilledThrough       *string
	Services            []string // status codes of its services
}

const bxAPFields = `id status { code } bulkQuantity effectiveDate endDate cancellationDate cancelBillingOption
	billDay newBillDay nextBillDate billedThrough services { status { code } }`

type bxAPWire struct {
	ID                  string
	Status              struct{ Code string }
	BulkQuantity        int
	EffectiveDate       string
	EndDate             *string
	CancellationDate    *string
	CancelBillingOption *string
	BillDay             int
	NewBillDay          *int
	NextBillDate        *string
	BilledThrough       *string
	Services            []struct{ Status struct{ Code string } }
}

func (w bxAPWire) flat() bxAP {
	ap := bxAP{ID: w.ID, Status: w.Status.Code, BulkQuantity: w.BulkQuantity, EffectiveDate: w.EffectiveDate,
		EndDate: w.EndDate, CancellationDate: w.CancellationDate, CancelBillingOption: w.CancelBillingOption,
		BillDay: w.BillDay, NewBillDay: w.NewBillDay, NextBillDate: w.NextBillDate, BilledThrough: w.BilledThrough}
	for _, s := range w.Services {
		ap.Services = append(ap.Services, s.Status.Code)
	}
	return ap
}

func (e *bxEnv) ap(id string) bxAP {
	e.t.Helper()
	var out struct{ Node bxAPWire }
	e.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on AccountPackage { `+bxAPFields+` } } }`,
		map[string]any{"id": id}, &out)
	return out.Node.flat()
}

// updateAP runs updateAccountPackage and returns the account-package it answers.
func (e *bxEnv) updateAP(id string, in map[string]any) bxAP {
	e.t.Helper()
	var out struct{ UpdateAccountPackage bxAPWire }
	e.b.MustQuery(`mutation($id: ID!, $in: UpdateAccountPackageInput!) { updateAccountPackage(id: $id, input: $in) { `+
		bxAPFields+` } }`, map[string]any{"id": id, "in": in}, &out)
	return out.UpdateAccountPackage.flat()
}

// cancel runs cancelAccountPackage and returns the account-package it answers.
func (e *bxEnv) cancel(id, date, option string) bxAP {
	e.t.Helper()
	var out struct{ CancelAccountPackage bxAPWire }
	e.b.MustQuery(`mutation($id: ID!, $in: CancelAccountPackageInput!) { cancelAccountPackage(id: $id, input: $in) { `+
		bxAPFields+` } }`, map[string]any{"id": id, "in": map[string]any{"cancellationDate": date, "billingOption": option}}, &out)
	return out.CancelAccountPackage.flat()
}

// requireBilled checks an account-package's billing position (nil: null).
func (e *bxEnv) requireBilled(id string, status string, next, through *string) bxAP {
	e.t.Helper()
	ap := e.ap(id)
	require.Equal(e.t, status, ap.Status, "status of account-package %s", id)
	require.Equal(e.t, next, ap.NextBillDate, "nextBillDate of account-package %s", id)
	require.Equal(e.t, through, ap.BilledThrough, "billedThrough of account-package %s", id)
	for _, s := range ap.Services {
		if status == "CANCELED" {
			require.Equal(e.t, "CANCELED", s, "a canceled package's services are CANCELED")
		}
	}
	return ap
}

func (e *bxEnv) balance(acc string) string {
	e.t.Helper()
	var out struct{ Node struct{ Balance string } }
	e.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { balance } } }`, map[string]any{"id": acc}, &out)
	return out.Node.Balance
}

// bxRun is a bill run as the API shows it.
type bxRun struct {
	ID                string
	Status            string
	PeriodStart       string
	PeriodEnd         string
	PostingDate       string
	AccountsTotal     int
	AccountsProcessed int
	AccountsFailed    int
	InvoicesCreated   int
	ChargesCreated    int
	Totals            []struct {
		Currency struct{ Code string }
		Amount   string
	}
	Errors []struct{ Message string }
}

const bxRunFields = `id status periodStart periodEnd postingDate accountsTotal accountsProcessed accountsFailed
	invoicesCreated chargesCreated totals { currency { code } amount } errors { message }`

// run starts a bill run over [start, end] (extra adds input fields) and waits for it
// to finish.
func (e *bxEnv) run(start, end string, extra map[string]any) bxRun {
	e.t.Helper()
	in := map[string]any{"periodStart": start, "periodEnd": end}
	for k, v := range extra {
		in[k] = v
	}
	var out struct{ StartBillRun struct{ ID string } }
	e.b.MustQuery(`mutation($in: BillRunInput!) { startBillRun(input: $in) { id } }`, map[string]any{"in": in}, &out)
	deadline := time.Now().Add(time.Minute)
	for {
		var r struct{ Node bxRun }
		e.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on BillRun { `+bxRunFields+` } } }`,
			map[string]any{"id": out.StartBillRun.ID}, &r)
		switch r.Node.Status {
		case "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED", "CANCELED":
			require.Equal(e.t, start, r.Node.PeriodStart)
			require.Equal(e.t, end, r.Node.PeriodEnd)
			return r.Node
		}
		require.True(e.t, time.Now().Before(deadline), "bill run %s still %s", r.Node.ID, r.Node.Status)
		time.Sleep(20 * time.Millisecond)
	}
}

// bxCounts is what a run is expected to have done: every account billed, none
// failed, and totals as "USD 75.00".
type bxCounts struct {
	Accounts, Invoices, Charges int
	Totals                      []string
}

func (e *bxEnv) requireRun(r bxRun, want bxCounts) {
	e.t.Helper()
	require.Equal(e.t, "COMPLETED", r.Status, "run status; errors %v", r.Errors)
	require.Empty(e.t, r.Errors)
	require.Equal(e.t, want.Accounts, r.AccountsTotal, "accountsTotal")
	require.Equal(e.t, want.Accounts, r.AccountsProcessed, "accountsProcessed")
	require.Zero(e.t, r.AccountsFailed, "accountsFailed")
	require.Equal(e.t, want.Invoices, r.InvoicesCreated, "invoicesCreated")
	require.Equal(e.t, want.Charges, r.ChargesCreated, "chargesCreated")
	totals := []string{}
	for _, t := range r.Totals {
		totals = append(totals, t.Currency.Code+" "+t.Amount)
	}
	if want.Totals == nil {
		want.Totals = []string{}
	}
	require.Equal(e.t, want.Totals, totals, "totals")
	require.Len(e.t, e.runInvoices(r), want.Invoices, "invoices the run created")
}

// bxLine is one charge line: its kind, service, account-package, period, quantity,
// unit amount and amount.
type bxLine struct {
	Kind        string
	Service     string
	AP          string
	PeriodStart string
	PeriodEnd   string
	Quantity    int
	UnitAmount  string
	Amount      string
}

// bxL builds an expected line.
func bxL(kind, service, ap, start, end string, qty int, unit, amount string) bxLine {
	return bxLine{kind, service, ap, start, end, qty, unit, amount}
}

func bxSortLines(ls []bxLine) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		for _, c := range [][2]string{{a.PeriodStart, b.PeriodStart}, {a.Kind, b.Kind}, {a.Service, b.Service},
			{a.AP, b.AP}, {a.Amount, b.Amount}} {
			if c[0] != c[1] {
				return c[0] < c[1]
			}
		}
		return false
	})
}

// bxInvoice is an invoice with its lines.
type bxInvoice struct {
	ID, Number, Status, Total, IssueDate, PostingDate string
	Account, Run                                      string
	Lines                                             []bxLine
}

const bxInvoiceFields = `id number status total issueDate postingDate account { id } billRun { id } currency { code }
	lines { kind service { name } accountPackage { id } periodStart periodEnd quantity unitAmount amount invoice { id } }`

type bxInvoiceWire struct {
	ID, Number, Status, Total, IssueDate, PostingDate string
	Account                                           struct{ ID string }
	BillRun                                           *struct{ ID string }
	Currency                                          struct{ Code string }
	Lines                                             []struct {
		Kind           string
		Service        struct{ Name string }
		AccountPackage struct{ ID string }
		PeriodStart    string
		PeriodEnd      string
		Quantity       int
		UnitAmount     string
		Amount         string
		Invoice        struct{ ID string }
	}
}

func (e *bxEnv) flatInvoice(w bxInvoiceWire) bxInvoice {
	inv := bxInvoice{ID: w.ID, Number: w.Number, Status: w.Status, Total: w.Total, IssueDate: w.IssueDate,
		PostingDate: w.PostingDate, Account: w.Account.ID}
	if w.BillRun != nil {
		inv.Run = w.BillRun.ID
	}
	require.Equal(e.t, "USD", w.Currency.Code)
	for _, l := range w.Lines {
		require.Equal(e.t, w.ID, l.Invoice.ID, "a line's invoice")
		inv.Lines = append(inv.Lines, bxLine{l.Kind, l.Service.Name, l.AccountPackage.ID, l.PeriodStart, l.PeriodEnd,
			l.Quantity, l.UnitAmount, l.Amount})
	}
	bxSortLines(inv.Lines)
	return inv
}

// invoices lists every invoice of the instance, in the order of the connection.
func (e *bxEnv) invoices() []bxInvoice {
	e.t.Helper()
	var out struct {
		Invoices struct {
			TotalCount int
			Edges      []struct{ Node bxInvoiceWire }
		}
	}
	e.b.MustQuery(`{ invoices(first: 1000) { totalCount edges { node { `+bxInvoiceFields+` } } } }`, nil, &out)
	require.Len(e.t, out.Invoices.Edges, out.Invoices.TotalCount)
	invs := make([]bxInvoice, len(out.Invoices.Edges))
	for i, ed := range out.Invoices.Edges {
		invs[i] = e.flatInvoice(ed.Node)
	}
	return invs
}

// accountInvoices lists an account's invoices through Account.invoices.
func (e *bxEnv) accountInvoices(acc string) []bxInvoice {
	e.t.Helper()
	var out struct {
		Node struct {
			Invoices struct {
				TotalCount int
				Edges      []struct{ Node bxInvoiceWire }
			}
		}
	}
	e.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { invoices { totalCount edges { node { `+
		bxInvoiceFields+` } } } } } }`, map[string]any{"id": acc}, &out)
	require.Len(e.t, out.Node.Invoices.Edges, out.Node.Invoices.TotalCount)
	invs := make([]bxInvoice, len(out.Node.Invoices.Edges))
	for i, ed := range out.Node.Invoices.Edges {
		invs[i] = e.flatInvoice(ed.Node)
		require.Equal(e.t, acc, invs[i].Account)
	}
	return invs
}

func (e *bxEnv) runInvoices(r bxRun) []bxInvoice {
	e.t.Helper()
	var out []bxInvoice
	for _, inv := range e.invoices() {
		if inv.Run == r.ID {
			out = append(out, inv)
		}
	}
	return out
}

// requireInvoice checks that run r created exactly one invoice for acc, OPEN (or
// status), posted on the run's posting date, with these lines and total, and returns it.
func (e *bxEnv) requireInvoice(r bxRun, acc, status, total string, lines ...bxLine) bxInvoice {
	e.t.Helper()
	var mine []bxInvoice
	for _, inv := range e.runInvoices(r) {
		if inv.Account == acc {
			mine = append(mine, inv)
		}
	}
	require.Len(e.t, mine, 1, "invoices of run %s for account %s", r.ID, acc)
	inv := mine[0]
	want := append([]bxLine(nil), lines...)
	bxSortLines(want)
	require.Equal(e.t, want, inv.Lines, "lines of invoice %s", inv.Number)
	require.Equal(e.t, total, inv.Total, "total of invoice %s", inv.Number)
	require.Equal(e.t, status, inv.Status)
	require.Equal(e.t, r.PostingDate, inv.PostingDate)
	require.Equal(e.t, e.b.Clock.Now().Format("2006-01-02"), inv.IssueDate)
	return inv
}

// requireNoInvoice checks that run r created no invoice for acc.
func (e *bxEnv) requireNoInvoice(r bxRun, acc string) {
	e.t.Helper()
	for _, inv := range e.runInvoices(r) {
		require.NotEqual(e.t, acc, inv.Account, "run %s invoiced account %s: %+v", r.ID, acc, inv)
	}
}

func (e *bxEnv) closeInvoice(id string) bxInvoice {
	e.t.Helper()
	var out struct{ CloseInvoice bxInvoiceWire }
	e.b.MustQuery(`mutation($id: ID!) { closeInvoice(id: $id) { `+bxInvoiceFields+` } }`, map[string]any{"id": id}, &out)
	return e.flatInvoice(out.CloseInvoice)
}

func bxS(s string) *string { return &s }

// ---- Section 5, the worked examples ---------------------------------------------

// bxExample1 is example 1: Service A 50.00 + Service B 25.00 monthly, effective
// 2024-01-01 on bill day 1, billed by a run over January.
func bxExample1(e *bxEnv) (acc, ap string, jan bxRun) {
	t := e.t
	a, b := e.service("Service A", "RECURRING"), e.service("Service B", "RECURRING")
	p := e.pkg("Duo", nil, []string{a, b}, "MONTH", bxPrice(a, "ACTIVE", "50.00"), bxPrice(b, "ACTIVE", "25.00"))
	acc = e.account("Example 1", 1)
	ap = e.provision(p, acc, "2024-01-01", nil)[0]
	require.Equal(t, bxS("2024-01-01"), e.ap(ap).NextBillDate, "in advance, nextBillDate starts at E")
	jan = e.run("2024-01-01", "2024-01-31", nil)
	// E = 2024-01-01 is an anchor of bill day 1 (A0 = E): no partial period. The period
	// [2024-01-01, 2024-02-01) is charged in full: A 50.00, B 25.00; 50.00 + 25.00 = 75.00.
	e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 75.00"}})
	e.requireInvoice(jan, acc, "OPEN", "75.00",
		bxL("RECURRING", "Service A", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"),
		bxL("RECURRING", "Service B", ap, "2024-01-01", "2024-01-31", 1, "25.00", "25.00"))
	// nextBillDate moves to the day after the period, billedThrough to its last day.
	e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
	require.Equal(t, "75.00", e.balance(acc))
	return acc, ap, jan
}

// TestBillingExamples reproduces every worked example of docs/billing.md
// through the API, on each database, each example on an instance of its own.
func TestBillingExamples(t *testing.T) {
	t.Parallel()

	t.Run("1 two services in advance", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) { bxExample1(e) })
	})

	t.Run("2 run again", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			acc, ap, _ := bxExample1(e)
			again := e.run("2024-01-01", "2024-01-31", nil)
			// nextBillDate 2024-02-01 is past the range: nothing is due, no invoice.
			e.requireRun(again, bxCounts{Accounts: 1})
			require.Len(e.t, e.invoices(), 1)
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
			require.Equal(e.t, "75.00", e.balance(acc))
		})
	})

	t.Run("3 partial first period", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			a, b := e.service("Service A", "RECURRING"), e.service("Service B", "RECURRING")
			p := e.pkg("Duo", nil, []string{a, b}, "MONTH", bxPrice(a, "ACTIVE", "50.00"), bxPrice(b, "ACTIVE", "25.00"))
			acc := e.account("Example 3", 1)
			ap := e.provision(p, acc, "2024-01-15", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// E = 2024-01-15, A0 = 2024-02-01: partial [01-15, 02-01) = 17 days, priced
			// against [01-01, 02-01) = 31 days.
			// A: 50 × 17 / 31 = 850/31 = 27.419… → 27.42
			// B: 25 × 17 / 31 = 425/31 = 13.709… → 13.71; invoice 27.42 + 13.71 = 41.13.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 41.13"}})
			e.requireInvoice(jan, acc, "OPEN", "41.13",
				bxL("RECURRING", "Service A", ap, "2024-01-15", "2024-01-31", 1, "50.00", "27.42"),
				bxL("RECURRING", "Service B", ap, "2024-01-15", "2024-01-31", 1, "25.00", "13.71"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
			require.Equal(e.t, "41.13", e.balance(acc))
		})
	})

	t.Run("4 bulk with a one-time charge", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line, install := e.service("iLine", "RECURRING"), e.service("Install", "ONE_TIME")
			p := e.pkg("Bulk iLine", map[string]any{"bulkQuantity": true}, []string{line, install}, "MONTH",
				bxPrice(line, "ACTIVE", "1.00"), bxOneTime(install, "25.00"))
			acc := e.account("Example 4", 1)
			ap := e.provision(p, acc, "2024-01-01", map[string]any{"bulkQuantity": 100})[0]
			require.Equal(e.t, 100, e.ap(ap).BulkQuantity)
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// Every charge × bulk 100, one line per charge: iLine 1.00 × 100 = 100.00
			// (full period, E on the anchor); Install 25.00 × 100 = 2500.00, made once by
			// the first billing. Invoice 100.00 + 2500.00 = 2600.00.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 2600.00"}})
			e.requireInvoice(jan, acc, "OPEN", "2600.00",
				bxL("RECURRING", "iLine", ap, "2024-01-01", "2024-01-31", 100, "1.00", "100.00"),
				bxL("ONE_TIME", "Install", ap, "2024-01-01", "2024-01-31", 100, "25.00", "2500.00"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
			require.Equal(e.t, "2600.00", e.balance(acc))
			// The one-time charge is not made again.
			feb := e.run("2024-02-01", "2024-02-29", nil)
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 100.00"}})
			e.requireInvoice(feb, acc, "OPEN", "100.00",
				bxL("RECURRING", "iLine", ap, "2024-02-01", "2024-02-29", 100, "1.00", "100.00"))
		})
	})

	t.Run("5 cancel prorated and add again", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Bulk Line", map[string]any{"bulkQuantity": true}, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "1.00"))
			acc := e.account("Example 5", 1)
			old := e.provision(p, acc, "2024-01-01", map[string]any{"bulkQuantity": 20})[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// 20 × 1.00 = 20.00 for [01-01, 02-01).
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 20.00"}})
			e.requireInvoice(jan, acc, "OPEN", "20.00",
				bxL("RECURRING", "Line", old, "2024-01-01", "2024-01-31", 20, "1.00", "20.00"))
			e.requireBilled(old, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))

			c := e.cancel(old, "2024-01-21", "PRORATED")
			// Scheduled, not carried out: the last day in service is C − 1.
			require.Equal(e.t, bxS("2024-01-21"), c.CancellationDate)
			require.Equal(e.t, bxS("PRORATED"), c.CancelBillingOption)
			require.Equal(e.t, bxS("2024-01-20"), c.EndDate)
			require.Equal(e.t, "ACTIVE", c.Status)
			require.Equal(e.t, bxS("2024-02-01"), c.NextBillDate)
			add := e.provision(p, acc, "2024-01-21", map[string]any{"bulkQuantity": 30})[0]

			run := e.run("2024-01-21", "2024-01-31", nil)
			// Old: final period [01-01, 02-01) was billed 20.00; its days in service
			// [01-01, 01-21) = 20 of 31 cost 20 × 1.00 × 20 / 31 = 400/31 = 12.903… → 12.90;
			// credit 12.90 − 20.00 = −7.10 for 2024-01-21..2024-01-31.
			// New: E = 01-21, A0 = 02-01: 11 of 31 days, 30 × 1.00 × 11 / 31 = 330/31 =
			// 10.645… → 10.65 for 2024-01-21..2024-01-31.
			// Invoice −7.10 + 10.65 = 3.55.
			e.requireRun(run, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 3.55"}})
			e.requireInvoice(run, acc, "OPEN", "3.55",
				bxL("CREDIT", "Line", old, "2024-01-21", "2024-01-31", 20, "1.00", "-7.10"),
				bxL("RECURRING", "Line", add, "2024-01-21", "2024-01-31", 30, "1.00", "10.65"))
			gone := e.ap(old)
			require.Equal(e.t, "CANCELED", gone.Status)
			require.Nil(e.t, gone.NextBillDate)
			require.Equal(e.t, []string{"CANCELED"}, gone.Services)
			e.requireBilled(add, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
			// 20.00 + 3.55 = 23.55.
			require.Equal(e.t, "23.55", e.balance(acc))
			require.Len(e.t, e.invoices(), 2)
		})
	})

	t.Run("6 postpaid", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Postpaid", map[string]any{"postpaid": true}, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "30.00"))
			acc := e.account("Example 6", 1)
			ap := e.provision(p, acc, "2024-01-10", nil)[0]
			// Postpaid: nextBillDate starts the day after the first period [01-10, 02-01).
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), nil)
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// 02-01 is past January: nothing, no invoice.
			e.requireRun(jan, bxCounts{Accounts: 1})
			require.Empty(e.t, e.invoices())
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), nil)
			require.Equal(e.t, "0.00", e.balance(acc))

			feb := e.run("2024-02-01", "2024-02-29", nil)
			// The period just ended, [01-10, 02-01) = 22 days of [01-01, 02-01) = 31:
			// 30 × 22 / 31 = 660/31 = 21.290… → 21.29. nextBillDate moves to the end of
			// the next period [02-01, 03-01), 2024-03-01, past February.
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 21.29"}})
			e.requireInvoice(feb, acc, "OPEN", "21.29",
				bxL("RECURRING", "Line", ap, "2024-01-10", "2024-01-31", 1, "30.00", "21.29"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-03-01"), bxS("2024-01-31"))
			require.Equal(e.t, "21.29", e.balance(acc))
		})
	})

	t.Run("7 bill day 31", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Monthly", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "31.00"))
			acc := e.account("Example 7", 31)
			ap := e.provision(p, acc, "2024-02-10", nil)[0]
			run := e.run("2024-02-01", "2024-03-15", nil)
			// Bill day 31: February's anchor is 02-29 (2024), A0 = 02-29. Partial
			// [02-10, 02-29) = 19 days, priced against [01-31, 02-29) = 29 days:
			// 31 × 19 / 29 = 589/29 = 20.310… → 20.31. Then [02-29, 03-31) in full, 31.00
			// (02-29 is in the range). nextBillDate 03-31 is past 03-15.
			// Invoice 20.31 + 31.00 = 51.31.
			e.requireRun(run, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 51.31"}})
			e.requireInvoice(run, acc, "OPEN", "51.31",
				bxL("RECURRING", "Line", ap, "2024-02-10", "2024-02-28", 1, "31.00", "20.31"),
				bxL("RECURRING", "Line", ap, "2024-02-29", "2024-03-30", 1, "31.00", "31.00"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-03-31"), bxS("2024-03-30"))
			require.Equal(e.t, "51.31", e.balance(acc))
		})
	})

	t.Run("8 yearly", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Yearly", nil, []string{line}, "YEAR", bxPrice(line, "ACTIVE", "120.00"))
			acc := e.account("Example 8", 1)
			ap := e.provision(p, acc, "2024-03-15", nil)[0]
			mar := e.run("2024-03-01", "2024-03-31", nil)
			// A0 = 2024-04-01; partial [03-15, 04-01) = 17 days, priced against
			// [2023-04-01, 2024-04-01) = 366 days (it holds 2024-02-29):
			// 120 × 17 / 366 = 2040/366 = 5.573… → 5.57.
			e.requireRun(mar, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 5.57"}})
			e.requireInvoice(mar, acc, "OPEN", "5.57",
				bxL("RECURRING", "Line", ap, "2024-03-15", "2024-03-31", 1, "120.00", "5.57"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-04-01"), bxS("2024-03-31"))
			apr := e.run("2024-04-01", "2024-04-30", nil)
			// Full year [2024-04-01, 2025-04-01): 120.00.
			e.requireRun(apr, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 120.00"}})
			e.requireInvoice(apr, acc, "OPEN", "120.00",
				bxL("RECURRING", "Line", ap, "2024-04-01", "2025-03-31", 1, "120.00", "120.00"))
			e.requireBilled(ap, "ACTIVE", bxS("2025-04-01"), bxS("2025-03-31"))
			// 5.57 + 120.00 = 125.57.
			require.Equal(e.t, "125.57", e.balance(acc))
		})
	})

	t.Run("9 weekly", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Weekly", nil, []string{line}, "WEEK", bxPrice(line, "ACTIVE", "7.00"))
			acc := e.account("Example 9", 1)
			ap := e.provision(p, acc, "2024-01-01", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// Weeks run from E whatever the bill day; billed while nextBillDate is in the
			// range: 01-01, 01-08, 01-15, 01-22, 01-29 (the last ends 02-04), 7.00 each;
			// 5 × 7.00 = 35.00; nextBillDate 02-05.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 5, Totals: []string{"USD 35.00"}})
			e.requireInvoice(jan, acc, "OPEN", "35.00",
				bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-07", 1, "7.00", "7.00"),
				bxL("RECURRING", "Line", ap, "2024-01-08", "2024-01-14", 1, "7.00", "7.00"),
				bxL("RECURRING", "Line", ap, "2024-01-15", "2024-01-21", 1, "7.00", "7.00"),
				bxL("RECURRING", "Line", ap, "2024-01-22", "2024-01-28", 1, "7.00", "7.00"),
				bxL("RECURRING", "Line", ap, "2024-01-29", "2024-02-04", 1, "7.00", "7.00"))
			e.requireBilled(ap, "ACTIVE", bxS("2024-02-05"), bxS("2024-02-04"))
			require.Equal(e.t, "35.00", e.balance(acc))
		})
	})

	t.Run("10 new bill day", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Monthly", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "30.00"))
			acc := e.account("Example 10", 1)
			ap := e.provision(p, acc, "2024-01-01", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 30.00"}})
			e.requireInvoice(jan, acc, "OPEN", "30.00",
				bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "30.00", "30.00"))

			// January is billed: the new bill day waits for the next billing.
			upd := e.updateAP(ap, map[string]any{"newBillDay": 15})
			require.Equal(e.t, 1, upd.BillDay)
			require.Equal(e.t, 15, *upd.NewBillDay)
			require.Equal(e.t, bxS("2024-02-01"), upd.NextBillDate)

			feb := e.run("2024-02-01", "2024-02-29", nil)
			// Alignment [02-01, 02-15) = 14 days, priced against the full period ending at
			// 02-15, [01-15, 02-15) = 31 days: 30 × 14 / 31 = 420/31 = 13.548… → 13.55.
			// Then [02-15, 03-15) in full, 30.00 (02-15 is in February). Invoice 43.55.
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 43.55"}})
			e.requireInvoice(feb, acc, "OPEN", "43.55",
				bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-14", 1, "30.00", "13.55"),
				bxL("RECURRING", "Line", ap, "2024-02-15", "2024-03-14", 1, "30.00", "30.00"))
			after := e.requireBilled(ap, "ACTIVE", bxS("2024-03-15"), bxS("2024-03-14"))
			require.Equal(e.t, 15, after.BillDay)
			require.Nil(e.t, after.NewBillDay)
			// 30.00 + 43.55 = 73.55.
			require.Equal(e.t, "73.55", e.balance(acc))
		})
	})
}

// ---- Invoices --------------------------------------------------------------------

// bxSimple is a package of one service Line at price a month, and an account on bill
// day 1 with it provisioned from 2024-01-01.
func bxSimple(e *bxEnv, price string, accounts ...string) (p bxPkg, accs, aps []string) {
	line := e.service("Line", "RECURRING")
	p = e.pkg("Simple", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", price))
	for _, name := range accounts {
		acc := e.account(name, 1)
		accs = append(accs, acc)
		aps = append(aps, e.provision(p, acc, "2024-01-01", nil)[0])
	}
	return p, accs, aps
}

// TestBillingCloseInvoice closes an OPEN invoice once; closing it again or an unknown
// invoice is refused and changes nothing; later billing goes on a new invoice.
func TestBillingCloseInvoice(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		_, accs, aps := bxSimple(e, "50.00", "Acme")
		jan := e.run("2024-01-01", "2024-01-31", nil)
		inv := e.requireInvoice(jan, accs[0], "OPEN", "50.00",
			bxL("RECURRING", "Line", aps[0], "2024-01-01", "2024-01-31", 1, "50.00", "50.00"))

		closed := e.closeInvoice(inv.ID)
		want := inv
		want.Status = "CLOSED"
		require.Equal(e.t, want, closed, "closeInvoice changes the status and nothing else")
		require.Equal(e.t, []bxInvoice{want}, e.accountInvoices(accs[0]))

		before := e.b.Snapshot()
		e.b.MustFail(`mutation($id: ID!) { closeInvoice(id: $id) { id } }`, map[string]any{"id": inv.ID}, "FAILED_PRECONDITION")
		nf := e.b.MustFail(`mutation($id: ID!) { closeInvoice(id: $id) { id } }`, map[string]any{"id": "999999"}, "NOT_FOUND")
		require.Equal(e.t, "id", nf.Field())
		require.Equal(e.t, before, e.b.Snapshot())
		require.Equal(e.t, []bxInvoice{want}, e.accountInvoices(accs[0]))

		// February goes on an invoice of its own; the closed one stays as it was.
		feb := e.run("2024-02-01", "2024-02-29", nil)
		e.requireInvoice(feb, accs[0], "OPEN", "50.00",
			bxL("RECURRING", "Line", aps[0], "2024-02-01", "2024-02-29", 1, "50.00", "50.00"))
		invs := e.accountInvoices(accs[0])
		require.Len(e.t, invs, 2)
		require.Equal(e.t, want, invs[0])
		require.Equal(e.t, "100.00", e.balance(accs[0]))
	})
}

// TestBillingInvoiceNumbers checks that invoice numbers are unique and ascend in the
// order invoices are made, across runs and accounts.
func TestBillingInvoiceNumbers(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		_, accs, _ := bxSimple(e, "10.00", "First", "Second", "Third")
		var numbers []string
		collect := func(r bxRun, want int) {
			invs := e.runInvoices(r)
			require.Len(e.t, invs, want)
			// A run bills its accounts in id order, each account's invoice in turn.
			sort.Slice(invs, func(i, j int) bool { return bxIDLess(invs[i].Account, invs[j].Account) })
			for _, inv := range invs {
				numbers = append(numbers, inv.Number)
			}
		}
		collect(e.run("2024-01-01", "2024-01-31", nil), 3)
		collect(e.run("2024-02-01", "2024-02-29", map[string]any{"accountIds": []string{accs[2], accs[0]}}), 2)
		collect(e.run("2024-02-01", "2024-03-31", nil), 3) // the second's February and everyone's March
		require.Len(e.t, numbers, 8)
		seen := map[string]bool{}
		for i, n := range numbers {
			require.False(e.t, seen[n], "invoice number %s given twice", n)
			seen[n] = true
			require.True(e.t, strings.HasPrefix(n, "INV-"), "number %s", n)
			if i > 0 {
				// Zero-padded, so text order is number order.
				require.Equal(e.t, len(numbers[i-1]), len(n))
				require.Less(e.t, numbers[i-1], n, "numbers ascend in the order invoices are made")
			}
		}
		// The connection lists invoices in the order they were made.
		var listed []string
		for _, inv := range e.invoices() {
			listed = append(listed, inv.Number)
		}
		require.Equal(e.t, numbers, listed)
	})
}

// bxIDLess orders numeric ids.
func bxIDLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ---- Deleting and moving billed account-packages ---------------------------------

// TestBillingDeleteAccountPackage deletes billed account-packages: with their invoice
// OPEN the charges go (and an invoice left empty with them), with it CLOSED the
// delete is refused and nothing changes.
func TestBillingDeleteAccountPackage(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		_, accs, aps := bxSimple(e, "50.00", "Alone", "Pair")
		other := e.service("Extra", "RECURRING")
		p2 := e.pkg("Extra", nil, []string{other}, "MONTH", bxPrice(other, "ACTIVE", "20.00"))
		second := e.provision(p2, accs[1], "2024-01-01", nil)[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		// Alone: 50.00. Pair: 50.00 + 20.00 = 70.00. Run total 120.00.
		e.requireRun(jan, bxCounts{Accounts: 2, Invoices: 2, Charges: 3, Totals: []string{"USD 120.00"}})
		e.requireInvoice(jan, accs[0], "OPEN", "50.00",
			bxL("RECURRING", "Line", aps[0], "2024-01-01", "2024-01-31", 1, "50.00", "50.00"))
		pair := e.requireInvoice(jan, accs[1], "OPEN", "70.00",
			bxL("RECURRING", "Line", aps[1], "2024-01-01", "2024-01-31", 1, "50.00", "50.00"),
			bxL("RECURRING", "Extra", second, "2024-01-01", "2024-01-31", 1, "20.00", "20.00"))
		require.Equal(e.t, 3, e.b.Count("charges"))

		del := func(id string) {
			var out struct{ DeleteAccountPackage string }
			e.b.MustQuery(`mutation($id: ID!) { deleteAccountPackage(id: $id) }`, map[string]any{"id": id}, &out)
			require.Equal(e.t, id, out.DeleteAccountPackage)
			e.b.MustBeGone(id)
		}
		// Its only charge goes, and the invoice billing made, now empty, with it.
		del(aps[0])
		require.Empty(e.t, e.accountInvoices(accs[0]))
		require.Equal(e.t, "0.00", e.balance(accs[0]))
		require.Equal(e.t, 2, e.b.Count("charges"))
		// One of two: the invoice stays with the other line and is re-totaled: 50.00.
		del(second)
		pair.Lines = pair.Lines[1:] // sorted: Extra before Line
		pair.Total = "50.00"
		require.Equal(e.t, []bxInvoice{pair}, e.accountInvoices(accs[1]))
		require.Equal(e.t, "50.00", e.balance(accs[1]))

		// Once the invoice is CLOSED the charges may not go: cancel instead.
		e.closeInvoice(pair.ID)
		before := e.b.Snapshot()
		e.b.MustFail(`mutation($id: ID!) { deleteAccountPackage(id: $id) }`, map[string]any{"id": aps[1]}, "FAILED_PRECONDITION")
		require.Equal(e.t, before, e.b.Snapshot())
		pair.Status = "CLOSED"
		require.Equal(e.t, []bxInvoice{pair}, e.accountInvoices(accs[1]))
		e.requireBilled(aps[1], "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
		require.Equal(e.t, "50.00", e.balance(accs[1]))
	})
}

// TestBillingEffectiveDateChange moves the start of a billed package while its
// invoice is OPEN: the charges go and the next run bills it again from the new date;
// once the invoice is CLOSED the move is refused.
func TestBillingEffectiveDateChange(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line, setup := e.service("Line", "RECURRING"), e.service("Setup", "ONE_TIME")
		p := e.pkg("With setup", nil, []string{line, setup}, "MONTH", bxPrice(line, "ACTIVE", "50.00"), bxOneTime(setup, "25.00"))
		acc := e.account("Mover", 1)
		ap := e.provision(p, acc, "2024-01-01", nil)[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		// 50.00 for January and the one-time 25.00: 75.00.
		e.requireInvoice(jan, acc, "OPEN", "75.00",
			bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"),
			bxL("ONE_TIME", "Setup", ap, "2024-01-01", "2024-01-31", 1, "25.00", "25.00"))

		moved := e.updateAP(ap, map[string]any{"effectiveDate": "2024-01-10"})
		require.Equal(e.t, "2024-01-10", moved.EffectiveDate)
		require.Equal(e.t, bxS("2024-01-10"), moved.NextBillDate, "billed again from the new date")
		require.Nil(e.t, moved.BilledThrough)
		require.Empty(e.t, e.invoices(), "its charges went, and their invoice with them")
		require.Zero(e.t, e.b.Count("charges"))
		require.Equal(e.t, "0.00", e.balance(acc))

		again := e.run("2024-01-01", "2024-01-31", nil)
		// E = 01-10, A0 = 02-01: 22 of 31 days, 50 × 22 / 31 = 1100/31 = 35.483… → 35.48;
		// the one-time 25.00 again, with the first billing. Invoice 60.48.
		e.requireRun(again, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 60.48"}})
		inv := e.requireInvoice(again, acc, "OPEN", "60.48",
			bxL("RECURRING", "Line", ap, "2024-01-10", "2024-01-31", 1, "50.00", "35.48"),
			bxL("ONE_TIME", "Setup", ap, "2024-01-10", "2024-01-31", 1, "25.00", "25.00"))
		e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
		require.Equal(e.t, "60.48", e.balance(acc))

		e.closeInvoice(inv.ID)
		before := e.b.Snapshot()
		e.b.MustFail(`mutation($id: ID!, $in: UpdateAccountPackageInput!) { updateAccountPackage(id: $id, input: $in) { id } }`,
			map[string]any{"id": ap, "in": map[string]any{"effectiveDate": "2024-01-05"}}, "FAILED_PRECONDITION")
		require.Equal(e.t, before, e.b.Snapshot())
		require.Equal(e.t, "2024-01-10", e.ap(ap).EffectiveDate)
		e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
	})
}

// TestBillingEffectiveDateChangeTransition moves the start of a package whose status
// changed after billing began: the transition charge leaves with the other charges and,
// like them, is rated again by the next run.
func TestBillingEffectiveDateChangeTransition(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line := e.service("Line", "RECURRING")
		price := bxPrice(line, "ACTIVE", "50.00", "SUSPENDED", "10.00")
		price["transitions"] = []any{map[string]any{"from": "ACTIVE", "to": "SUSPENDED", "amount": "5.00"}}
		p := e.pkg("Suspendable", nil, []string{line}, "MONTH", price)
		acc := e.account("Mover", 1)
		ap := e.provision(p, acc, "2024-01-01", nil)[0]
		e.run("2024-01-01", "2024-01-31", nil) // 50.00
		e.b.Clock.Set(time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC))
		e.updateAP(ap, map[string]any{"status": "SUSPENDED"})
		feb := e.run("2024-02-01", "2024-02-29", nil)
		e.requireInvoice(feb, acc, "OPEN", "15.00",
			bxL("TRANSITION", "Line", ap, "2024-01-20", "2024-01-20", 1, "5.00", "5.00"),
			bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-29", 1, "10.00", "10.00"))
		require.Equal(e.t, "65.00", e.balance(acc))

		e.updateAP(ap, map[string]any{"effectiveDate": "2024-01-10"})
		require.Empty(e.t, e.invoices(), "all its charges went, and both invoices with them")
		require.Equal(e.t, "0.00", e.balance(acc))

		again := e.run("2024-01-01", "2024-02-29", nil)
		// Re-rated from 01-10 at the status now in force, SUSPENDED 10.00:
		// [01-10, 02-01) = 22 of 31 days, 10 × 22 / 31 = 220/31 = 7.096… → 7.10;
		// [02-01, 03-01) 10.00; and the transition ACTIVE→SUSPENDED of 01-20, 5.00,
		// whose charge was removed with the others. Invoice 7.10 + 10.00 + 5.00 = 22.10.
		e.requireRun(again, bxCounts{Accounts: 1, Invoices: 1, Charges: 3, Totals: []string{"USD 22.10"}})
		e.requireInvoice(again, acc, "OPEN", "22.10",
			bxL("RECURRING", "Line", ap, "2024-01-10", "2024-01-31", 1, "10.00", "7.10"),
			bxL("TRANSITION", "Line", ap, "2024-01-20", "2024-01-20", 1, "5.00", "5.00"),
			bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-29", 1, "10.00", "10.00"))
		e.requireBilled(ap, "SUSPENDED", bxS("2024-03-01"), bxS("2024-02-29"))
		require.Equal(e.t, "22.10", e.balance(acc))
	})
}

// ---- Status changes --------------------------------------------------------------

// TestBillingStatusChange suspends a billed package: the next run charges the
// ACTIVE→SUSPENDED transition once and the next period at the SUSPENDED price.
func TestBillingStatusChange(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line := e.service("Line", "RECURRING")
		price := bxPrice(line, "ACTIVE", "50.00", "SUSPENDED", "10.00")
		price["transitions"] = []any{map[string]any{"from": "ACTIVE", "to": "SUSPENDED", "amount": "5.00"}}
		p := e.pkg("Suspendable", nil, []string{line}, "MONTH", price)
		acc := e.account("Sleeper", 1)
		ap := e.provision(p, acc, "2024-01-01", nil)[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		e.requireInvoice(jan, acc, "OPEN", "50.00",
			bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"))

		e.b.Clock.Set(time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC))
		upd := e.updateAP(ap, map[string]any{"status": "SUSPENDED"})
		require.Equal(e.t, "SUSPENDED", upd.Status)
		require.Equal(e.t, []string{"SUSPENDED"}, upd.Services)

		feb := e.run("2024-02-01", "2024-02-29", nil)
		// The transition ACTIVE→SUSPENDED 5.00, on the day of the change (01-20); the
		// period [02-01, 03-01) billed after the change at the SUSPENDED price 10.00.
		// January, billed before, is not re-rated. Invoice 15.00.
		e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 15.00"}})
		e.requireInvoice(feb, acc, "OPEN", "15.00",
			bxL("TRANSITION", "Line", ap, "2024-01-20", "2024-01-20", 1, "5.00", "5.00"),
			bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-29", 1, "10.00", "10.00"))
		mar := e.run("2024-03-01", "2024-03-31", nil)
		// The transition was charged once: March is 10.00 alone.
		e.requireRun(mar, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 10.00"}})
		e.requireInvoice(mar, acc, "OPEN", "10.00",
			bxL("RECURRING", "Line", ap, "2024-03-01", "2024-03-31", 1, "10.00", "10.00"))
		e.requireBilled(ap, "SUSPENDED", bxS("2024-04-01"), bxS("2024-03-31"))
		// 50.00 + 15.00 + 10.00 = 75.00.
		require.Equal(e.t, "75.00", e.balance(acc))
	})
}

// TestBillingNonBillableStatus provisions a package PENDING: its periods pass without
// recurring charges (one-time charges are still made), until it becomes ACTIVE.
func TestBillingNonBillableStatus(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line, setup := e.service("Line", "RECURRING"), e.service("Setup", "ONE_TIME")
		p := e.pkg("Pending", nil, []string{line, setup}, "MONTH", bxPrice(line, "ACTIVE", "20.00"), bxOneTime(setup, "10.00"))
		acc := e.account("Waiting", 1)
		ap := e.provision(p, acc, "2024-01-01", map[string]any{"status": "PENDING"})[0]
		require.Equal(e.t, "PENDING", e.ap(ap).Status)

		jan := e.run("2024-01-01", "2024-01-31", nil)
		// PENDING is not billable: no recurring 20.00; the one-time 10.00 is still made
		// by the first billing; January passes.
		e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 10.00"}})
		e.requireInvoice(jan, acc, "OPEN", "10.00",
			bxL("ONE_TIME", "Setup", ap, "2024-01-01", "2024-01-31", 1, "10.00", "10.00"))
		e.requireBilled(ap, "PENDING", bxS("2024-02-01"), bxS("2024-01-31"))

		feb := e.run("2024-02-01", "2024-02-29", nil)
		// Nothing to charge at all: no invoice, but nextBillDate moves on.
		e.requireRun(feb, bxCounts{Accounts: 1})
		e.requireBilled(ap, "PENDING", bxS("2024-03-01"), bxS("2024-02-29"))

		e.updateAP(ap, map[string]any{"status": "ACTIVE"})
		mar := e.run("2024-03-01", "2024-03-31", nil)
		// ACTIVE from March on: 20.00 (PENDING→ACTIVE has no transition price).
		e.requireRun(mar, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 20.00"}})
		e.requireInvoice(mar, acc, "OPEN", "20.00",
			bxL("RECURRING", "Line", ap, "2024-03-01", "2024-03-31", 1, "20.00", "20.00"))
		require.Equal(e.t, "30.00", e.balance(acc))
	})
}

// ---- Cancellation ----------------------------------------------------------------

// TestBillingCancellation carries out cancellations with each billing option.
func TestBillingCancellation(t *testing.T) {
	t.Parallel()

	// billedJanuary is a 50.00 monthly package (transition prices as given) billed for
	// January in advance.
	billedJanuary := func(e *bxEnv, transitions ...any) (acc, ap string) {
		line := e.service("Line", "RECURRING")
		price := bxPrice(line, "ACTIVE", "50.00")
		price["transitions"] = transitions
		p := e.pkg("Monthly", nil, []string{line}, "MONTH", price)
		acc = e.account("Leaver", 1)
		ap = e.provision(p, acc, "2024-01-01", nil)[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		e.requireInvoice(jan, acc, "OPEN", "50.00",
			bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"))
		return acc, ap
	}
	requireCanceled := func(e *bxEnv, ap string) {
		e.t.Helper()
		got := e.ap(ap)
		require.Equal(e.t, "CANCELED", got.Status)
		require.Nil(e.t, got.NextBillDate)
		require.Equal(e.t, []string{"CANCELED"}, got.Services)
	}

	t.Run("NONE after billing in advance", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			acc, ap := billedJanuary(e)
			e.cancel(ap, "2024-01-21", "NONE")
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// The final period [01-01, 02-01) holds C = 01-21 and was billed 50.00; NONE
			// makes it cost nothing: a credit of all 50.00, for 01-21..01-31. February,
			// after the final period, is not billed.
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD -50.00"}})
			e.requireInvoice(feb, acc, "OPEN", "-50.00",
				bxL("CREDIT", "Line", ap, "2024-01-21", "2024-01-31", 1, "50.00", "-50.00"))
			requireCanceled(e, ap)
			// 50.00 − 50.00.
			require.Equal(e.t, "0.00", e.balance(acc))
			mar := e.run("2024-03-01", "2024-03-31", nil)
			e.requireRun(mar, bxCounts{Accounts: 1})
		})
	})

	t.Run("FULL_PERIOD after billing in advance", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			acc, ap := billedJanuary(e)
			e.cancel(ap, "2024-01-21", "FULL_PERIOD")
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// The final period costs its full price and was billed: nothing more, and
			// nothing for February. No invoice, but the package is canceled.
			e.requireRun(feb, bxCounts{Accounts: 1})
			require.Len(e.t, e.invoices(), 1)
			requireCanceled(e, ap)
			require.Equal(e.t, "50.00", e.balance(acc))
		})
	})

	t.Run("PRORATED postpaid", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Postpaid", map[string]any{"postpaid": true}, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "30.00"))
			acc := e.account("Late payer", 1)
			ap := e.provision(p, acc, "2024-01-01", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// Postpaid: January is billed once it has ended, on 02-01.
			e.requireRun(jan, bxCounts{Accounts: 1})
			e.cancel(ap, "2024-02-20", "PRORATED")
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// January [01-01, 02-01) in full: 30.00. The final period [02-01, 03-01) holds
			// C = 02-20 and is not billed yet: only its days in service, [02-01, 02-20) =
			// 19 of 29 days, 30 × 19 / 29 = 570/29 = 19.655… → 19.66, for 02-01..02-19.
			// Invoice 30.00 + 19.66 = 49.66.
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 49.66"}})
			e.requireInvoice(feb, acc, "OPEN", "49.66",
				bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "30.00", "30.00"),
				bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-19", 1, "30.00", "19.66"))
			requireCanceled(e, ap)
			require.Equal(e.t, "49.66", e.balance(acc))
			mar := e.run("2024-03-01", "2024-03-31", nil)
			e.requireRun(mar, bxCounts{Accounts: 1})
		})
	})

	t.Run("transition price to CANCELED", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			acc, ap := billedJanuary(e, map[string]any{"from": "ACTIVE", "to": "CANCELED", "amount": "15.00"})
			e.cancel(ap, "2024-01-21", "PRORATED")
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// Final period [01-01, 02-01) billed 50.00; its 20 days in service cost
			// 50 × 20 / 31 = 1000/31 = 32.258… → 32.26; credit 32.26 − 50.00 = −17.74 for
			// 01-21..01-31. The change ACTIVE→CANCELED carried out by this run costs
			// 15.00, on the cancellation date. Invoice −17.74 + 15.00 = −2.74.
			e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD -2.74"}})
			e.requireInvoice(feb, acc, "OPEN", "-2.74",
				bxL("CREDIT", "Line", ap, "2024-01-21", "2024-01-31", 1, "50.00", "-17.74"),
				bxL("TRANSITION", "Line", ap, "2024-01-21", "2024-01-21", 1, "15.00", "15.00"))
			requireCanceled(e, ap)
			// 50.00 − 2.74 = 47.26.
			require.Equal(e.t, "47.26", e.balance(acc))
			// The transition is not charged again.
			mar := e.run("2024-03-01", "2024-03-31", nil)
			e.requireRun(mar, bxCounts{Accounts: 1})
		})
	})

	t.Run("final period not billed yet", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Monthly", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "50.00"))
			options := []string{"PRORATED", "FULL_PERIOD", "NONE"}
			accs, aps := map[string]string{}, map[string]string{}
			for _, opt := range options {
				accs[opt] = e.account(opt, 1)
				aps[opt] = e.provision(p, accs[opt], "2024-01-01", nil)[0]
			}
			jan := e.run("2024-01-01", "2024-01-31", nil)
			e.requireRun(jan, bxCounts{Accounts: 3, Invoices: 3, Charges: 3, Totals: []string{"USD 150.00"}})
			for _, opt := range options {
				e.cancel(aps[opt], "2024-02-10", opt)
			}
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// The final period [02-01, 03-01) holds C = 02-10 and is not billed yet; it is
			// billed once, as its option says:
			// PRORATED: its days in service [02-01, 02-10) = 9 of 29, 50 × 9 / 29 =
			// 450/29 = 15.517… → 15.52, for 02-01..02-09;
			// FULL_PERIOD: its full price, 50.00, for 02-01..02-29;
			// NONE: nothing, so no invoice.
			// Run: 2 invoices, 2 lines, 15.52 + 50.00 = 65.52.
			e.requireRun(feb, bxCounts{Accounts: 3, Invoices: 2, Charges: 2, Totals: []string{"USD 65.52"}})
			e.requireInvoice(feb, accs["PRORATED"], "OPEN", "15.52",
				bxL("RECURRING", "Line", aps["PRORATED"], "2024-02-01", "2024-02-09", 1, "50.00", "15.52"))
			e.requireInvoice(feb, accs["FULL_PERIOD"], "OPEN", "50.00",
				bxL("RECURRING", "Line", aps["FULL_PERIOD"], "2024-02-01", "2024-02-29", 1, "50.00", "50.00"))
			e.requireNoInvoice(feb, accs["NONE"])
			for _, opt := range options {
				requireCanceled(e, aps[opt])
			}
			require.Equal(e.t, "65.52", e.balance(accs["PRORATED"]))
			require.Equal(e.t, "100.00", e.balance(accs["FULL_PERIOD"]))
			require.Equal(e.t, "50.00", e.balance(accs["NONE"]))
		})
	})

	t.Run("chargeFullPeriod is never credited", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Full", map[string]any{"chargeFullPeriod": true}, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "50.00"))
			acc := e.account("Full", 1)
			ap := e.provision(p, acc, "2024-01-15", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// The partial first period [01-15, 02-01) at full price: 50.00.
			e.requireInvoice(jan, acc, "OPEN", "50.00",
				bxL("RECURRING", "Line", ap, "2024-01-15", "2024-01-31", 1, "50.00", "50.00"))
			e.cancel(ap, "2024-01-21", "PRORATED")
			feb := e.run("2024-02-01", "2024-02-29", nil)
			// No credit for a chargeFullPeriod package, and nothing after the final period.
			e.requireRun(feb, bxCounts{Accounts: 1})
			requireCanceled(e, ap)
			require.Equal(e.t, "50.00", e.balance(acc))
		})
	})

	t.Run("end date at provisioning", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Monthly", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "50.00"))
			acc := e.account("Fixed term", 1)
			ap := e.provision(p, acc, "2024-01-01", map[string]any{"endDate": "2024-02-09"})[0]
			// The end date schedules a PRORATED cancellation on the day after it.
			got := e.ap(ap)
			require.Equal(e.t, bxS("2024-02-09"), got.EndDate)
			require.Equal(e.t, bxS("2024-02-10"), got.CancellationDate)
			require.Equal(e.t, bxS("PRORATED"), got.CancelBillingOption)
			run := e.run("2024-01-01", "2024-02-29", nil)
			// January in full, 50.00; February [02-01, 03-01) cut at C = 02-10: 9 of 29
			// days, 50 × 9 / 29 = 450/29 = 15.517… → 15.52. Invoice 65.52.
			e.requireRun(run, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 65.52"}})
			e.requireInvoice(run, acc, "OPEN", "65.52",
				bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 1, "50.00", "50.00"),
				bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-09", 1, "50.00", "15.52"))
			requireCanceled(e, ap)
		})
	})
}

// TestBillingOneTimePackage bills a one-time billing package once, in full, and
// cancels it.
func TestBillingOneTimePackage(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line, setup := e.service("Licence", "RECURRING"), e.service("Setup", "ONE_TIME")
		p := e.pkg("Once", map[string]any{"oneTimeBilling": true}, []string{line, setup}, "MONTH",
			bxPrice(line, "ACTIVE", "99.00"), bxOneTime(setup, "10.00"))
		acc := e.account("Buyer", 1)
		ap := e.provision(p, acc, "2024-01-15", nil)[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		// The recurring price once, in full although the first period [01-15, 02-01) is
		// partial (oneTimeBilling implies chargeFullPeriod): 99.00, shown for the first
		// period; plus the one-time 10.00. Invoice 109.00.
		e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 109.00"}})
		e.requireInvoice(jan, acc, "OPEN", "109.00",
			bxL("RECURRING", "Licence", ap, "2024-01-15", "2024-01-31", 1, "99.00", "99.00"),
			bxL("ONE_TIME", "Setup", ap, "2024-01-15", "2024-01-31", 1, "10.00", "10.00"))
		got := e.ap(ap)
		require.Equal(e.t, "CANCELED", got.Status)
		require.Nil(e.t, got.NextBillDate)
		require.Equal(e.t, []string{"CANCELED", "CANCELED"}, got.Services)
		feb := e.run("2024-02-01", "2024-02-29", nil)
		e.requireRun(feb, bxCounts{Accounts: 1})
		require.Equal(e.t, "109.00", e.balance(acc))
	})
}

// TestBillingTransitionWhenNotDue charges a status change's transition price in the
// next run over the account although the package is not otherwise due.
func TestBillingTransitionWhenNotDue(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line := e.service("Line", "RECURRING")
		price := bxPrice(line, "ACTIVE", "50.00", "SUSPENDED", "10.00")
		price["transitions"] = []any{map[string]any{"from": "ACTIVE", "to": "SUSPENDED", "amount": "5.00"}}
		p := e.pkg("Suspendable", nil, []string{line}, "MONTH", price)
		acc := e.account("Sleeper", 1)
		ap := e.provision(p, acc, "2024-01-01", nil)[0]
		e.run("2024-01-01", "2024-01-31", nil)
		e.b.Clock.Set(time.Date(2024, 1, 20, 12, 0, 0, 0, time.UTC))
		e.updateAP(ap, map[string]any{"status": "SUSPENDED"})
		late := e.run("2024-01-20", "2024-01-31", nil)
		// nextBillDate 02-01 is past the range, but the transition is charged: 5.00.
		e.requireRun(late, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 5.00"}})
		e.requireInvoice(late, acc, "OPEN", "5.00",
			bxL("TRANSITION", "Line", ap, "2024-01-20", "2024-01-20", 1, "5.00", "5.00"))
		e.requireBilled(ap, "SUSPENDED", bxS("2024-02-01"), bxS("2024-01-31"))
		feb := e.run("2024-02-01", "2024-02-29", nil)
		// February at the SUSPENDED price, and no second transition.
		e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 10.00"}})
		e.requireInvoice(feb, acc, "OPEN", "10.00",
			bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-29", 1, "10.00", "10.00"))
	})
}

// TestBillingBulkChange changes a bulk quantity after billing: it applies from the next
// bill date, without proration.
func TestBillingBulkChange(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line := e.service("Line", "RECURRING")
		p := e.pkg("Bulk Line", map[string]any{"bulkQuantity": true}, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "1.00"))
		acc := e.account("Grower", 1)
		ap := e.provision(p, acc, "2024-01-01", map[string]any{"bulkQuantity": 20})[0]
		jan := e.run("2024-01-01", "2024-01-31", nil)
		e.requireInvoice(jan, acc, "OPEN", "20.00",
			bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 20, "1.00", "20.00"))
		require.Equal(e.t, 30, e.updateAP(ap, map[string]any{"bulkQuantity": 30}).BulkQuantity)
		feb := e.run("2024-02-01", "2024-02-29", nil)
		// January stays 20.00 (no proration); February 30 × 1.00 = 30.00.
		e.requireRun(feb, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 30.00"}})
		e.requireInvoice(feb, acc, "OPEN", "30.00",
			bxL("RECURRING", "Line", ap, "2024-02-01", "2024-02-29", 30, "1.00", "30.00"))
		require.Equal(e.t, "50.00", e.balance(acc))
	})
}

// TestBillingOwnBillDay provisions with a bill day of the package's own, which wins
// over the account's.
func TestBillingOwnBillDay(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		line := e.service("Line", "RECURRING")
		p := e.pkg("Monthly", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "50.00"))
		acc := e.account("Mid-month", 1)
		ap := e.provision(p, acc, "2024-01-01", map[string]any{"billDay": 15})[0]
		require.Equal(e.t, 15, e.ap(ap).BillDay)
		jan := e.run("2024-01-01", "2024-01-31", nil)
		// Bill day 15: A0 = 01-15; partial [01-01, 01-15) = 14 days, priced against
		// [2023-12-15, 2024-01-15) = 31 days: 50 × 14 / 31 = 700/31 = 22.580… → 22.58;
		// then [01-15, 02-15) 50.00. Invoice 72.58.
		e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 72.58"}})
		e.requireInvoice(jan, acc, "OPEN", "72.58",
			bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-14", 1, "50.00", "22.58"),
			bxL("RECURRING", "Line", ap, "2024-01-15", "2024-02-14", 1, "50.00", "50.00"))
		e.requireBilled(ap, "ACTIVE", bxS("2024-02-15"), bxS("2024-02-14"))
	})
}

// ---- Quantities and prices -------------------------------------------------------

// TestBillingQuantities checks provisioning quantity (separate account-packages),
// service instances and per-status price overrides on the lines they make.
func TestBillingQuantities(t *testing.T) {
	t.Parallel()

	t.Run("quantity 3", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Simple", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "20.00"))
			acc := e.account("Three", 1)
			aps := e.provision(p, acc, "2024-01-01", map[string]any{"quantity": 3})
			require.Len(e.t, aps, 3)
			require.NotEqual(e.t, aps[0], aps[1])
			require.NotEqual(e.t, aps[1], aps[2])
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// Three account-packages, one 20.00 line each, on the account's one invoice:
			// 3 × 20.00 = 60.00.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 3, Totals: []string{"USD 60.00"}})
			e.requireInvoice(jan, acc, "OPEN", "60.00",
				bxL("RECURRING", "Line", aps[0], "2024-01-01", "2024-01-31", 1, "20.00", "20.00"),
				bxL("RECURRING", "Line", aps[1], "2024-01-01", "2024-01-31", 1, "20.00", "20.00"),
				bxL("RECURRING", "Line", aps[2], "2024-01-01", "2024-01-31", 1, "20.00", "20.00"))
			for _, ap := range aps {
				e.requireBilled(ap, "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
			}
		})
	})

	t.Run("two instances", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Simple", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "20.00"))
			acc := e.account("Double", 1)
			ap := e.provision(p, acc, "2024-01-01", map[string]any{
				"services": []any{map[string]any{"serviceId": line, "quantity": 2}}})[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// 2 instances × 20.00 = 40.00, one line of quantity 2.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 40.00"}})
			e.requireInvoice(jan, acc, "OPEN", "40.00",
				bxL("RECURRING", "Line", ap, "2024-01-01", "2024-01-31", 2, "20.00", "40.00"))
		})
	})

	t.Run("price override", func(t *testing.T) {
		t.Parallel()
		bxEach(t, func(e *bxEnv) {
			line := e.service("Line", "RECURRING")
			p := e.pkg("Simple", nil, []string{line}, "MONTH", bxPrice(line, "ACTIVE", "20.00"))
			acc := e.account("Special", 1)
			special := e.provision(p, acc, "2024-01-01", map[string]any{
				"services": []any{map[string]any{"serviceId": line,
					"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "35.00"}}}}})[0]
			plain := e.provision(p, acc, "2024-01-01", nil)[0]
			jan := e.run("2024-01-01", "2024-01-31", nil)
			// The override replaces the catalog price for its account-service only:
			// 35.00, and 20.00 for the other. Invoice 55.00.
			e.requireRun(jan, bxCounts{Accounts: 1, Invoices: 1, Charges: 2, Totals: []string{"USD 55.00"}})
			e.requireInvoice(jan, acc, "OPEN", "55.00",
				bxL("RECURRING", "Line", special, "2024-01-01", "2024-01-31", 1, "35.00", "35.00"),
				bxL("RECURRING", "Line", plain, "2024-01-01", "2024-01-31", 1, "20.00", "20.00"))
		})
	})
}

// ---- Run options and refusals ----------------------------------------------------

// TestBillingRunOptions checks billCharges:false (nothing billed) and
// closeInvoices:true (invoices made CLOSED).
func TestBillingRunOptions(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		_, accs, aps := bxSimple(e, "20.00", "Options")
		dry := e.run("2024-01-01", "2024-01-31", map[string]any{"billCharges": false})
		// The account is gone through, nothing is charged and nothing moves.
		e.requireRun(dry, bxCounts{Accounts: 1})
		require.Zero(e.t, e.b.Count("charges"))
		e.requireBilled(aps[0], "ACTIVE", bxS("2024-01-01"), nil)

		closed := e.run("2024-01-01", "2024-01-31", map[string]any{"closeInvoices": true, "postingDate": "2024-02-05"})
		require.Equal(e.t, "2024-02-05", closed.PostingDate)
		e.requireRun(closed, bxCounts{Accounts: 1, Invoices: 1, Charges: 1, Totals: []string{"USD 20.00"}})
		inv := e.requireInvoice(closed, accs[0], "CLOSED", "20.00",
			bxL("RECURRING", "Line", aps[0], "2024-01-01", "2024-01-31", 1, "20.00", "20.00"))
		e.b.MustFail(`mutation($id: ID!) { closeInvoice(id: $id) { id } }`, map[string]any{"id": inv.ID}, "FAILED_PRECONDITION")
		e.requireBilled(aps[0], "ACTIVE", bxS("2024-02-01"), bxS("2024-01-31"))
		require.Equal(e.t, "20.00", e.balance(accs[0]))
	})
}

// TestBillingRunRefusals checks that a run over an unknown account or a range out of
// order is refused and writes nothing.
func TestBillingRunRefusals(t *testing.T) {
	t.Parallel()
	bxEach(t, func(e *bxEnv) {
		_, accs, _ := bxSimple(e, "20.00", "Refused")
		before := e.b.Snapshot()
		const q = `mutation($in: BillRunInput!) { startBillRun(input: $in) { id } }`
		nf := e.b.MustFail(q, map[string]any{"in": map[string]any{"periodStart": "2024-01-01", "periodEnd": "2024-01-31",
			"accountIds": []string{accs[0], "999999"}}}, "NOT_FOUND")
		require.Equal(e.t, "input.accountIds[1]", nf.Field())
		bad := e.b.MustFail(q, map[string]any{"in": map[string]any{"periodStart": "2024-01-31", "periodEnd": "2024-01-01"}},
			"BAD_USER_INPUT")
		require.Equal(e.t, "input.periodEnd", bad.Field())
		require.Equal(e.t, before, e.b.Snapshot())
		require.Zero(e.t, e.b.Count("bill_runs"))
	})
}
