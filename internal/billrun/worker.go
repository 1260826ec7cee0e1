package billrun

import (
	"context"
	"errors"
	"sort"
	"time"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/store"
)

// plan writes the batches of a run: its accounts in id order, BatchSize at a time.
// Runs over every account store id ranges (accounts opened after the run started are
// not in it); runs over listed accounts store the ids. It returns the account count.
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
	for i := 0; i < len(builders); i += 500 {
		if err := c.BillRunBatch.CreateBulk(builders[i:min(i+500, len(builders))]...).Exec(ctx); err != nil {
			return 0, err
		}
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

// MaxAttempts is how often a batch is claimed before its run is given up as FAILED:
// a batch that fails as a whole that often fails for a reason retries do not cure.
const MaxAttempts = 5

// errNoWork says there is no batch to claim; errRetry that the claim did some
// housekeeping and the worker should look again at once.
var (
	errNoWork = errors.New("no batch to claim")
	errRetry  = errors.New("claim again")
)

// claim takes the next batch any worker may bill: PENDING, or CLAIMED with a lease
// that ran out, of a run that is queued or running and not being canceled. On
// PostgreSQL it skips rows other nodes are claiming (FOR UPDATE SKIP LOCKED).
func (s *Service) claim(ctx context.Context) (*ent.BillRunBatch, *ent.BillRun, error) {
	var batch *ent.BillRunBatch
	var run *ent.BillRun
	started := false
	ended := 0     // a run this claim finished; announced once committed
	again := false // housekeeping done (and committed): look for work again
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		now := s.clock.Now()
		q := c.BillRunBatch.Query().Where(
			billrunbatch.Or(
				billrunbatch.StateEQ(billrunbatch.StatePENDING),
				billrunbatch.And(billrunbatch.StateEQ(billrunbatch.StateCLAIMED), billrunbatch.LeaseUntilLT(now)),
			),
			billrunbatch.HasBillRunWith(billrun.StatusIn(billrun.StatusQUEUED, billrun.StatusRUNNING)),
		).Order(ent.Asc(billrunbatch.FieldBillRunID), ent.Asc(billrunbatch.FieldSeq)).Limit(1)
		if s.dialect == dialect.Postgres {
			q.ForUpdate(entsql.WithLockAction(entsql.SkipLocked), entsql.WithLockTables(billrunbatch.Table))
		}
		b, err := q.First(ctx)
		if ent.IsNotFound(err) {
			return errNoWork
		} else if err != nil {
			return err
		}
		r, err := c.BillRun.Get(ctx, b.BillRunID)
		if err != nil {
			return err
		}
		if b.Attempts >= MaxAttempts {
			// The batch failed as a whole again and again (not one account: those
			// are recorded and skipped): something is wrong beyond billing. Stop the
			// run as FAILED rather than retry forever; what was billed stays billed.
			s.log.Error("a bill-run batch failed too often; the run fails", "bill_run", r.ID, "batch", b.Seq, "attempts", b.Attempts)
			if _, err := c.BillRunBatch.Update().Where(billrunbatch.BillRunID(r.ID),
				billrunbatch.StateIn(billrunbatch.StatePENDING, billrunbatch.StateCLAIMED)).
				SetState(billrunbatch.StateCANCELED).Save(ctx); err != nil {
				return err
			}
			now := s.clock.Now()
			upd := c.BillRun.UpdateOneID(r.ID).SetStatus(billrun.StatusFAILED).SetFinishedAt(now)
			if r.StartedAt == nil {
				upd.SetStartedAt(now)
			}
			if err := upd.Exec(ctx); err != nil {
				return err
			}
			ended, again = r.ID, true
			return nil
		}
		if r.CancelRequested {
			// A batch a dead node held when its run was canceled: close it, and the
			// run with it if it was the last.
			if err := c.BillRunBatch.UpdateOne(b).SetState(billrunbatch.StateCANCELED).Exec(ctx); err != nil {
				return err
			}
			fin, err := s.finishIfDone(ctx, c, b.BillRunID)
			if err != nil {
				return err
			}
			if fin {
				ended = b.BillRunID
			}
			again = true
			return nil
		}
		batch, err = c.BillRunBatch.UpdateOne(b).SetState(billrunbatch.StateCLAIMED).
			SetClaimedBy(s.cfg.Node).SetLeaseUntil(now.Add(s.cfg.Lease)).AddAttempts(1).Save(ctx)
		if err != nil {
			return err
		}
		n, err := c.BillRun.Update().Where(billrun.ID(b.BillRunID), billrun.StatusEQ(billrun.StatusQUEUED)).
			SetStatus(billrun.StatusRUNNING).SetStartedAt(now).Save(ctx)
		if err != nil {
			return err
		}
		started = n > 0
		run, err = c.BillRun.Get(ctx, b.BillRunID)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if ended != 0 {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: ended})
	}
	if again {
		return nil, nil, errRetry
	}
	if started {
		s.bus.Publish(progress.Event{Kind: progress.Changed, RunID: run.ID})
	}
	return batch.Unwrap(), run.Unwrap(), nil
}

// work bills one batch: all its accounts in one transaction (fast, and atomic per
// account as a whole), and if that fails because of one account, each account on its
// own so the good ones land and the bad one is recorded. Then it completes the batch.
func (s *Service) work(ctx context.Context, b *ent.BillRunBatch, run *ent.BillRun) error {
	ids, err := batchAccounts(ctx, s.client, b)
	if err != nil {
		return err
	}
	cc, err := s.catalog(ctx, run.ID)
	if err != nil {
		return err
	}
	if _, err = s.billAccounts(ctx, run, cc, ids); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, id := range ids {
			if _, err := s.billAccountRetrying(ctx, run, cc, id); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				s.recordFailure(ctx, run, id, err)
			}
		}
	}
	if err := s.complete(ctx, b, ids); err != nil {
		return err
	}
	s.refreshStatistics(ctx)
	return nil
}

// analyzeEvery is how often a node billing on PostgreSQL refreshes the planner's
// statistics of the tables a run fills.
const analyzeEvery = 15 * time.Second

// refreshStatistics runs ANALYZE on the tables a bill run grows, at most every
// analyzeEvery per node. pgx prepares each statement once per connection and
// PostgreSQL soon settles on a generic plan for it; on a database whose statistics
// still describe small tables (a first run, a fresh installation) those plans scan
// charges and invoices whole, and a run crawls until autovacuum's next ANALYZE,
// which may be a minute or more away. ANALYZE takes no lock that writers wait on,
// and it invalidates the cached plans so they are made again on fresh figures.
func (s *Service) refreshStatistics(ctx context.Context) {
	if s.dialect != dialect.Postgres {
		return
	}
	s.mu.Lock()
	due := s.clock.Now().Sub(s.analyzed) >= analyzeEvery
	if due {
		s.analyzed = s.clock.Now()
	}
	s.mu.Unlock()
	if !due {
		return
	}
	if _, err := s.client.ExecContext(ctx, "ANALYZE charges, invoices, bill_run_errors, status_changes"); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "refreshing planner statistics", "error", err)
	}
}

// complete marks a batch DONE with what exists in the database for its accounts in
// this run, adds that to the run's counters, and finishes the run when it was the last
// open batch. A batch that another worker took over meanwhile (this worker's lease ran
// out) is left to that worker: the update finds no row and nothing is counted twice.
func (s *Service) complete(ctx context.Context, b *ent.BillRunBatch, ids []int) error {
	var finished bool
	var runID = b.BillRunID
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		invs, err := c.Invoice.Query().Where(invoice.BillRunID(runID), invoice.AccountIDIn(ids...)).
			WithCurrency().All(ctx)
		if err != nil {
			return err
		}
		totals := map[string]money.Decimal{}
		invIDs := make([]int, len(invs))
		for i, inv := range invs {
			invIDs[i] = inv.ID
			code := inv.Edges.Currency.Code
			totals[code] = totals[code].Add(inv.Total)
		}
		charges := 0
		if len(invIDs) > 0 {
			if charges, err = c.Charge.Query().Where(charge.InvoiceIDIn(invIDs...)).Count(ctx); err != nil {
				return err
			}
		}
		failed, err := c.BillRunError.Query().Where(billrunerror.BillRunID(runID), billrunerror.AccountIDIn(ids...)).Count(ctx)
		if err != nil {
			return err
		}
		n, err := c.BillRunBatch.Update().Where(billrunbatch.ID(b.ID), billrunbatch.StateEQ(billrunbatch.StateCLAIMED),
			billrunbatch.ClaimedBy(s.cfg.Node), billrunbatch.Attempts(b.Attempts)).
			SetState(billrunbatch.StateDONE).SetFailed(failed).SetInvoices(len(invs)).SetCharges(charges).
			SetTotals(totals).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return errLostBatch
		}
		if s.dialect == dialect.Postgres {
			// Batches of one run complete on several nodes: add to its counters one
			// at a time.
			if _, err := c.ExecContext(ctx, "SELECT id FROM bill_runs WHERE id = $1 FOR UPDATE", runID); err != nil {
				return err
			}
		}
		run, err := c.BillRun.Get(ctx, runID)
		if err != nil {
			return err
		}
		sum := run.Totals
		if sum == nil {
			sum = map[string]money.Decimal{}
		}
		for code, amt := range totals {
			sum[code] = sum[code].Add(amt)
		}
		if err := c.BillRun.UpdateOneID(runID).
			AddAccountsProcessed(len(ids)).AddAccountsFailed(failed).
			AddInvoicesCreated(len(invs)).AddChargesCreated(charges).SetTotals(sum).Exec(ctx); err != nil {
			return err
		}
		finished, err = s.finishIfDone(ctx, c, runID)
		return err
	})
	if errors.Is(err, errLostBatch) {
		s.log.Warn("a batch was taken over by another worker after its lease ran out", "bill_run", runID, "batch", b.Seq)
		return nil
	}
	if err != nil {
		return err
	}
	if finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: runID})
	} else {
		s.progressed(runID)
	}
	return nil
}

var errLostBatch = errors.New("batch taken over by another worker")

// finishIfDone gives a run its final status when no batch is left to bill. It runs in
// the transaction that closed the last batch (or canceled the rest), so exactly one
// caller finishes a run.
func (s *Service) finishIfDone(ctx context.Context, c *ent.Client, runID int) (bool, error) {
	open, err := c.BillRunBatch.Query().Where(billrunbatch.BillRunID(runID),
		billrunbatch.StateIn(billrunbatch.StatePENDING, billrunbatch.StateCLAIMED)).Exist(ctx)
	if err != nil || open {
		return false, err
	}
	run, err := c.BillRun.Get(ctx, runID)
	if err != nil {
		return false, err
	}
	if run.Status != billrun.StatusQUEUED && run.Status != billrun.StatusRUNNING {
		return false, nil
	}
	status := billrun.StatusCOMPLETED
	switch {
	case run.CancelRequested:
		status = billrun.StatusCANCELED
	case run.AccountsFailed > 0:
		status = billrun.StatusCOMPLETED_WITH_ERRORS
	}
	now := s.clock.Now()
	upd := c.BillRun.UpdateOneID(runID).SetStatus(status).SetFinishedAt(now)
	if run.StartedAt == nil {
		upd.SetStartedAt(now)
	}
	return true, upd.Exec(ctx)
}

// progressed publishes a PROGRESS event for a run, at most one per ProgressEvery per
// run from this node: a run that bills thousands of accounts a second sends a few
// events a second, and the last counters always follow (a trailing event).
func (s *Service) progressed(runID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[runID] {
		return
	}
	last := s.lastProgress[runID]
	wait := s.cfg.ProgressEvery - s.clock.Now().Sub(last)
	if wait <= 0 {
		s.lastProgress[runID] = s.clock.Now()
		s.bus.Publish(progress.Event{Kind: progress.Progress, RunID: runID})
		return
	}
	s.pending[runID] = true
	time.AfterFunc(wait, func() {
		s.mu.Lock()
		delete(s.pending, runID)
		s.lastProgress[runID] = s.clock.Now()
		s.mu.Unlock()
		s.bus.Publish(progress.Event{Kind: progress.Progress, RunID: runID})
	})
}

// Run starts cfg.Workers workers that bill claimable batches until ctx ends. Workers
// wake when a run starts on this node and poll every PollEvery for work other nodes
// left (new runs, expired leases).
func (s *Service) Run(ctx context.Context) {
	for i := 0; i < s.cfg.Workers; i++ {
		go s.workLoop(ctx)
	}
}

func (s *Service) workLoop(ctx context.Context) {
	for ctx.Err() == nil {
		b, run, err := s.claim(ctx)
		if errors.Is(err, errRetry) {
			continue
		}
		if errors.Is(err, errNoWork) {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
			case <-time.After(s.cfg.PollEvery):
			}
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claiming a bill-run batch", "error", err)
				time.Sleep(s.cfg.PollEvery)
			}
			continue
		}
		if err := s.work(ctx, b, run); err != nil && ctx.Err() == nil {
			s.log.Error("billing a bill-run batch", "bill_run", run.ID, "batch", b.Seq, "error", err)
		}
		if s.cfg.Pause > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(s.cfg.Pause):
			}
		}
	}
}

// kick wakes the local workers.
func (s *Service) kick() {
	for i := 0; i < s.cfg.Workers; i++ {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func sortedCopy(ids []int) []int {
	out := append([]int(nil), ids...)
	sort.Ints(out)
	return out
}
