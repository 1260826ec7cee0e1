package store

import (
	"context"
	"fmt"
	"strings"
)

// sqliteUsageMove writes one usage position, guarded by the usage_next it was rated
// from; the activation day is set only where none is.
const sqliteUsageMove = "UPDATE account_packages SET usage_next = ?, usage_due = ?, " +
	"usage_late_from = CASE WHEN ? THEN NULL ELSE usage_late_from END, " +
	"activated_on = COALESCE(activated_on, ?) WHERE id = ? AND usage_next IS ?"

// MoveUsage writes usage positions one statement each, a statement the connection
// prepares once (SQLite runs in-process: a short statement per row beats a long one).
func (w *sqliteBulk) MoveUsage(ctx context.Context, moves []UsagePosition) error {
	for _, m := range moves {
		res, err := w.c.ExecContext(ctx, sqliteUsageMove, dateText(m.Next), dateText(m.Due), m.ClearLate, dateText(m.ActivatedOn),
			m.AccountPackageID, dateText(m.From))
		if err != nil {
			return err
		}
		if err := moved(res, 1); err != nil {
			return err
		}
	}
	return nil
}

// MoveUsage writes many usage positions in one UPDATE from a VALUES list per 500.
func (w *pgBulk) MoveUsage(ctx context.Context, moves []UsagePosition) error {
	const chunk = 500
	for i := 0; i < len(moves); i += chunk {
		part := moves[i:min(i+chunk, len(moves))]
		var b strings.Builder
		b.WriteString("UPDATE account_packages AS ap SET usage_next = v.next, usage_due = v.due, " +
			"usage_late_from = CASE WHEN v.clear THEN NULL ELSE ap.usage_late_from END, " +
			"activated_on = COALESCE(ap.activated_on, v.act) FROM (VALUES ")
		args := make([]any, 0, 6*len(part))
		for j, m := range part {
			k := 6 * j
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d::bigint, $%d::date, $%d::date, $%d::date, $%d::boolean, $%d::date)", k+1, k+2, k+3, k+4, k+5, k+6)
			args = append(args, m.AccountPackageID, dateText(m.From), dateText(m.Next), dateText(m.Due), m.ClearLate,
				dateText(m.ActivatedOn))
		}
		b.WriteString(") AS v(id, old, next, due, clear, act) WHERE ap.id = v.id AND ap.usage_next IS NOT DISTINCT FROM v.old")
		res, err := w.c.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return err
		}
		if err := moved(res, len(part)); err != nil {
			return err
		}
	}
	return nil
}
