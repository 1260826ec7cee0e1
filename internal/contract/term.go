package contract

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountpackage"
	entcontract "github.com/billd/billd/ent/contract"
	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/job"
	"github.com/billd/billd/internal/provisioning"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// TermArgs is the daily job that carries out the term ends today reaches: renewals,
// expiries and term-end cancellations happen on their dates, whether or not a bill
// run reaches them first (bill runs carry them out too, see Advance).
type TermArgs struct{}

// Kind names the job in the job system.
func (TermArgs) Kind() string { return "contract_terms" }

// TermEvery is how often the term job runs.
const TermEvery = 24 * time.Hour

// RegisterWorkers gives the job system the term job, inserted daily by the nodes'
// leader.
func (s *Service) RegisterWorkers(r *job.Runner) {
	job.Register(r, &termWorker{s: s})
	r.Periodic(TermEvery, func() river.JobArgs { return TermArgs{} })
}

type termWorker struct {
	river.WorkerDefaults[TermArgs]
	s *Service
}

// Work carries out today's term ends in the transaction that completes the job.
func (w *termWorker) Work(ctx context.Context, j *river.Job[TermArgs]) error {
	return store.InTx(ctx, w.s.db.Client, func(ctx context.Context) error {
		if _, err := Advance(ctx, w.s.db.Client, nil, calendar.Of(w.s.clock.Now())); err != nil {
			return err
		}
		return job.Complete(ctx, j)
	})
}

// Advance carries out, in the transaction ctx carries, the ends of the terms of the
// contracts of accounts (nil: of every account) that through reaches, and returns how
// many it handled (docs/billing.md 7.3):
//   - AUTO_RENEW starts further terms of the same length until one ends after
//     through; a contract whose account-package is canceled by its end is not renewed
//     but ends;
//   - EXPIRE ends the contract; its packages go on;
//   - CANCEL ends the contract and cancels its account-package (an account contract:
//     each of the account's packages) on the contract's end, PRORATED and without a
//     fee, unless it is canceled earlier already.
//
// Each contract is changed by a conditional update on the state it was read in, so a
// bill run and the daily job reaching the same end handle it once.
func Advance(ctx context.Context, c0 *ent.Client, accounts []int, through calendar.Date) (int, error) {
	c := store.Client(ctx, c0)
	q := c.Contract.Query().Where(entcontract.Ended(false), entcontract.EndDateLTE(through)).WithAccountPackage()
	if accounts != nil {
		if len(accounts) == 0 {
			return 0, nil
		}
		q.Where(entcontract.AccountIDIn(accounts...))
	}
	due, err := q.Order(ent.Asc(entcontract.FieldID)).All(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range due {
		upd := c.Contract.Update().Where(entcontract.ID(k.ID), entcontract.Terms(k.Terms), entcontract.Ended(false))
		ap := k.Edges.AccountPackage
		switch {
		case k.Renewal == entcontract.RenewalAUTO_RENEW && !canceledBy(ap, k.EndDate):
			terms, end := k.Terms, k.EndDate
			for !end.After(through) {
				terms++
				end = rating.ContractEnd(k.StartDate, k.TermMonths*terms)
			}
			upd.SetTerms(terms).SetEndDate(end)
		case k.Renewal == entcontract.RenewalCANCEL:
			if err := cancelAtEnd(ctx, c, k); err != nil {
				return n, err
			}
			upd.SetEnded(true).SetFeeCharged(true)
		default:
			upd.SetEnded(true)
		}
		changed, err := upd.Save(ctx)
		if err != nil {
			return n, err
		}
		n += changed
	}
	return n, nil
}

// canceledBy reports whether an account-package contract's package is canceled on or
// before end (or by billing already); an account contract's never is.
func canceledBy(ap *ent.AccountPackage, end calendar.Date) bool {
	if ap == nil {
		return false
	}
	return ap.NextBillDate == nil || (ap.CancellationDate != nil && !ap.CancellationDate.After(end))
}

// cancelAtEnd cancels a CANCEL contract's account-packages on its end.
func cancelAtEnd(ctx context.Context, c *ent.Client, k *ent.Contract) error {
	q := c.AccountPackage.Query().Where(accountpackage.NextBillDateNotNil(),
		accountpackage.Or(accountpackage.CancellationDateIsNil(), accountpackage.CancellationDateGT(k.EndDate)))
	if k.AccountPackageID != nil {
		q.Where(accountpackage.ID(*k.AccountPackageID))
	} else {
		q.Where(accountpackage.AccountID(k.AccountID), accountpackage.EffectiveDateLT(k.EndDate))
	}
	ids, err := q.IDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := provisioning.ScheduleCancel(ctx, c, id, k.EndDate, accountpackage.CancelBillingOptionPRORATED, true); err != nil {
			return err
		}
	}
	return nil
}
