package billing

import (
	"context"

	"github.com/billd/billd/ent"
	"github.com/billd/billd/ent/accountservice"
	"github.com/billd/billd/ent/status"
	"github.com/billd/billd/ent/statuschange"
	"github.com/billd/billd/internal/rating"
	"github.com/billd/billd/internal/store"
)

// move is the new billing position of one account-package.
type move struct {
	ap  *ent.AccountPackage
	res rating.Result
}

// applyMoves writes the packages' new positions, each guarded by the next bill date
// it was rated from, so a package another transaction billed meanwhile fails the
// whole set (store.ErrPositionMoved: the caller bills again on fresh state). Then what
// follows from them, in one statement each: canceled packages' services, one-time
// prices billed, status changes charged. This is the one place a package's new
// position is written.
func (s *Service) applyMoves(ctx context.Context, c *ent.Client, w store.Bulk, moves []move) error {
	if len(moves) == 0 {
		return nil
	}
	var canceledPkgs, oneTime, changes []int
	for _, mv := range moves {
		if mv.res.Canceled {
			canceledPkgs = append(canceledPkgs, mv.ap.ID)
		}
		oneTime = append(oneTime, mv.res.OneTimeBilled...)
		changes = append(changes, mv.res.ChangesCharged...)
	}
	canceled := 0
	if len(canceledPkgs) > 0 {
		st, err := c.Status.Query().Where(status.Code(rating.Canceled)).Only(ctx)
		if err != nil {
			return err
		}
		canceled = st.ID
	}
	positions := make([]store.Position, len(moves))
	for i, mv := range moves {
		positions[i] = positionOf(mv, canceled)
	}
	if err := w.MovePositions(ctx, positions); err != nil {
		return err
	}
	if len(canceledPkgs) > 0 {
		if err := c.AccountService.Update().Where(accountservice.AccountPackageIDIn(canceledPkgs...)).
			SetStatusID(canceled).Exec(ctx); err != nil {
			return err
		}
	}
	if len(oneTime) > 0 {
		if err := c.AccountService.Update().Where(accountservice.IDIn(oneTime...)).
			SetOneTimeBilled(true).Exec(ctx); err != nil {
			return err
		}
	}
	if len(changes) > 0 {
		n, err := c.StatusChange.Update().Where(statuschange.IDIn(changes...), statuschange.Charged(false)).
			SetCharged(true).Save(ctx)
		if err != nil {
			return err
		}
		if n != len(changes) {
			return ErrConcurrent
		}
	}
	return nil
}

// positionOf is a move as the position it writes.
func positionOf(mv move, canceled int) store.Position {
	r := mv.res
	p := store.Position{AccountPackageID: mv.ap.ID, From: mv.ap.NextBillDate, NextBillDate: r.NextBillDate,
		BilledThrough: r.BilledThrough, LastPeriodStart: r.LastPeriodStart}
	if r.Canceled {
		p.StatusID = &canceled
	}
	if r.BillDayChanged {
		day := r.BillDay
		p.BillDay = &day
	}
	return p
}
