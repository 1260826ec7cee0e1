package graph

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/contract"
	"github.com/billd/billd/ent/discount"
	"github.com/billd/billd/ent/pricebookprice"
	"github.com/billd/billd/ent/status"
)

// The row lists of prices, discounts and contracts (docs/billing.md 7).
var (
	serviceDiscounts = rowList[*ent.Discount]{
		field: "discounts", conn: "discounts", parent: "account-service", noun: "discounts",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.Discount.Query().Where(discount.AccountServiceIDIn(ids...)).
				Modify(countBy(discount.FieldAccountServiceID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.Discount, error) {
			return c.Discount.Query().Where(discount.AccountServiceIDIn(ids...)).
				Order(ent.Asc(discount.FieldStartDate), ent.Asc(discount.FieldID)).All(ctx)
		},
		of: func(d *ent.Discount) int { return d.AccountServiceID },
		id: rowOf(func(p *ent.AccountService) (int, bool) { return p.ID, true }),
	}
	accountContracts = rowList[*ent.Contract]{
		field: "contracts", conn: "contracts", parent: "account", noun: "contracts",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.Contract.Query().Where(contract.AccountIDIn(ids...)).Modify(countBy(contract.FieldAccountID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.Contract, error) {
			return c.Contract.Query().Where(contract.AccountIDIn(ids...)).Order(ent.Desc(contract.FieldID)).All(ctx)
		},
		of: func(k *ent.Contract) int { return k.AccountID },
		id: rowOf(func(p *ent.Account) (int, bool) { return p.ID, true }),
	}
	frequencyBookPrices = rowList[*ent.PriceBookPrice]{
		field: "priceBookPrices", conn: "priceBookPrices", parent: "frequency", noun: "price book prices",
		count: func(ctx context.Context, c *ent.Client, ids []int) (map[int]int, error) {
			var g groupCounts
			err := c.PriceBookPrice.Query().Where(pricebookprice.FrequencyIDIn(ids...)).
				Modify(countBy(pricebookprice.FieldFrequencyID)).Scan(ctx, &g)
			return g.byParent(), err
		},
		load: func(ctx context.Context, c *ent.Client, ids []int) ([]*ent.PriceBookPrice, error) {
			return c.PriceBookPrice.Query().Where(pricebookprice.FrequencyIDIn(ids...)).
				Order(ent.Asc(pricebookprice.FieldPriceBookID), ent.Asc(pricebookprice.FieldID)).All(ctx)
		},
		of: func(p *ent.PriceBookPrice) int { return p.FrequencyID },
		id: rowOf(func(p *ent.PackageFrequency) (int, bool) { return p.ID, true }),
	}
)

// packageContract returns an account-package's contract in force, else its latest,
// loaded with those of the other account-packages of the response at once.
func (r *Resolver) packageContract(ctx context.Context, ap *ent.AccountPackage) (*ent.Contract, error) {
	return loadFor(ctx, "packageContract", ap, ap.ID, rowOf(func(p *ent.AccountPackage) (int, bool) { return p.ID, true }),
		func(ctx context.Context, ids []int) ([]*ent.Contract, []error) {
			out, errs := make([]*ent.Contract, len(ids)), make([]error, len(ids))
			ks, err := r.Client.Contract.Query().Where(contract.AccountPackageIDIn(ids...)).Order(ent.Asc(contract.FieldID)).All(ctx)
			if err != nil {
				for i := range errs {
					errs[i] = err
				}
				return out, errs
			}
			pick := map[int]*ent.Contract{}
			for _, k := range ks {
				if cur := pick[*k.AccountPackageID]; cur == nil || cur.Ended || !k.Ended {
					pick[*k.AccountPackageID] = k
				}
			}
			for i, id := range ids {
				out[i] = pick[id]
			}
			return out, errs
		})
}

// statusByCode returns a status by its code, reading the statuses once per response.
func (r *Resolver) statusByCode(ctx context.Context, code string) (*ent.Status, error) {
	all, err := onceFor(ctx, "statusesByCode", func(ctx context.Context) (map[string]*ent.Status, error) {
		sts, err := r.Client.Status.Query().Order(ent.Asc(status.FieldID)).All(ctx)
		out := map[string]*ent.Status{}
		for _, s := range sts {
			out[s.Code] = s
		}
		return out, err
	})
	if err != nil {
		return nil, err
	}
	return all[code], nil
}
