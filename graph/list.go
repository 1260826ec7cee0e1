package graph

import (
	"context"
	"fmt"

	"entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/internal/fault"
)

// A row list is a plain list field whose rows grow with the data (an invoice's lines,
// a run's failures): it answers at most Resolver.ListRows rows, and the complexity
// limit counts it at that many. A parent holding more answers RESULT_TOO_LARGE naming
// the connection beside the list, which pages through any number. The rows of every
// parent a response asks for are counted, then loaded, in one statement each.
type rowList[T any] struct {
	field  string // the list field, "lines"
	conn   string // the connection beside it, "linesConnection"
	parent string // what holds the rows, "invoice"
	noun   string // what the rows are, "lines"
	// count returns how many rows each parent has.
	count func(ctx context.Context, c *ent.Client, parents []int) (map[int]int, error)
	// load returns the rows of parents in id order, with the selection of the field
	// being resolved (ctx's) eager-loaded.
	load func(ctx context.Context, c *ent.Client, parents []int) ([]T, error)
	// of returns the parent a row belongs to.
	of func(T) int
	// id returns the id of a parent, false for a value that is not one.
	id func(parent any) (int, bool)
}

// resolve returns the rows of one parent (obj, whose id is parent), loaded with those
// of its siblings (graph/loader.go).
func (l rowList[T]) resolve(ctx context.Context, r *Resolver, obj any, parent int) ([]T, error) {
	max := r.listRows()
	rows, err := loadFor(ctx, thisField(ctx, l.field), obj, parent, l.id, func(ctx context.Context, parents []int) ([][]T, []error) {
		out := make([][]T, len(parents))
		errs := make([]error, len(parents))
		fail := func(err error) ([][]T, []error) {
			for i := range errs {
				errs[i] = err
			}
			return out, errs
		}
		counts, err := l.count(ctx, r.Client, parents)
		if err != nil {
			return fail(err)
		}
		var within []int
		for i, p := range parents {
			if n := counts[p]; n > max {
				errs[i] = &fault.Error{Code: fault.TooManyRows, Field: l.field, Instead: l.conn, Message: fmt.Sprintf(
					"this %s has %d %s, more than the %d a list returns: page through them with %s",
					l.parent, n, l.noun, max, l.conn)}
			} else if n > 0 {
				within = append(within, p)
			}
		}
		if len(within) == 0 {
			return out, errs
		}
		rows, err := l.load(ctx, r.Client, within)
		if err != nil {
			return fail(err)
		}
		at := make(map[int]int, len(parents))
		for i, p := range parents {
			at[p] = i
		}
		for _, row := range rows {
			if i, ok := at[l.of(row)]; ok && errs[i] == nil {
				out[i] = append(out[i], row)
			}
		}
		return out, errs
	})
	if rows == nil && err == nil {
		rows = []T{} // a list, never null
	}
	return rows, err
}

// withColumn makes a query select col even when field collection narrowed its
// columns to those the client asked for: the loader needs it to group rows.
func withColumn(col string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		want := s.C(col)
		for _, c := range s.SelectedColumns() {
			if c == want {
				return
			}
		}
		s.AppendSelect(want)
	}
}

// countBy turns a query into SELECT col AS parent, COUNT(*) ... GROUP BY col.
func countBy(col string) func(*sql.Selector) {
	return func(s *sql.Selector) {
		s.Select(sql.As(s.C(col), "parent"), sql.As(sql.Count("*"), "count")).GroupBy(s.C(col))
	}
}

// groupCounts is the shape of a GROUP BY parent, COUNT(*) result.
type groupCounts []struct {
	Parent int `json:"parent"`
	Count  int `json:"count"`
}

func (g groupCounts) byParent() map[int]int {
	m := make(map[int]int, len(g))
	for _, r := range g {
		m[r.Parent] = r.Count
	}
	return m
}

// The row lists of the schema.
var (
	invoiceLines = rowList[*ent.Charge]{
		field: "lines", conn: "linesConnection", parent: "invoice", noun: "lines",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.Charge.Query().Where(charge.InvoiceIDIn(ids...)).Modify(countBy(charge.FieldInvoiceID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.Charge, error) {
			q, err := c.Charge.Query().Where(charge.InvoiceIDIn(ids...)).Order(ent.Asc(charge.FieldID)).CollectFields(ctx)
			if err != nil {
				return nil, err
			}
			return q.Modify(withColumn(charge.FieldInvoiceID)).All(ctx)
		},
		of: func(c *ent.Charge) int { return deref(c.InvoiceID) },
		id: rowOf(func(p *ent.Invoice) (int, bool) { return p.ID, true }),
	}
	packageCharges = rowList[*ent.Charge]{
		field: "charges", conn: "chargesConnection", parent: "account-package", noun: "charges",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.Charge.Query().Where(charge.AccountPackageIDIn(ids...)).Modify(countBy(charge.FieldAccountPackageID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.Charge, error) {
			q, err := c.Charge.Query().Where(charge.AccountPackageIDIn(ids...)).Order(ent.Asc(charge.FieldID)).CollectFields(ctx)
			if err != nil {
				return nil, err
			}
			return q.Modify(withColumn(charge.FieldAccountPackageID)).All(ctx)
		},
		of: func(c *ent.Charge) int { return deref(c.AccountPackageID) },
		id: rowOf(func(p *ent.AccountPackage) (int, bool) { return p.ID, true }),
	}
	packageServices = rowList[*ent.AccountService]{
		field: "services", conn: "servicesConnection", parent: "account-package", noun: "services",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.AccountService.Query().Where(accountservice.AccountPackageIDIn(ids...)).
				Modify(countBy(accountservice.FieldAccountPackageID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.AccountService, error) {
			q, err := c.AccountService.Query().Where(accountservice.AccountPackageIDIn(ids...)).
				Order(ent.Asc(accountservice.FieldID)).CollectFields(ctx)
			if err != nil {
				return nil, err
			}
			return q.Modify(withColumn(accountservice.FieldAccountPackageID)).All(ctx)
		},
		of: func(s *ent.AccountService) int { return s.AccountPackageID },
		id: rowOf(func(p *ent.AccountPackage) (int, bool) { return p.ID, true }),
	}
	runErrors = rowList[*ent.BillRunError]{
		field: "errors", conn: "errorsConnection", parent: "bill run", noun: "failed accounts",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.BillRunError.Query().Where(billrunerror.BillRunIDIn(ids...)).Modify(countBy(billrunerror.FieldBillRunID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.BillRunError, error) {
			q, err := c.BillRunError.Query().Where(billrunerror.BillRunIDIn(ids...)).
				Order(ent.Asc(billrunerror.FieldID)).CollectFields(ctx)
			if err != nil {
				return nil, err
			}
			return q.Modify(withColumn(billrunerror.FieldBillRunID)).All(ctx)
		},
		of: func(e *ent.BillRunError) int { return e.BillRunID },
		id: rowOf(func(p *ent.BillRun) (int, bool) { return p.ID, true }),
	}
)

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
