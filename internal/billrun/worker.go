package billrun

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/charge"
	"github.com/billd/billd/ent/invoice"
	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// MaxAttempts is how often a batch is tried before its run is given up as FAILED: a
// batch that fails as a whole (not one account: those are recorded and skipped), or
// whose node dies, that often fails for a reason retries do not cure.
const MaxAttempts = 5

// BatchArgs is the job that bills one batch of a run.
type BatchArgs struct {
	Batch int `json:"batch"` // the bill_run_batches row
}

// Kind names the job in the job system.
func (BatchArgs) Kind() string { return "bill_run_batch" }

// InsertOpts puts batches on the billing queue. The job system tries a batch once
// more than MaxAttempts, so that its worker gets to fail the run itself.
func (BatchArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: job.QueueBilling, MaxAttempts: MaxAttempts + 1}
}

// RegisterWorkers gives the job system the worker of bill-run batches.
func (s *Service) RegisterWorkers(r *job.Runner) {
	job.Register(r, &batchWorker{s: s})
}

// batchWorker bills batches.
type batchWorker struct {
	river.WorkerDefaults[BatchArgs]
	s *Service
}

// Work bills one batch: all its accounts, its counters on the run and the job's
// completion in one transaction. When that fails because of one account, it bills
// each account in a transaction of its own, so the good ones land and the bad one is
// recorded, then completes the batch and the job together.
func (w *batchWorker) Work(ctx context.Context, j *river.Job[BatchArgs]) error {
	s := w.s
	if j.Attempt > MaxAttempts {
		return s.failRun(ctx, j)
	}
	b, err := s.client.BillRunBatch.Get(ctx, j.Args.Batch)
	if err != nil {
		return err
	}
	run, err := s.client.BillRun.Get(ctx, b.BillRunID)
	if err != nil {
		return err
	}
	// A CLAIMED batch met here was being billed by a node that stopped (its job was
	// rescued): if the run is being canceled, it is closed with what it billed.
	if b.State == billrunbatch.StateDONE || b.State == billrunbatch.StateCANCELED || Final(run.Status) || run.CancelRequested {
		return s.close(ctx, j, b)
	}
	if run.Status == billrun.StatusQUEUED {
		if err := s.markRunning(ctx, run.ID); err != nil {
			return err
		}
	}
	ids, err := batchAccounts(ctx, s.client, b)
	if err != nil {
		return err
	}
	cc, err := s.catalog(ctx, run.ID)
	if err != nil {
		return err
	}
	req := billing.Request{BillRunID: run.ID, Range: rating.Range{Start: run.PeriodStart, End: run.PeriodEnd},
		PostingDate: run.PostingDate, BillCharges: run.BillCharges, CloseInvoices: run.CloseInvoices,
		BillUsage: run.BillUsage, Catalog: cc}

	// The whole batch in one transaction.
	var finished bool
	err = s.db.InConnTx(ctx, func(ctx context.Context, _ *sql.Conn) error {
		c := store.Client(ctx, s.client)
		state, err := lockState(ctx, s.db, c, b.ID)
		if err != nil {
			return err
		}
		if state != billrunbatch.StatePENDING && state != billrunbatch.StateCLAIMED {
			return job.Complete(ctx, j) // canceled meanwhile: nothing to do
		}
		results, err := s.billing.Bill(ctx, req, ids)
		if err != nil {
			return err
		}
		if state == billrunbatch.StatePENDING {
			err = s.record(ctx, c, b, resultTotals(results), len(ids))
		} else {
			err = s.tally(ctx, c, b, ids, len(ids))
		}
		if err != nil {
			return err
		}
		if finished, err = s.finishIfDone(ctx, c, b.BillRunID); err != nil {
			return err
		}
		return job.Complete(ctx, j)
	})
	if err != nil && ctx.Err() == nil && !errors.Is(err, job.ErrNotRunning) {
		// One account at a time, then the batch. (Not when another attempt has
		// the job: it bills the batch.)
		s.log.InfoContext(ctx, "a bill-run batch failed as a whole; billing its accounts one by one",
			"bill_run", run.ID, "batch", b.Seq, "error", err)
		finished, err = s.billOneByOne(ctx, j, b, run, req, ids)
	}
	if err != nil {
		return err
	}
	s.done(run.ID, finished)
	if err := s.db.RefreshStatistics(ctx, "charges", "invoices", "bill_run_errors", "status_changes"); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "refreshing planner statistics", "error", err)
	}
	if s.cfg.Pause > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(s.cfg.Pause):
		}
	}
	return nil
}

// billOneByOne bills a batch's accounts each in a transaction of its own, records the
// ones that fail on the run, then completes the batch and its job.
func (s *Service) billOneByOne(ctx context.Context, j *river.Job[BatchArgs], b *ent.BillRunBatch, run *ent.BillRun,
	req billing.Request, ids []int) (bool, error) {
	// CLAIMED: a cancellation now lets the batch finish instead of closing it.
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		return store.Client(ctx, s.client).BillRunBatch.Update().
			Where(billrunbatch.ID(b.ID), billrunbatch.StateEQ(billrunbatch.StatePENDING)).
			SetState(billrunbatch.StateCLAIMED).Exec(ctx)
	})
	if err != nil {
		return false, err
	}
	for _, id := range ids {
		if err := s.billAccount(ctx, req, id); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			s.recordFailure(ctx, run, id, err)
		}
	}
	return store.InTxValue(ctx, s.client, func(ctx context.Context) (bool, error) {
		c := store.Client(ctx, s.client)
		if open, err := lockOpen(ctx, s.db, c, b.ID); err != nil || !open {
			if err == nil {
				err = job.Complete(ctx, j)
			}
			return false, err
		}
		finished, err := s.complete(ctx, c, b, ids)
		if err != nil {
			return false, err
		}
		return finished, job.Complete(ctx, j)
	})
}

// billAccount bills one account in a transaction of its own; when it loses a race
// (another run billed the account first), it bills it once more on fresh state,
// which then finds nothing left to charge.
func (s *Service) billAccount(ctx context.Context, req billing.Request, id int) error {
	bill := func() error {
		return s.db.InConnTx(ctx, func(ctx context.Context, _ *sql.Conn) error {
			_, err := s.billing.Bill(ctx, req, []int{id})
			return err
		})
	}
	err := bill()
	if err != nil && billing.Concurrent(err) {
		err = bill()
	}
	if err != nil {
		return fmt.Errorf("billing account %d: %w", id, err)
	}
	return nil
}

// lockOpen locks a batch's row for the transaction (so a cancellation waits for it)
// and reports whether it is still to be billed.
func lockOpen(ctx context.Context, db *store.DB, c *ent.Client, id int) (bool, error) {
	state, err := lockState(ctx, db, c, id)
	return state == billrunbatch.StatePENDING || state == billrunbatch.StateCLAIMED, err
}

// lockState locks a batch's row for the transaction and returns its state.
func lockState(ctx context.Context, db *store.DB, c *ent.Client, id int) (billrunbatch.State, error) {
	b, err := store.ForUpdate(db, c.BillRunBatch.Query().Where(billrunbatch.ID(id))).Only(ctx)
	if err != nil {
		return "", err
	}
	return b.State, nil
}

// complete marks a batch DONE with what exists in the database for its accounts in
// this run, adds that to the run's counters, and finishes the run when it was the last
// open batch. Counting from the database makes the counters exact however often the
// batch was tried. It runs in the transaction that completes the batch's job.
func (s *Service) complete(ctx context.Context, c *ent.Client, b *ent.BillRunBatch, ids []int) (bool, error) {
	if err := s.tally(ctx, c, b, ids, len(ids)); err != nil {
		return false, err
	}
	return s.finishIfDone(ctx, c, b.BillRunID)
}

// tally marks a batch DONE with what exists in the database for its accounts (ids) in
// this run and adds that to the run's counters, with processed of its accounts
// processed.
func (s *Service) tally(ctx context.Context, c *ent.Client, b *ent.BillRunBatch, ids []int, processed int) error {
	runID := b.BillRunID
	invs, err := c.Invoice.Query().Where(invoice.BillRunID(runID), invoice.AccountIDIn(ids...)).
		WithCurrency().All(ctx)
	if err != nil {
		return err
	}
	t := batchTotals{invoices: len(invs), totals: map[string]money.Decimal{}}
	invIDs := make([]int, len(invs))
	for i, inv := range invs {
		invIDs[i] = inv.ID
		code := inv.Edges.Currency.Code
		t.totals[code] = t.totals[code].Add(inv.Total)
	}
	if len(invIDs) > 0 {
		if t.charges, err = c.Charge.Query().Where(charge.InvoiceIDIn(invIDs...)).Count(ctx); err != nil {
			return err
		}
	}
	if t.failed, err = c.BillRunError.Query().Where(billrunerror.BillRunID(runID), billrunerror.AccountIDIn(ids...)).Count(ctx); err != nil {
		return err
	}
	return s.record(ctx, c, b, t, processed)
}

// batchTotals are what a batch wrote: its invoices, their charges and totals by
// currency, and its accounts that failed.
type batchTotals struct {
	invoices, charges, failed int
	totals                    map[string]money.Decimal
}

// resultTotals are the totals of a batch billed whole in one attempt, from what
// billing answered: a batch still PENDING when its transaction locked it had nothing
// written by an earlier attempt (a whole-batch attempt commits all or nothing, and
// billing one by one first marks it CLAIMED), so the answer is what exists.
func resultTotals(results map[int]billing.AccountResult) batchTotals {
	t := batchTotals{totals: map[string]money.Decimal{}}
	for _, r := range results {
		if r.Invoice {
			t.invoices++
			t.charges += r.Charges
			t.totals[r.Currency] = t.totals[r.Currency].Add(r.Total)
		}
	}
	return t
}

// record marks a batch DONE with its totals and adds them to the run's counters, with
// processed of its accounts processed.
func (s *Service) record(ctx context.Context, c *ent.Client, b *ent.BillRunBatch, t batchTotals, processed int) error {
	runID := b.BillRunID
	if err := c.BillRunBatch.UpdateOneID(b.ID).SetState(billrunbatch.StateDONE).SetFailed(t.failed).
		SetInvoices(t.invoices).SetCharges(t.charges).SetTotals(t.totals).Exec(ctx); err != nil {
		return err
	}
	// Batches of one run complete on several nodes: they add to its counters one at
	// a time. (Their invoices reference the run: FOR UPDATE would deadlock.)
	run, err := store.ForChange(s.db, c.BillRun.Query().Where(billrun.ID(runID))).Only(ctx)
	if err != nil {
		return err
	}
	sum := run.Totals
	if sum == nil {
		sum = map[string]money.Decimal{}
	}
	for code, amt := range t.totals {
		sum[code] = sum[code].Add(amt)
	}
	if err := c.BillRun.UpdateOneID(runID).
		AddAccountsProcessed(processed).AddAccountsFailed(t.failed).
		AddInvoicesCreated(t.invoices).AddChargesCreated(t.charges).SetTotals(sum).Exec(ctx); err != nil {
		return err
	}
	return nil
}

// close completes the job of a batch with nothing to bill: done already, or its run
// finished or being canceled (a batch that was open is closed, see closeOpen).
func (s *Service) close(ctx context.Context, j *river.Job[BatchArgs], b *ent.BillRunBatch) error {
	finished, err := store.InTxValue(ctx, s.client, func(ctx context.Context) (bool, error) {
		c := store.Client(ctx, s.client)
		if err := s.closeOpen(ctx, c, b.ID); err != nil {
			return false, err
		}
		finished, err := s.finishIfDone(ctx, c, b.BillRunID)
		if err != nil {
			return false, err
		}
		return finished, job.Complete(ctx, j)
	})
	if err == nil && finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: b.BillRunID})
	}
	return err
}

// closeOpen closes a batch that will not be billed (any further) if it is still open:
// a PENDING one as CANCELED; a CLAIMED one, whose accounts a node was billing one by
// one when it stopped or the run failed, as DONE with what it billed counted on the
// run.
func (s *Service) closeOpen(ctx context.Context, c *ent.Client, id int) error {
	b, err := store.ForUpdate(s.db, c.BillRunBatch.Query().Where(billrunbatch.ID(id))).Only(ctx)
	if err != nil {
		return err
	}
	switch b.State {
	case billrunbatch.StatePENDING:
		return c.BillRunBatch.UpdateOneID(id).SetState(billrunbatch.StateCANCELED).Exec(ctx)
	case billrunbatch.StateCLAIMED:
		ids, err := batchAccounts(ctx, c, b)
		if err != nil {
			return err
		}
		// Processed: the accounts the run invoiced or recorded a failure of (an
		// account billed with nothing to charge leaves no trace, so this is a floor).
		invoiced, err := c.Invoice.Query().Where(invoice.BillRunID(b.BillRunID), invoice.AccountIDIn(ids...)).
			Unique(true).Select(invoice.FieldAccountID).Ints(ctx)
		if err != nil {
			return err
		}
		failed, err := c.BillRunError.Query().Where(billrunerror.BillRunID(b.BillRunID), billrunerror.AccountIDIn(ids...)).
			Select(billrunerror.FieldAccountID).Ints(ctx)
		if err != nil {
			return err
		}
		seen := map[int]bool{}
		for _, id := range append(invoiced, failed...) {
			seen[id] = true
		}
		return s.tally(ctx, c, b, ids, len(seen))
	}
	return nil
}

// markRunning moves a queued run to RUNNING, once, in a short transaction of its own
// (so batches on several nodes do not hold the run's row while they bill).
func (s *Service) markRunning(ctx context.Context, runID int) error {
	n, err := s.client.BillRun.Update().Where(billrun.ID(runID), billrun.StatusEQ(billrun.StatusQUEUED)).
		SetStatus(billrun.StatusRUNNING).SetStartedAt(s.clock.Now()).Save(ctx)
	if err == nil && n > 0 {
		s.bus.Publish(progress.Event{Kind: progress.Changed, RunID: runID})
	}
	return err
}

// failRun gives up a run whose batch was tried MaxAttempts times: its open batches
// are closed (closeOpen) and it ends FAILED; what was billed stays billed and
// counted. The batch's job ends
// with it.
func (s *Service) failRun(ctx context.Context, j *river.Job[BatchArgs]) error {
	b, err := s.client.BillRunBatch.Get(ctx, j.Args.Batch)
	if err != nil {
		return river.JobCancel(err)
	}
	s.log.ErrorContext(ctx, "a bill-run batch failed too often; the run fails", "bill_run", b.BillRunID, "batch", b.Seq,
		"attempts", j.Attempt-1)
	failed, err := store.InTxValue(ctx, s.client, func(ctx context.Context) (bool, error) {
		c := store.Client(ctx, s.client)
		open, err := c.BillRunBatch.Query().Where(billrunbatch.BillRunID(b.BillRunID),
			billrunbatch.StateIn(billrunbatch.StatePENDING, billrunbatch.StateCLAIMED)).
			Order(ent.Asc(billrunbatch.FieldID)).IDs(ctx)
		if err != nil {
			return false, err
		}
		for _, id := range open {
			if err := s.closeOpen(ctx, c, id); err != nil {
				return false, err
			}
		}
		now := s.clock.Now()
		n, err := c.BillRun.Update().Where(billrun.ID(b.BillRunID), billrun.StatusIn(billrun.StatusQUEUED, billrun.StatusRUNNING)).
			SetStatus(billrun.StatusFAILED).SetFinishedAt(now).Save(ctx)
		if err != nil {
			return false, err
		}
		if err := c.BillRun.Update().Where(billrun.ID(b.BillRunID), billrun.StartedAtIsNil()).SetStartedAt(now).Exec(ctx); err != nil {
			return false, err
		}
		return n > 0, job.Complete(ctx, j)
	})
	if err != nil {
		return err
	}
	if failed {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: b.BillRunID})
	}
	return nil
}

// done announces a completed batch: FINISHED for the run's last, else PROGRESS.
func (s *Service) done(runID int, finished bool) {
	if finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: runID})
		return
	}
	s.progressed(runID)
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
	now := s.clock.Now()
	if len(s.lastProgress) > 64 {
		// Forget runs whose last event is older than ProgressEvery: they would send
		// at once anyway. (Finished runs would otherwise stay for ever.)
		for id, at := range s.lastProgress {
			if now.Sub(at) >= s.cfg.ProgressEvery {
				delete(s.lastProgress, id)
			}
		}
	}
	last := s.lastProgress[runID]
	wait := s.cfg.ProgressEvery - now.Sub(last)
	if wait <= 0 {
		s.lastProgress[runID] = now
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
