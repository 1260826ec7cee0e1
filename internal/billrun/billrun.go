// Package billrun runs bill runs: it finds the accounts of a run, bills each one in a
// transaction of its own with the rating engine, writes the charges and the invoice,
// and keeps the run's counters. See README.md for its guarantees.
package billrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"entgo.io/ent/dialect/sql/sqlgraph"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/account"
	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/billrunbatch"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/ent/predicate"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/clock"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/progress"
	"github.com/billd/billd/internal/rating"
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
	// Wait makes Start return only when the run has finished (or ctx ended, or
	// Config.MaxWait passed: the run is then returned as it stands).
	Wait *bool
}

// MaxRangeDays bounds a run's range: longer ranges are a typo, not a bill run.
const MaxRangeDays = 3660

// Validate checks the input without touching the database.
func (in *StartInput) Validate() error {
	if in.PeriodEnd.Before(in.PeriodStart) {
		return fault.Invalidf("input.periodEnd", "periodEnd %s is before periodStart %s", in.PeriodEnd, in.PeriodStart)
	}
	if calendar.Days(in.PeriodStart, in.PeriodEnd) > MaxRangeDays {
		return fault.Invalidf("input.periodEnd", "a bill run covers at most %d days", MaxRangeDays)
	}
	if in.AccountIDs != nil && len(in.AccountIDs) == 0 {
		return fault.Invalidf("input.accountIds", "give at least one account, or omit accountIds to bill every account")
	}
	return nil
}

// Config tunes the workers of this process.
type Config struct {
	Node          string        // this worker's name in claims; unique per process
	Workers       int           // batches billed at once by this process
	BatchSize     int           // accounts per batch
	Lease         time.Duration // how long a claimed batch is this node's before others may take it
	PollEvery     time.Duration // how often idle workers look for work other nodes left
	ProgressEvery time.Duration // the least time between PROGRESS events of a run
	// Pause is how long each worker rests after a batch: it throttles bill runs so
	// they leave the database room for other work (0: no pause).
	Pause time.Duration
	// MaxWait bounds how long startBillRun(wait: true) waits for the run to finish;
	// it then answers with the run as it stands (0: until it finishes).
	MaxWait time.Duration
}

func (c *Config) defaults() {
	if c.Node == "" {
		c.Node = "billd"
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Lease <= 0 {
		c.Lease = 30 * time.Second
	}
	if c.PollEvery <= 0 {
		c.PollEvery = time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = 250 * time.Millisecond
	}
}

// Service runs bill runs: Start plans a run, the workers started by Run bill it, and
// Watch streams its progress.
type Service struct {
	db      *store.DB
	client  *ent.Client
	dialect string
	clock   clock.Clock
	log     *slog.Logger
	bus     progress.Bus
	cfg     Config
	wake    chan struct{}

	mu           sync.Mutex
	pending      map[int]bool      // runs with a trailing PROGRESS event scheduled
	lastProgress map[int]time.Time // when each run last sent PROGRESS from here
	catalogs     map[int]*catalogCache
	analyzed     time.Time // when this node last refreshed planner statistics
}

// New returns the bill run service. Call Run to start its workers.
func New(db *store.DB, clk clock.Clock, log *slog.Logger, bus progress.Bus, cfg Config) *Service {
	cfg.defaults()
	s := &Service{db: db, client: db.Client, dialect: db.Dialect, clock: clk, log: log, bus: bus, cfg: cfg,
		wake: make(chan struct{}, cfg.Workers), pending: map[int]bool{}, lastProgress: map[int]time.Time{},
		catalogs: map[int]*catalogCache{}}
	return s
}

// catalog returns the run's catalog cache, loading it on first use. Caches of at
// most a few recent runs are kept.
func (s *Service) catalog(ctx context.Context, runID int) (*catalogCache, error) {
	s.mu.Lock()
	cc := s.catalogs[runID]
	s.mu.Unlock()
	if cc != nil {
		return cc, nil
	}
	cc, err := newCatalogCache(ctx, s.client)
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
// finished run. Refusals:
// BAD_USER_INPUT for a range out of order; NOT_FOUND for an unknown account id.
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
	posting := in.PeriodEnd
	if in.PostingDate != nil {
		posting = *in.PostingDate
	}
	var runID int
	var finished bool
	err := store.InTx(ctx, s.client, func(ctx context.Context) error {
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
		run, err := create.Save(ctx)
		if err != nil {
			return err
		}
		runID = run.ID
		total, err := s.plan(ctx, c, run)
		if err != nil {
			return err
		}
		if err := c.BillRun.UpdateOneID(run.ID).SetAccountsTotal(total).Exec(ctx); err != nil {
			return err
		}
		finished, err = s.finishIfDone(ctx, c, run.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if finished {
		s.bus.Publish(progress.Event{Kind: progress.Finished, RunID: runID})
	} else {
		s.bus.Publish(progress.Event{Kind: progress.Changed, RunID: runID})
		s.kick()
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
	msg := "internal error while billing the account"
	if fe, ok := fault.As(err); ok {
		msg = fe.Message
		s.log.WarnContext(ctx, "an account could not be billed", "bill_run", run.ID, "account", accountID, "reason", msg)
	} else {
		s.log.ErrorContext(ctx, "billing an account failed", "bill_run", run.ID, "account", accountID, "error", err)
	}
	werr := s.client.BillRunError.Create().SetBillRunID(run.ID).SetAccountID(accountID).SetMessage(msg).
		OnConflictColumns(billrunerror.FieldBillRunID, billrunerror.FieldAccountID).UpdateMessage().Exec(ctx)
	if werr != nil {
		s.log.ErrorContext(ctx, "recording a billing failure", "bill_run", run.ID, "account", accountID, "error", werr)
	}
	s.bus.Publish(progress.Event{Kind: progress.AccountFailed, RunID: run.ID, AccountID: accountID, Message: msg})
}

// billAccountRetrying bills an account; when its transaction loses a race (another
// run charged the same thing first, so the guard index refused a line), it bills it
// once more on fresh state, which then finds nothing left to charge.
func (s *Service) billAccountRetrying(ctx context.Context, run *ent.BillRun, cc *catalogCache, accountID int) (accountResult, error) {
	res, err := s.BillAccount(ctx, run, cc, accountID)
	if err != nil && (ent.IsConstraintError(err) || sqlgraph.IsConstraintError(err) || errors.Is(err, errConcurrent)) {
		return s.BillAccount(ctx, run, cc, accountID)
	}
	return res, err
}

var errConcurrent = errors.New("billed concurrently")

// accountResult is what billing one account produced.
type accountResult struct {
	invoice  bool
	charges  int
	currency string
	total    money.Decimal
}

// BillAccount bills one account of a run in one transaction: all its new lines and
// its invoice, or nothing.
func (s *Service) BillAccount(ctx context.Context, run *ent.BillRun, cc *catalogCache, accountID int) (accountResult, error) {
	res, err := s.billAccounts(ctx, run, cc, []int{accountID})
	if err != nil {
		return accountResult{}, fmt.Errorf("billing account %d: %w", accountID, err)
	}
	return res[accountID], nil
}

// line is a rated line with the account-package it belongs to.
type line struct {
	rating.Line
	apID int
}

// move is the new billing position of one account-package.
type move struct {
	ap  *ent.AccountPackage
	res rating.Result
}

// ratingPackage builds the rating engine's view of an account-package.
func (s *Service) ratingPackage(ctx context.Context, c *ent.Client, cc *catalogCache, acc *ent.Account,
	ap *ent.AccountPackage, changes map[int][]*ent.StatusChange, charged map[int][]*ent.Charge) (rating.Package, error) {
	pkg, err := cc.pkg(ctx, c, ap.PackageID)
	if err != nil {
		return rating.Package{}, err
	}
	freq, err := cc.freq(ctx, c, ap.FrequencyID)
	if err != nil {
		return rating.Package{}, err
	}
	st, err := cc.status(ctx, c, ap.StatusID)
	if err != nil {
		return rating.Package{}, err
	}
	catalogPrices, err := cc.pricesFor(ctx, c, ap.FrequencyID, acc.CurrencyID)
	if err != nil {
		return rating.Package{}, err
	}
	day := acc.BillDay
	if ap.OwnBillDay != nil {
		day = *ap.OwnBillDay
	}
	rp := rating.Package{
		ID: ap.ID, Effective: ap.EffectiveDate,
		Cadence: rating.Cadence{Interval: rating.Interval(freq.Interval), Count: freq.IntervalCount},
		BillDay: day, NewBillDay: ap.NewBillDay, Postpaid: ap.Postpaid,
		ChargeFullPeriod: ap.ChargeFullPeriod, OneTimeBilling: pkg.OneTimeBilling,
		Bulk: ap.BulkQuantity, Status: st.Code, Billable: st.Billable,
		NextBillDate: ap.NextBillDate, BilledThrough: ap.BilledThrough, LastPeriodStart: ap.LastPeriodStart,
		CancelOn: ap.CancellationDate,
	}
	if ap.CancelBillingOption != nil {
		rp.CancelOption = rating.CancelOption(*ap.CancelBillingOption)
	}
	var credited []int
	for _, sv := range ap.Edges.Services {
		svc, err := cc.service(ctx, c, sv.ServiceID)
		if err != nil {
			return rating.Package{}, err
		}
		sst, err := cc.status(ctx, c, sv.StatusID)
		if err != nil {
			return rating.Package{}, err
		}
		rs := rating.Service{ID: sv.ID, ServiceID: sv.ServiceID, Name: svc.Name, Status: sst.Code,
			Quantity: sv.Quantity, Effective: sv.EffectiveDate, OneTimeBilled: sv.OneTimeBilled,
			Recurring: map[string]money.Decimal{}, Transitions: map[rating.StatusPair]money.Decimal{}}
		if p := catalogPrices[sv.ServiceID]; p != nil {
			for k, v := range p.recurring {
				rs.Recurring[k] = v
			}
			rs.OneTime = p.oneTime
			rs.Transitions = p.transitions
		}
		for _, o := range sv.Edges.PriceOverrides {
			ost, err := cc.status(ctx, c, o.StatusID)
			if err != nil {
				return rating.Package{}, err
			}
			rs.Recurring[ost.Code] = o.Amount
		}
		for _, ch := range changes[sv.ID] {
			from, err := cc.status(ctx, c, ch.FromStatusID)
			if err != nil {
				return rating.Package{}, err
			}
			to, err := cc.status(ctx, c, ch.ToStatusID)
			if err != nil {
				return rating.Package{}, err
			}
			rp.Changes = append(rp.Changes, rating.StatusChange{ID: ch.ID, AccountServiceID: sv.ID,
				From: from.Code, To: to.Code, On: ch.ChangedOn})
		}
		rp.Services = append(rp.Services, rs)
		credited = append(credited, sv.ID)
	}
	// What was charged for the latest billed period, for a cancellation's credit.
	if rp.CancelOn != nil && !rp.Postpaid && rp.LastPeriodStart != nil {
		for i := range rp.Services {
			rs := &rp.Services[i]
			for _, ch := range charged[rs.ID] {
				if !ch.PeriodStart.Equal(*rp.LastPeriodStart) {
					continue
				}
				if rs.Charged == nil {
					rs.Charged = map[calendar.Date]rating.ChargedPeriod{}
				}
				rs.Charged[*ch.PeriodStart] = rating.ChargedPeriod{Amount: ch.Amount, UnitAmount: ch.UnitAmount, Quantity: ch.Quantity}
			}
		}
	}
	return rp, nil
}

// applyMove writes an account-package's new billing position, guarded by the position
// it was rated from: if another run moved it meanwhile, nothing is written and the
// account is billed again on fresh state.
func (s *Service) applyMove(ctx context.Context, c *ent.Client, mv move) error {
	ap, r := mv.ap, mv.res
	upd := c.AccountPackage.Update().Where(accountpackage.ID(ap.ID))
	if ap.NextBillDate != nil {
		upd.Where(accountpackage.NextBillDate(*ap.NextBillDate))
	} else {
		upd.Where(accountpackage.NextBillDateIsNil())
	}
	if r.NextBillDate != nil {
		upd.SetNextBillDate(*r.NextBillDate)
	} else {
		upd.ClearNextBillDate()
	}
	if r.BilledThrough != nil {
		upd.SetBilledThrough(*r.BilledThrough)
	}
	if r.LastPeriodStart != nil {
		upd.SetLastPeriodStart(*r.LastPeriodStart)
	}
	if r.BillDayChanged {
		upd.SetOwnBillDay(r.BillDay).ClearNewBillDay()
	}
	var canceledID int
	if r.Canceled {
		st, err := c.Status.Query().Where(statusCode(rating.Canceled)).Only(ctx)
		if err != nil {
			return err
		}
		canceledID = st.ID
		upd.SetStatusID(st.ID)
	}
	n, err := upd.Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return errConcurrent
	}
	if r.Canceled {
		if err := c.AccountService.Update().Where(accountservice.AccountPackageID(ap.ID)).
			SetStatusID(canceledID).Exec(ctx); err != nil {
			return err
		}
	}
	if len(r.OneTimeBilled) > 0 {
		if err := c.AccountService.Update().Where(accountservice.IDIn(r.OneTimeBilled...)).
			SetOneTimeBilled(true).Exec(ctx); err != nil {
			return err
		}
	}
	if len(r.ChangesCharged) > 0 {
		n, err := c.StatusChange.Update().Where(statuschange.IDIn(r.ChangesCharged...), statuschange.Charged(false)).
			SetCharged(true).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(r.ChangesCharged) {
			return errConcurrent
		}
	}
	return nil
}

func statusCode(code string) predicate.Status { return status.Code(code) }
