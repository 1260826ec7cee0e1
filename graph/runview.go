package graph

import (
	"context"
	"slices"
	"sort"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/billd/billd/ent"
	entbillrun "github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/graph/model"
	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/money"
)

// A bill run bills every customer of the operator, so a PARTNER key sees it with its
// own figures only (billrun.View): its accounts, failures, invoices, charges and
// totals. The figures of every run a response shows are computed together, in a fixed
// number of statements, however many runs or aliases the query names.

// partnerViewsKey names the loader of one partner's run figures.
type partnerViewsKey struct{ partner int }

// runView returns the figures of run as the caller may see them: nil for a key that
// sees the run's own counters, else the partner's view.
func (r *Resolver) runView(ctx context.Context, run *ent.BillRun) (*billrun.View, error) {
	partner, ok := access.PartnerOf(ctx)
	if !ok {
		return nil, nil
	}
	if sentBySubscription(ctx) {
		// The subscription put the partner's figures on the run it sent, and chose to
		// send it because they moved: show exactly those.
		return &billrun.View{AccountsTotal: run.AccountsTotal, AccountsProcessed: run.AccountsProcessed,
			AccountsFailed: run.AccountsFailed, InvoicesCreated: run.InvoicesCreated,
			ChargesCreated: run.ChargesCreated, Totals: run.Totals}, nil
	}
	id := rowOf(func(r *ent.BillRun) (int, bool) { return r.ID, true })
	return loadFor(ctx, partnerViewsKey{partner}, run, run.ID, id, func(ctx context.Context, runs []int) ([]*billrun.View, []error) {
		views, err := r.partnerViews(ctx, runs, partner)
		out := make([]*billrun.View, len(runs))
		errs := make([]error, len(runs))
		for i, id := range runs {
			out[i], errs[i] = views[id], err
		}
		return out, errs
	})
}

// partnerViews reads the figures of runs over partner's accounts. PartnerViews filters
// by partner itself and reads billd's batch bookkeeping, which partners cannot see.
func (r *Resolver) partnerViews(ctx context.Context, runs []int, partner int) (map[int]*billrun.View, error) {
	return r.BillRuns.PartnerViews(access.Unscoped(ctx), runs, partner)
}

// runFigure returns one figure of run: its own, or the caller's partner's.
func (r *Resolver) runFigure(ctx context.Context, run *ent.BillRun, own int, of func(*billrun.View) int) (int, error) {
	v, err := r.runView(ctx, run)
	if err != nil || v == nil {
		return own, err
	}
	return of(v), nil
}

// currenciesKey names the loader of the currencies by code.
type currenciesKey struct{}

// moneyTotals lists amounts by currency code in code order, with their currencies:
// the currency table (a few hundred rows at most) is read once per response.
func (r *Resolver) moneyTotals(ctx context.Context, totals map[string]money.Decimal) ([]*model.MoneyTotal, error) {
	codes := make([]string, 0, len(totals))
	for code := range totals {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	byCode, err := onceFor(ctx, currenciesKey{}, func(ctx context.Context) (map[string]*ent.Currency, error) {
		curs, err := r.Client.Currency.Query().All(ctx)
		byCode := make(map[string]*ent.Currency, len(curs))
		for _, c := range curs {
			byCode[c.Code] = c
		}
		return byCode, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*model.MoneyTotal, 0, len(codes))
	for _, code := range codes {
		if cur := byCode[code]; cur != nil {
			out = append(out, &model.MoneyTotal{Currency: cur, Amount: totals[code]})
		}
	}
	return out, nil
}

// figuresMoved returns a filter for the runs a subscription sends a PARTNER key: it
// gives the run to send, a copy carrying the partner's figures, and whether the run's
// status or those figures changed since it last passed, so a partner hears of a run
// only when something of its own moved. Other keys see the run's own counters, and
// the filter passes every run as it is.
func (r *Resolver) figuresMoved(ctx context.Context) func(*ent.BillRun) (*ent.BillRun, bool) {
	partner, ok := access.PartnerOf(ctx)
	if !ok {
		return func(run *ent.BillRun) (*ent.BillRun, bool) { return run, true }
	}
	type seen struct {
		status entbillrun.Status
		view   *billrun.View
	}
	last := map[int]seen{}
	return func(run *ent.BillRun) (*ent.BillRun, bool) {
		views, err := r.partnerViews(ctx, []int{run.ID}, partner)
		v := views[run.ID]
		if err != nil || v == nil {
			// Never the operator's counters: nothing rather than those.
			r.Log.WarnContext(ctx, "a partner's run figures could not be read", "bill_run", run.ID, "error", err)
			v = &billrun.View{}
		}
		scoped := *run
		scoped.AccountsTotal, scoped.AccountsProcessed, scoped.AccountsFailed = v.AccountsTotal, v.AccountsProcessed, v.AccountsFailed
		scoped.InvoicesCreated, scoped.ChargesCreated, scoped.Totals = v.InvoicesCreated, v.ChargesCreated, v.Totals
		now := seen{status: run.Status, view: v}
		if before, ok := last[run.ID]; ok && before.status == now.status && before.view.Equal(now.view) {
			return &scoped, false
		}
		last[run.ID] = now
		return &scoped, true
	}
}

// sentBySubscription reports whether the field being resolved is one of the run a
// bill-run subscription sent itself (billRunsChanged, or billRunProgress's billRun),
// rather than of a run reached through it.
func sentBySubscription(ctx context.Context) bool {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return false
	}
	var names []string
	for fc := graphql.GetFieldContext(ctx).Parent; fc != nil; fc = fc.Parent {
		if fc.Field.Field != nil {
			names = append(names, fc.Field.Name)
		}
	}
	// A subscription's event is resolved below its root field, which is not among
	// the parents: the run billRunsChanged sends has none, billRunProgress's is the
	// event's billRun.
	root := ""
	if fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"}); len(fields) == 1 {
		root = fields[0].Name
	}
	return (root == "billRunsChanged" && len(names) == 0) ||
		(root == "billRunProgress" && slices.Equal(names, []string{"billRun"}))
}
