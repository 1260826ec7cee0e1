package graph_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// TestUsageCatalog defines the catalog of the usage examples (docs/billing.md 6.6)
// through the API and reads it back: a USAGE service with its unit, a rate plan with
// tiers, a package whose Data service includes a shared bucket and is priced by the
// plan, with an activation.
func TestUsageCatalog(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct {
			CreateService struct {
				ID, Kind, Unit string
				UnitDecimals   int
			}
		}
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id kind unit unitDecimals } }`, nil, &svc)
		require.Equal(t, "USAGE", svc.CreateService.Kind)
		require.Equal(t, "MB", svc.CreateService.Unit)
		require.Equal(t, 0, svc.CreateService.UnitDecimals)
		data := svc.CreateService.ID
		var line struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Line", kind: RECURRING}) { id } }`, nil, &line)

		type tier struct {
			UpTo      *string
			UnitPrice string
			FlatFee   string
		}
		var plan struct {
			CreateRatePlan struct {
				ID, Name, Model string
				Currency        struct{ Code string }
				Tiers           []tier
			}
		}
		// U1's tiers: up to 10 at 1.50, up to 110 at 1.00, then 0.50.
		b.MustQuery(`mutation { createRatePlan(input: {name: "Data tiers", currency: "USD", model: GRADUATED,
			tiers: [{upTo: "10", unitPrice: "1.50"}, {upTo: "110", unitPrice: "1.00", flatFee: "2"}, {unitPrice: "0.50"}]}) {
			id name model currency { code } tiers { upTo unitPrice flatFee } } }`, nil, &plan)
		p := plan.CreateRatePlan
		require.Equal(t, "GRADUATED", p.Model)
		require.Equal(t, "USD", p.Currency.Code)
		ten, hundredTen := "10", "110"
		require.Equal(t, []tier{{&ten, "1.50", "0"}, {&hundredTen, "1.00", "2"}, {nil, "0.50", "0"}}, p.Tiers)

		var pkg struct {
			CreatePackage struct {
				ID                         string
				Postpaid                   bool
				ChargeRecurringOnlyIfUsage bool
				Activation                 struct {
					AfterDays      int
					UsageThreshold string
					Service        struct{ ID string }
				}
				Services []struct {
					Service  struct{ ID string }
					Included *string
					Shared   bool
				}
				Frequencies []struct {
					RatePlan *struct{ ID string }
					Prices   []struct {
						Service  struct{ ID string }
						RatePlan *struct{ ID string }
					}
				}
			}
		}
		b.MustQuery(`mutation($line: ID!, $data: ID!, $plan: ID!) { createPackage(input: {name: "Mobile", currencies: ["USD"],
			chargeRecurringOnlyIfUsage: true, activation: {afterDays: 7, usageThreshold: "10", serviceId: $data},
			services: [{serviceId: $line}, {serviceId: $data, included: "100", shared: true}],
			frequencies: [{name: "Monthly", interval: MONTH, ratePlanId: $plan, prices: [
				{serviceId: $line, currency: "USD", recurring: [{status: "ACTIVE", amount: "10"}]},
				{serviceId: $data, currency: "USD", ratePlanId: $plan}]}]}) {
			id postpaid chargeRecurringOnlyIfUsage activation { afterDays usageThreshold service { id } }
			services { service { id } included shared }
			frequencies { ratePlan { id } prices { service { id } ratePlan { id } } } } }`,
			map[string]any{"line": line.CreateService.ID, "data": data, "plan": p.ID}, &pkg)
		got := pkg.CreatePackage
		require.True(t, got.Postpaid)
		require.True(t, got.ChargeRecurringOnlyIfUsage)
		require.Equal(t, 7, got.Activation.AfterDays)
		require.Equal(t, "10", got.Activation.UsageThreshold)
		require.Equal(t, data, got.Activation.Service.ID)
		require.Nil(t, got.Services[0].Included)
		require.False(t, got.Services[0].Shared)
		require.Equal(t, "100", *got.Services[1].Included)
		require.True(t, got.Services[1].Shared)
		require.Equal(t, p.ID, got.Frequencies[0].RatePlan.ID)
		for _, sp := range got.Frequencies[0].Prices {
			if sp.Service.ID == data {
				require.Equal(t, p.ID, sp.RatePlan.ID)
			} else {
				require.Nil(t, sp.RatePlan)
			}
		}

		// A package without usage terms has no activation.
		var plain struct {
			Packages struct {
				TotalCount int
				Edges      []struct {
					Node struct {
						ID         string
						Activation *struct{ AfterDays *int }
					}
				}
			}
			RatePlans struct {
				TotalCount int
				Edges      []struct{ Node struct{ ID string } }
			}
		}
		b.MustQuery(`mutation($line: ID!) { createPackage(input: {name: "Plain", currencies: ["USD"], services: [{serviceId: $line}],
			frequencies: []}) { id } }`, map[string]any{"line": line.CreateService.ID}, nil)
		b.MustQuery(`{ packages { totalCount edges { node { id activation { afterDays } } } }
			ratePlans(first: 10) { totalCount edges { node { id } } } }`, nil, &plain)
		for _, e := range plain.Packages.Edges {
			if e.Node.ID == got.ID {
				require.NotNil(t, e.Node.Activation)
			} else {
				require.Nil(t, e.Node.Activation)
			}
		}
		require.Equal(t, 1, plain.RatePlans.TotalCount)
		require.Equal(t, p.ID, plain.RatePlans.Edges[0].Node.ID)

		var node struct{ Node struct{ Name string } }
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on RatePlan { name } } }`, map[string]any{"id": p.ID}, &node)
		require.Equal(t, "Data tiers", node.Node.Name)
	})
}

// TestUsageCatalogRefusals checks that the API carries the catalog's coded refusals
// with the field they name, and writes nothing.
func TestUsageCatalogRefusals(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
		var eur struct{ CreateRatePlan struct{ ID string } }
		b.MustQuery(`mutation { createRatePlan(input: {name: "EUR data", currency: "EUR", model: VOLUME, tiers: [{unitPrice: "0.10"}]}) { id } }`, nil, &eur)
		for _, tc := range []struct {
			name, query, code, field string
			vars                     map[string]any
		}{
			{"tiers out of order", `mutation { createRatePlan(input: {name: "P", currency: "USD", model: VOLUME,
				tiers: [{upTo: "10", unitPrice: "1"}, {upTo: "10", unitPrice: "1"}, {unitPrice: "1"}]}) { id } }`,
				"BAD_USER_INPUT", "input.tiers[1].upTo", nil},
			{"unknown currency", `mutation { createRatePlan(input: {name: "P", currency: "XYZ", model: VOLUME, tiers: [{unitPrice: "1"}]}) { id } }`,
				"NOT_FOUND", "input.currency", nil},
			{"usage service without unit", `mutation { createService(input: {name: "X", kind: USAGE}) { id } }`,
				"BAD_USER_INPUT", "input.unit", nil},
			{"bulk package with a usage service", `mutation($data: ID!) { createPackage(input: {name: "Bulk", currencies: ["USD"],
				bulkQuantity: true, services: [{serviceId: $data}], frequencies: []}) { id } }`,
				"BAD_USER_INPUT", "input.services[0].serviceId", map[string]any{"data": svc.CreateService.ID}},
			{"plan in another currency", `mutation($data: ID!, $plan: ID!) { createPackage(input: {name: "P", currencies: ["USD"],
				services: [{serviceId: $data}], frequencies: [{name: "M", interval: MONTH, prices: [
				{serviceId: $data, currency: "USD", ratePlanId: $plan}]}]}) { id } }`,
				"BAD_USER_INPUT", "input.frequencies[0].prices[0].ratePlanId", map[string]any{"data": svc.CreateService.ID, "plan": eur.CreateRatePlan.ID}},
			{"recurring price on usage", `mutation($data: ID!) { createPackage(input: {name: "P", currencies: ["USD"],
				services: [{serviceId: $data}], frequencies: [{name: "M", interval: MONTH, prices: [
				{serviceId: $data, currency: "USD", recurring: [{status: "ACTIVE", amount: "1"}]}]}]}) { id } }`,
				"BAD_USER_INPUT", "input.frequencies[0].prices[0].recurring", map[string]any{"data": svc.CreateService.ID}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var before struct {
					Services, Packages, RatePlans struct{ TotalCount int }
				}
				b.MustQuery(`{ services { totalCount } packages { totalCount } ratePlans { totalCount } }`, nil, &before)
				r := b.Query(tc.query, tc.vars)
				require.Len(t, r.Errors, 1, "%+v", r.Errors)
				require.Equal(t, tc.code, r.Errors[0].Code(), r.Errors[0].Message)
				require.Equal(t, tc.field, r.Errors[0].Field(), r.Errors[0].Message)
				var after struct {
					Services, Packages, RatePlans struct{ TotalCount int }
				}
				b.MustQuery(`{ services { totalCount } packages { totalCount } ratePlans { totalCount } }`, nil, &after)
				require.Equal(t, before, after)
			})
		}
	})
}

// TestRecordUsage records usage through the API: a batch, the same batch again, the
// records reachable through node, and a refusal that names the failing record and
// writes nothing. A partner key records only for its own accounts.
func TestRecordUsage(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
		var pkg struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($data: ID!) { createPackage(input: {name: "Data only", currencies: ["USD"], services: [{serviceId: $data}],
			frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) { id frequencies { id } } }`,
			map[string]any{"data": svc.CreateService.ID}, &pkg)
		var part struct{ CreatePartner struct{ ID string } }
		b.MustQuery(`mutation { createPartner(input: {name: "Reseller"}) { id } }`, nil, &part)
		provision := func(partner any) string {
			var acc struct{ CreateAccount struct{ ID string } }
			b.MustQuery(`mutation($p: ID) { createAccount(input: {name: "Customer", currency: "USD", billDay: 1, partnerId: $p}) { id } }`,
				map[string]any{"p": partner}, &acc)
			var ap struct {
				ProvisionPackage []struct{ Services []struct{ ID string } }
			}
			b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { services { id } } }`,
				map[string]any{"in": map[string]any{"accountId": acc.CreateAccount.ID, "packageId": pkg.CreatePackage.ID,
					"frequencyId": pkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-01"}}, &ap)
			return ap.ProvisionPackage[0].Services[0].ID
		}
		own, partners := provision(nil), provision(part.CreatePartner.ID)

		const mutation = `mutation($recs: [UsageRecordInput!]!) { recordUsage(records: $recs) { accepted duplicates } }`
		recs := []any{
			map[string]any{"key": "r1", "accountServiceId": own, "quantity": "4", "date": "2024-01-03"},
			map[string]any{"key": "r2", "accountServiceId": own, "quantity": "7", "date": "2024-01-05"},
		}
		type result struct {
			RecordUsage struct{ Accepted, Duplicates int }
		}
		var res result
		b.MustQuery(mutation, map[string]any{"recs": recs}, &res)
		require.Equal(t, 2, res.RecordUsage.Accepted)
		require.Equal(t, 0, res.RecordUsage.Duplicates)
		b.MustQuery(mutation, map[string]any{"recs": recs}, &res)
		require.Equal(t, 0, res.RecordUsage.Accepted)
		require.Equal(t, 2, res.RecordUsage.Duplicates)

		id, err := b.DB.Client.UsageRecord.Query().FirstID(t.Context())
		require.NoError(t, err)
		var node struct {
			Node struct {
				Key, Quantity, Date string
				AccountService      struct{ ID string }
			}
		}
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on UsageRecord { key quantity date accountService { id } } } }`,
			map[string]any{"id": id}, &node)
		require.Equal(t, "r1", node.Node.Key)
		require.Equal(t, "4", node.Node.Quantity)
		require.Equal(t, "2024-01-03", node.Node.Date)
		require.Equal(t, own, node.Node.AccountService.ID)

		// The second record is too precise for MB: nothing of the batch is stored.
		r := b.Query(mutation, map[string]any{"recs": []any{
			map[string]any{"key": "r3", "accountServiceId": own, "quantity": "1", "date": "2024-01-06"},
			map[string]any{"key": "r4", "accountServiceId": own, "quantity": "1.5", "date": "2024-01-06"}}})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "records[1].quantity", r.Errors[0].Field())
		n, err := b.DB.Client.UsageRecord.Query().Count(t.Context())
		require.NoError(t, err)
		require.Equal(t, 2, n)

		// A partner key: its own account-service takes usage, another's is not found.
		var key struct{ CreateApiKey struct{ Key string } }
		b.MustQuery(`mutation($p: ID!) { createApiKey(input: {name: "reseller", role: PARTNER, partnerId: $p}) { key } }`,
			map[string]any{"p": part.CreatePartner.ID}, &key)
		pb := b.As(key.CreateApiKey.Key)
		pb.MustQuery(mutation, map[string]any{"recs": []any{
			map[string]any{"key": "p1", "accountServiceId": partners, "quantity": "1", "date": "2024-01-06"}}}, &res)
		require.Equal(t, 1, res.RecordUsage.Accepted)
		r = pb.Query(mutation, map[string]any{"recs": []any{
			map[string]any{"key": "p2", "accountServiceId": own, "quantity": "1", "date": "2024-01-06"}}})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		require.Equal(t, "records[0].accountServiceId", r.Errors[0].Field())
		var hidden struct{ Node *struct{ Key string } }
		pb.MustQuery(`query($id: ID!) { node(id: $id) { ... on UsageRecord { key } } }`, map[string]any{"id": id}, &hidden)
		require.Nil(t, hidden.Node, "another account's record is not visible to a partner")
	})
}

// TestUsageIdentifiers gives account-services usage identifiers through provisioning
// and records usage by them: an identifier names one live account-service in the
// whole system; clearing it frees it.
func TestUsageIdentifiers(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
		var line struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Line", kind: RECURRING}) { id } }`, nil, &line)
		var pkg struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($data: ID!, $line: ID!) { createPackage(input: {name: "Mobile", currencies: ["USD"],
			services: [{serviceId: $line}, {serviceId: $data}], frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) {
			id frequencies { id } } }`, map[string]any{"data": svc.CreateService.ID, "line": line.CreateService.ID}, &pkg)
		var acc struct{ CreateAccount struct{ ID string } }
		b.MustQuery(`mutation { createAccount(input: {name: "Customer", currency: "USD", billDay: 1}) { id } }`, nil, &acc)
		provisionN := func(services []any, copies int) testenv.Response {
			return b.Query(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) {
				services { id usageIdentifier service { id } } } }`,
				map[string]any{"in": map[string]any{"accountId": acc.CreateAccount.ID, "packageId": pkg.CreatePackage.ID,
					"frequencyId": pkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-01", "services": services,
					"quantity": copies}})
		}
		provision := func(services []any) testenv.Response { return provisionN(services, 1) }
		r := provision([]any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": " 555-0100 "}})
		require.Empty(t, r.Errors)
		var out struct {
			ProvisionPackage []struct {
				Services []struct {
					ID, UsageIdentifier string
					Service             struct{ ID string }
				}
			}
		}
		require.NoError(t, json.Unmarshal(r.Data, &out))
		var dataAS string
		for _, s := range out.ProvisionPackage[0].Services {
			if s.Service.ID == svc.CreateService.ID {
				dataAS = s.ID
				require.Equal(t, "555-0100", s.UsageIdentifier, "trimmed")
			}
		}

		for _, tc := range []struct {
			name, code, field string
			services          []any
			copies            int
		}{
			{"on several copies", "BAD_USER_INPUT", "input.services[0].usageIdentifier",
				[]any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": "555-0150"}}, 2},
			{"twice in one request", "BAD_USER_INPUT", "input.services[1].usageIdentifier",
				[]any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": "555-0151"},
					map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": "555-0151"}}, 1},
			{"taken", "CONFLICT", "input.services[0].usageIdentifier",
				[]any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": "555-0100"}}, 1},
			{"not a USAGE service", "BAD_USER_INPUT", "input.services[0].usageIdentifier",
				[]any{map[string]any{"serviceId": line.CreateService.ID, "usageIdentifier": "555-0199"}}, 1},
		} {
			r := provisionN(tc.services, tc.copies)
			require.Len(t, r.Errors, 1, tc.name)
			require.Equal(t, tc.code, r.Errors[0].Code(), "%s: %s", tc.name, r.Errors[0].Message)
			require.Equal(t, tc.field, r.Errors[0].Field(), tc.name)
		}

		const record = `mutation($recs: [UsageRecordInput!]!) { recordUsage(records: $recs) { accepted } }`
		var res struct{ RecordUsage struct{ Accepted int } }
		b.MustQuery(record, map[string]any{"recs": []any{
			map[string]any{"key": "x1", "usageIdentifier": "555-0100", "quantity": "12", "date": "2024-01-09"}}}, &res)
		require.Equal(t, 1, res.RecordUsage.Accepted)
		var node struct {
			Node struct{ AccountService struct{ ID string } }
		}
		id, err := b.DB.Client.UsageRecord.Query().OnlyID(t.Context())
		require.NoError(t, err)
		b.MustQuery(`query($id: ID!) { node(id: $id) { ... on UsageRecord { accountService { id } } } }`, map[string]any{"id": id}, &node)
		require.Equal(t, dataAS, node.Node.AccountService.ID)

		// Cleared, the identifier names nothing, and another account-service may take it.
		b.MustQuery(`mutation($id: ID!) { updateAccountService(id: $id, input: {usageIdentifier: ""}) { id } }`,
			map[string]any{"id": dataAS}, nil)
		r = b.Query(record, map[string]any{"recs": []any{
			map[string]any{"key": "x2", "usageIdentifier": "555-0100", "quantity": "1", "date": "2024-01-09"}}})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "NOT_FOUND", r.Errors[0].Code())
		require.Equal(t, "records[0].usageIdentifier", r.Errors[0].Field())
		r = provision([]any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": "555-0100"}})
		require.Empty(t, r.Errors)
	})
}

// TestAccountServiceUsage reads an account-service's usage by period: U6's bucket of
// 100 MB prorated to 55 for 2024-01-15..2024-01-31, the full 100 in February, and
// what the records of each period add up to.
func TestAccountServiceUsage(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
		var line struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Line", kind: RECURRING}) { id } }`, nil, &line)
		var pkg struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($data: ID!, $line: ID!) { createPackage(input: {name: "Mobile", currencies: ["USD"],
			services: [{serviceId: $line}, {serviceId: $data, included: "100"}],
			frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) { id frequencies { id } } }`,
			map[string]any{"data": svc.CreateService.ID, "line": line.CreateService.ID}, &pkg)
		var acc struct{ CreateAccount struct{ ID string } }
		b.MustQuery(`mutation { createAccount(input: {name: "Customer", currency: "USD", billDay: 1}) { id } }`, nil, &acc)
		var prov struct {
			ProvisionPackage []struct {
				Services []struct {
					ID      string
					Service struct{ ID string }
				}
			}
		}
		b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { services { id service { id } } } }`,
			map[string]any{"in": map[string]any{"accountId": acc.CreateAccount.ID, "packageId": pkg.CreatePackage.ID,
				"frequencyId": pkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-15"}}, &prov)
		var data, other string
		for _, s := range prov.ProvisionPackage[0].Services {
			if s.Service.ID == svc.CreateService.ID {
				data = s.ID
			} else {
				other = s.ID
			}
		}
		b.MustQuery(`mutation($recs: [UsageRecordInput!]!) { recordUsage(records: $recs) { accepted } }`, map[string]any{"recs": []any{
			map[string]any{"key": "a", "accountServiceId": data, "quantity": "30", "date": "2024-01-16"},
			map[string]any{"key": "b", "accountServiceId": data, "quantity": "50", "date": "2024-01-31"},
			map[string]any{"key": "c", "accountServiceId": data, "quantity": "12", "date": "2024-02-01"},
		}}, nil)
		type summary struct{ PeriodStart, PeriodEnd, Used, Included string }
		usageOn := func(id, on string) (summary, testenv.Response) {
			r := b.Query(`query($id: ID!, $on: Date) { node(id: $id) { ... on AccountService {
				usage(on: $on) { periodStart periodEnd used included } } } }`, map[string]any{"id": id, "on": on})
			var out struct{ Node struct{ Usage summary } }
			if len(r.Errors) == 0 {
				require.NoError(t, json.Unmarshal(r.Data, &out))
			}
			return out.Node.Usage, r
		}
		got, _ := usageOn(data, "2024-01-20")
		require.Equal(t, summary{"2024-01-15", "2024-01-31", "80", "55"}, got)
		got, _ = usageOn(data, "2024-02-29")
		require.Equal(t, summary{"2024-02-01", "2024-02-29", "12", "100"}, got)
		got, _ = usageOn(data, "2024-03-01")
		require.Equal(t, summary{"2024-03-01", "2024-03-31", "0", "100"}, got)

		for _, tc := range []struct{ id, on, field string }{{other, "2024-01-20", "id"}, {data, "2024-01-14", "on"}} {
			_, r := usageOn(tc.id, tc.on)
			require.NotEmpty(t, r.Errors)
			require.Equal(t, "FAILED_PRECONDITION", r.Errors[0].Code(), r.Errors[0].Message)
			require.Equal(t, tc.field, r.Errors[0].Field())
		}
	})
}

// TestUsageLevels sets usage bill days and rate plans on accounts, account-packages
// and account-services, reads them back, and checks U13's periods (usage bill day
// 15 on an account billed on the 1st) through usage(on:).
func TestUsageLevels(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var svc, line struct{ CreateService struct{ ID string } }
		b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
		b.MustQuery(`mutation { createService(input: {name: "Line", kind: RECURRING}) { id } }`, nil, &line)
		plan := func(cur string) string {
			var p struct{ CreateRatePlan struct{ ID string } }
			b.MustQuery(`mutation($c: String!) { createRatePlan(input: {name: "P", currency: $c, model: GRADUATED, tiers: [{unitPrice: "0.10"}]}) { id } }`,
				map[string]any{"c": cur}, &p)
			return p.CreateRatePlan.ID
		}
		usd, eur := plan("USD"), plan("EUR")
		var pkg struct {
			CreatePackage struct {
				ID          string
				Frequencies []struct{ ID string }
			}
		}
		b.MustQuery(`mutation($data: ID!, $line: ID!) { createPackage(input: {name: "Mobile", currencies: ["USD"],
			services: [{serviceId: $line}, {serviceId: $data}], frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) {
			id frequencies { id } } }`, map[string]any{"data": svc.CreateService.ID, "line": line.CreateService.ID}, &pkg)

		const createAccount = `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id usageBillDay ratePlan { id } } }`
		for _, tc := range []struct {
			in          map[string]any
			code, field string
		}{
			{map[string]any{"usageBillDay": 32}, "BAD_USER_INPUT", "input.usageBillDay"},
			{map[string]any{"ratePlanId": eur}, "BAD_USER_INPUT", "input.ratePlanId"},
			{map[string]any{"ratePlanId": "999999"}, "NOT_FOUND", "input.ratePlanId"},
		} {
			in := map[string]any{"name": "Refused", "currency": "USD", "billDay": 1}
			for k, v := range tc.in {
				in[k] = v
			}
			r := b.Query(createAccount, map[string]any{"in": in})
			require.Len(t, r.Errors, 1, "%v", tc.in)
			require.Equal(t, tc.code, r.Errors[0].Code(), r.Errors[0].Message)
			require.Equal(t, tc.field, r.Errors[0].Field())
		}
		var acc struct {
			CreateAccount struct {
				ID           string
				UsageBillDay int
				RatePlan     struct{ ID string }
			}
		}
		b.MustQuery(createAccount, map[string]any{"in": map[string]any{"name": "Customer", "currency": "USD", "billDay": 1,
			"usageBillDay": 15, "ratePlanId": usd}}, &acc)
		require.Equal(t, 15, acc.CreateAccount.UsageBillDay)
		require.Equal(t, usd, acc.CreateAccount.RatePlan.ID)

		const provision = `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) {
			id usageBillDay ratePlan { id } services { id service { id } ratePlan { id } } } }`
		base := func(extra map[string]any) map[string]any {
			in := map[string]any{"accountId": acc.CreateAccount.ID, "packageId": pkg.CreatePackage.ID,
				"frequencyId": pkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-01"}
			for k, v := range extra {
				in[k] = v
			}
			return map[string]any{"in": in}
		}
		for _, tc := range []struct {
			extra       map[string]any
			code, field string
		}{
			{map[string]any{"usageBillDay": 0}, "BAD_USER_INPUT", "input.usageBillDay"},
			{map[string]any{"ratePlanId": eur}, "BAD_USER_INPUT", "input.ratePlanId"},
			{map[string]any{"services": []any{map[string]any{"serviceId": line.CreateService.ID, "ratePlanId": usd}}},
				"BAD_USER_INPUT", "input.services[0].ratePlanId"},
			{map[string]any{"services": []any{map[string]any{"serviceId": svc.CreateService.ID,
				"priceOverrides": []any{map[string]any{"status": "ACTIVE", "amount": "1.00"}}}}},
				"BAD_USER_INPUT", "input.services[0].priceOverrides"},
		} {
			r := b.Query(provision, base(tc.extra))
			require.Len(t, r.Errors, 1, "%v", tc.extra)
			require.Equal(t, tc.code, r.Errors[0].Code(), r.Errors[0].Message)
			require.Equal(t, tc.field, r.Errors[0].Field())
		}
		var prov struct {
			ProvisionPackage []struct {
				ID           string
				UsageBillDay *int
				RatePlan     *struct{ ID string }
				Services     []struct {
					ID       string
					Service  struct{ ID string }
					RatePlan *struct{ ID string }
				}
			}
		}
		b.MustQuery(provision, base(map[string]any{"ratePlanId": usd,
			"services": []any{map[string]any{"serviceId": svc.CreateService.ID, "ratePlanId": usd}}}), &prov)
		ap := prov.ProvisionPackage[0]
		require.Nil(t, ap.UsageBillDay, "the account's usage bill day applies")
		require.Equal(t, usd, ap.RatePlan.ID)
		var data string
		for _, s := range ap.Services {
			if s.Service.ID == svc.CreateService.ID {
				data = s.ID
				require.Equal(t, usd, s.RatePlan.ID)
			} else {
				require.Nil(t, s.RatePlan)
			}
		}

		r := b.Query(`mutation($id: ID!) { updateAccountService(id: $id, input: {priceOverrides: [{status: "ACTIVE", amount: "1"}]}) { id } }`,
			map[string]any{"id": data})
		require.Len(t, r.Errors, 1)
		require.Equal(t, "BAD_USER_INPUT", r.Errors[0].Code())
		require.Equal(t, "input.priceOverrides", r.Errors[0].Field())

		// U13: usage periods on the 15th while recurring periods stay on the 1st.
		type summary struct{ PeriodStart, PeriodEnd string }
		for on, want := range map[string]summary{
			"2024-01-05": {"2024-01-01", "2024-01-14"},
			"2024-01-20": {"2024-01-15", "2024-02-14"},
		} {
			var out struct{ Node struct{ Usage summary } }
			b.MustQuery(`query($id: ID!, $on: Date) { node(id: $id) { ... on AccountService { usage(on: $on) { periodStart periodEnd } } } }`,
				map[string]any{"id": data, "on": on}, &out)
			require.Equal(t, want, out.Node.Usage, on)
		}
	})
}
