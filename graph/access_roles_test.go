package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/billd/billd/graph"
	"github.com/billd/billd/internal/testenv"
)

// roleCaller is one of the five keys the role table calls with.
type roleCaller string

const (
	callerAdmin    roleCaller = "ADMIN"
	callerOperator roleCaller = "OPERATOR"
	callerReadOnly roleCaller = "READ_ONLY"
	callerPartnerA roleCaller = "PARTNER_A"
	callerPartnerB roleCaller = "PARTNER_B"
)

var roleCallers = []roleCaller{callerAdmin, callerOperator, callerReadOnly, callerPartnerA, callerPartnerB}

// Outcomes: "ok" (no error) or the code of the first error.
const (
	outOK        = "ok"
	outForbidden = "FORBIDDEN"
	outNotFound  = "NOT_FOUND"
	outNull      = "null" // node(id) of what the key may not see: null, no error
	outPrecond   = "FAILED_PRECONDITION"
)

// roleWant is the expected outcome of one operation per caller.
type roleWant map[roleCaller]string

func roleOutcomes(admin, operator, readOnly, partnerA, partnerB string) roleWant {
	return roleWant{callerAdmin: admin, callerOperator: operator, callerReadOnly: readOnly,
		callerPartnerA: partnerA, callerPartnerB: partnerB}
}

// The outcomes of each permission, for an operation on partner A's rows (or on none).
var (
	wantRead       = roleOutcomes(outOK, outOK, outOK, outOK, outOK)
	wantReadA      = roleOutcomes(outOK, outOK, outOK, outOK, outNotFound)
	wantOperate    = roleOutcomes(outOK, outOK, outForbidden, outForbidden, outForbidden)
	wantWriteA     = roleOutcomes(outOK, outOK, outForbidden, outOK, outNotFound)
	wantAdminister = roleOutcomes(outOK, outForbidden, outForbidden, outForbidden, outForbidden)
)

// roleSetup is the instance the table runs against: two partners, a key per caller,
// a catalog, an account of each partner with a billed account-package, and the run
// that billed them.
type roleSetup struct {
	url  string
	keys map[roleCaller]string

	PartnerA, PartnerB string
	Service            string // RECURRING, in Package without an instance limit
	Package, Monthly   string // 10.00 USD a month
	AccountA, AccountB string
	APA, APB           string // account-packages effective 2024-01-01
	ASA                string // APA's account-service
	InvoiceA, InvoiceB string // January's invoices
	Run                string // January's run, COMPLETED
	OperatorKey        string // the OPERATOR key's id
	UsageASA           string // a USAGE account-service (Data, MB) of partner A's account

	n int // for unique names
}

func (s *roleSetup) unique(prefix string) string {
	s.n++
	return fmt.Sprintf("%s %d", prefix, s.n)
}

// roleCall sends a document with key; unlike testenv.Billd it fails the t it is given,
// so subtests can use it.
func roleCall(t *testing.T, url, key, query string, vars map[string]any) testenv.Response {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out testenv.Response
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

func (s *roleSetup) call(t *testing.T, c roleCaller, query string, vars map[string]any) testenv.Response {
	t.Helper()
	return roleCall(t, s.url, s.keys[c], query, vars)
}

// admin runs a document as ADMIN that must succeed, decoding its data into out.
func (s *roleSetup) admin(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	r := roleCall(t, s.url, testenv.AdminKey, query, vars)
	require.Empty(t, r.Errors, "%s", query)
	if out != nil {
		require.NoError(t, json.Unmarshal(r.Data, out))
	}
}

func (s *roleSetup) createAccount(t *testing.T, partnerID string) string {
	t.Helper()
	in := map[string]any{"name": s.unique("Account"), "currency": "USD", "billDay": 1}
	if partnerID != "" {
		in["partnerId"] = partnerID
	}
	var out struct{ CreateAccount struct{ ID string } }
	s.admin(t, `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`, map[string]any{"in": in}, &out)
	return out.CreateAccount.ID
}

func (s *roleSetup) provision(t *testing.T, accountID, effective string) string {
	t.Helper()
	var out struct{ ProvisionPackage []struct{ ID string } }
	s.admin(t, `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"accountId": accountID, "packageId": s.Package,
			"frequencyId": s.Monthly, "effectiveDate": effective}}, &out)
	require.Len(t, out.ProvisionPackage, 1)
	return out.ProvisionPackage[0].ID
}

// runJanuary bills January (over the given accounts, or all) and waits for the end.
func (s *roleSetup) runJanuary(t *testing.T, accountIDs ...string) string {
	t.Helper()
	in := map[string]any{"periodStart": "2024-01-01", "periodEnd": "2024-01-31", "wait": true}
	if accountIDs != nil {
		in["accountIds"] = accountIDs
	}
	var out struct{ StartBillRun struct{ ID, Status string } }
	s.admin(t, `mutation($in: BillRunInput!) { startBillRun(input: $in) { id status } }`, map[string]any{"in": in}, &out)
	require.Equal(t, "COMPLETED", out.StartBillRun.Status)
	return out.StartBillRun.ID
}

// invoiceOf returns the only invoice of an account.
func (s *roleSetup) invoiceOf(t *testing.T, accountID string) string {
	t.Helper()
	var out struct {
		Node struct {
			Invoices struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	s.admin(t, `query($id: ID!) { node(id: $id) { ... on Account { invoices { edges { node { id } } } } } }`,
		map[string]any{"id": accountID}, &out)
	require.Len(t, out.Node.Invoices.Edges, 1)
	return out.Node.Invoices.Edges[0].Node.ID
}

func (s *roleSetup) createKey(t *testing.T, role, partnerID string) (id, key string) {
	t.Helper()
	in := map[string]any{"name": s.unique(role), "role": role}
	if partnerID != "" {
		in["partnerId"] = partnerID
	}
	var out struct {
		CreateAPIKey struct {
			APIKey struct{ ID string } `json:"apiKey"`
			Key    string
		} `json:"createApiKey"`
	}
	s.admin(t, `mutation($in: CreateApiKeyInput!) { createApiKey(input: $in) { apiKey { id } key } }`,
		map[string]any{"in": in}, &out)
	require.NotEmpty(t, out.CreateAPIKey.Key)
	return out.CreateAPIKey.APIKey.ID, out.CreateAPIKey.Key
}

func (s *roleSetup) createService(t *testing.T) string {
	t.Helper()
	var out struct{ CreateService struct{ ID string } }
	s.admin(t, `mutation($in: CreateServiceInput!) { createService(input: $in) { id } }`,
		map[string]any{"in": map[string]any{"name": s.unique("Service"), "kind": "RECURRING"}}, &out)
	return out.CreateService.ID
}

// packageInput is a USD package of Service priced 10.00 a month when ACTIVE.
func (s *roleSetup) packageInput(name string) map[string]any {
	return map[string]any{
		"name": name, "currencies": []any{"USD"},
		"services":    []any{map[string]any{"serviceId": s.Service}},
		"frequencies": []any{monthlyPriceInput(s.Service, "USD", "10.00")},
	}
}

func (s *roleSetup) createPackage(t *testing.T) string {
	t.Helper()
	var out struct{ CreatePackage struct{ ID string } }
	s.admin(t, `mutation($in: CreatePackageInput!) { createPackage(input: $in) { id } }`,
		map[string]any{"in": s.packageInput(s.unique("Package"))}, &out)
	return out.CreatePackage.ID
}

func (s *roleSetup) addAccountService(t *testing.T, apID string) string {
	t.Helper()
	var out struct{ AddAccountService struct{ ID string } }
	s.admin(t, `mutation($ap: ID!, $in: AccountServiceInput!) { addAccountService(accountPackageId: $ap, input: $in) { id } }`,
		map[string]any{"ap": apID, "in": map[string]any{"serviceId": s.Service}}, &out)
	return out.AddAccountService.ID
}

func newRoleSetup(t *testing.T, b *testenv.Billd) *roleSetup {
	t.Helper()
	s := &roleSetup{url: b.HTTP.URL, keys: map[roleCaller]string{callerAdmin: testenv.AdminKey}}
	var p struct{ CreatePartner struct{ ID string } }
	s.admin(t, `mutation { createPartner(input: {name: "Partner A"}) { id } }`, nil, &p)
	s.PartnerA = p.CreatePartner.ID
	s.admin(t, `mutation { createPartner(input: {name: "Partner B"}) { id } }`, nil, &p)
	s.PartnerB = p.CreatePartner.ID
	s.OperatorKey, s.keys[callerOperator] = s.createKey(t, "OPERATOR", "")
	_, s.keys[callerReadOnly] = s.createKey(t, "READ_ONLY", "")
	_, s.keys[callerPartnerA] = s.createKey(t, "PARTNER", s.PartnerA)
	_, s.keys[callerPartnerB] = s.createKey(t, "PARTNER", s.PartnerB)

	e := &bxEnv{t: t, b: b}
	s.Service = e.service("Line", "RECURRING")
	pkg := e.pkg("Plan", nil, []string{s.Service}, "MONTH", bxPrice(s.Service, "ACTIVE", "10.00"))
	s.Package, s.Monthly = pkg.ID, pkg.Freq

	s.AccountA = s.createAccount(t, s.PartnerA)
	s.AccountB = s.createAccount(t, s.PartnerB)
	s.APA = s.provision(t, s.AccountA, "2024-01-01")
	s.APB = s.provision(t, s.AccountB, "2024-01-01")
	var ap struct {
		Node struct{ Services []struct{ ID string } }
	}
	s.admin(t, `query($id: ID!) { node(id: $id) { ... on AccountPackage { services { id } } } }`,
		map[string]any{"id": s.APA}, &ap)
	require.Len(t, ap.Node.Services, 1)
	s.ASA = ap.Node.Services[0].ID

	var data struct{ CreateService struct{ ID string } }
	s.admin(t, `mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &data)
	var usagePkg struct {
		CreatePackage struct {
			ID          string
			Frequencies []struct{ ID string }
		}
	}
	s.admin(t, `mutation($data: ID!) { createPackage(input: {name: "Usage", currencies: ["USD"], services: [{serviceId: $data}],
		frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) { id frequencies { id } } }`,
		map[string]any{"data": data.CreateService.ID}, &usagePkg)
	var prov struct {
		ProvisionPackage []struct{ Services []struct{ ID string } }
	}
	s.admin(t, `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { services { id } } }`,
		map[string]any{"in": map[string]any{"accountId": s.AccountA, "packageId": usagePkg.CreatePackage.ID,
			"frequencyId": usagePkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-01"}}, &prov)
	s.UsageASA = prov.ProvisionPackage[0].Services[0].ID

	s.Run = s.runJanuary(t)
	s.InvoiceA = s.invoiceOf(t, s.AccountA)
	s.InvoiceB = s.invoiceOf(t, s.AccountB)
	return s
}

// roleRunFigures are the counters of a run that a partner sees as its own share.
const roleRunFigures = ` fragment RunFigures on BillRun { status accountsTotal accountsProcessed accountsFailed
	invoicesCreated chargesCreated totals { currency { code } amount } }`

type roleRun struct {
	ID, Status                                                        string
	AccountsTotal, AccountsProcessed, AccountsFailed, InvoicesCreated int
	ChargesCreated                                                    int
	Totals                                                            []struct {
		Currency struct{ Code string }
		Amount   string
	}
}

// requireFigures checks January's run as c sees it: both accounts (10.00 each) for
// operators, its own account only for a partner.
func (s *roleSetup) requireFigures(t *testing.T, c roleCaller, r roleRun) {
	t.Helper()
	n, total := 2, "20.00"
	if isPartner(c) {
		n, total = 1, "10.00"
	}
	require.Equal(t, "COMPLETED", r.Status)
	require.Equal(t, []int{n, n, 0, n, n}, []int{r.AccountsTotal, r.AccountsProcessed, r.AccountsFailed,
		r.InvoicesCreated, r.ChargesCreated}, "%s: accounts total, processed, failed; invoices; charges", c)
	require.Len(t, r.Totals, 1)
	require.Equal(t, "USD", r.Totals[0].Currency.Code)
	require.Equal(t, total, r.Totals[0].Amount, "%s: total", c)
}

// roleCase is one root field of the schema: a document, its variables for a caller
// (vars may create rows, as ADMIN, that only this call uses) and the outcome per
// caller. check, if set, looks further at the answer.
type roleCase struct {
	op    string
	query string
	vars  func(t *testing.T, s *roleSetup, c roleCaller) map[string]any
	want  roleWant
	check func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage)
	// trigger makes a subscription that may stay silent send something.
	trigger func(t *testing.T, s *roleSetup)
}

func noVars(*testing.T, *roleSetup, roleCaller) map[string]any { return nil }

func idVar(id func(s *roleSetup) string) func(*testing.T, *roleSetup, roleCaller) map[string]any {
	return func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any { return map[string]any{"id": id(s)} }
}

// callerIndex numbers the callers, for codes and names unique per call.
func callerIndex(c roleCaller) int {
	for i, x := range roleCallers {
		if x == c {
			return i
		}
	}
	panic("unknown caller " + c)
}

func isPartner(c roleCaller) bool { return c == callerPartnerA || c == callerPartnerB }

// ownPartner is the partner a PARTNER caller is bound to.
func (s *roleSetup) ownPartner(c roleCaller) string {
	if c == callerPartnerA {
		return s.PartnerA
	}
	return s.PartnerB
}

func roleCases() []roleCase {
	return []roleCase{
		// Queries.
		{op: "Query.node", query: `query($id: ID!) { node(id: $id) { id __typename } }`,
			// Relay: what a key may not see answers null, with no error.
			vars: idVar(func(s *roleSetup) string { return s.AccountA }), want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct{ Node *struct{ ID string } }
				require.NoError(t, json.Unmarshal(data, &out))
				if c == callerPartnerB {
					require.Nil(t, out.Node, "another partner's account answers as if it did not exist")
					return
				}
				require.NotNil(t, out.Node)
				require.Equal(t, s.AccountA, out.Node.ID)
			}},
		{op: "Query.nodes", query: `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"ids": []string{s.AccountA, s.APA, s.InvoiceA}}
			}, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct{ Nodes []*struct{ ID string } }
				require.NoError(t, json.Unmarshal(data, &out))
				require.Len(t, out.Nodes, 3)
				for i, id := range []string{s.AccountA, s.APA, s.InvoiceA} {
					if c == callerPartnerB {
						require.Nil(t, out.Nodes[i], "null in place of another partner's row")
					} else {
						require.NotNil(t, out.Nodes[i])
						require.Equal(t, id, out.Nodes[i].ID)
					}
				}
			}},
		{op: "Query.currencies", query: `{ currencies { code } }`, vars: noVars, want: wantRead},
		{op: "Query.statuses", query: `{ statuses { code } }`, vars: noVars, want: wantRead},
		{op: "Query.currency", query: `{ currency(code: "USD") { code } }`, vars: noVars, want: wantRead},
		{op: "Query.status", query: `{ status(code: "ACTIVE") { code } }`, vars: noVars, want: wantRead},
		{op: "Query.services", query: `{ services { totalCount } }`, vars: noVars, want: wantRead},
		{op: "Query.packages", query: `{ packages { totalCount } }`, vars: noVars, want: wantRead},
		{op: "Query.ratePlans", query: `{ ratePlans { totalCount } }`, vars: noVars, want: wantRead},
		{op: "Query.priceBooks", query: `{ priceBooks { totalCount } }`, vars: noVars, want: wantRead},
		{op: "Query.pricePlans", query: `{ pricePlans { totalCount } }`, vars: noVars, want: wantRead},
		{op: "Query.accounts", query: `{ accounts { edges { node { id partner { id } } } } }`, vars: noVars, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					Accounts struct {
						Edges []struct {
							Node struct {
								ID      string
								Partner *struct{ ID string }
							}
						}
					}
				}
				require.NoError(t, json.Unmarshal(data, &out))
				ids := map[string]bool{}
				for _, e := range out.Accounts.Edges {
					ids[e.Node.ID] = true
					if isPartner(c) {
						require.NotNil(t, e.Node.Partner)
						require.Equal(t, s.ownPartner(c), e.Node.Partner.ID, "a partner lists only its accounts")
					}
				}
				require.Equal(t, c != callerPartnerB, ids[s.AccountA])
				require.Equal(t, c != callerPartnerA, ids[s.AccountB])
			}},
		{op: "Query.invoices", query: `{ invoices { edges { node { id billRun { id ...RunFigures } } } } }` + roleRunFigures,
			vars: noVars, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					Invoices struct {
						Edges []struct {
							Node struct {
								ID      string
								BillRun *roleRun
							}
						}
					}
				}
				require.NoError(t, json.Unmarshal(data, &out))
				ids := map[string]bool{}
				for _, e := range out.Invoices.Edges {
					ids[e.Node.ID] = true
					if e.Node.ID == s.InvoiceA || e.Node.ID == s.InvoiceB {
						require.NotNil(t, e.Node.BillRun)
						require.Equal(t, s.Run, e.Node.BillRun.ID)
						s.requireFigures(t, c, *e.Node.BillRun)
					}
				}
				require.Equal(t, c != callerPartnerB, ids[s.InvoiceA])
				require.Equal(t, c != callerPartnerA, ids[s.InvoiceB])
			}},
		{op: "Query.partners", query: `{ partners { edges { node { id } } } }`, vars: noVars, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					Partners struct {
						Edges []struct{ Node struct{ ID string } }
					}
				}
				require.NoError(t, json.Unmarshal(data, &out))
				var ids []string
				for _, e := range out.Partners.Edges {
					ids = append(ids, e.Node.ID)
				}
				if isPartner(c) {
					require.Equal(t, []string{s.ownPartner(c)}, ids)
				} else {
					require.Contains(t, ids, s.PartnerA)
					require.Contains(t, ids, s.PartnerB)
				}
			}},
		{op: "Query.viewer", query: `{ viewer { role partner { id } } }`, vars: noVars, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					Viewer struct {
						Role    string
						Partner *struct{ ID string }
					}
				}
				require.NoError(t, json.Unmarshal(data, &out))
				if isPartner(c) {
					require.Equal(t, "PARTNER", out.Viewer.Role)
					require.NotNil(t, out.Viewer.Partner)
					require.Equal(t, s.ownPartner(c), out.Viewer.Partner.ID)
				} else {
					require.Equal(t, string(c), out.Viewer.Role)
					require.Nil(t, out.Viewer.Partner)
				}
			}},
		// Partners list runs too, with their own figures.
		{op: "Query.billRuns", query: `{ billRuns { edges { node { id ...RunFigures } } } }` + roleRunFigures,
			vars: noVars, want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					BillRuns struct{ Edges []struct{ Node roleRun } }
				}
				require.NoError(t, json.Unmarshal(data, &out))
				for _, e := range out.BillRuns.Edges {
					if e.Node.ID == s.Run {
						s.requireFigures(t, c, e.Node)
						return
					}
				}
				t.Fatalf("run %s is not listed", s.Run)
			}},
		{op: "Query.apiKeys", query: `{ apiKeys { totalCount } }`, vars: noVars, want: wantAdminister},
		{op: "Query.auditLog", query: `{ auditLog(last: 5) { totalCount } }`, vars: noVars, want: wantAdminister},

		// Catalog, partners and bill runs: Operate.
		{op: "Mutation.createCurrency", query: `mutation($in: CreateCurrencyInput!) { createCurrency(input: $in) { code } }`,
			vars: func(_ *testing.T, _ *roleSetup, c roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"code": fmt.Sprintf("XR%c", 'A'+callerIndex(c)), "name": "Role " + string(c), "precision": 2}}
			}, want: wantOperate},
		{op: "Mutation.createStatus", query: `mutation($in: CreateStatusInput!) { createStatus(input: $in) { code } }`,
			vars: func(_ *testing.T, _ *roleSetup, c roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"code": "ROLE_" + string(c), "name": "Role " + string(c), "billable": true, "readOnly": false}}
			}, want: wantOperate},
		{op: "Mutation.createService", query: `mutation($in: CreateServiceInput!) { createService(input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"name": s.unique("Service"), "kind": "ONE_TIME"}}
			}, want: wantOperate},
		{op: "Mutation.createRatePlan", query: `mutation($in: CreateRatePlanInput!) { createRatePlan(input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"name": s.unique("Plan"), "currency": "USD", "model": "GRADUATED",
					"tiers": []any{map[string]any{"unitPrice": "0.10"}}}}
			}, want: wantOperate},
		{op: "Mutation.createPriceBook", query: `mutation($n: String!) { createPriceBook(name: $n) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"n": s.unique("Book")}
			}, want: wantOperate},
		{op: "Mutation.setPriceBookPrices", query: `mutation($in: PriceBookPriceInput!) { setPriceBookPrices(input: $in) { id } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				var out struct{ CreatePriceBook struct{ ID string } }
				s.admin(t, `mutation($n: String!) { createPriceBook(name: $n) { id } }`, map[string]any{"n": s.unique("Book")}, &out)
				return map[string]any{"in": map[string]any{"priceBookId": out.CreatePriceBook.ID, "frequencyId": s.Monthly,
					"prices": []any{map[string]any{"serviceId": s.Service, "currency": "USD",
						"recurring": []any{map[string]any{"status": "ACTIVE", "amount": "9.00"}}}}}}
			}, want: wantOperate},
		{op: "Mutation.createPricePlan", query: `mutation($in: CreatePricePlanInput!) { createPricePlan(input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"code": s.unique("CODE"), "packageId": s.Package,
					"entries": []any{map[string]any{"serviceId": s.Service, "percentOff": "10"}}}}
			}, want: wantOperate},
		{op: "Mutation.updateService", query: `mutation($id: ID!) { updateService(id: $id, input: {description: "updated"}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.Service }), want: wantOperate},
		{op: "Mutation.createPackage", query: `mutation($in: CreatePackageInput!) { createPackage(input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": s.packageInput(s.unique("Package"))}
			}, want: wantOperate},
		{op: "Mutation.updatePackage", query: `mutation($id: ID!) { updatePackage(id: $id, input: {description: "updated"}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.Package }), want: wantOperate},
		{op: "Mutation.deletePackage", query: `mutation($id: ID!) { deletePackage(id: $id) }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"id": s.createPackage(t)}
			}, want: wantOperate},
		{op: "Mutation.addPackageFrequency", query: `mutation($id: ID!, $in: PackageFrequencyInput!) { addPackageFrequency(packageId: $id, input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				in := monthlyPriceInput(s.Service, "USD", "9.00")
				in["name"] = s.unique("Monthly")
				return map[string]any{"id": s.Package, "in": in}
			}, want: wantOperate},
		{op: "Mutation.addPackageService", query: `mutation($id: ID!, $in: PackageServiceInput!) { addPackageService(packageId: $id, input: $in) { minInstances } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"id": s.createPackage(t), "in": map[string]any{"serviceId": s.createService(t), "optional": true}}
			}, want: wantOperate},
		{op: "Mutation.createPartner", query: `mutation($name: String!) { createPartner(input: {name: $name}) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"name": s.unique("Partner")}
			}, want: wantOperate},
		{op: "Mutation.updatePartner", query: `mutation($id: ID!) { updatePartner(id: $id, input: {name: "Partner A"}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.PartnerA }), want: wantOperate},
		// Over an account of its own with nothing to bill, so the other rows stay as set up.
		{op: "Mutation.startBillRun", query: `mutation($acc: ID!) { startBillRun(input: {periodStart: "2024-01-01",
			periodEnd: "2024-01-31", accountIds: [$acc], wait: true}) { id status } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"acc": s.createAccount(t, "")}
			}, want: wantOperate},
		// The run is finished: allowed callers get past the role check to the rule.
		{op: "Mutation.cancelBillRun", query: `mutation($id: ID!) { cancelBillRun(id: $id) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.Run }),
			want: roleOutcomes(outPrecond, outPrecond, outForbidden, outForbidden, outForbidden)},

		// Accounts, provisioning and invoices of partner A: WriteAccounts.
		{op: "Mutation.createAccount", query: `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id partner { id } } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"name": s.unique("Account"), "currency": "USD", "billDay": 1, "partnerId": s.PartnerA}}
			}, want: wantWriteA,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					CreateAccount *struct{ Partner *struct{ ID string } }
				}
				require.NoError(t, json.Unmarshal(data, &out))
				if c == callerPartnerB {
					require.Nil(t, out.CreateAccount)
					return
				}
				require.NotNil(t, out.CreateAccount)
				require.NotNil(t, out.CreateAccount.Partner)
				require.Equal(t, s.PartnerA, out.CreateAccount.Partner.ID)
			}},
		{op: "Mutation.updateAccount", query: `mutation($id: ID!) { updateAccount(id: $id, input: {billDay: 1}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.AccountA }), want: wantWriteA},
		{op: "Mutation.provisionPackage", query: `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"in": map[string]any{"accountId": s.AccountA, "packageId": s.Package,
					"frequencyId": s.Monthly, "effectiveDate": "2024-02-01"}}
			}, want: wantWriteA},
		{op: "Mutation.updateAccountPackage", query: `mutation($id: ID!) { updateAccountPackage(id: $id, input: {bulkQuantity: 1}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.APA }), want: wantWriteA},
		{op: "Mutation.cancelAccountPackage", query: `mutation($id: ID!) { cancelAccountPackage(id: $id,
			input: {cancellationDate: "2024-03-01", billingOption: NONE}) { id } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"id": s.provision(t, s.AccountA, "2024-02-01")}
			}, want: wantWriteA},
		{op: "Mutation.deleteAccountPackage", query: `mutation($id: ID!) { deleteAccountPackage(id: $id) }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"id": s.provision(t, s.AccountA, "2024-02-01")}
			}, want: wantWriteA},
		{op: "Mutation.addAccountService", query: `mutation($ap: ID!, $in: AccountServiceInput!) { addAccountService(accountPackageId: $ap, input: $in) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"ap": s.APA, "in": map[string]any{"serviceId": s.Service}}
			}, want: wantWriteA},
		{op: "Mutation.updateAccountService", query: `mutation($id: ID!) { updateAccountService(id: $id, input: {quantity: 1}) { id } }`,
			vars: idVar(func(s *roleSetup) string { return s.ASA }), want: wantWriteA},
		{op: "Mutation.removeAccountService", query: `mutation($id: ID!) { removeAccountService(id: $id) }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"id": s.addAccountService(t, s.APA)}
			}, want: wantWriteA},
		{op: "Mutation.recordUsage", query: `mutation($recs: [UsageRecordInput!]!) { recordUsage(records: $recs) { accepted duplicates } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"recs": []any{map[string]any{"key": s.unique("usage"), "accountServiceId": s.UsageASA,
					"quantity": "5", "date": "2024-01-10"}}}
			}, want: wantWriteA},
		{op: "Mutation.addDiscount", query: `mutation($as: ID!) { addDiscount(accountServiceId: $as, input: {percent: "10", startDate: "2030-01-01"}) { id } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any { return map[string]any{"as": s.ASA} },
			want: wantWriteA},
		{op: "Mutation.removeDiscount", query: `mutation($id: ID!) { removeDiscount(id: $id) }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				var out struct{ AddDiscount struct{ ID string } }
				s.admin(t, `mutation($as: ID!) { addDiscount(accountServiceId: $as, input: {percent: "10", startDate: "2030-01-01"}) { id } }`,
					map[string]any{"as": s.ASA}, &out)
				return map[string]any{"id": out.AddDiscount.ID}
			}, want: wantWriteA},
		// A fresh account of partner A per call: an account has one contract in force.
		{op: "Mutation.createContract", query: `mutation($acc: ID!) { createContract(input: {accountId: $acc, startDate: "2024-01-01",
			termMonths: 12, renewal: EXPIRE, minimumInvoiceAmount: "10.00"}) { id } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"acc": s.createAccount(t, s.PartnerA)}
			}, want: wantWriteA},
		// A fresh OPEN invoice of partner A per call: its own account, billed for January.
		{op: "Mutation.closeInvoice", query: `mutation($id: ID!) { closeInvoice(id: $id) { id status } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				acc := s.createAccount(t, s.PartnerA)
				s.provision(t, acc, "2024-01-01")
				s.runJanuary(t, acc)
				return map[string]any{"id": s.invoiceOf(t, acc)}
			}, want: wantWriteA},

		// Keys: Administer.
		{op: "Mutation.createApiKey", query: `mutation($name: String!) { createApiKey(input: {name: $name, role: READ_ONLY}) { apiKey { id } key } }`,
			vars: func(_ *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				return map[string]any{"name": s.unique("key")}
			}, want: wantAdminister},
		{op: "Mutation.revokeApiKey", query: `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`,
			vars: func(t *testing.T, s *roleSetup, _ roleCaller) map[string]any {
				id, _ := s.createKey(t, "READ_ONLY", "")
				return map[string]any{"id": id}
			}, want: wantAdminister},

		// Subscriptions, over the websocket.
		{op: "Subscription.billRunProgress", query: `subscription($id: ID!) { billRunProgress(id: $id) {
			kind billRun { id status ...RunFigures } } }` + roleRunFigures,
			vars: idVar(func(s *roleSetup) string { return s.Run }), want: wantRead,
			check: func(t *testing.T, s *roleSetup, c roleCaller, data json.RawMessage) {
				var out struct {
					BillRunProgress struct {
						Kind    string
						BillRun roleRun
					}
				}
				require.NoError(t, json.Unmarshal(data, &out))
				require.Equal(t, "SNAPSHOT", out.BillRunProgress.Kind)
				require.Equal(t, s.Run, out.BillRunProgress.BillRun.ID)
				s.requireFigures(t, c, out.BillRunProgress.BillRun)
			}},
		{op: "Subscription.billRunsChanged", query: `subscription { billRunsChanged { id status } }`,
			vars: noVars, want: wantRead,
			check: func(t *testing.T, _ *roleSetup, _ roleCaller, data json.RawMessage) {
				var out struct{ BillRunsChanged struct{ ID, Status string } }
				require.NoError(t, json.Unmarshal(data, &out))
				require.NotEmpty(t, out.BillRunsChanged.ID)
				require.NotEmpty(t, out.BillRunsChanged.Status)
			},
			trigger: func(t *testing.T, s *roleSetup) { s.runJanuary(t, s.createAccount(t, "")) }},
	}
}

// rowCounts counts the rows of the tables a refused call must leave alone.
func (s *roleSetup) rowCounts(t *testing.T) map[string]int {
	t.Helper()
	var out struct {
		Accounts, Invoices, BillRuns, Partners, Services, Packages, APIKeys struct{ TotalCount int }
	}
	s.admin(t, `{ accounts { totalCount } invoices { totalCount } billRuns { totalCount } partners { totalCount }
		services { totalCount } packages { totalCount } apiKeys: apiKeys { totalCount } }`, nil, &out)
	var aps struct {
		Node struct {
			AccountPackages struct{ TotalCount int }
		}
	}
	s.admin(t, `query($id: ID!) { node(id: $id) { ... on Account { accountPackages { totalCount } } } }`,
		map[string]any{"id": s.AccountA}, &aps)
	var as struct {
		Node struct{ Services []struct{ Quantity int } }
	}
	s.admin(t, `query($id: ID!) { node(id: $id) { ... on AccountPackage { services { quantity } } } }`,
		map[string]any{"id": s.APA}, &as)
	var invoiceStatus struct{ Node struct{ Status string } }
	s.admin(t, `query($id: ID!) { node(id: $id) { ... on Invoice { status } } }`, map[string]any{"id": s.InvoiceA}, &invoiceStatus)
	return map[string]int{
		"accounts": out.Accounts.TotalCount, "invoices": out.Invoices.TotalCount, "billRuns": out.BillRuns.TotalCount,
		"partners": out.Partners.TotalCount, "services": out.Services.TotalCount, "packages": out.Packages.TotalCount,
		"apiKeys": out.APIKeys.TotalCount, "accountPackagesOfA": aps.Node.AccountPackages.TotalCount,
		"accountServicesOfAPA": len(as.Node.Services), "invoiceAOpen": roleBoolInt(invoiceStatus.Node.Status == "OPEN"),
	}
}

func roleBoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// roleOutcome is "ok" for an answer without errors, else the code of its first error.
func roleOutcome(errs []testenv.GQLError) string {
	if len(errs) == 0 {
		return outOK
	}
	return errs[0].Code()
}

// roleRunHTTP calls a query or mutation as c and checks its outcome. A refusal is one
// error and no data, and a refused mutation changes nothing.
func roleRunHTTP(t *testing.T, s *roleSetup, tc roleCase, c roleCaller) {
	vars := tc.vars(t, s, c)
	mutation := strings.HasPrefix(tc.op, "Mutation.")
	var before map[string]int
	if mutation && tc.want[c] != outOK {
		before = s.rowCounts(t)
	}
	r := s.call(t, c, tc.query, vars)
	msg := fmt.Sprintf("errors %+v, data %s", r.Errors, r.Data)
	require.Equal(t, tc.want[c], roleOutcome(r.Errors), "%s", msg)
	if tc.want[c] == outForbidden {
		require.Len(t, r.Errors, 1, "%s", msg)
		require.Contains(t, r.Errors[0].Message, tc.op)
		require.Equal(t, "null", strings.TrimSpace(string(r.Data)), "a refused operation runs nothing")
	}
	if before != nil {
		require.Equal(t, before, s.rowCounts(t), "a refused mutation writes nothing")
	}
	if tc.check != nil && tc.want[c] != outForbidden {
		tc.check(t, s, c, r.Data)
	}
}

// roleSubscribe opens a graphql-transport-ws connection with key and sends one
// operation; the messages that follow (keep-alives left out) arrive on the channel.
func roleSubscribe(t *testing.T, b *testenv.Billd, key, query string, vars map[string]any) <-chan wsMessage {
	t.Helper()
	view := b.As(key)
	conn := dialWS(t, view, []string{"graphql-transport-ws"})
	require.NoError(t, conn.WriteJSON(wsMessage{Type: "connection_init", Payload: view.InitPayload()}))
	require.Equal(t, "connection_ack", readWS(t, conn).Type)
	payload, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	require.NoError(t, conn.WriteJSON(wsMessage{ID: "1", Type: "subscribe", Payload: payload}))
	// Read on a goroutine: a gorilla connection cannot be read again after a timeout.
	msgs := make(chan wsMessage, 16)
	go func() {
		defer close(msgs)
		for {
			_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			var m wsMessage
			if conn.ReadJSON(&m) != nil {
				return
			}
			if m.Type != "ka" && m.Type != "ping" && m.Type != "pong" {
				msgs <- m
			}
		}
	}()
	return msgs
}

// roleNextWS returns the next message of operation "1" within wait.
func roleNextWS(t *testing.T, msgs <-chan wsMessage, wait time.Duration) (wsMessage, bool) {
	t.Helper()
	select {
	case m, ok := <-msgs:
		require.True(t, ok, "the connection closed")
		require.Equal(t, "1", m.ID, "%s %s", m.Type, m.Payload)
		return m, true
	case <-time.After(wait):
		return wsMessage{}, false
	}
}

// roleRequireWSRefused checks that first refuses the operation with FORBIDDEN and
// ends it. gqlgen's transport sends a refusal made before execution as a "next"
// holding the error (data null) followed by "complete"; an "error" message, which
// ends the operation by itself, is as good.
func roleRequireWSRefused(t *testing.T, msgs <-chan wsMessage, first wsMessage) {
	t.Helper()
	var errs []testenv.GQLError
	switch first.Type {
	case "error":
		require.NoError(t, json.Unmarshal(first.Payload, &errs), "%s", first.Payload)
	case "next":
		var res testenv.Response
		require.NoError(t, json.Unmarshal(first.Payload, &res), "%s", first.Payload)
		require.Equal(t, "null", strings.TrimSpace(string(res.Data)), "a refused operation runs nothing")
		errs = res.Errors
		done, ok := roleNextWS(t, msgs, 5*time.Second)
		require.True(t, ok, "no message after the refusal")
		require.Equal(t, "complete", done.Type, "%s", done.Payload)
	default:
		t.Fatalf("unexpected %s message: %s", first.Type, first.Payload)
	}
	require.Len(t, errs, 1, "%s", first.Payload)
	require.Equal(t, outForbidden, errs[0].Code(), "%s", first.Payload)
}

// roleRunWS subscribes as c and checks the first message: for an allowed caller a
// "next" with data (after tc.trigger when the subscription stays silent for 300ms),
// for a refused one a FORBIDDEN refusal.
func roleRunWS(t *testing.T, s *roleSetup, b *testenv.Billd, tc roleCase, c roleCaller) {
	msgs := roleSubscribe(t, b, s.keys[c], tc.query, tc.vars(t, s, c))
	m, ok := roleNextWS(t, msgs, 300*time.Millisecond)
	if !ok {
		require.NotNil(t, tc.trigger, "no message within 300ms")
		tc.trigger(t, s)
		m, ok = roleNextWS(t, msgs, 10*time.Second)
		require.True(t, ok, "no message after the trigger")
	}
	if tc.want[c] == outForbidden {
		roleRequireWSRefused(t, msgs, m)
		return
	}
	require.Equal(t, "next", m.Type, "%s", m.Payload)
	var res testenv.Response
	require.NoError(t, json.Unmarshal(m.Payload, &res))
	require.Equal(t, tc.want[c], roleOutcome(res.Errors), "%s", m.Payload)
	if tc.check != nil {
		tc.check(t, s, c, res.Data)
	}
}

// TestRoleTable calls every root field of the schema with each role (and a partner
// on another partner's rows) and checks who is refused, who is scoped and who gets
// through; it fails when a root field has no entry here or in graph.Operations.
func TestRoleTable(t *testing.T) {
	t.Parallel()
	cases := roleCases()

	t.Run("every root field has an entry", func(t *testing.T) {
		t.Parallel()
		src, err := os.ReadFile("../schema.graphql")
		require.NoError(t, err)
		schema, gerr := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: string(src)})
		require.Nil(t, gerr)
		fields := map[string]bool{}
		for _, root := range []*ast.Definition{schema.Query, schema.Mutation, schema.Subscription} {
			require.NotNil(t, root)
			for _, f := range root.Fields {
				if !strings.HasPrefix(f.Name, "__") {
					fields[root.Name+"."+f.Name] = true
				}
			}
		}
		inTable := map[string]bool{}
		for _, tc := range cases {
			require.False(t, inTable[tc.op], "%s has two entries", tc.op)
			inTable[tc.op] = true
			require.True(t, fields[tc.op], "%s is in the table but not in the schema", tc.op)
			require.Len(t, tc.want, len(roleCallers), "%s: an outcome per caller", tc.op)
		}
		var names []string
		for f := range fields {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			require.True(t, inTable[f], "%s has no entry in TestRoleTable", f)
			_, ok := graph.Operations[f]
			require.True(t, ok, "%s has no entry in graph.Operations", f)
		}
		for op := range graph.Operations {
			require.True(t, fields[op], "graph.Operations names %s, which the schema does not have", op)
		}
	})

	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		s := newRoleSetup(t, b)

		// Before the table, which adds rows.
		t.Run("totalCount under partner scope", func(t *testing.T) {
			want := map[roleCaller]int{callerAdmin: 2, callerOperator: 2, callerReadOnly: 2, callerPartnerA: 1, callerPartnerB: 1}
			for _, c := range roleCallers {
				r := s.call(t, c, `{ accounts { totalCount } invoices { totalCount } partners { totalCount } }`, nil)
				require.Empty(t, r.Errors, "%s", c)
				var out struct{ Accounts, Invoices, Partners struct{ TotalCount int } }
				require.NoError(t, json.Unmarshal(r.Data, &out))
				require.Equal(t, want[c], out.Accounts.TotalCount, "%s: accounts", c)
				require.Equal(t, want[c], out.Invoices.TotalCount, "%s: invoices", c)
				require.Equal(t, want[c], out.Partners.TotalCount, "%s: partners", c)
			}
			// Connections below the root are scoped too.
			r := s.call(t, callerPartnerB, `query($id: ID!) { node(id: $id) { ... on Account { invoices { totalCount } } } }`,
				map[string]any{"id": s.AccountB})
			require.Empty(t, r.Errors)
			require.JSONEq(t, `{"node": {"invoices": {"totalCount": 1}}}`, string(r.Data))
		})

		// No role is refused a subscription today, so the websocket path of a refusal
		// is checked with operations that are refused.
		t.Run("refused over the websocket", func(t *testing.T) {
			for _, tc := range []struct {
				c     roleCaller
				query string
			}{
				{callerReadOnly, `mutation { createPartner(input: {name: "over ws"}) { id } }`},
				{callerPartnerA, `{ apiKeys { totalCount } }`},
				{callerOperator, `mutation { createApiKey(input: {name: "over ws", role: ADMIN}) { key } }`},
			} {
				before := s.rowCounts(t)
				msgs := roleSubscribe(t, b, s.keys[tc.c], tc.query, nil)
				m, ok := roleNextWS(t, msgs, 5*time.Second)
				require.True(t, ok, "%s: no answer", tc.c)
				roleRequireWSRefused(t, msgs, m)
				require.Equal(t, before, s.rowCounts(t), "a refused mutation writes nothing")
			}
		})

		// Partner, ApiKey and AuditEntry implement Node too: node finds them within the
		// caller's scope (keys and the audit log are ADMIN's only).
		t.Run("node of partners, keys and audit entries", func(t *testing.T) {
			var audit struct {
				AuditLog struct {
					Edges []struct{ Node struct{ ID string } }
				}
			}
			s.admin(t, `{ auditLog(last: 1) { edges { node { id } } } }`, nil, &audit)
			require.Len(t, audit.AuditLog.Edges, 1)
			for _, tc := range []struct {
				name, id string
				want     roleWant
			}{
				{"partner", s.PartnerA, roleOutcomes(outOK, outOK, outOK, outOK, outNull)},
				{"api key", s.OperatorKey, roleOutcomes(outOK, outNull, outNull, outNull, outNull)},
				{"audit entry", audit.AuditLog.Edges[0].Node.ID, roleOutcomes(outOK, outNull, outNull, outNull, outNull)},
			} {
				for _, c := range roleCallers {
					t.Run(tc.name+"/"+string(c), func(t *testing.T) {
						r := s.call(t, c, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": tc.id})
						if tc.want[c] == outNull {
							require.Empty(t, r.Errors, "what a key may not see is null, with no error")
						} else {
							require.Equal(t, tc.want[c], roleOutcome(r.Errors), "errors %+v", r.Errors)
						}
						if tc.want[c] == outOK {
							require.JSONEq(t, fmt.Sprintf(`{"node": {"id": %q}}`, tc.id), string(r.Data))
						} else {
							require.JSONEq(t, `{"node": null}`, string(r.Data))
						}
					})
				}
			}
		})

		// Sequential: the cases share the instance.
		for _, tc := range cases {
			t.Run(tc.op, func(t *testing.T) {
				for _, c := range roleCallers {
					t.Run(string(c), func(t *testing.T) {
						if strings.HasPrefix(tc.op, "Subscription.") {
							roleRunWS(t, s, b, tc, c)
						} else {
							roleRunHTTP(t, s, tc, c)
						}
					})
				}
			})
		}
	})
}
