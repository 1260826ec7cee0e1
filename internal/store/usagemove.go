package store

import (
	"context"
	"database/sql"
)

// usageMoveSQL writes one usage position, guarded by the usage_next it was rated
// from; the activation day is set only where none is.
func usageMoveSQL(pg bool) string {
	if pg {
		return "UPDATE account_packages SET usage_next = $1::date, usage_due = $2::date, " +
			"usage_late_from = CASE WHEN $3::boolean THEN NULL ELSE usage_late_from END, " +
			"activated_on = COALESCE(activated_on, $4::date) WHERE id = $5 AND usage_next IS NOT DISTINCT FROM $6::date"
	}
	return "UPDATE account_packages SET usage_next = ?, usage_due = ?, " +
		"usage_late_from = CASE WHEN ? THEN NULL ELSE usage_late_from END, " +
		"activated_on = COALESCE(activated_on, ?) WHERE id = ? AND usage_next IS ?"
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// moveUsage writes usage positions one statement each: few packages move their usage
// position in a batch compared with the charges it writes.
func moveUsage(ctx context.Context, x execer, pg bool, moves []UsagePosition) error {
	q := usageMoveSQL(pg)
	for _, m := range moves {
		res, err := x.ExecContext(ctx, q, dateText(m.Next), dateText(m.Due), m.ClearLate, dateText(m.ActivatedOn),
			m.AccountPackageID, dateText(m.From))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return ErrPositionMoved
		}
	}
	return nil
}

func (w *sqliteBulk) MoveUsage(ctx context.Context, moves []UsagePosition) error {
	return moveUsage(ctx, w.c, false, moves)
}

func (w *pgBulk) MoveUsage(ctx context.Context, moves []UsagePosition) error {
	return moveUsage(ctx, w.c, true, moves)
}
