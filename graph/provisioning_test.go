package graph_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// Provisioning tests: account-packages and account-services over the API, rules
// section 3. Identifiers here start with "prov" so they cannot clash with the other
// test files of the package.

// Fields read back of account-packages and account-services.
const (
	provASFields = `id service { id name } status { code } quantity effectiveDate endDate
		priceOverrides { status { code } amount }`
	provAPFields = `id status { code } bulkQuantity effectiveDate endDate cancellationDate
		cancelBillingOption billDay newBillDay nextBillDate billedThrough chargeFullPeriod postpaid
		package { id } frequency { id }
		services { ` + provASFields + ` }
		charges { id kind amount periodStart periodEnd invoice { id status } }`
)

// Documents.
const (
	qProvision    = `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { ` + provAPFields + ` } }`
	qProvUpdateAP = `mutation($id: ID!, $in: UpdateAccountPackageInput!) { updateAccountPackage(id: $id, input: $in) { ` + provAPFields + ` } }`
	qProvCancelAP = `mutation($id: ID!, $in: CancelAccountPackageInput!) { cancelAccountPackage(id: $id, input: $in) { ` + provAPFields + ` } }`
	qProvDeleteAP = `mutation($id: ID!) { deleteAccountPackage(id: $id) }`
	qProvAddAS    = `mutation($id: ID!, $in: AccountServiceInput!) { addAccountService(accountPackageId: $id, input: $in) { ` + provASFields + ` } }`
	qProvUpdateAS = `mutation($id: ID!, $in: UpdateAccountServiceInput!) { updateAccountService(id: $id, input: $in) { ` + provASFields + ` } }`
	qProvRemoveAS = `mutation($id: ID!) { removeAccountService(id: $id) }`
	qProvReadAP   = `query($id: ID!) { node(id: $id) { ... on AccountPackage { ` + provAPFields + ` } } }`
	qProvBillRun  = `mutation($in: BillRunInput!) { startBillRun(input: $in) { id } }`
	// qProvState reads everything provisioning and billing can change on every
	// account: a refused request must leave it byte for byte the same.
	qProvState = `{ accounts(first: 100) { totalCount edges { node { id billDay balance
		accountPackages(first: 1000) { totalCount edges { node { ` + provAPFields + ` } } }
		invoices(first: 1000) { totalCount edges { node { id number status total lines { id kind amount } } } } } } } }`
)

type provStatusPrice struct {
	Status struct{ Code string }
	Amount string
}

type provAS struct {
	ID             string
	Service        struct{ ID, Name string }
	Status         struct{ Code string }
	Quantity       int
	EffectiveDate  string
	EndDate        *string
	PriceOverrides []provStatusPrice
}

type provCharge struct {
	ID          string
	Kind        string
	Amount      string
	PeriodStart *string
	PeriodEnd   *string
	Invoice     *struct{ ID, Status string }
}

type provAP struct {
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
	ChargeFullPeriod    bool
	Postpaid            bool
	Package             struct{ ID string }
	Frequency           struct{ ID string }
	Services            []provAS
	Charges             []provCharge
}

// svcs returns the account-package's account-services of the named service.
func (ap provAP) svcs(name string) []provAS {
	var out []provAS
	for _, s := range ap.Services {
		if s.Service.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// svc returns the one account-service of the named service.
func (ap provAP) svc(t *testing.T, name string) provAS {
	t.Helper()
	s := ap.svcs(name)
	require.Len(t, s, 1, "account-services of %s on account-package %s", name, ap.ID)
	return s[0]
}

// instances sums the quantities of the named service's account-services.
func (ap provAP) instances(name string) int {
	n := 0
	for _, s := range ap.svcs(name) {
		n += s.Quantity
	}
	return n
}

func provStr(s string) *string { return &s }
func provInt(n int) *int       { return &n }

// provFixture is the catalog and accounts every provisioning test starts from, built
// through the API on an instance of the test's own:
//   - services Line, Addon, Multi, Extra, Tuner (RECURRING) and Spare (in no package);
//   - package "Pro" in USD and EUR: Line (1..unlimited, default 1), Addon (1..3, default
//     1), Multi (2..4, default 2), Extra (optional, max 2) and Tuner (optional with
//     defaultInstances 1); its Monthly frequency prices, in USD, Line 10.00 ACTIVE and
//     2.00 SUSPENDED, Addon 5.00, Multi 1.00, Extra 3.00, Tuner 4.00 (ACTIVE), and Line
//     9.00 EUR;
//   - "Post": postpaid, USD, Line 30.00 monthly;
//   - "Bulk": the bulk component, USD, Line 1.00 monthly;
//   - "Dated": available from 2024-01-01 until 2025-01-01, USD, Line 5.00 monthly;
//   - "Euro": EUR only, Line 9.00 monthly;
//   - "Trial": defaultStatus PENDING, USD, Line 10.00 monthly;
//   - "Full": chargeFullPeriod, USD, Line 10.00 monthly;
//   - "Once": oneTimeBilling, USD, Line 5.00 monthly;
//   - accounts "Acme" (USD, bill day 1) and "Beta" (USD, bill day 15);
//   - AP: one Pro account-package on Acme, effective 2024-01-01, provisioned with
//     defaults; cases that need another target set AP (and AS) in their prep.
type provFixture struct {
	Line, Addon, Multi, Extra, Tuner, Spare string

	Pro, ProMonthly     string
	Post, PostMonthly   string
	Bulk, BulkMonthly   string
	Dated, DatedMonthly string
	Euro, EuroMonthly   string
	Trial, TrialMonthly string
	Full, FullMonthly   string
	Once, OnceMonthly   string

	Acme, Beta string

	AP string // the account-package a case works on
	AS string // the account-service a case works on

	NoSuchAccount, NoSuchPackage, NoSuchFrequency, NoSuchAP, NoSuchAS string
}

func newProvFixture(t *testing.T, b *testenv.Billd) *provFixture {
	t.Helper()
	f := &provFixture{}
	svc := func(name string) string {
		var out struct{ CreateService struct{ ID string } }
		b.MustQuery(qCreateService, map[string]any{"in": map[string]any{"name": name, "kind": "RECURRING"}}, &out)
		return out.CreateService.ID
	}
	f.Line, f.Addon, f.Multi = svc("Line"), svc("Addon"), svc("Multi")
	f.Extra, f.Tuner, f.Spare = svc("Extra"), svc("Tuner"), svc("Spare")

	pkg := func(in map[string]any) (id, freq string) {
		var out struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
			map[string]any{"in": in}, &out)
		require.Len(t, out.CreatePackage.Frequencies, 1)
		return out.CreatePackage.ID, out.CreatePackage.Frequencies[0].ID
	}
	price := func(svc, cur string, active string, more ...any) map[string]any {
		rec := []any{map[string]any{"status": "ACTIVE", "amount": active}}
		for i := 0; i+1 < len(more); i += 2 {
			rec = append(rec, map[string]any{"status": more[i], "amount": more[i+1]})
		}
		return map[string]any{"serviceId": svc, "currency": cur, "recurring": rec}
	}
	monthly := func(prices ...any) []any {
		return []any{map[string]any{"name": "Monthly", "interval": "MONTH", "prices": prices}}
	}
	f.Pro, f.ProMonthly = pkg(map[string]any{
		"name": "Pro", "currencies": []any{"USD", "EUR"},
		"services": []any{
			map[string]any{"serviceId": f.Line},
			map[string]any{"serviceId": f.Addon, "minInstances": 1, "defaultInstances": 1, "maxInstances": 3},
			map[string]any{"serviceId": f.Multi, "minInstances": 2, "defaultInstances": 2, "maxInstances": 4},
			map[string]any{"serviceId": f.Extra, "optional": true, "maxInstances": 2},
			map[string]any{"serviceId": f.Tuner, "optional": true, "defaultInstances": 1},
		},
		"frequencies": monthly(
			price(f.Line, "USD", "10.00", "SUSPENDED", "2.00"),
			price(f.Addon, "USD", "5.00"),
			price(f.Multi, "USD", "1.00"),
			price(f.Extra, "USD", "3.00"),
			price(f.Tuner, "USD", "4.00"),
			price(f.Line, "EUR", "9.00"),
		),
	})
	simple := func(name string, cur, amount string, extra map[string]any) (string, string) {
		in := map[string]any{
			"name": name, "currencies": []any{cur},
			"services":    []any{map[string]any{"serviceId": f.Line}},
			"frequencies": monthly(price(f.Line, cur, amount)),
		}
		for k, v := range extra {
			in[k] = v
		}
		return pkg(in)
	}
	f.Post, f.PostMonthly = simple("Post", "USD", "30.00", map[string]any{"postpaid": true})
	f.Bulk, f.BulkMonthly = simple("Bulk", "USD", "1.00", map[string]any{"bulkQuantity": true})
	f.Dated, f.DatedMonthly = simple("Dated", "USD", "5.00", map[string]any{"startDate": "2024-01-01", "expiryDate": "2025-01-01"})
	f.Euro, f.EuroMonthly = simple("Euro", "EUR", "9.00", nil)
	f.Trial, f.TrialMonthly = simple("Trial", "USD", "10.00", map[string]any{"defaultStatus": "PENDING"})
	f.Full, f.FullMonthly = simple("Full", "USD", "10.00", map[string]any{"chargeFullPeriod": true})
	f.Once, f.OnceMonthly = simple("Once", "USD", "5.00", map[string]any{"oneTimeBilling": true})

	acc := func(name string, day int) string {
		var out struct{ CreateAccount struct{ ID string } }
		b.MustQuery(qCreateAccount, map[string]any{"in": map[string]any{"name": name, "currency": "USD", "billDay": day}}, &out)
		return out.CreateAccount.ID
	}
	f.Acme, f.Beta = acc("Acme", 1), acc("Beta", 15)

	ap := provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
	f.AP = ap.ID
	f.AS = ap.svc(t, "Line").ID

	unknown := func(id string) string { return strconv.Itoa(idInt(t, id) + 100000) }
	f.NoSuchAccount, f.NoSuchPackage, f.NoSuchFrequency = unknown(f.Beta), unknown(f.Full), unknown(f.FullMonthly)
	f.NoSuchAP, f.NoSuchAS = unknown(ap.ID), unknown(ap.Services[len(ap.Services)-1].ID)
	return f
}

// proInput is a provisionPackage input of Pro on an account, effective on date.
func (f *provFixture) proInput(account, date string) map[string]any {
	return f.input(account, f.Pro, f.ProMonthly, date)
}

// input is a provisionPackage input with the required fields only.
func (f *provFixture) input(account, pkg, freq, date string) map[string]any {
	return map[string]any{"accountId": account, "packageId": pkg, "frequencyId": freq, "effectiveDate": date}
}

// provProvision provisions and returns the account-packages created.
func provProvision(t *testing.T, b *testenv.Billd, in map[string]any) []provAP {
	t.Helper()
	var out struct{ ProvisionPackage []provAP }
	b.MustQuery(qProvision, map[string]any{"in": in}, &out)
	return out.ProvisionPackage
}

func provOne(t *testing.T, b *testenv.Billd, in map[string]any) provAP {
	t.Helper()
	aps := provProvision(t, b, in)
	require.Len(t, aps, 1)
	return aps[0]
}

func provReadAP(t *testing.T, b *testenv.Billd, id string) provAP {
	t.Helper()
	var out struct{ Node provAP }
	b.MustQuery(qProvReadAP, map[string]any{"id": id}, &out)
	require.Equal(t, id, out.Node.ID)
	return out.Node
}

func provUpdateAP(t *testing.T, b *testenv.Billd, id string, in map[string]any) provAP {
	t.Helper()
	var out struct{ UpdateAccountPackage provAP }
	b.MustQuery(qProvUpdateAP, map[string]any{"id": id, "in": in}, &out)
	return out.UpdateAccountPackage
}

func provCancelAP(t *testing.T, b *testenv.Billd, id, date, option string) provAP {
	t.Helper()
	var out struct{ CancelAccountPackage provAP }
	b.MustQuery(qProvCancelAP, map[string]any{"id": id, "in": map[string]any{"cancellationDate": date, "billingOption": option}}, &out)
	return out.CancelAccountPackage
}

func provAddAS(t *testing.T, b *testenv.Billd, apID string, in map[string]any) provAS {
	t.Helper()
	var out struct{ AddAccountService provAS }
	b.MustQuery(qProvAddAS, map[string]any{"id": apID, "in": in}, &out)
	return out.AddAccountService
}

func provUpdateAS(t *testing.T, b *testenv.Billd, id string, in map[string]any) provAS {
	t.Helper()
	var out struct{ UpdateAccountService provAS }
	b.MustQuery(qProvUpdateAS, map[string]any{"id": id, "in": in}, &out)
	return out.UpdateAccountService
}

// provBillRun runs a bill run over [start, end], of the given accounts or of all, waits
// for it to finish, and requires it to have billed every one.
func provBillRun(t *testing.T, b *testenv.Billd, start, end string, closeInvoices bool, accounts ...string) {
	t.Helper()
	in := map[string]any{"periodStart": start, "periodEnd": end, "closeInvoices": closeInvoices}
	if len(accounts) > 0 {
		in["accountIds"] = accounts
	}
	var out struct{ StartBillRun struct{ ID string } }
	b.MustQuery(qProvBillRun, map[string]any{"in": in}, &out)
	deadline := time.Now().Add(time.Minute)
	for {
		var run struct {
			Node struct {
				Status         string
				AccountsFailed int
				Errors         []struct{ Message string }
			}
		}
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on BillRun { status accountsFailed errors { message } } } }`,
			map[string]any{"id": out.StartBillRun.ID}, &run)
		switch run.Node.Status {
		case "QUEUED", "RUNNING":
			require.True(t, time.Now().Before(deadline), "bill run %s..%s still %s", start, end, run.Node.Status)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		require.Equal(t, "COMPLETED", run.Node.Status, "bill run %s..%s: %v", start, end, run.Node.Errors)
		require.Zero(t, run.Node.AccountsFailed)
		return
	}
}

// provState reads the state a refusal must leave unchanged (see qProvState).
func provState(t *testing.T, b *testenv.Billd) string {
	t.Helper()
	r := b.Query(qProvState, nil)
	require.Empty(t, r.Errors)
	return string(r.Data)
}

// provCase is one refusal: a request that must fail with code, field and a message
// containing word, leaving every row and every account-package field as they were.
type provCase struct {
	name  string
	prep  func(t *testing.T, b *testenv.Billd, f *provFixture) // state beyond the fixture
	query string
	vars  func(f *provFixture) map[string]any
	code  string
	field string // extensions.field; "" means none
	word  string
}

// provInputWith is the vars of a provisionPackage of Pro on Acme effective 2024-01-10,
// changed by mod.
func provInputWith(mod func(f *provFixture, in map[string]any)) func(f *provFixture) map[string]any {
	return func(f *provFixture) map[string]any {
		in := f.proInput(f.Acme, "2024-01-10")
		mod(f, in)
		return map[string]any{"in": in}
	}
}

func provInputSet(key string, v any) func(f *provFixture) map[string]any {
	return provInputWith(func(_ *provFixture, in map[string]any) { in[key] = v })
}

// provInputServices provisions Pro on Acme asking for the given services; each is a
// map whose "svc" names a fixture service.
func provInputServices(svcs ...map[string]any) func(f *provFixture) map[string]any {
	return provInputWith(func(f *provFixture, in map[string]any) {
		var list []any
		for _, s := range svcs {
			m := map[string]any{}
			for k, v := range s {
				m[k] = v
			}
			m["serviceId"] = f.serviceID(s["svc"].(string))
			delete(m, "svc")
			list = append(list, m)
		}
		in["services"] = list
	})
}

func (f *provFixture) serviceID(name string) string {
	switch name {
	case "Line":
		return f.Line
	case "Addon":
		return f.Addon
	case "Multi":
		return f.Multi
	case "Extra":
		return f.Extra
	case "Tuner":
		return f.Tuner
	case "Spare":
		return f.Spare
	}
	panic("no fixture service " + name)
}

// provAPVars is the vars of a mutation on the case's account-package.
func provAPVars(in map[string]any) func(f *provFixture) map[string]any {
	return func(f *provFixture) map[string]any { return map[string]any{"id": f.AP, "in": in} }
}

// provASVars is the vars of a mutation on the case's account-service.
func provASVars(in map[string]any) func(f *provFixture) map[string]any {
	return func(f *provFixture) map[string]any { return map[string]any{"id": f.AS, "in": in} }
}

func provIDVars(id func(f *provFixture) string) func(f *provFixture) map[string]any {
	return func(f *provFixture) map[string]any { return map[string]any{"id": id(f)} }
}

func provCancelVars(date, option string) func(f *provFixture) map[string]any {
	return provAPVars(map[string]any{"cancellationDate": date, "billingOption": option})
}

// Preps.

// provOnPackage makes the case's target a fresh account-package of pkg on Acme, effective
// on date, and its account-service of Line.
func provOnPackage(pkg func(f *provFixture) (string, string), date string) func(t *testing.T, b *testenv.Billd, f *provFixture) {
	return func(t *testing.T, b *testenv.Billd, f *provFixture) {
		p, fr := pkg(f)
		ap := provOne(t, b, f.input(f.Acme, p, fr, date))
		f.AP, f.AS = ap.ID, ap.svc(t, "Line").ID
	}
}

func provPostPkg(f *provFixture) (string, string)  { return f.Post, f.PostMonthly }
func provBulkPkg(f *provFixture) (string, string)  { return f.Bulk, f.BulkMonthly }
func provDatedPkg(f *provFixture) (string, string) { return f.Dated, f.DatedMonthly }

// provBilled bills the fixture's account-package over [start, end] first.
func provBilled(start, end string, closeInvoices bool) func(t *testing.T, b *testenv.Billd, f *provFixture) {
	return func(t *testing.T, b *testenv.Billd, f *provFixture) {
		provBillRun(t, b, start, end, closeInvoices)
	}
}

// provThen runs preps in order.
func provThen(preps ...func(t *testing.T, b *testenv.Billd, f *provFixture)) func(t *testing.T, b *testenv.Billd, f *provFixture) {
	return func(t *testing.T, b *testenv.Billd, f *provFixture) {
		for _, p := range preps {
			p(t, b, f)
		}
	}
}

// provCanceledByBilling cancels the target on 2024-01-15 and bills January, which carries
// the cancellation out: CANCELED, no nextBillDate.
func provCanceledByBilling(t *testing.T, b *testenv.Billd, f *provFixture) {
	provCancelAP(t, b, f.AP, "2024-01-15", "PRORATED")
	provBillRun(t, b, "2024-01-01", "2024-01-31", false)
	ap := provReadAP(t, b, f.AP)
	require.Equal(t, "CANCELED", ap.Status.Code)
	require.Nil(t, ap.NextBillDate)
}

// provSetCanceled moves the target to the read-only status CANCELED by a status change
// (billing has not canceled it: it still has a nextBillDate).
func provSetCanceled(t *testing.T, b *testenv.Billd, f *provFixture) {
	ap := provUpdateAP(t, b, f.AP, map[string]any{"status": "CANCELED"})
	require.Equal(t, "CANCELED", ap.Status.Code)
	require.NotNil(t, ap.NextBillDate)
}

// provTargetService makes the case's account-service the target's one of the named service.
func provTargetService(name string) func(t *testing.T, b *testenv.Billd, f *provFixture) {
	return func(t *testing.T, b *testenv.Billd, f *provFixture) {
		f.AS = provReadAP(t, b, f.AP).svc(t, name).ID
	}
}

func provRefusalCases() []provCase {
	qp := qProvision
	return []provCase{
		// ---- provisionPackage: catalog availability and currency (FAILED_PRECONDITION).
		{name: "provision: account currency not one of the package's", query: qp,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"in": f.input(f.Acme, f.Euro, f.EuroMonthly, "2024-01-10")}
			},
			code: precondition, word: "not priced in"},
		{name: "provision: effectiveDate before the package's startDate", query: qp,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"in": f.input(f.Acme, f.Dated, f.DatedMonthly, "2023-12-31")}
			},
			code: precondition, field: "input.effectiveDate", word: "available from 2024-01-01"},
		{name: "provision: effectiveDate on the package's expiryDate", query: qp,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"in": f.input(f.Acme, f.Dated, f.DatedMonthly, "2025-01-01")}
			},
			code: precondition, field: "input.effectiveDate", word: "expired"},
		{name: "provision: effectiveDate after the package's expiryDate", query: qp,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"in": f.input(f.Acme, f.Dated, f.DatedMonthly, "2025-03-01")}
			},
			code: precondition, field: "input.effectiveDate", word: "expired"},

		// ---- provisionPackage: arguments (BAD_USER_INPUT).
		{name: "provision: quantity 0", query: qp, vars: provInputSet("quantity", 0),
			code: badInput, field: "input.quantity", word: "1..10000"},
		{name: "provision: quantity 10001", query: qp, vars: provInputSet("quantity", 10001),
			code: badInput, field: "input.quantity", word: "1..10000"},
		{name: "provision: quantity -1", query: qp, vars: provInputSet("quantity", -1),
			code: badInput, field: "input.quantity", word: "quantity"},
		{name: "provision: bulkQuantity 2 without the bulk component", query: qp, vars: provInputSet("bulkQuantity", 2),
			code: precondition, field: "input.bulkQuantity", word: "bulk component"},
		{name: "provision: bulkQuantity 0 with the bulk component", query: qp,
			vars: func(f *provFixture) map[string]any {
				in := f.input(f.Acme, f.Bulk, f.BulkMonthly, "2024-01-10")
				in["bulkQuantity"] = 0
				return map[string]any{"in": in}
			},
			code: badInput, field: "input.bulkQuantity", word: "bulkQuantity"},
		{name: "provision: bulkQuantity 0 without the bulk component", query: qp, vars: provInputSet("bulkQuantity", 0),
			code: badInput, field: "input.bulkQuantity", word: "bulkQuantity"},
		{name: "provision: billDay 0", query: qp, vars: provInputSet("billDay", 0),
			code: badInput, field: "input.billDay", word: "1..31"},
		{name: "provision: billDay 32", query: qp, vars: provInputSet("billDay", 32),
			code: badInput, field: "input.billDay", word: "1..31"},
		{name: "provision: unknown status", query: qp, vars: provInputSet("status", "NOPE"),
			code: notFound, field: "input.status", word: "unknown status"},
		{name: "provision: read-only status CANCELED", query: qp, vars: provInputSet("status", "CANCELED"),
			code: precondition, field: "input.status", word: "read-only"},
		{name: "provision: endDate before effectiveDate", query: qp, vars: provInputSet("endDate", "2024-01-09"),
			code: badInput, field: "input.endDate", word: "before"},
		{name: "provision: instances below minInstances", query: qp,
			vars: provInputServices(map[string]any{"svc": "Multi", "quantity": 1}),
			code: precondition, field: "input.services[0].quantity", word: "minInstances"},
		{name: "provision: instances above maxInstances", query: qp,
			vars: provInputServices(map[string]any{"svc": "Line"}, map[string]any{"svc": "Addon", "quantity": 4}),
			code: precondition, field: "input.services[1].quantity", word: "maxInstances"},
		{name: "provision: instances above maxInstances over two entries", query: qp,
			vars: provInputServices(map[string]any{"svc": "Addon", "quantity": 2}, map[string]any{"svc": "Line"},
				map[string]any{"svc": "Addon", "quantity": 2}),
			code: precondition, field: "input.services[2].quantity", word: "maxInstances"},
		{name: "provision: optional service above maxInstances", query: qp,
			vars: provInputServices(map[string]any{"svc": "Extra", "quantity": 3}),
			code: precondition, field: "input.services[0].quantity", word: "maxInstances"},
		{name: "provision: service quantity 0", query: qp,
			vars: provInputServices(map[string]any{"svc": "Extra", "quantity": 0}),
			code: badInput, field: "input.services[0].quantity", word: "quantity"},
		{name: "provision: service not in the package", query: qp,
			vars: provInputServices(map[string]any{"svc": "Spare"}),
			code: precondition, field: "input.services[0].serviceId", word: "not in package"},
		{name: "provision: unknown service status", query: qp,
			vars: provInputServices(map[string]any{"svc": "Extra", "status": "NOPE"}),
			code: notFound, field: "input.services[0].status", word: "unknown status"},
		{name: "provision: negative price override", query: qp,
			vars: provInputServices(map[string]any{"svc": "Line",
				"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "-1.00"}}}),
			code: badInput, field: "input.services[0].priceOverrides[0].amount", word: "negative"},
		{name: "provision: price override of an unknown status", query: qp,
			vars: provInputServices(map[string]any{"svc": "Extra"}, map[string]any{"svc": "Line",
				"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "1.00"}, map[string]any{"status": "NOPE", "amount": "1.00"}}}),
			code: notFound, field: "input.services[1].priceOverrides[1].status", word: "unknown status"},
		{name: "provision: price override of a status twice", query: qp,
			vars: provInputServices(map[string]any{"svc": "Line",
				"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "1.00"}, map[string]any{"status": "ACTIVE", "amount": "2.00"}}}),
			code: badInput, field: "input.services[0].priceOverrides[1].status", word: "twice"},

		// ---- provisionPackage: ids (NOT_FOUND).
		{name: "provision: unknown accountId", query: qp,
			vars: provInputWith(func(f *provFixture, in map[string]any) { in["accountId"] = f.NoSuchAccount }),
			code: notFound, field: "input.accountId", word: "not found"},
		{name: "provision: unknown packageId", query: qp,
			vars: provInputWith(func(f *provFixture, in map[string]any) { in["packageId"] = f.NoSuchPackage }),
			code: notFound, field: "input.packageId", word: "not found"},
		{name: "provision: unknown frequencyId", query: qp,
			vars: provInputWith(func(f *provFixture, in map[string]any) { in["frequencyId"] = f.NoSuchFrequency }),
			code: notFound, field: "input.frequencyId", word: "not found"},
		{name: "provision: frequencyId of another package", query: qp,
			vars: provInputWith(func(f *provFixture, in map[string]any) { in["frequencyId"] = f.PostMonthly }),
			code: notFound, field: "input.frequencyId", word: "not found"},

		// ---- cancelAccountPackage.
		{name: "cancel: before the start of the latest billed period (in advance)",
			prep:  provBilled("2024-01-01", "2024-02-29", false), // billed Jan and Feb: latest period starts 2024-02-01
			query: qProvCancelAP, vars: provCancelVars("2024-01-31", "PRORATED"),
			code: precondition, field: "input.cancellationDate", word: "latest billed period"},
		{name: "cancel: on billedThrough (postpaid)",
			prep:  provThen(provOnPackage(provPostPkg, "2024-01-01"), provBilled("2024-01-01", "2024-02-29", false)), // billed through 2024-01-31
			query: qProvCancelAP, vars: provCancelVars("2024-01-31", "NONE"),
			code: precondition, field: "input.cancellationDate", word: "billed through 2024-01-31"},
		{name: "cancel: before billedThrough (postpaid)",
			prep:  provThen(provOnPackage(provPostPkg, "2024-01-01"), provBilled("2024-01-01", "2024-02-29", false)),
			query: qProvCancelAP, vars: provCancelVars("2024-01-10", "FULL_PERIOD"),
			code: precondition, field: "input.cancellationDate", word: "billed through"},
		{name: "cancel: before the effective date", query: qProvCancelAP, vars: provCancelVars("2023-12-31", "PRORATED"),
			code: precondition, field: "input.cancellationDate", word: "effective date"},
		{name: "cancel: a package canceled by billing", prep: provCanceledByBilling,
			query: qProvCancelAP, vars: provCancelVars("2024-01-20", "PRORATED"),
			code: precondition, word: "already CANCELED"},
		{name: "cancel: a package in status CANCELED", prep: provSetCanceled,
			query: qProvCancelAP, vars: provCancelVars("2024-01-20", "PRORATED"),
			code: precondition, word: "already CANCELED"},
		{name: "cancel: unknown id", query: qProvCancelAP,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.NoSuchAP, "in": map[string]any{"cancellationDate": "2024-02-01", "billingOption": "NONE"}}
			},
			code: notFound, field: "id", word: "not found"},
		{name: "cancel: unknown billing option", query: qProvCancelAP, vars: provCancelVars("2024-02-01", "SOMETIMES"),
			code: badInput, field: "in.billingOption", word: "SOMETIMES"},

		// ---- updateAccountPackage.
		{name: "update: read-only package changes bulkQuantity", prep: provThen(provOnPackage(provBulkPkg, "2024-01-01"), provSetCanceled),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"bulkQuantity": 5}),
			code: precondition, word: "read-only"},
		{name: "update: read-only package changes its end date", prep: provSetCanceled,
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"endDate": "2024-03-31"}),
			code: precondition, word: "read-only"},
		{name: "update: read-only package changes its status and bill day", prep: provSetCanceled,
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"status": "ACTIVE", "newBillDay": 10}),
			code: precondition, word: "read-only"},
		{name: "update: package canceled by billing changes its effective date", prep: provCanceledByBilling,
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"effectiveDate": "2024-01-05"}),
			code: precondition, word: "read-only"},
		{name: "update: status change of a package canceled by billing", prep: provCanceledByBilling,
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"status": "ACTIVE"}),
			code: precondition, word: "canceled by billing"},
		{name: "update: bulkQuantity on a package without the bulk component",
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"bulkQuantity": 2}),
			code: precondition, field: "input.bulkQuantity", word: "bulk component"},
		{name: "update: bulkQuantity 0", prep: provOnPackage(provBulkPkg, "2024-01-01"),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"bulkQuantity": 0}),
			code: badInput, field: "input.bulkQuantity", word: "bulkQuantity"},
		{name: "update: newBillDay 0", query: qProvUpdateAP, vars: provAPVars(map[string]any{"newBillDay": 0}),
			code: badInput, field: "input.newBillDay", word: "1..31"},
		{name: "update: newBillDay 32", query: qProvUpdateAP, vars: provAPVars(map[string]any{"newBillDay": 32}),
			code: badInput, field: "input.newBillDay", word: "1..31"},
		{name: "update: unknown status", query: qProvUpdateAP, vars: provAPVars(map[string]any{"status": "NOPE"}),
			code: notFound, field: "input.status", word: "unknown status"},
		{name: "update: unknown status after valid changes", query: qProvUpdateAP,
			vars: provAPVars(map[string]any{"status": "NOPE", "endDate": "2024-05-31", "newBillDay": 5}),
			code: notFound, field: "input.status", word: "unknown status"},
		{name: "update: endDate before the effective date", query: qProvUpdateAP,
			vars: provAPVars(map[string]any{"endDate": "2023-12-31"}),
			code: precondition, field: "input.endDate", word: "before"},
		{name: "update: endDate inside the billed periods (in advance)", prep: provBilled("2024-01-01", "2024-02-29", false),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"endDate": "2024-01-30"}),
			code: precondition, field: "input.endDate", word: "latest billed period"},
		{name: "update: endDate whose cancellation falls on billedThrough (postpaid)",
			prep:  provThen(provOnPackage(provPostPkg, "2024-01-01"), provBilled("2024-01-01", "2024-02-29", false)),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"endDate": "2024-01-30"}),
			code: precondition, field: "input.endDate", word: "billed through"},
		{name: "update: effectiveDate before the package's startDate", prep: provOnPackage(provDatedPkg, "2024-02-01"),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"effectiveDate": "2023-12-01"}),
			code: precondition, field: "input.effectiveDate", word: "available from"},
		{name: "update: effectiveDate on the package's expiryDate", prep: provOnPackage(provDatedPkg, "2024-02-01"),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"effectiveDate": "2025-01-01"}),
			code: precondition, field: "input.effectiveDate", word: "expired"},
		{name: "update: effectiveDate after the end date",
			prep: func(t *testing.T, b *testenv.Billd, f *provFixture) {
				provUpdateAP(t, b, f.AP, map[string]any{"endDate": "2024-03-31"})
			},
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"effectiveDate": "2024-04-01"}),
			code: precondition, field: "input.effectiveDate", word: "end date"},
		{name: "update: effectiveDate with charges on a CLOSED invoice", prep: provBilled("2024-01-01", "2024-01-31", true),
			query: qProvUpdateAP, vars: provAPVars(map[string]any{"effectiveDate": "2024-01-05"}),
			code: precondition, field: "input.effectiveDate", word: "CLOSED"},
		{name: "update: unknown id", query: qProvUpdateAP,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.NoSuchAP, "in": map[string]any{"bulkQuantity": 1}}
			},
			code: notFound, field: "id", word: "not found"},

		// ---- deleteAccountPackage.
		{name: "delete: charges on a CLOSED invoice", prep: provBilled("2024-01-01", "2024-01-31", true),
			query: qProvDeleteAP, vars: provIDVars(func(f *provFixture) string { return f.AP }),
			code: precondition, word: "CLOSED"},
		{name: "delete: unknown id", query: qProvDeleteAP, vars: provIDVars(func(f *provFixture) string { return f.NoSuchAP }),
			code: notFound, field: "id", word: "not found"},

		// ---- addAccountService.
		{name: "addService: beyond maxInstances", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Addon, "quantity": 3}}
			},
			code: precondition, field: "input.quantity", word: "maxInstances 3"},
		{name: "addService: optional service beyond maxInstances", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra, "quantity": 3}}
			},
			code: precondition, field: "input.quantity", word: "maxInstances 2"},
		{name: "addService: quantity 0", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra, "quantity": 0}}
			},
			code: badInput, field: "input.quantity", word: "quantity"},
		{name: "addService: service not in the package", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Spare}}
			},
			code: precondition, field: "input.serviceId", word: "not in package"},
		{name: "addService: on a read-only package", prep: provSetCanceled, query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra}}
			},
			code: precondition, word: "read-only"},
		{name: "addService: on a package canceled by billing", prep: provCanceledByBilling, query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra}}
			},
			code: precondition, word: "read-only"},
		{name: "addService: unknown status", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra, "status": "NOPE"}}
			},
			code: notFound, field: "input.status", word: "unknown status"},
		{name: "addService: negative price override", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra,
					"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "-0.01"}}}}
			},
			code: badInput, field: "input.priceOverrides[0].amount", word: "negative"},
		{name: "addService: price override of an unknown status", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.AP, "in": map[string]any{"serviceId": f.Extra,
					"priceOverrides": []any{map[string]any{"status": "NOPE", "amount": "1.00"}}}}
			},
			code: notFound, field: "input.priceOverrides[0].status", word: "unknown status"},
		{name: "addService: unknown account-package", query: qProvAddAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.NoSuchAP, "in": map[string]any{"serviceId": f.Extra}}
			},
			code: notFound, field: "accountPackageId", word: "not found"},

		// ---- updateAccountService.
		{name: "updateService: quantity beyond maxInstances", prep: provTargetService("Addon"),
			query: qProvUpdateAS, vars: provASVars(map[string]any{"quantity": 4}),
			code: precondition, field: "input.quantity", word: "maxInstances"},
		{name: "updateService: quantity below minInstances", prep: provTargetService("Multi"),
			query: qProvUpdateAS, vars: provASVars(map[string]any{"quantity": 1}),
			code: precondition, field: "input.quantity", word: "minInstances"},
		{name: "updateService: quantity 0", query: qProvUpdateAS, vars: provASVars(map[string]any{"quantity": 0}),
			code: badInput, field: "input.quantity", word: "quantity"},
		{name: "updateService: unknown status", query: qProvUpdateAS, vars: provASVars(map[string]any{"status": "NOPE"}),
			code: notFound, field: "input.status", word: "unknown status"},
		{name: "updateService: negative price override", query: qProvUpdateAS,
			vars: provASVars(map[string]any{"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "-5"}}}),
			code: badInput, field: "input.priceOverrides[0].amount", word: "negative"},
		{name: "updateService: price override of an unknown status", query: qProvUpdateAS,
			vars: provASVars(map[string]any{"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "12.00"},
				map[string]any{"status": "NOPE", "amount": "1.00"}}}),
			code: notFound, field: "input.priceOverrides[1].status", word: "unknown status"},
		{name: "updateService: on a read-only package", prep: provSetCanceled,
			query: qProvUpdateAS, vars: provASVars(map[string]any{"status": "SUSPENDED"}),
			code: precondition, word: "read-only"},
		{name: "updateService: unknown id", query: qProvUpdateAS,
			vars: func(f *provFixture) map[string]any {
				return map[string]any{"id": f.NoSuchAS, "in": map[string]any{"quantity": 1}}
			},
			code: notFound, field: "id", word: "not found"},

		// ---- removeAccountService.
		{name: "removeService: below minInstances", query: qProvRemoveAS,
			vars: provIDVars(func(f *provFixture) string { return f.AS }),
			code: precondition, word: "minInstances"},
		{name: "removeService: the last instances of a service with minInstances 2", prep: provTargetService("Multi"),
			query: qProvRemoveAS, vars: provIDVars(func(f *provFixture) string { return f.AS }),
			code: precondition, word: "minInstances 2"},
		{name: "removeService: on a read-only package",
			prep: provThen(func(t *testing.T, b *testenv.Billd, f *provFixture) {
				f.AS = provAddAS(t, b, f.AP, map[string]any{"serviceId": f.Extra}).ID
			}, provSetCanceled),
			query: qProvRemoveAS, vars: provIDVars(func(f *provFixture) string { return f.AS }),
			code: precondition, word: "read-only"},
		{name: "removeService: unknown id", query: qProvRemoveAS,
			vars: provIDVars(func(f *provFixture) string { return f.NoSuchAS }),
			code: notFound, field: "id", word: "not found"},
	}
}

// TestProvisioningRefusals sends every provisioning request rules section 3 refuses
// and checks the code, the field, the message, and that nothing changed: no row of
// any table, and no field of any account-package, account-service, charge or invoice.
// Every case runs on an instance of its own.
func TestProvisioningRefusals(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		// Control: the input the provisioning cases vary is accepted as it is.
		f := newProvFixture(t, b)
		provProvision(t, b, f.proInput(f.Acme, "2024-01-10"))

		for _, tc := range provRefusalCases() {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				b := testenv.Start(t, b.Dialect)
				f := newProvFixture(t, b)
				if tc.prep != nil {
					tc.prep(t, b, f)
				}
				rows, state := b.Snapshot(), provState(t, b)
				r := b.Query(tc.query, tc.vars(f))
				require.Len(t, r.Errors, 1, "want one %s error, got data %s", tc.code, string(r.Data))
				e := r.Errors[0]
				require.Equal(t, tc.code, e.Code(), "code; message: %s", e.Message)
				require.Equal(t, tc.field, e.Field(), "extensions.field; message: %s", e.Message)
				require.Contains(t, e.Message, tc.word)
				require.Equal(t, rows, b.Snapshot(), "a refused request wrote rows")
				require.Equal(t, state, provState(t, b), "a refused request changed an account")
			})
		}
	})
}

// TestProvisioningFlow walks the accepted changes of rules section 3 with the
// values of the rules, reading each result back.
func TestProvisioningFlow(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		f := newProvFixture(t, b)

		t.Run("quantity N creates N identical account-packages", func(t *testing.T) {
			in := f.input(f.Beta, f.Trial, f.TrialMonthly, "2024-03-10")
			in["quantity"] = 3
			before := b.Count("account_packages")
			aps := provProvision(t, b, in)
			require.Len(t, aps, 3)
			require.Equal(t, before+3, b.Count("account_packages"))
			ids := map[string]bool{}
			for _, ap := range aps {
				ids[ap.ID] = true
				require.Len(t, ap.Services, 1)
				ids[ap.Services[0].ID] = true
				// The contract fields: status = the package's defaultStatus, bill day =
				// the account's, in advance from the effective date.
				require.Equal(t, provAP{
					ID: ap.ID, Status: struct{ Code string }{"PENDING"}, BulkQuantity: 1,
					EffectiveDate: "2024-03-10", BillDay: 15, NextBillDate: provStr("2024-03-10"),
					Package:   struct{ ID string }{f.Trial},
					Frequency: struct{ ID string }{f.TrialMonthly},
					Services: []provAS{{ID: ap.Services[0].ID, Service: struct{ ID, Name string }{f.Line, "Line"},
						Status: struct{ Code string }{"ACTIVE"}, Quantity: 1, EffectiveDate: "2024-03-10",
						PriceOverrides: []provStatusPrice{}}},
					Charges: []provCharge{},
				}, ap)
				require.Equal(t, ap, provReadAP(t, b, ap.ID))
			}
			require.Len(t, ids, 6, "every account-package and account-service is a row of its own")
		})

		t.Run("quantity 600 crosses the bulk insert chunk", func(t *testing.T) {
			in := f.proInput(f.Beta, "2024-02-01")
			in["quantity"] = 600
			in["services"] = []any{map[string]any{"serviceId": f.Extra, "quantity": 2,
				"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "2.50"}}}}
			aps, svcs, ovs := b.Count("account_packages"), b.Count("account_services"), b.Count("status_prices")
			var out struct{ ProvisionPackage []struct{ ID string } }
			b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`, map[string]any{"in": in}, &out)
			require.Len(t, out.ProvisionPackage, 600)
			require.Equal(t, aps+600, b.Count("account_packages"))
			require.Equal(t, svcs+600*4, b.Count("account_services"), "Line, Addon, Multi, Extra on each")
			require.Equal(t, ovs+600, b.Count("status_prices"), "one override on each Extra")
			last := provReadAP(t, b, out.ProvisionPackage[599].ID)
			require.Equal(t, 2, last.svc(t, "Extra").Quantity)
			require.Equal(t, []provStatusPrice{{struct{ Code string }{"ACTIVE"}, "2.50"}}, last.svc(t, "Extra").PriceOverrides)
			// Ids ascend in creation order.
			for i := 1; i < len(out.ProvisionPackage); i++ {
				require.Less(t, idInt(t, out.ProvisionPackage[i-1].ID), idInt(t, out.ProvisionPackage[i].ID))
			}
		})

		t.Run("services: defaults, optional ones, extra instances, statuses", func(t *testing.T) {
			in := f.proInput(f.Acme, "2024-01-10")
			in["services"] = []any{
				map[string]any{"serviceId": f.Extra, "quantity": 2},
				map[string]any{"serviceId": f.Addon, "quantity": 2, "status": "SUSPENDED"},
				map[string]any{"serviceId": f.Line, "priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "7.50"}}},
			}
			ap := provOne(t, b, in)
			require.Equal(t, "ACTIVE", ap.Status.Code, "Pro has no defaultStatus: ACTIVE")
			require.Equal(t, 1, ap.svc(t, "Line").Quantity)
			require.Equal(t, []provStatusPrice{{struct{ Code string }{"ACTIVE"}, "7.50"}}, ap.svc(t, "Line").PriceOverrides)
			require.Equal(t, 2, ap.svc(t, "Addon").Quantity)
			require.Equal(t, "SUSPENDED", ap.svc(t, "Addon").Status.Code)
			require.Equal(t, 2, ap.svc(t, "Multi").Quantity, "defaultInstances")
			require.Equal(t, 2, ap.svc(t, "Extra").Quantity, "an optional service asked for")
			require.Empty(t, ap.svcs("Tuner"), "an optional service not asked for is absent, whatever its defaultInstances")
			for _, s := range ap.Services {
				require.Equal(t, "2024-01-10", s.EffectiveDate)
				require.Nil(t, s.EndDate)
				if s.Service.Name != "Addon" {
					require.Equal(t, "ACTIVE", s.Status.Code)
				}
			}
			require.Len(t, ap.Services, 4)

			// A package in status SUSPENDED: its services are still ACTIVE unless asked.
			in = f.proInput(f.Acme, "2024-01-10")
			in["status"] = "SUSPENDED"
			in["services"] = []any{map[string]any{"serviceId": f.Tuner}}
			ap = provOne(t, b, in)
			require.Equal(t, "SUSPENDED", ap.Status.Code)
			require.Equal(t, 1, ap.svc(t, "Tuner").Quantity, "an optional service asked for without a quantity")
			for _, s := range ap.Services {
				require.Equal(t, "ACTIVE", s.Status.Code)
			}
			// An override equal to the catalog price is catalog pricing.
			in = f.proInput(f.Acme, "2024-01-10")
			in["services"] = []any{map[string]any{"serviceId": f.Line, "priceOverrides": []any{
				map[string]any{"status": "ACTIVE", "amount": "10.00"}, map[string]any{"status": "SUSPENDED", "amount": "1.00"}}}}
			ap = provOne(t, b, in)
			require.Equal(t, []provStatusPrice{{struct{ Code string }{"SUSPENDED"}, "1.00"}}, ap.svc(t, "Line").PriceOverrides)
		})

		t.Run("in advance and postpaid first bill dates, bill days, copied flags", func(t *testing.T) {
			ap := provOne(t, b, f.input(f.Acme, f.Post, f.PostMonthly, "2024-01-10"))
			require.True(t, ap.Postpaid)
			require.False(t, ap.ChargeFullPeriod)
			require.Equal(t, 1, ap.BillDay)
			require.Equal(t, provStr("2024-02-01"), ap.NextBillDate, "postpaid: the end of the first period")

			in := f.input(f.Acme, f.Post, f.PostMonthly, "2024-01-10")
			in["billDay"] = 15
			ap = provOne(t, b, in)
			require.Equal(t, 15, ap.BillDay, "the account-package's own bill day")
			require.Equal(t, provStr("2024-01-15"), ap.NextBillDate)

			ap = provOne(t, b, f.input(f.Beta, f.Post, f.PostMonthly, "2024-01-20"))
			require.Equal(t, 15, ap.BillDay, "the account's bill day")
			require.Equal(t, provStr("2024-02-15"), ap.NextBillDate)

			in = f.input(f.Acme, f.Full, f.FullMonthly, "2024-01-10")
			in["billDay"] = 31
			ap = provOne(t, b, in)
			require.True(t, ap.ChargeFullPeriod)
			require.False(t, ap.Postpaid)
			require.Equal(t, 31, ap.BillDay)
			require.Equal(t, provStr("2024-01-10"), ap.NextBillDate, "in advance: the effective date")

			once := provOne(t, b, f.input(f.Acme, f.Once, f.OnceMonthly, "2024-01-10"))
			require.True(t, once.ChargeFullPeriod, "a one-time billing package charges the full period")

			// The package's flags change later: account-packages keep theirs.
			post := provOne(t, b, f.input(f.Acme, f.Post, f.PostMonthly, "2024-01-10"))
			b.MustQuery(qUpdatePackage, map[string]any{"id": f.Post, "in": map[string]any{"postpaid": false, "chargeFullPeriod": true}}, nil)
			post = provReadAP(t, b, post.ID)
			require.True(t, post.Postpaid)
			require.False(t, post.ChargeFullPeriod)
			b.MustQuery(qUpdatePackage, map[string]any{"id": f.Post, "in": map[string]any{"postpaid": true, "chargeFullPeriod": false}}, nil)

			in = f.input(f.Acme, f.Bulk, f.BulkMonthly, "2024-01-01")
			in["bulkQuantity"] = 100
			ap = provOne(t, b, in)
			require.Equal(t, 100, ap.BulkQuantity)
			in["bulkQuantity"] = 1
			require.Equal(t, 1, provOne(t, b, in).BulkQuantity)
			in = f.input(f.Acme, f.Pro, f.ProMonthly, "2024-01-01")
			in["bulkQuantity"] = 1
			require.Equal(t, 1, provOne(t, b, in).BulkQuantity, "bulkQuantity 1 is fine without the bulk component")

			// The catalog window: on the start date and the day before expiry.
			require.Equal(t, "2024-01-01", provOne(t, b, f.input(f.Acme, f.Dated, f.DatedMonthly, "2024-01-01")).EffectiveDate)
			require.Equal(t, "2024-12-31", provOne(t, b, f.input(f.Acme, f.Dated, f.DatedMonthly, "2024-12-31")).EffectiveDate)
		})

		t.Run("end date at provisioning schedules a PRORATED cancellation", func(t *testing.T) {
			in := f.proInput(f.Acme, "2024-01-01")
			in["endDate"] = "2024-06-30"
			ap := provOne(t, b, in)
			require.Equal(t, provStr("2024-06-30"), ap.EndDate)
			require.Equal(t, provStr("2024-07-01"), ap.CancellationDate)
			require.Equal(t, provStr("PRORATED"), ap.CancelBillingOption)
			require.Equal(t, "ACTIVE", ap.Status.Code)
			for _, s := range ap.Services {
				require.Equal(t, provStr("2024-06-30"), s.EndDate)
			}
			in["endDate"] = "2024-01-01" // one day in service
			ap = provOne(t, b, in)
			require.Equal(t, provStr("2024-01-02"), ap.CancellationDate)

			// An earlier end date, by update or by cancellation, ends the services with it.
			in["endDate"] = "2024-06-30"
			ap = provOne(t, b, in)
			got := provUpdateAP(t, b, ap.ID, map[string]any{"endDate": "2024-04-30"})
			for _, s := range got.Services {
				require.Equal(t, provStr("2024-04-30"), s.EndDate, s.Service.Name)
			}
			got = provCancelAP(t, b, ap.ID, "2024-03-01", "NONE")
			require.Equal(t, provStr("2024-02-29"), got.EndDate)
			for _, s := range got.Services {
				require.Equal(t, provStr("2024-02-29"), s.EndDate, s.Service.Name)
			}
		})

		t.Run("cancel", func(t *testing.T) {
			ap := provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			got := provCancelAP(t, b, ap.ID, "2024-03-15", "FULL_PERIOD")
			want := ap
			want.CancellationDate, want.CancelBillingOption, want.EndDate = provStr("2024-03-15"), provStr("FULL_PERIOD"), provStr("2024-03-14")
			require.Equal(t, want, got, "only the cancellation fields change")
			// Rescheduled before anything is billed.
			got = provCancelAP(t, b, ap.ID, "2024-01-01", "NONE")
			require.Equal(t, provStr("2023-12-31"), got.EndDate)
			require.Equal(t, provStr("NONE"), got.CancelBillingOption)

			// Postpaid, billed through 2024-01-31: the day after is the earliest.
			acc := provAccount(t, b, "Cancel postpaid", 1)
			post := provOne(t, b, f.input(acc, f.Post, f.PostMonthly, "2024-01-01"))
			provBillRun(t, b, "2024-01-01", "2024-02-29", false, acc)
			post = provReadAP(t, b, post.ID)
			require.Equal(t, provStr("2024-01-31"), post.BilledThrough)
			got = provCancelAP(t, b, post.ID, "2024-02-01", "PRORATED")
			require.Equal(t, provStr("2024-02-01"), got.CancellationDate)
			require.Equal(t, provStr("2024-01-31"), got.EndDate)

			// In advance, billed for January: canceled inside it, on the 21st. Example 5:
			// bulk 20 of 1.00 gets a credit of 12.90 − 20.00, then is CANCELED.
			acc = provAccount(t, b, "Cancel in advance", 1)
			in := f.input(acc, f.Bulk, f.BulkMonthly, "2024-01-01")
			in["bulkQuantity"] = 20
			bulk := provOne(t, b, in)
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			bulk = provReadAP(t, b, bulk.ID)
			require.Equal(t, provStr("2024-02-01"), bulk.NextBillDate)
			got = provCancelAP(t, b, bulk.ID, "2024-01-21", "PRORATED")
			require.Equal(t, provStr("2024-01-20"), got.EndDate)
			provBillRun(t, b, "2024-01-21", "2024-01-31", false, acc)
			bulk = provReadAP(t, b, bulk.ID)
			require.Equal(t, "CANCELED", bulk.Status.Code)
			require.Nil(t, bulk.NextBillDate)
			require.Equal(t, "CANCELED", bulk.svc(t, "Line").Status.Code)
			var amounts []string
			for _, c := range bulk.Charges {
				amounts = append(amounts, c.Kind+" "+c.Amount)
			}
			require.ElementsMatch(t, []string{"RECURRING 20.00", "CREDIT -7.10"}, amounts)
		})

		t.Run("new bill day", func(t *testing.T) {
			// Before any billing it applies at once.
			ap := provOne(t, b, f.proInput(f.Acme, "2024-01-10"))
			got := provUpdateAP(t, b, ap.ID, map[string]any{"newBillDay": 15})
			require.Equal(t, 15, got.BillDay)
			require.Nil(t, got.NewBillDay)
			require.Equal(t, provStr("2024-01-10"), got.NextBillDate)
			post := provOne(t, b, f.input(f.Acme, f.Post, f.PostMonthly, "2024-01-10"))
			got = provUpdateAP(t, b, post.ID, map[string]any{"newBillDay": 15})
			require.Equal(t, 15, got.BillDay)
			require.Equal(t, provStr("2024-01-15"), got.NextBillDate, "postpaid: the first period now ends on the 15th")

			// After billing it waits for the end of the billed period (example 10).
			acc := provAccount(t, b, "New bill day", 1)
			ap = provOne(t, b, f.input(acc, f.Trial, f.TrialMonthly, "2024-01-01"))
			ap = provUpdateAP(t, b, ap.ID, map[string]any{"status": "ACTIVE"})
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			got = provUpdateAP(t, b, ap.ID, map[string]any{"newBillDay": 15})
			require.Equal(t, 1, got.BillDay)
			require.Equal(t, provInt(15), got.NewBillDay)
			require.Equal(t, provStr("2024-02-01"), got.NextBillDate)
			// Setting the current bill day again drops the pending one.
			got = provUpdateAP(t, b, ap.ID, map[string]any{"newBillDay": 1})
			require.Nil(t, got.NewBillDay)
			require.Equal(t, 1, got.BillDay)
			got = provUpdateAP(t, b, ap.ID, map[string]any{"newBillDay": 15})
			require.Equal(t, provInt(15), got.NewBillDay)
			provBillRun(t, b, "2024-02-01", "2024-02-29", false, acc)
			got = provReadAP(t, b, ap.ID)
			require.Equal(t, 15, got.BillDay)
			require.Nil(t, got.NewBillDay)
			require.Equal(t, provStr("2024-03-15"), got.NextBillDate)
			var feb []string
			for _, c := range got.Charges {
				if *c.PeriodStart >= "2024-02-01" {
					feb = append(feb, *c.PeriodStart+".."+*c.PeriodEnd+" "+c.Amount)
				}
			}
			require.ElementsMatch(t, []string{"2024-02-01..2024-02-14 4.52", "2024-02-15..2024-03-14 10.00"}, feb)
		})

		t.Run("bulk quantity and end date changes", func(t *testing.T) {
			in := f.input(f.Acme, f.Bulk, f.BulkMonthly, "2024-01-01")
			in["bulkQuantity"] = 20
			ap := provOne(t, b, in)
			got := provUpdateAP(t, b, ap.ID, map[string]any{"bulkQuantity": 30})
			want := ap
			want.BulkQuantity = 30
			require.Equal(t, want, got)
			got = provUpdateAP(t, b, ap.ID, map[string]any{"endDate": "2024-04-30"})
			require.Equal(t, provStr("2024-04-30"), got.EndDate)
			require.Equal(t, provStr("2024-05-01"), got.CancellationDate)
			require.Equal(t, provStr("PRORATED"), got.CancelBillingOption)
		})

		t.Run("effective date changed with other changes", func(t *testing.T) {
			acc := provAccount(t, b, "Effective and more", 1)
			ap := provOne(t, b, f.input(acc, f.Trial, f.TrialMonthly, "2024-01-01"))
			provUpdateAP(t, b, ap.ID, map[string]any{"status": "ACTIVE"})
			provBillRun(t, b, "2024-01-01", "2024-02-29", false, acc)
			got := provReadAP(t, b, ap.ID)
			require.Equal(t, provStr("2024-03-01"), got.NextBillDate)
			require.Len(t, got.Charges, 2)

			// The same effective date is no change: the new bill day waits for the end of
			// the billed period, and nothing billed is billed again.
			got = provUpdateAP(t, b, ap.ID, map[string]any{"effectiveDate": "2024-01-01", "newBillDay": 15})
			require.Equal(t, provInt(15), got.NewBillDay)
			require.Equal(t, 1, got.BillDay)
			require.Equal(t, provStr("2024-03-01"), got.NextBillDate)
			require.Equal(t, provStr("2024-02-29"), got.BilledThrough)
			require.Len(t, got.Charges, 2)

			// A new effective date: nothing is billed any more, so an end date inside the
			// periods billed before is fine in the same request.
			got = provUpdateAP(t, b, ap.ID, map[string]any{"effectiveDate": "2024-01-05", "endDate": "2024-01-20"})
			require.Equal(t, "2024-01-05", got.EffectiveDate)
			require.Equal(t, provStr("2024-01-20"), got.EndDate)
			require.Equal(t, provStr("2024-01-21"), got.CancellationDate)
			require.Equal(t, 15, got.BillDay, "the pending bill day applies with the new start")
			require.Nil(t, got.NewBillDay)
			require.Equal(t, provStr("2024-01-05"), got.NextBillDate)
			require.Nil(t, got.BilledThrough)
			require.Empty(t, got.Charges)

			// An effective date after the old end date, with an end date after it.
			got = provUpdateAP(t, b, ap.ID, map[string]any{"effectiveDate": "2024-04-01", "endDate": "2024-04-30"})
			require.Equal(t, "2024-04-01", got.EffectiveDate)
			require.Equal(t, provStr("2024-04-30"), got.EndDate)
			require.Equal(t, provStr("2024-05-01"), got.CancellationDate)
			// ... but not before its own new end date.
			e := b.MustFail(qProvUpdateAP, map[string]any{"id": ap.ID, "in": map[string]any{"effectiveDate": "2024-05-01"}}, precondition)
			require.Equal(t, "input.effectiveDate", e.Field())
			e = b.MustFail(qProvUpdateAP, map[string]any{"id": ap.ID, "in": map[string]any{"effectiveDate": "2024-06-01", "endDate": "2024-05-31"}}, badInput)
			require.Equal(t, "input.endDate", e.Field())
		})

		t.Run("price overrides", func(t *testing.T) {
			ap := provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			line := ap.svc(t, "Line").ID
			sp := func(code, amount string) provStatusPrice { return provStatusPrice{struct{ Code string }{code}, amount} }
			set := func(ovs ...provStatusPrice) provAS {
				list := []any{}
				for _, o := range ovs {
					list = append(list, map[string]any{"status": o.Status.Code, "amount": o.Amount})
				}
				return provUpdateAS(t, b, line, map[string]any{"priceOverrides": list})
			}
			got := set(sp("ACTIVE", "12.00"), sp("SUSPENDED", "1.00"))
			require.ElementsMatch(t, []provStatusPrice{sp("ACTIVE", "12.00"), sp("SUSPENDED", "1.00")}, got.PriceOverrides)
			require.ElementsMatch(t, got.PriceOverrides, provReadAP(t, b, ap.ID).svc(t, "Line").PriceOverrides)
			// Back to the catalog price: catalog pricing, no override.
			require.Empty(t, set(sp("ACTIVE", "10.00")).PriceOverrides)
			require.Empty(t, provReadAP(t, b, ap.ID).svc(t, "Line").PriceOverrides)
			require.Equal(t, []provStatusPrice{sp("SUSPENDED", "1.50")}, set(sp("ACTIVE", "10.00"), sp("SUSPENDED", "1.50")).PriceOverrides)
			// An empty list clears them; omitting the list keeps them.
			require.Len(t, set(sp("ACTIVE", "12.00")).PriceOverrides, 1)
			require.Len(t, provUpdateAS(t, b, line, map[string]any{"quantity": 2}).PriceOverrides, 1)
			require.Empty(t, set().PriceOverrides)
			require.Empty(t, provReadAP(t, b, ap.ID).svc(t, "Line").PriceOverrides)

			// Billing uses the override: 12.00 for Line.
			acc := provAccount(t, b, "Overrides", 1)
			ap = provOne(t, b, f.proInput(acc, "2024-01-01"))
			line = ap.svc(t, "Line").ID
			set(sp("ACTIVE", "12.00"))
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			for _, c := range provReadAP(t, b, ap.ID).Charges {
				if c.Amount == "12.00" {
					return
				}
			}
			t.Fatalf("no 12.00 charge for the overridden Line")
		})

		t.Run("account-services within their limits", func(t *testing.T) {
			ap := provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			// Addon: 1 of 1..3.
			added := provAddAS(t, b, ap.ID, map[string]any{"serviceId": f.Addon, "quantity": 2})
			require.Equal(t, 2, added.Quantity)
			require.Equal(t, "ACTIVE", added.Status.Code)
			require.Equal(t, "2024-01-01", added.EffectiveDate, "billed from the next bill date")
			require.Equal(t, 3, provReadAP(t, b, ap.ID).instances("Addon"))
			require.Equal(t, 1, provUpdateAS(t, b, added.ID, map[string]any{"quantity": 1}).Quantity)
			require.Equal(t, 2, provUpdateAS(t, b, added.ID, map[string]any{"quantity": 2}).Quantity, "back up to maxInstances")
			b.MustQuery(qProvRemoveAS, map[string]any{"id": added.ID}, nil)
			require.Equal(t, 1, provReadAP(t, b, ap.ID).instances("Addon"))

			// Multi: 2 of 2..4, in one account-service; another one of 1 lets it go.
			multi := provReadAP(t, b, ap.ID).svc(t, "Multi")
			one := provAddAS(t, b, ap.ID, map[string]any{"serviceId": f.Multi, "status": "SUSPENDED",
				"priceOverrides": []any{map[string]any{"status": "SUSPENDED", "amount": "0.50"}}})
			require.Equal(t, 1, one.Quantity)
			require.Equal(t, "SUSPENDED", one.Status.Code)
			require.Len(t, one.PriceOverrides, 1)
			require.Equal(t, 3, provUpdateAS(t, b, multi.ID, map[string]any{"quantity": 3}).Quantity)
			require.Equal(t, 4, provReadAP(t, b, ap.ID).instances("Multi"))
			require.Equal(t, 2, provUpdateAS(t, b, multi.ID, map[string]any{"quantity": 2}).Quantity)
			rows := b.Snapshot()
			var removed struct{ RemoveAccountService string }
			b.MustQuery(qProvRemoveAS, map[string]any{"id": one.ID}, &removed)
			require.Equal(t, one.ID, removed.RemoveAccountService)
			require.Equal(t, rows["account_services"]-1, b.Count("account_services"))
			require.Equal(t, rows["status_prices"]-1, b.Count("status_prices"), "its override goes with it")
			require.Equal(t, 2, provReadAP(t, b, ap.ID).instances("Multi"))

			// Extra: optional, 0..2: added, then removed down to none.
			extra := provAddAS(t, b, ap.ID, map[string]any{"serviceId": f.Extra})
			require.Equal(t, 1, extra.Quantity)
			b.MustQuery(qProvRemoveAS, map[string]any{"id": extra.ID}, nil)
			require.Empty(t, provReadAP(t, b, ap.ID).svcs("Extra"))

			// After January is billed, a service added is billed from February.
			acc := provAccount(t, b, "Services", 1)
			ap = provOne(t, b, f.proInput(acc, "2024-01-01"))
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			require.Equal(t, "2024-02-01", provAddAS(t, b, ap.ID, map[string]any{"serviceId": f.Tuner}).EffectiveDate)
			post := provOne(t, b, f.input(acc, f.Post, f.PostMonthly, "2024-01-01"))
			require.Equal(t, "2024-01-01", provAddAS(t, b, post.ID, map[string]any{"serviceId": f.Line}).EffectiveDate,
				"postpaid, nothing billed: from the effective date")
			provBillRun(t, b, "2024-02-01", "2024-02-29", false, acc)
			require.Equal(t, provStr("2024-01-31"), provReadAP(t, b, post.ID).BilledThrough)
			require.Equal(t, "2024-02-01", provAddAS(t, b, post.ID, map[string]any{"serviceId": f.Line}).EffectiveDate,
				"postpaid, billed through January: from February")
		})

		t.Run("status changes apply to the services", func(t *testing.T) {
			in := f.proInput(f.Acme, "2024-01-01")
			in["services"] = []any{map[string]any{"serviceId": f.Addon, "status": "SUSPENDED"}}
			ap := provOne(t, b, in)
			changes := b.Count("status_changes")
			got := provUpdateAP(t, b, ap.ID, map[string]any{"status": "SUSPENDED"})
			require.Equal(t, "SUSPENDED", got.Status.Code)
			for _, s := range got.Services {
				require.Equal(t, "SUSPENDED", s.Status.Code, s.Service.Name)
			}
			require.Equal(t, changes+len(ap.Services)-1, b.Count("status_changes"), "one change per service that changed")
			// A service's own status.
			line := got.svc(t, "Line")
			require.Equal(t, "ACTIVE", provUpdateAS(t, b, line.ID, map[string]any{"status": "ACTIVE"}).Status.Code)
			require.Equal(t, "SUSPENDED", provReadAP(t, b, ap.ID).Status.Code, "the package keeps its status")
			// Read-only: only the status may change, and back it comes.
			got = provUpdateAP(t, b, ap.ID, map[string]any{"status": "CANCELED"})
			require.Equal(t, "CANCELED", got.Status.Code)
			got = provUpdateAP(t, b, ap.ID, map[string]any{"status": "ACTIVE"})
			require.Equal(t, "ACTIVE", got.Status.Code)
			for _, s := range got.Services {
				require.Equal(t, "ACTIVE", s.Status.Code, s.Service.Name)
			}
		})

		t.Run("delete and effective date change with charges on OPEN invoices", func(t *testing.T) {
			acc := provAccount(t, b, "Open invoices", 1)
			ap := provOne(t, b, f.proInput(acc, "2024-01-01"))
			keep := provOne(t, b, f.input(acc, f.Full, f.FullMonthly, "2024-01-01"))
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			ap = provReadAP(t, b, ap.ID)
			require.NotEmpty(t, ap.Charges)
			require.Equal(t, "OPEN", ap.Charges[0].Invoice.Status)

			// The effective date moves: January's charges go, billing starts again.
			got := provUpdateAP(t, b, ap.ID, map[string]any{"effectiveDate": "2024-01-15"})
			require.Empty(t, got.Charges)
			require.Equal(t, "2024-01-15", got.EffectiveDate)
			require.Equal(t, provStr("2024-01-15"), got.NextBillDate)
			require.Nil(t, got.BilledThrough)
			for _, s := range got.Services {
				require.Equal(t, "2024-01-15", s.EffectiveDate)
			}
			require.Equal(t, "10.00", provInvoiceTotal(t, b, acc), "the invoice keeps Full's line only")
			provBillRun(t, b, "2024-01-01", "2024-01-31", false, acc)
			got = provReadAP(t, b, ap.ID)
			require.Equal(t, provStr("2024-02-01"), got.NextBillDate)
			require.NotEmpty(t, got.Charges)

			// Deleted: its charges leave the invoices; an invoice left empty goes.
			invoices := b.Count("invoices")
			var del struct{ DeleteAccountPackage string }
			b.MustQuery(qProvDeleteAP, map[string]any{"id": ap.ID}, &del)
			require.Equal(t, ap.ID, del.DeleteAccountPackage)
			require.Equal(t, invoices-1, b.Count("invoices"), "the re-run's invoice held only its lines")
			b.MustBeGone(ap.ID)
			require.Len(t, provReadAP(t, b, keep.ID).Charges, 1)
			// A package never billed deletes with its services and overrides.
			fresh := provOne(t, b, f.proInput(acc, "2024-03-01"))
			rows := b.Snapshot()
			b.MustQuery(qProvDeleteAP, map[string]any{"id": fresh.ID}, nil)
			require.Equal(t, rows["account_packages"]-1, b.Count("account_packages"))
			require.Equal(t, rows["account_services"]-len(fresh.Services), b.Count("account_services"))
		})
	})
}

// provAccount opens a USD account for a part of a test that bills, so its invoices
// are its own.
func provAccount(t *testing.T, b *testenv.Billd, name string, billDay int) string {
	t.Helper()
	var out struct{ CreateAccount struct{ ID string } }
	b.MustQuery(qCreateAccount, map[string]any{"in": map[string]any{"name": name, "currency": "USD", "billDay": billDay}}, &out)
	return out.CreateAccount.ID
}

// provInvoiceTotal is the total of an account's only invoice.
func provInvoiceTotal(t *testing.T, b *testenv.Billd, account string) string {
	t.Helper()
	var out struct {
		Node struct {
			Invoices struct {
				Edges []struct{ Node struct{ Total string } }
			}
		}
	}
	b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { invoices { edges { node { total } } } } } }`,
		map[string]any{"id": account}, &out)
	require.Len(t, out.Node.Invoices.Edges, 1)
	return out.Node.Invoices.Edges[0].Node.Total
}

// TestProvisioningQuantityLimit provisions the most account-packages one request may
// create.
func TestProvisioningQuantityLimit(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		f := newProvFixture(t, b)
		in := f.input(f.Beta, f.Trial, f.TrialMonthly, "2024-01-01")
		in["quantity"] = 10000
		aps, svcs := b.Count("account_packages"), b.Count("account_services")
		var out struct{ ProvisionPackage []struct{ ID string } }
		b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`, map[string]any{"in": in}, &out)
		require.Len(t, out.ProvisionPackage, 10000)
		require.Equal(t, aps+10000, b.Count("account_packages"))
		require.Equal(t, svcs+10000, b.Count("account_services"))
	})
}

// TestProvisioningConcurrentInstances races changes of one service's instances on an
// account-package: the limits hold whatever the timing, every loser gets a
// BAD_USER_INPUT or FAILED_PRECONDITION (never an INTERNAL error), and the winners'
// rows are all there is.
func TestProvisioningConcurrentInstances(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		f := newProvFixture(t, b)
		race := func(n int, req func(i int) (string, map[string]any)) []testenv.Response {
			var wg sync.WaitGroup
			results := make([]testenv.Response, n)
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q, vars := req(i)
					results[i], errs[i] = postGraphQL(b.HTTP.URL, q, vars)
				}()
			}
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i])
			}
			return results
		}
		won := func(results []testenv.Response, code, field, word string) int {
			n := 0
			for i, r := range results {
				if len(r.Errors) == 0 {
					n++
					continue
				}
				e := r.Errors[0]
				require.Equal(t, code, e.Code(), "request %d: %s", i, e.Message)
				require.Equal(t, field, e.Field(), "request %d: %s", i, e.Message)
				require.Contains(t, e.Message, word, "request %d", i)
			}
			return n
		}

		for round := range 5 {
			// 8 adds of one Addon to 1 of max 3: exactly 2 fit.
			ap := provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			results := race(8, func(int) (string, map[string]any) {
				return qProvAddAS, map[string]any{"id": ap.ID, "in": map[string]any{"serviceId": f.Addon}}
			})
			require.Equal(t, 2, won(results, precondition, "input.quantity", "maxInstances 3"), "round %d", round)
			got := provReadAP(t, b, ap.ID)
			require.Equal(t, 3, got.instances("Addon"), "round %d", round)
			require.Len(t, got.svcs("Addon"), 3, "round %d", round)

			// Adds and quantity changes together: never more than 3.
			ap = provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			addon := ap.svc(t, "Addon").ID
			results = race(8, func(i int) (string, map[string]any) {
				if i%2 == 0 {
					return qProvUpdateAS, map[string]any{"id": addon, "in": map[string]any{"quantity": 2 + i%4/2}}
				}
				return qProvAddAS, map[string]any{"id": ap.ID, "in": map[string]any{"serviceId": f.Addon}}
			})
			won(results, precondition, "input.quantity", "maxInstances 3")
			got = provReadAP(t, b, ap.ID)
			require.LessOrEqual(t, got.instances("Addon"), 3, "round %d", round)
			require.GreaterOrEqual(t, got.instances("Addon"), 1, "round %d", round)

			// Removes of Multi instances (2..4, here 1+1+2): never below 2.
			ap = provOne(t, b, f.proInput(f.Acme, "2024-01-01"))
			ids := []string{ap.svc(t, "Multi").ID}
			for range 2 {
				ids = append(ids, provAddAS(t, b, ap.ID, map[string]any{"serviceId": f.Multi}).ID)
			}
			results = race(6, func(i int) (string, map[string]any) {
				return qProvRemoveAS, map[string]any{"id": ids[i%3]}
			})
			for i, r := range results {
				if len(r.Errors) > 0 {
					e := r.Errors[0]
					require.Contains(t, []string{precondition, notFound}, e.Code(), "request %d: %s", i, e.Message)
				}
			}
			got = provReadAP(t, b, ap.ID)
			require.GreaterOrEqual(t, got.instances("Multi"), 2, "round %d", round)
			removed := 0
			for _, r := range results {
				if len(r.Errors) == 0 {
					removed++
				}
			}
			require.Equal(t, 3-len(got.svcs("Multi")), removed, "round %d: one success per account-service removed", round)
		}
		require.Equal(t, 1+5*3, b.Count("account_packages"))
	})
}

// TestProvisioningBillDayWithAccount reads an account-package's effective bill day
// (its own, else its account's) together with its account, through every way of
// reaching it: the bill day must not depend on what else the document selects.
func TestProvisioningBillDayWithAccount(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		f := newProvFixture(t, b)
		inherit := provOne(t, b, f.input(f.Beta, f.Trial, f.TrialMonthly, "2024-03-10"))
		in := f.input(f.Beta, f.Trial, f.TrialMonthly, "2024-03-10")
		in["billDay"] = 20
		own := provOne(t, b, in)
		want := map[string]int{inherit.ID: 15, own.ID: 20}
		for _, sel := range []string{"billDay", "account { id } billDay", "billDay account { id }", "account { billDay } billDay"} {
			for id, day := range want {
				var one struct {
					Node struct {
						BillDay int
						Account struct{ ID string }
					}
				}
				b.MustQuery(`query($id: ID!) { node(id: $id) { ... on AccountPackage { `+sel+` } } }`, map[string]any{"id": id}, &one)
				require.Equal(t, day, one.Node.BillDay, "node { %s } of %s", sel, id)
			}
			var list struct {
				Node struct {
					AccountPackages struct {
						Edges []struct {
							Node struct {
								ID      string
								BillDay int
							}
						}
					}
				}
			}
			b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { accountPackages { edges { node { id `+sel+` } } } } } }`,
				map[string]any{"id": f.Beta}, &list)
			require.Len(t, list.Node.AccountPackages.Edges, 2)
			for _, e := range list.Node.AccountPackages.Edges {
				require.Equal(t, want[e.Node.ID], e.Node.BillDay, "accountPackages { %s } of %s", sel, e.Node.ID)
			}
		}
	})
}

// TestProvisioningConcurrentCatalogChanges races provisioning against the catalog
// changes whose rules look at a package's account-packages: removing the bulk
// component while account-packages use a bulk quantity above 1, and deleting a
// package in use. Whatever the timing, the rule holds and the loser gets a coded
// error, never an INTERNAL one.
func TestProvisioningConcurrentCatalogChanges(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		f := newProvFixture(t, b)
		pair := func(q1 string, v1 map[string]any, q2 string, v2 map[string]any) (testenv.Response, testenv.Response) {
			var wg sync.WaitGroup
			var r1, r2 testenv.Response
			var e1, e2 error
			wg.Add(2)
			go func() { defer wg.Done(); r1, e1 = postGraphQL(b.HTTP.URL, q1, v1) }()
			go func() { defer wg.Done(); r2, e2 = postGraphQL(b.HTTP.URL, q2, v2) }()
			wg.Wait()
			require.NoError(t, e1)
			require.NoError(t, e2)
			return r1, r2
		}
		coded := func(r testenv.Response, codes ...string) bool {
			if len(r.Errors) == 0 {
				return true
			}
			require.Contains(t, codes, r.Errors[0].Code(), r.Errors[0].Message)
			return false
		}
		newBulk := func(round int, what string) (string, string) {
			var out struct {
				CreatePackage struct {
					ID          string
					Frequencies []struct{ ID string }
				}
			}
			b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
				map[string]any{"in": map[string]any{
					"name": fmt.Sprintf("%s %d", what, round), "bulkQuantity": true, "currencies": []any{"USD"},
					"services":    []any{map[string]any{"serviceId": f.Line}},
					"frequencies": []any{monthlyPriceInput(f.Line, "USD", "1.00")},
				}}, &out)
			return out.CreatePackage.ID, out.CreatePackage.Frequencies[0].ID
		}
		bulkUsers := func(pkg string) int {
			n := 0
			var out struct {
				Accounts struct {
					Edges []struct {
						Node struct {
							AccountPackages struct {
								Edges []struct {
									Node struct {
										BulkQuantity int
										Package      struct{ ID string }
									}
								}
							}
						}
					}
				}
			}
			b.MustQuery(`{ accounts { edges { node { accountPackages(first: 1000) { edges { node { bulkQuantity package { id } } } } } } } }`, nil, &out)
			for _, a := range out.Accounts.Edges {
				for _, ap := range a.Node.AccountPackages.Edges {
					if ap.Node.Package.ID == pkg && ap.Node.BulkQuantity > 1 {
						n++
					}
				}
			}
			return n
		}
		hasBulk := func(pkg string) bool {
			var out struct{ Node struct{ BulkQuantity bool } }
			b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Package { bulkQuantity } } }`, map[string]any{"id": pkg}, &out)
			return out.Node.BulkQuantity
		}
		removeBulk := map[string]any{"bulkQuantity": false}

		for round := range 15 {
			// provisionPackage with bulkQuantity 100 against removing the bulk component.
			pkg, freq := newBulk(round, "Provisioned")
			in := f.input(f.Acme, pkg, freq, "2024-01-01")
			in["bulkQuantity"] = 100
			rp, ru := pair(qProvision, map[string]any{"in": in}, qUpdatePackage, map[string]any{"id": pkg, "in": removeBulk})
			provisioned := coded(rp, precondition)
			removed := coded(ru, precondition)
			require.False(t, provisioned && removed, "round %d: a bulk quantity of 100 on a package without the bulk component", round)
			require.Equal(t, !hasBulk(pkg), removed)
			if !hasBulk(pkg) {
				require.Zero(t, bulkUsers(pkg), "round %d", round)
			}

			// updateAccountPackage bulkQuantity 50 against removing the bulk component.
			pkg, freq = newBulk(round, "Updated")
			ap := provOne(t, b, f.input(f.Acme, pkg, freq, "2024-01-01"))
			ra, ru := pair(qProvUpdateAP, map[string]any{"id": ap.ID, "in": map[string]any{"bulkQuantity": 50}},
				qUpdatePackage, map[string]any{"id": pkg, "in": removeBulk})
			updated := coded(ra, precondition)
			removed = coded(ru, precondition)
			require.False(t, updated && removed, "round %d: a bulk quantity of 50 on a package without the bulk component", round)
			if !hasBulk(pkg) {
				require.Zero(t, bulkUsers(pkg), "round %d", round)
			}

			// provisionPackage against deletePackage: one wins, the package is in use or gone.
			pkg, freq = newBulk(round, "Deleted")
			rp, rd := pair(qProvision, map[string]any{"in": f.input(f.Acme, pkg, freq, "2024-01-01")},
				qDeletePackage, map[string]any{"id": pkg})
			provisioned = coded(rp, notFound)
			deleted := coded(rd, precondition)
			require.NotEqual(t, provisioned, deleted, "round %d: exactly one of provisioning and deleting wins", round)
		}
	})
}
