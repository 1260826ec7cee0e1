// Package billrun runs bill runs: it plans a run's accounts into batches, each billed by
// a job of the job system (internal/job) on any node through the billing core
// (internal/billing), keeps the run's counters, and streams its progress. See
// README.md for its guarantees.
package billrun

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/internal/billing"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/store"
)

// StartInput starts a bill run.
type StartInput struct {
	PeriodStart   calendar.Date
	PeriodEnd     calendar.Date
	PostingDate   *calendar.Date
	AccountIDs    []int
	BillCharges   *bool
	CloseInvoices *bool
	// BillUsage bills usage periods and late usage (default true).
	BillUsage *bool
	// InvoiceTopUp tops contract months up to their minimum; RunContractCommitment
	// charges early termination fees (docs/billing.md 7.3). Both default false.
	InvoiceTopUp          *bool
	RunContractCommitment *bool
	// Wait makes Start return only when the run has finished (or ctx ended, or
	// Config.MaxWait passed: the run is then returned as it stands).
	Wait *bool
}

// MaxRangeDays bounds the days a run's range covers, both ends included: longer
// ranges are a typo, not a bill run.
const MaxRangeDays = 3660

// Validate checks the input without touching the database.
func (in *StartInput) Validate() error {
	if in.PeriodEnd.Before(in.PeriodStart) {
		return fault.Invalidf("input.periodEnd", "periodEnd %s is before periodStart %s", in.PeriodEnd, in.PeriodStart)
	}
	if calendar.Days(in.PeriodStart, in.PeriodEnd)+1 > MaxRangeDays {
		return fault.Invalidf("input.periodEnd", "a bill run covers at most %d days", MaxRangeDays)
	}
	if in.AccountIDs != nil && len(in.AccountIDs) == 0 {
		return fault.Invalidf("input.accountIds", "give at least one account, or omit accountIds to bill every account")
	}
	return nil
}

// Config tunes bill runs on this node. Zero values take defaults.
type Config struct {
	BatchSize     int           // accounts per batch: one job, one transaction
	PollEvery     time.Duration // how often a watcher checks that its run has not finished unseen
	ProgressEvery time.Duration // the least time between PROGRESS events of a run from this node
	// Pause is how long a worker rests after a batch: it throttles bill runs so they
	// leave the database room for other work (0: no pause).
	Pause time.Duration
	// MaxWait bounds how long startBillRun(wait: true) waits for the run to finish;
	// it then answers with the run as it stands (0: until it finishes).
	MaxWait time.Duration
}

func (c *Config) defaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.PollEvery <= 0 {
		c.PollEvery = time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 250 * time.Millisecond
	}
}

// Service runs bill runs: Start plans a run and queues its batches, the job system
// bills them (RegisterWorkers), Watch streams a run's progress.
type Service struct {
	db      *store.DB
	client  *ent.Client
	billing *billing.Service
	jobs    *job.Runner
	clock   clock.Clock
	log     *slog.Logger
	bus     progress.Bus
	cfg     Config

	mu           sync.Mutex
	pending      map[int]bool      // runs with a trailing PROGRESS event scheduled
	lastProgress map[int]time.Time // when each run last sent PROGRESS from here
	catalogs     map[int]*billing.Catalog
}

// New returns the bill run service. RegisterWorkers gives its batches to jobs.
func New(db *store.DB, bill *billing.Service, jobs *job.Runner, clk clock.Clock, log *slog.Logger, bus progress.Bus, cfg Config) *Service {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{db: db, client: db.Client, billing: bill, jobs: jobs, clock: clk, log: log, bus: bus, cfg: cfg,
		pending: map[int]bool{}, lastProgress: map[int]time.Time{}, catalogs: map[int]*billing.Catalog{}}
}

// catalog returns the run's catalog, loading it on first use. The catalogs of at most
// a few recent runs are kept.
func (s *Service) catalog(ctx context.Context, runID int) (*billing.Catalog, error) {
	s.mu.Lock()
	cc := s.catalogs[runID]
	s.mu.Unlock()
	if cc != nil {
		return cc, nil
	}
	cc, err := billing.LoadCatalog(ctx, s.client)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.catalogs) >= 8 {
		for id := range s.catalogs {
			delete(s.catalogs, id)
			break
		}
	}
	s.catalogs[runID] = cc
	return cc, nil
}

// Start records a bill run, plans its batches and returns it QUEUED (or finished, for
// a run with no accounts); the workers of any node bill it. With Wait it returns the
// finished run. Inside a caller's transaction (store.InTx) the run is planned in it
// and starts when it commits. Refusals: BAD_USER_INPUT for a range out of order or
// too long, or an empty account list; NOT_FOUND for an unknown account id.
func (s *Service) Start(ctx context.Context, in StartInput) (*ent.BillRun, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	for i, id := range in.AccountIDs {
		ok, err := s.client.Account.Query().Where(account.ID(id)).Exist(ctx)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fault.NotFoundf(fault.Path("input.accountIds", i), "account %d not found", id)
		}
	}
	// Inside a caller's transaction the run starts when that commits: Start cannot
	// wait for it there.
	joined := ent.TxFromContext(ctx) != nil
	if joined && in.Wait != nil && *in.Wait {
		return nil, errors.New("billrun: a run started inside a transaction cannot be waited for in it")
	}
	posting := in.PeriodEnd
	if in.PostingDate != nil {
		posting = *in.PostingDate
	}
	type started struct {
		run      int
		finished bool
	}
	st, err := store.InTxValue(ctx, s.client, func(ctx context.Context) (started, error) {
		c := store.Client(ctx, s.client)
		// Built on the transaction's client: a builder of s.client would write on
		// another connection, outside the transaction (on SQLite it then waits for
		// the write lock this transaction holds until the busy timeout).
		create := c.BillRun.Create().
			SetPeriodStart(in.PeriodStart).SetPeriodEnd(in.PeriodEnd).SetPostingDate(posting).
			SetCreatedAt(s.clock.Now()).SetStatus(billrun.StatusQUEUED)
		if in.AccountIDs != nil {
			create.SetAccountIds(dedupe(in.AccountIDs))
		}
		if in.BillCharges != nil {
			create.SetBillCharges(*in.BillCharges)
		}
		if in.CloseInvoices != nil {
			create.SetCloseInvoices(*in.CloseInvoices)
		}
		if in.InvoiceTopUp != nil {
			create.SetInvoiceTopUp(*in.InvoiceTopUp)
		}
		if in.RunContractCommitment != nil {
			create.SetRunContractCommitment(*in.RunContractCommitment)
		}
		if in.BillUsage != nil {
			create.SetBillUsage(*in.BillUsage)
		}
		run, err := create.Save(ctx)
		if err != nil {
			return started{}, err
		}
		total, err := s.plan(ctx, c, run)
		if err != nil {
			return started{}, err
		}
		if err := c.BillRun.UpdateOneID(run.ID).SetAccountsTotal(total).Exec(ctx); err != nil {
			return started{}, err
		}
		finished, err := s.finishIfDone(ctx, c, run.ID)
		return started{run: run.ID, finished: finished}, err
	})
	if err != nil {
		return nil, err
	}
	runID, finished := st.run, st.finished
	if joined {
		// The caller's transaction holds the run: it is announced by its workers
		// once that commits.
		return store.Client(ctx, s.client).BillRun.Get(ctx, runID)
	}
	if finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: runID})
	} else {
		s.bus.Publish(progress.Event{Kind: progress.Changed, RunID: runID})
	}
	if in.Wait != nil && *in.Wait && !finished {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if s.cfg.MaxWait > 0 {
			wctx, cancel = context.WithTimeout(ctx, s.cfg.MaxWait)
		}
		defer cancel()
		updates, err := s.Watch(wctx, runID)
		if err != nil {
			return nil, err
		}
		for range updates {
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return s.client.BillRun.Get(ctx, runID)
}

func dedupe(ids []int) []int {
	seen := map[int]bool{}
	var out []int
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// Cancel stops a run that has not finished: no new batch starts, batches being billed
// finish (what was billed stays billed), and the run ends CANCELED. NOT_FOUND;
// FAILED_PRECONDITION for a run that already finished.
func (s *Service) Cancel(ctx context.Context, id int) (*ent.BillRun, error) {
	var finished bool
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
		c := store.Client(ctx, s.client)
		run, err := c.BillRun.Get(ctx, id)
		if ent.IsNotFound(err) {
			return fault.NotFoundf("id", "bill run %d not found", id)
		} else if err != nil {
			return err
		}
		if Final(run.Status) {
			return fault.Preconditionf("bill run %d has already finished (%s)", id, run.Status)
		}
		// Batches first, then the run: the order in which workers lock them, so a
		// cancel and a claim never wait for each other in a circle.
		if _, err := c.BillRunBatch.Update().Where(billrunbatch.BillRunID(id), billrunbatch.StateEQ(billrunbatch.StatePENDING)).
			SetState(billrunbatch.StateCANCELED).Save(ctx); err != nil {
			return err
		}
		n, err := c.BillRun.Update().Where(billrun.ID(id), billrun.StatusIn(billrun.StatusQUEUED, billrun.StatusRUNNING)).
			SetCancelRequested(true).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return fault.Conflictf("id", "bill run %d finished meanwhile", id)
		}
		finished, err = s.finishIfDone(ctx, c, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: id})
	} else {
		s.bus.Publish(progress.Event{Kind: progress.Changed, RunID: id})
	}
	return s.client.BillRun.Get(ctx, id)
}

// recordFailure writes an account's failure on the run (replacing an earlier one of
// the same account) and publishes it. The reason shown is the coded message; anything
// else is logged and shown as an internal error.
func (s *Service) recordFailure(ctx context.Context, run *ent.BillRun, accountID int, err error) {
	msg, code := "internal error while billing the account", string(fault.Internal)
	if fe, ok := fault.As(err); ok {
		msg, code = fe.Message, string(fe.Code)
		if fe.Reason != "" {
			code = fe.Reason
		}
		s.log.WarnContext(ctx, "an account could not be billed", "bill_run", run.ID, "account", accountID, "reason", msg)
	} else {
		s.log.ErrorContext(ctx, "billing an account failed", "bill_run", run.ID, "account", accountID, "error", err)
	}
	werr := s.client.BillRunError.Create().SetBillRunID(run.ID).SetAccountID(accountID).SetMessage(msg).SetCode(code).
		OnConflictColumns(billrunerror.FieldBillRunID, billrunerror.FieldAccountID).UpdateMessage().UpdateCode().Exec(ctx)
	if werr != nil {
		s.log.ErrorContext(ctx, "recording a billing failure", "bill_run", run.ID, "account", accountID, "error", werr)
	}
	s.bus.Publish(progress.Event{Kind: progress.AccountFailed, RunID: run.ID, AccountID: accountID, Message: msg})
}

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
	if Final(run.Status) {
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
