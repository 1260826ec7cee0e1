package billrun

import (
	"context"
	"time"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/billrun"
	"github.com/billd/billd/ent/billrunerror"
	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/progress"
)

// EventKind is the kind of an Update a watcher receives.
type EventKind string

// The kinds of updates, as the API names them.
const (
	Snapshot      EventKind = "SNAPSHOT"
	Progress      EventKind = "PROGRESS"
	AccountFailed EventKind = "ACCOUNT_FAILED"
	Finished      EventKind = "FINISHED"
)

// Update is one event of a watched run, with the run as it stands.
type Update struct {
	Kind    EventKind
	Run     *ent.BillRun
	Account *ent.Account // ACCOUNT_FAILED only
	Message string       // ACCOUNT_FAILED only
}

// Final reports whether a run status is final.
func Final(st billrun.Status) bool {
	return st != billrun.StatusQUEUED && st != billrun.StatusRUNNING
}

// Watch streams a run's updates: a SNAPSHOT first (also for a run that already
// finished), PROGRESS at most every ProgressEvery, ACCOUNT_FAILED per failure,
// FINISHED last; then the channel closes. Events of every node arrive through the
// bus. The stream ends early when ctx ends. NOT_FOUND for an unknown run.
func (s *Service) Watch(ctx context.Context, runID int) (<-chan Update, error) {
	sub := s.bus.Subscribe() // before the snapshot, so nothing falls between
	run, err := s.client.BillRun.Get(ctx, runID)
	if ent.IsNotFound(err) {
		sub.Close()
		return nil, fault.NotFoundf("id", "bill run %d not found", runID)
	} else if err != nil {
		sub.Close()
		return nil, err
	}
	out := make(chan Update, 1)
	go s.watch(ctx, sub, run, out)
	return out, nil
}

func (s *Service) watch(ctx context.Context, sub *progress.Subscription, run *ent.BillRun, out chan<- Update) {
	defer close(out)
	defer sub.Close()
	send := func(u Update) bool {
		select {
		case out <- u:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !send(Update{Kind: Snapshot, Run: run}) {
		return
	}
	if Final(run.Status) {
		send(Update{Kind: Finished, Run: run})
		return
	}
	tick := time.NewTicker(s.cfg.ProgressEvery)
	defer tick.Stop()
	// A safety net for a FINISHED notification lost with a database connection.
	poll := time.NewTicker(s.cfg.PollEvery * 2)
	defer poll.Stop()
	dirty := false
	sent := map[int]bool{} // the accounts whose failure was sent
	// failed sends an ACCOUNT_FAILED; false when the stream is over.
	failed := func(e progress.Event) bool {
		if sent[e.AccountID] {
			return true
		}
		r, err := s.client.BillRun.Get(ctx, run.ID)
		if err != nil {
			return true
		}
		acc, err := s.client.Account.Get(ctx, e.AccountID)
		if err != nil {
			return true
		}
		sent[e.AccountID] = true
		return send(Update{Kind: AccountFailed, Run: r, Account: acc, Message: e.Message})
	}
	// finished sends FINISHED for r, after the failures still waiting in the
	// subscription: a watcher that reads slowly may miss PROGRESS, never a failure.
	finished := func(r *ent.BillRun) {
		for drained := false; !drained; {
			select {
			case e, ok := <-sub.C:
				if !ok {
					drained = true
				} else if e.RunID == run.ID && e.Kind == progress.AccountFailed && !failed(e) {
					return
				}
			default:
				drained = true
			}
		}
		if sub.Dropped() > 0 && !s.missedFailures(ctx, r, sent, send) {
			return
		}
		send(Update{Kind: Finished, Run: r})
	}
	// finish sends FINISHED if the run has really finished; it reports whether the
	// stream is over.
	finish := func() bool {
		r, err := s.client.BillRun.Get(ctx, run.ID)
		if err != nil || !Final(r.Status) {
			return false
		}
		finished(r)
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.C:
			if !ok {
				return
			}
			if e.RunID != run.ID {
				continue
			}
			switch e.Kind {
			case progress.Progress, progress.Changed:
				dirty = true
			case progress.AccountFailed:
				if !failed(e) {
					return
				}
			case progress.Finished:
				if finish() {
					return
				}
				dirty = true
			}
		case <-tick.C:
			if !dirty {
				continue
			}
			dirty = false
			r, err := s.client.BillRun.Get(ctx, run.ID)
			if err != nil {
				continue
			}
			if Final(r.Status) {
				finished(r)
				return
			}
			if !send(Update{Kind: Progress, Run: r}) {
				return
			}
		case <-poll.C:
			r, err := s.client.BillRun.Get(ctx, run.ID)
			if err == nil && Final(r.Status) {
				finished(r)
				return
			}
		}
	}
}

// missedFailures sends the failures of run recorded in the database that a watcher
// whose subscription overflowed has not been sent; false when the stream is over.
func (s *Service) missedFailures(ctx context.Context, run *ent.BillRun, sent map[int]bool, send func(Update) bool) bool {
	errs, err := s.client.BillRunError.Query().Where(billrunerror.BillRunID(run.ID)).
		Order(ent.Asc(billrunerror.FieldID)).WithAccount().All(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "reading a run's failures for a watcher", "bill_run", run.ID, "error", err)
		return true
	}
	for _, e := range errs {
		if sent[e.AccountID] || e.Edges.Account == nil {
			continue
		}
		sent[e.AccountID] = true
		if !send(Update{Kind: AccountFailed, Run: run, Account: e.Edges.Account, Message: e.Message}) {
			return false
		}
	}
	return true
}

// WatchAll streams every run's state when its status or counters change, for
// dashboards: each changed run at most once per ProgressEvery. It ends when ctx ends.
func (s *Service) WatchAll(ctx context.Context) <-chan *ent.BillRun {
	sub := s.bus.Subscribe()
	out := make(chan *ent.BillRun, 1)
	go func() {
		defer close(out)
		defer sub.Close()
		tick := time.NewTicker(s.cfg.ProgressEvery)
		defer tick.Stop()
		dirty := map[int]bool{}
		var order []int
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-sub.C:
				if !ok {
					return
				}
				if !dirty[e.RunID] {
					dirty[e.RunID] = true
					order = append(order, e.RunID)
				}
			case <-tick.C:
				for _, id := range order {
					r, err := s.client.BillRun.Get(ctx, id)
					if err != nil {
						continue
					}
					select {
					case out <- r:
					case <-ctx.Done():
						return
					}
				}
				dirty, order = map[int]bool{}, order[:0]
			}
		}
	}()
	return out
}
