package graph_test

// Usage billing through the API: every worked example of docs/billing.md 6.6 (U1-U14)
// on each database. Each example has its own account and bills only it; the amounts
// are worked out by hand from the rules, in the comment next to each.
//
// Conventions asserted here as billd defines them: a USAGE line has quantity 1 and
// its amount as unit amount; usedQuantity is what was used in its period and
// billedQuantity what was left after buckets and the pool (for a late-usage line,
// the differences from the period's earlier lines).

import (
	"context"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/store"
)

// uxEnv adds usage helpers to the billing tests' environment.
type uxEnv struct{ *bxEnv }

func uxEach(t *testing.T, fn func(u uxEnv)) {
	t.Helper()
	bxEach(t, func(e *bxEnv) { fn(uxEnv{e}) })
}

// usageService creates a USAGE service measured in MB, with no decimals.
func (u uxEnv) usageService(name string) string {
	u.t.Helper()
	var out struct{ CreateService struct{ ID string } }
	u.b.MustQuery(`mutation($n: String!) { createService(input: {name: $n, kind: USAGE, unit: "MB"}) { id } }`,
		map[string]any{"n": name}, &out)
	return out.CreateService.ID
}

// uxTier is a tier: upTo ("" for none), unit price, flat fee.
type uxTier struct{ upTo, unit, flat string }

// plan creates a USD rate plan.
func (u uxEnv) plan(model string, tiers ...uxTier) string {
	u.t.Helper()
	var ts []any
	for _, t := range tiers {
		m := map[string]any{"unitPrice": t.unit}
		if t.upTo != "" {
			m["upTo"] = t.upTo
		}
		if t.flat != "" {
			m["flatFee"] = t.flat
		}
		ts = append(ts, m)
	}
	var out struct{ CreateRatePlan struct{ ID string } }
	u.b.MustQuery(`mutation($m: RatingModel!, $t: [RateTierInput!]!) { createRatePlan(input: {name: "Plan", currency: "USD",
		model: $m, tiers: $t}) { id } }`, map[string]any{"m": model, "t": ts}, &out)
	return out.CreateRatePlan.ID
}

// flat is a one-tier GRADUATED plan: every unit at price.
func (u uxEnv) flat(price string) string { return u.plan("GRADUATED", uxTier{unit: price}) }

// uxSvc is a package service of a usage package: its service, bucket, and the rate
// plan on its price ("" for none); recurring is a recurring ACTIVE price instead.
type uxSvc struct {
	id, included string
	shared       bool
	plan         string
	recurring    string
}

// usagePackage creates a monthly USD package; flags adds package fields; freqPlan is
// the frequency's plan ("" for none).
func (u uxEnv) usagePackage(flags map[string]any, freqPlan string, svcs ...uxSvc) bxPkg {
	u.t.Helper()
	services, prices := []any{}, []any{}
	for _, s := range svcs {
		ps := map[string]any{"serviceId": s.id}
		if s.included != "" {
			ps["included"] = s.included
		}
		if s.shared {
			ps["shared"] = true
		}
		services = append(services, ps)
		switch {
		case s.recurring != "":
			prices = append(prices, bxPrice(s.id, "ACTIVE", s.recurring))
		case s.plan != "":
			prices = append(prices, map[string]any{"serviceId": s.id, "currency": "USD", "ratePlanId": s.plan})
		}
	}
	freq := map[string]any{"name": "Monthly", "interval": "MONTH", "prices": prices}
	if freqPlan != "" {
		freq["ratePlanId"] = freqPlan
	}
	in := map[string]any{"name": "Usage package " + strconv.FormatInt(uxKeys.Add(1), 10), "currencies": []any{"USD"}, "services": services,
		"frequencies": []any{freq}}
	for k, v := range flags {
		in[k] = v
	}
	var out struct {
		CreatePackage struct {
			ID          string
			Frequencies []struct{ ID string }
		}
	}
	u.b.MustQuery(`mutation($in: CreatePackageInput!) { createPackage(input: $in) { id frequencies { id } } }`,
		map[string]any{"in": in}, &out)
	return bxPkg{ID: out.CreatePackage.ID, Freq: out.CreatePackage.Frequencies[0].ID}
}

// uxAP is a provisioned account-package: its id and its account-services by service id.
type uxAP struct {
	ID       string
	services map[string]string
}

// provisionUsage provisions p effective on effective; extra adds input fields.
func (u uxEnv) provisionUsage(p bxPkg, acc, effective string, extra map[string]any) uxAP {
	u.t.Helper()
	in := map[string]any{"accountId": acc, "packageId": p.ID, "frequencyId": p.Freq, "effectiveDate": effective}
	for k, v := range extra {
		in[k] = v
	}
	var out struct {
		ProvisionPackage []struct {
			ID       string
			Services []struct {
				ID      string
				Service struct{ ID string }
			}
		}
	}
	u.b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id services { id service { id } } } }`,
		map[string]any{"in": in}, &out)
	ap := uxAP{ID: out.ProvisionPackage[0].ID, services: map[string]string{}}
	for _, s := range out.ProvisionPackage[0].Services {
		ap.services[s.Service.ID] = s.ID
	}
	return ap
}

var uxKeys atomic.Int64

// record records usage of an account-service: pairs of date and quantity.
func (u uxEnv) record(accountService string, dateQty ...string) {
	u.t.Helper()
	var recs []any
	for i := 0; i+1 < len(dateQty); i += 2 {
		recs = append(recs, map[string]any{"key": "k" + strconv.FormatInt(uxKeys.Add(1), 10), "accountServiceId": accountService,
			"date": dateQty[i], "quantity": dateQty[i+1]})
	}
	var out struct{ RecordUsage struct{ Accepted int } }
	u.b.MustQuery(`mutation($r: [UsageRecordInput!]!) { recordUsage(records: $r) { accepted } }`, map[string]any{"r": recs}, &out)
	require.Equal(u.t, len(recs), out.RecordUsage.Accepted)
}

// bill runs a bill run over [start, end] for one account.
func (u uxEnv) bill(acc, start, end string) bxRun {
	u.t.Helper()
	return u.run(start, end, map[string]any{"accountIds": []any{acc}})
}

// uxLine is a line as the usage examples check it: kind, service, period, amount,
// used and billed quantities ("" for null).
type uxLine struct{ Kind, Service, Start, End, Amount, Used, Billed string }

// lines returns the lines run r put on acc's invoice (none: no invoice), sorted.
func (u uxEnv) lines(r bxRun, acc string) []uxLine {
	u.t.Helper()
	var out struct {
		Node struct {
			Invoices struct {
				Edges []struct {
					Node struct {
						Total   string
						BillRun *struct{ ID string }
						Lines   []struct {
							Kind                         string
							Service                      struct{ Name string }
							PeriodStart, PeriodEnd       string
							Quantity                     int
							UnitAmount, Amount           string
							UsedQuantity, BilledQuantity *string
						}
					}
				}
			}
		}
	}
	u.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on Account { invoices(first: 100) { edges { node { total billRun { id }
		lines { kind service { name } periodStart periodEnd quantity unitAmount amount usedQuantity billedQuantity } } } } } } }`,
		map[string]any{"id": acc}, &out)
	ls := []uxLine{}
	for _, ed := range out.Node.Invoices.Edges {
		if ed.Node.BillRun == nil || ed.Node.BillRun.ID != r.ID {
			continue
		}
		for _, l := range ed.Node.Lines {
			x := uxLine{Kind: l.Kind, Service: l.Service.Name, Start: l.PeriodStart, End: l.PeriodEnd, Amount: l.Amount}
			if l.Kind == "USAGE" {
				require.Equal(u.t, 1, l.Quantity, "a USAGE line's quantity")
				require.Equal(u.t, l.Amount, l.UnitAmount, "a USAGE line's unit amount")
				require.NotNil(u.t, l.UsedQuantity)
				require.NotNil(u.t, l.BilledQuantity)
				x.Used, x.Billed = *l.UsedQuantity, *l.BilledQuantity
			} else {
				require.Nil(u.t, l.UsedQuantity)
				require.Nil(u.t, l.BilledQuantity)
			}
			ls = append(ls, x)
		}
	}
	uxSort(ls)
	return ls
}

// uxSort orders lines by period, kind and service.
func uxSort(ls []uxLine) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.Service < b.Service
	})
}

// requireLines checks the lines run r put on acc's invoice.
func (u uxEnv) requireLines(r bxRun, acc string, want ...uxLine) {
	u.t.Helper()
	require.Equal(u.t, "COMPLETED", r.Status, "run errors %v", r.Errors)
	want = append([]uxLine{}, want...)
	uxSort(want)
	require.Equal(u.t, want, u.lines(r, acc))
}

// usage is a USAGE line of service svc.
func usage(svc, start, end, amount, used, billed string) uxLine {
	return uxLine{"USAGE", svc, start, end, amount, used, billed}
}

// TestUsageExamplesRating: U1-U3, tiers of both models.
func TestUsageExamplesRating(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data := u.usageService("Data")
		tiers := []uxTier{{"10", "1.50", ""}, {"110", "1.00", ""}, {"", "0.50", ""}}
		graduated, volume := u.plan("GRADUATED", tiers...), u.plan("VOLUME", tiers...)
		one := func(plan string, used string) (string, string) {
			acc := u.account("U", 1)
			ap := u.provisionUsage(u.usagePackage(nil, "", uxSvc{id: data, plan: plan}), acc, "2024-01-01", nil)
			u.record(ap.services[data], "2024-01-05", used)
			return acc, ap.ID
		}

		// U1: 111 used: 10 × 1.50 + 100 × 1.00 + 1 × 0.50 = 115.50, billed by the run
		// after January ends, not by January's.
		acc, _ := one(graduated, "111")
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc)
		feb := u.bill(acc, "2024-02-01", "2024-02-29")
		u.requireLines(feb, acc, usage("Data", "2024-01-01", "2024-01-31", "115.50", "111", "111"))
		// Exactly once: the same range again bills nothing.
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc)

		// U2: VOLUME: 111 × 0.50 = 55.50; 110 × 1.00 = 110.00; 10 × 1.50 = 15.00.
		for _, c := range []struct{ used, amount string }{{"111", "55.50"}, {"110", "110.00"}, {"10", "15.00"}} {
			acc, _ := one(volume, c.used)
			u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc,
				usage("Data", "2024-01-01", "2024-01-31", c.amount, c.used, c.used))
		}

		// U3 GRADUATED: 22 used: flat 100 + flat 50 + 5 × 5 + 7 × 1 = 182.00.
		g3 := u.plan("GRADUATED", uxTier{"5", "0", "100"}, uxTier{"10", "0", "50"}, uxTier{"15", "5", ""}, uxTier{"", "1", ""})
		acc, _ = one(g3, "22")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", "182.00", "22", "22"))
		// U3 VOLUME: 14 → 14 × 10 = 140.00; 16 → 16 × 5 = 80.00; 0 → no line.
		v3 := u.plan("VOLUME", uxTier{"5", "0", "100"}, uxTier{"10", "0", "150"}, uxTier{"15", "10", ""}, uxTier{"", "5", ""})
		for _, c := range []struct{ used, amount string }{{"14", "140.00"}, {"16", "80.00"}} {
			acc, _ := one(v3, c.used)
			u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc,
				usage("Data", "2024-01-01", "2024-01-31", c.amount, c.used, c.used))
		}
		acc, _ = one(v3, "0")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc)
	})
}

// TestUsageExamplesBuckets: U4-U6 and U14, buckets, the shared pool and their
// proration.
func TestUsageExamplesBuckets(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data, roaming, video := u.usageService("Data"), u.usageService("Roaming"), u.usageService("Video")
		tenCents := u.flat("0.10")
		bucket := u.usagePackage(nil, "", uxSvc{id: data, included: "100", plan: tenCents})

		// U4: 130 used, 100 included: 30 × 0.10 = 3.00.
		acc := u.account("U4", 1)
		ap := u.provisionUsage(bucket, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-10", "130")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", "3.00", "130", "30"))

		// U5: Data uses 60 of its shared 100; Roaming takes the 40 left and pays
		// 30 × 0.50 = 15.00; Video pays 25 × 0.20 = 5.00; Data has no line.
		pooled := u.usagePackage(nil, "", uxSvc{id: data, included: "100", shared: true, plan: tenCents},
			uxSvc{id: roaming, plan: u.flat("0.50")}, uxSvc{id: video, plan: u.flat("0.20")})
		acc = u.account("U5", 1)
		ap = u.provisionUsage(pooled, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-03", "60")
		u.record(ap.services[roaming], "2024-01-04", "70")
		u.record(ap.services[video], "2024-01-05", "25")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc,
			usage("Roaming", "2024-01-01", "2024-01-31", "15.00", "70", "30"),
			usage("Video", "2024-01-01", "2024-01-31", "5.00", "25", "25"))

		// U6: effective 2024-01-15: bucket 100 × 17/31 = 54.8 → 55; 80 − 55 = 25 × 0.10.
		acc = u.account("U6", 1)
		ap = u.provisionUsage(bucket, acc, "2024-01-15", nil)
		u.record(ap.services[data], "2024-01-20", "80")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-15", "2024-01-31", "2.50", "80", "25"))

		// U14: canceled on 2024-01-21 PRORATED: the final period 2024-01-01..01-20 has
		// a bucket of 100 × 20/31 = 64.5 → 65; 70 − 65 = 5 × 0.10 = 0.50, billed by
		// January's run since the period ends before the range does.
		acc = u.account("U14", 1)
		ap = u.provisionUsage(bucket, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-10", "70")
		u.cancel(ap.ID, "2024-01-21", "PRORATED")
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, usage("Data", "2024-01-01", "2024-01-20", "0.50", "70", "5"))
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc)
	})
}

// TestUsageExamplesLate: U7 and U8, late usage as difference lines.
func TestUsageExamplesLate(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data := u.usageService("Data")

		// U7: U4 billed 3.00 for January; 50 more dated 2024-01-20: 180 − 100 = 80 ×
		// 0.10 = 8.00, a further 5.00 for January (50 used, 50 billed more).
		acc := u.account("U7", 1)
		ap := u.provisionUsage(u.usagePackage(nil, "", uxSvc{id: data, included: "100", plan: u.flat("0.10")}), acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-10", "130")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", "3.00", "130", "30"))
		u.record(ap.services[data], "2024-01-20", "50")
		u.requireLines(u.bill(acc, "2024-03-01", "2024-03-31"), acc, usage("Data", "2024-01-01", "2024-01-31", "5.00", "50", "50"))
		u.requireLines(u.bill(acc, "2024-03-01", "2024-03-31"), acc)

		for _, c := range []struct {
			name, model       string
			tiers             []uxTier
			first, late, diff string // the first billing's amount, the late records, their line
		}{
			// U8: up to 100 at 0.05, then 0.02: 90 → 4.50; 20 more → 100 × 0.05 + 10 ×
			// 0.02 = 5.20, a further 0.70.
			{"U8", "GRADUATED", []uxTier{{"100", "0.05", ""}, {"", "0.02", ""}}, "4.50", "20", "0.70"},
			// A VOLUME tier crossed by late usage makes a negative difference: up to
			// 100 at 0.10, then 0.05: 90 → 9.00; 20 more → 110 × 0.05 = 5.50, −3.50.
			{"Volume", "VOLUME", []uxTier{{"100", "0.10", ""}, {"", "0.05", ""}}, "9.00", "20", "-3.50"},
		} {
			acc := u.account(c.name, 1)
			ap := u.provisionUsage(u.usagePackage(nil, "", uxSvc{id: data, plan: u.plan(c.model, c.tiers...)}), acc, "2024-01-01", nil)
			u.record(ap.services[data], "2024-01-10", "90")
			u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", c.first, "90", "90"))
			u.record(ap.services[data], "2024-01-25", c.late)
			u.requireLines(u.bill(acc, "2024-03-01", "2024-03-31"), acc, usage("Data", "2024-01-01", "2024-01-31", c.diff, c.late, c.late))
		}
	})
}

// TestUsageExamplesPackages: U9-U11 and U13, charge-only-if-used packages,
// activation and the usage bill day.
func TestUsageExamplesPackages(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data, line := u.usageService("Data"), u.service("Line", "RECURRING")
		tenCents := u.flat("0.10")

		// U9: Jan has a record of 0 MB: RECURRING 10.00 for January; February has none
		// until 5 MB arrive after March's run: April's run charges February once.
		only := u.usagePackage(map[string]any{"chargeRecurringOnlyIfUsage": true}, "",
			uxSvc{id: line, recurring: "10.00"}, uxSvc{id: data, plan: tenCents})
		acc := u.account("U9", 1)
		ap := u.provisionUsage(only, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-10", "0")
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, uxLine{"RECURRING", "Line", "2024-01-01", "2024-01-31", "10.00", "", ""})
		u.requireLines(u.bill(acc, "2024-03-01", "2024-03-31"), acc)
		u.record(ap.services[data], "2024-02-10", "5")
		u.requireLines(u.bill(acc, "2024-04-01", "2024-04-30"), acc,
			uxLine{"RECURRING", "Line", "2024-02-01", "2024-02-29", "10.00", "", ""},
			usage("Data", "2024-02-01", "2024-02-29", "0.50", "5", "5"))
		u.requireLines(u.bill(acc, "2024-04-01", "2024-04-30"), acc)

		// U10: threshold 10 MB reached by the record of 2024-01-05 (4 + 7):
		// January 30.00 × 27/31 = 26.13; February 30.00 and the usage since the
		// activation, 7 × 0.10 = 0.70 (the 4 MB before it are not billed).
		threshold := u.usagePackage(map[string]any{"activation": map[string]any{"usageThreshold": "10", "serviceId": data}}, "",
			uxSvc{id: line, recurring: "30.00"}, uxSvc{id: data, plan: tenCents})
		acc = u.account("U10", 1)
		ap = u.provisionUsage(threshold, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-03", "4")
		require.Nil(u.t, u.activatedOn(ap.ID))
		u.record(ap.services[data], "2024-01-05", "7")
		require.Equal(u.t, "2024-01-05", *u.activatedOn(ap.ID))
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, uxLine{"RECURRING", "Line", "2024-01-05", "2024-01-31", "26.13", "", ""})
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc,
			uxLine{"RECURRING", "Line", "2024-02-01", "2024-02-29", "30.00", "", ""},
			usage("Data", "2024-01-05", "2024-01-31", "0.70", "7", "7"))

		// U11: afterDays 7, no usage: activated on 2024-01-08 by January's run:
		// 30.00 × 24/31 = 23.23.
		after := u.usagePackage(map[string]any{"activation": map[string]any{"afterDays": 7}}, "",
			uxSvc{id: line, recurring: "30.00"}, uxSvc{id: data, plan: tenCents})
		acc = u.account("U11", 1)
		ap = u.provisionUsage(after, acc, "2024-01-01", nil)
		require.Nil(u.t, u.activatedOn(ap.ID))
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-07"), acc)
		require.Nil(u.t, u.activatedOn(ap.ID), "a run ending before the day does not reach it")
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, uxLine{"RECURRING", "Line", "2024-01-08", "2024-01-31", "23.23", "", ""})
		require.Equal(u.t, "2024-01-08", *u.activatedOn(ap.ID))

		// U13: usage bill day 15: January's run bills 2024-01-01..01-14 (10 × 0.10);
		// February's 2024-01-15..02-14 (20 × 0.10).
		var out struct{ CreateAccount struct{ ID string } }
		u.b.MustQuery(`mutation { createAccount(input: {name: "U13", currency: "USD", billDay: 1, usageBillDay: 15}) { id } }`, nil, &out)
		acc = out.CreateAccount.ID
		ap = u.provisionUsage(u.usagePackage(nil, "", uxSvc{id: data, plan: tenCents}), acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-05", "10", "2024-01-20", "20")
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, usage("Data", "2024-01-01", "2024-01-14", "1.00", "10", "10"))
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-15", "2024-02-14", "2.00", "20", "20"))
	})
}

// activatedOn reads an account-package's activation day.
func (u uxEnv) activatedOn(ap string) *string {
	u.t.Helper()
	var out struct{ Node struct{ ActivatedOn *string } }
	u.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on AccountPackage { activatedOn } } }`, map[string]any{"id": ap}, &out)
	return out.Node.ActivatedOn
}

// TestUsageExamplesLevels: U12, the rate plan precedence, and NO_RATE_PLAN.
func TestUsageExamplesLevels(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data := u.usageService("Data")
		account, freq, ap, price, as := u.flat("0.05"), u.flat("0.04"), u.flat("0.02"), u.flat("0.03"), u.flat("0.01")
		full := u.usagePackage(nil, freq, uxSvc{id: data, plan: price})
		freqOnly := u.usagePackage(nil, freq, uxSvc{id: data})
		none := u.usagePackage(nil, "", uxSvc{id: data})
		open := func(plan string) string {
			in := map[string]any{"name": "U12", "currency": "USD", "billDay": 1}
			if plan != "" {
				in["ratePlanId"] = plan
			}
			var out struct{ CreateAccount struct{ ID string } }
			u.b.MustQuery(`mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`, map[string]any{"in": in}, &out)
			return out.CreateAccount.ID
		}
		// 100 used at each level that applies, dropping them from the narrowest.
		for _, c := range []struct {
			name            string
			pkg             bxPkg
			accPlan, apPlan string
			asPlan          string
			amount          string
		}{
			{"account-service", full, account, ap, as, "1.00"},
			{"service price", full, account, ap, "", "3.00"},
			{"account-package", freqOnly, account, ap, "", "2.00"},
			{"package frequency", freqOnly, account, "", "", "4.00"},
			{"account", none, account, "", "", "5.00"},
		} {
			acc := open(c.accPlan)
			extra := map[string]any{}
			if c.apPlan != "" {
				extra["ratePlanId"] = c.apPlan
			}
			if c.asPlan != "" {
				extra["services"] = []any{map[string]any{"serviceId": data, "ratePlanId": c.asPlan}}
			}
			x := u.provisionUsage(c.pkg, acc, "2024-01-01", extra)
			u.record(x.services[data], "2024-01-10", "100")
			u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", c.amount, "100", "100"))
		}

		// No level: the account fails with NO_RATE_PLAN and nothing of it is billed.
		acc := open("")
		x := u.provisionUsage(none, acc, "2024-01-01", nil)
		u.record(x.services[data], "2024-01-10", "100")
		r := u.bill(acc, "2024-02-01", "2024-02-29")
		require.Equal(u.t, "COMPLETED_WITH_ERRORS", r.Status)
		require.Equal(u.t, 1, r.AccountsFailed)
		var errs struct {
			Node struct {
				Errors []struct {
					Code    string
					Account struct{ ID string }
				}
			}
		}
		u.b.MustQuery(`query($id: ID!) { node(id: $id) { ... on BillRun { errors { code account { id } } } } }`,
			map[string]any{"id": r.ID}, &errs)
		require.Len(u.t, errs.Node.Errors, 1)
		require.Equal(u.t, "NO_RATE_PLAN", errs.Node.Errors[0].Code)
		require.Equal(u.t, acc, errs.Node.Errors[0].Account.ID)
		require.Empty(u.t, u.lines(r, acc))

		// With a plan on the account now, the next run bills the period.
		u.b.MustQuery(`mutation($id: ID!, $p: ID!) { updateAccount(id: $id, input: {ratePlanId: $p}) { id } }`,
			map[string]any{"id": acc, "p": account}, nil)
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", "5.00", "100", "100"))
		// Its usage is billed on bill day 1: the usage bill day can no longer change,
		// for the account or the package; the plan still can, and be cleared.
		for _, q := range []struct{ query, field string }{
			{`mutation($id: ID!) { updateAccount(id: $id, input: {usageBillDay: 15}) { id } }`, "input.usageBillDay"},
		} {
			res := u.b.Query(q.query, map[string]any{"id": acc})
			require.Len(u.t, res.Errors, 1)
			require.Equal(u.t, "FAILED_PRECONDITION", res.Errors[0].Code(), res.Errors[0].Message)
			require.Equal(u.t, q.field, res.Errors[0].Field())
		}
		res := u.b.Query(`mutation($id: ID!) { updateAccountPackage(id: $id, input: {usageBillDay: 15}) { id } }`,
			map[string]any{"id": x.ID})
		require.Len(u.t, res.Errors, 1)
		require.Equal(u.t, "FAILED_PRECONDITION", res.Errors[0].Code(), res.Errors[0].Message)
		require.Equal(u.t, "input.usageBillDay", res.Errors[0].Field())
		res = u.b.Query(`mutation($id: ID!, $p: ID!) { updateAccount(id: $id, input: {ratePlanId: $p, clearRatePlan: true}) { id } }`,
			map[string]any{"id": acc, "p": account})
		require.Equal(u.t, "BAD_USER_INPUT", res.Errors[0].Code())
		var cleared struct {
			UpdateAccount struct{ RatePlan *struct{ ID string } }
		}
		u.b.MustQuery(`mutation($id: ID!) { updateAccount(id: $id, input: {clearRatePlan: true}) { ratePlan { id } } }`,
			map[string]any{"id": acc}, &cleared)
		require.Nil(u.t, cleared.UpdateAccount.RatePlan)

		// Before any usage is billed, a package's usage bill day and plan may change:
		// 15 and 0.02 bill 2024-01-01..01-14 (40 × 0.02) in January's run.
		acc = open("")
		x = u.provisionUsage(none, acc, "2024-01-01", nil)
		u.record(x.services[data], "2024-01-10", "40")
		u.b.MustQuery(`mutation($id: ID!, $p: ID!) { updateAccountPackage(id: $id, input: {usageBillDay: 15, ratePlanId: $p}) { id } }`,
			map[string]any{"id": x.ID, "p": ap}, nil)
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, usage("Data", "2024-01-01", "2024-01-14", "0.80", "40", "40"))
	})
}

// TestUsageBillUsageOption: billUsage false leaves usage for a later run.
func TestUsageBillUsageOption(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data, line := u.usageService("Data"), u.service("Line", "RECURRING")
		p := u.usagePackage(nil, "", uxSvc{id: line, recurring: "10.00"}, uxSvc{id: data, plan: u.flat("0.10")})
		acc := u.account("Option", 1)
		ap := u.provisionUsage(p, acc, "2024-01-01", nil)
		u.record(ap.services[data], "2024-01-10", "30")
		u.requireLines(u.bill(acc, "2024-01-01", "2024-01-31"), acc, uxLine{"RECURRING", "Line", "2024-01-01", "2024-01-31", "10.00", "", ""})
		r := u.run("2024-02-01", "2024-02-29", map[string]any{"accountIds": []any{acc}, "billUsage": false})
		u.requireLines(r, acc, uxLine{"RECURRING", "Line", "2024-02-01", "2024-02-29", "10.00", "", ""})
		u.requireLines(u.bill(acc, "2024-02-01", "2024-02-29"), acc, usage("Data", "2024-01-01", "2024-01-31", "3.00", "30", "30"))
	})
}

// TestUsageActivationJob: the daily activation job of the job system activates a
// package waiting for afterDays once today reaches the day, without a bill run; one
// whose day has not come, and one activated earlier by its threshold, stay as they
// are.
func TestUsageActivationJob(t *testing.T) {
	t.Parallel()
	uxEach(t, func(u uxEnv) {
		data, line := u.usageService("Data"), u.service("Line", "RECURRING")
		p := u.usagePackage(map[string]any{"activation": map[string]any{"afterDays": 7, "usageThreshold": "10", "serviceId": data}}, "",
			uxSvc{id: line, recurring: "30.00"}, uxSvc{id: data, plan: u.flat("0.10")})
		u.b.Clock.Set(time.Date(2024, 1, 12, 9, 0, 0, 0, time.UTC))
		acc := u.account("Job", 1)
		due := u.provisionUsage(p, acc, "2024-01-05", nil)     // day 2024-01-12: today
		later := u.provisionUsage(p, acc, "2024-01-06", nil)   // day 2024-01-13: tomorrow
		byUsage := u.provisionUsage(p, acc, "2024-01-01", nil) // threshold reached on 2024-01-03
		u.record(byUsage.services[data], "2024-01-03", "12")
		require.Equal(u.t, "2024-01-03", *u.activatedOn(byUsage.ID))

		ctx := context.Background()
		require.NoError(u.t, store.InTx(ctx, u.b.DB.Client, func(ctx context.Context) error {
			return u.b.Jobs.Insert(ctx, billing.ActivationArgs{}, nil)
		}))
		deadline := time.Now().Add(30 * time.Second)
		for u.activatedOn(due.ID) == nil {
			require.True(u.t, time.Now().Before(deadline), "the activation job did not run")
			time.Sleep(20 * time.Millisecond)
		}
		require.Equal(u.t, "2024-01-12", *u.activatedOn(due.ID))
		require.Nil(u.t, u.activatedOn(later.ID))
		require.Equal(u.t, "2024-01-03", *u.activatedOn(byUsage.ID))

		// January's run bills each from its activation day: 30.00 × 20/31 = 19.35
		// (from 01-12), × 19/31 = 18.39 (from 01-13, activated by the run), and
		// × 29/31 = 28.06 (from 01-03).
		r := u.bill(acc, "2024-01-01", "2024-01-31")
		u.requireLines(r, acc,
			uxLine{"RECURRING", "Line", "2024-01-03", "2024-01-31", "28.06", "", ""},
			uxLine{"RECURRING", "Line", "2024-01-12", "2024-01-31", "19.35", "", ""},
			uxLine{"RECURRING", "Line", "2024-01-13", "2024-01-31", "18.39", "", ""})
		require.Equal(u.t, "2024-01-13", *u.activatedOn(later.ID))
	})
}
