package billrun

import (
	"context"
	"sort"

	"github.com/riverqueue/river"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
)

// plan writes the batches of a run and queues a job for each, in the transaction of
// ctx: the run's accounts in id order, BatchSize at a time. Runs over every account
// store id ranges (accounts opened after the run started are not in it); runs over
// listed accounts store the ids. It returns the account count.
func (s *Service) plan(ctx context.Context, c *ent.Client, run *ent.BillRun) (int, error) {
	var builders []*ent.BillRunBatchCreate
	total := 0
	add := func(ids []int, explicit bool) {
		b := c.BillRunBatch.Create().SetBillRunID(run.ID).SetSeq(len(builders)).
			SetFirstAccountID(ids[0]).SetLastAccountID(ids[len(ids)-1]).SetAccounts(len(ids))
		if explicit {
			b.SetAccountIds(ids)
		}
		builders = append(builders, b)
		total += len(ids)
	}
	if run.AccountIds != nil {
		ids := sortedCopy(run.AccountIds)
		for i := 0; i < len(ids); i += s.cfg.BatchSize {
			add(ids[i:min(i+s.cfg.BatchSize, len(ids))], true)
		}
	} else {
		after := 0
		for {
			ids, err := c.Account.Query().Where(account.IDGT(after)).Order(ent.Asc(account.FieldID)).
				Limit(s.cfg.BatchSize).IDs(ctx)
			if err != nil {
				return 0, err
			}
			if len(ids) == 0 {
				break
			}
			add(ids, false)
			after = ids[len(ids)-1]
		}
	}
	var jobs []river.InsertManyParams
	for i := 0; i < len(builders); i += 500 {
		batches, err := c.BillRunBatch.CreateBulk(builders[i:min(i+500, len(builders))]...).Save(ctx)
		if err != nil {
			return 0, err
		}
		for _, b := range batches {
			jobs = append(jobs, river.InsertManyParams{Args: BatchArgs{Batch: b.ID}})
		}
	}
	if err := s.jobs.InsertMany(ctx, jobs); err != nil {
		return 0, err
	}
	return total, nil
}

// batchAccounts lists the accounts of a batch.
func batchAccounts(ctx context.Context, c *ent.Client, b *ent.BillRunBatch) ([]int, error) {
	if b.AccountIds != nil {
		return b.AccountIds, nil
	}
	return c.Account.Query().Where(account.IDGTE(b.FirstAccountID), account.IDLTE(b.LastAccountID)).
		Order(ent.Asc(account.FieldID)).IDs(ctx)
}

func sortedCopy(ids []int) []int {
	out := append([]int(nil), ids...)
	sort.Ints(out)
	return out
}
