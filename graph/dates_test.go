package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// TestDatesInRange proves every Date input is refused outside 1970-01-01..2199-12-31,
// with the field and nothing written.
func TestDatesInRange(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		e := &bxEnv{t: t, b: b}
		p, accs, _ := bxSimple(e, "10.00", "Ada")
		provision := `mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { id } }`
		before := b.Count("account_packages")
		for _, d := range []string{"0000-01-01", "1969-12-31", "2200-01-01", "9999-12-31"} {
			t.Run(d, func(t *testing.T) {
				err := b.MustFail(provision, map[string]any{"in": map[string]any{"accountId": accs[0], "packageId": p.ID,
					"frequencyId": p.Freq, "effectiveDate": d}}, "BAD_USER_INPUT")
				require.Equal(t, "input.effectiveDate", err.Field())
				require.Contains(t, err.Message, "outside the dates billd accepts, 1970-01-01 to 2199-12-31")
				err = b.MustFail(`mutation { startBillRun(input: {periodStart: "2024-01-01", periodEnd: "`+d+`"}) { id } }`, nil, "BAD_USER_INPUT")
				require.Equal(t, "input.periodEnd", err.Field())
			})
		}
		require.Equal(t, before, b.Count("account_packages"))
		require.Zero(t, b.Count("bill_runs"))
		// The ends of the range are dates like any other.
		e.provision(p, accs[0], "1970-01-01", map[string]any{"endDate": "2199-12-31"})
	})
}

// TestRunSpanBound proves one run bills at most 7,320 days of an account-package:
// one effective in 1970 fails a January 2024 run with a reason saying how to catch it
// up, nothing of it is written, and a run over its first ten years bills them.
func TestRunSpanBound(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		e := &bxEnv{t: t, b: b}
		p, accs, aps := bxSimple(e, "10.00", "Old", "New")
		old := e.provision(p, accs[0], "1970-01-01", nil)[0]
		e.provision(p, accs[1], "2024-01-01", nil)
		_ = aps

		jan := e.run("2024-01-01", "2024-01-31", nil)
		require.Equal(t, "COMPLETED_WITH_ERRORS", jan.Status)
		require.Equal(t, 1, jan.AccountsFailed)
		require.Len(t, jan.Errors, 1)
		// 1970-01-01 + 7,319 days is 1990-01-15: the latest end a run billing it may have.
		require.Equal(t, "account-package "+old+" is unbilled since 1970-01-01: one run bills at most 7320 days of "+
			"an account-package, so bill it first with a run ending on or before 1990-01-15", jan.Errors[0].Message)
		require.Equal(t, 1, jan.InvoicesCreated, "only the new account was billed")
		require.Empty(t, e.accountInvoices(accs[0]), "nothing was written for the failed account")
		require.Equal(t, "1970-01-01", *e.ap(old).NextBillDate)

		// Catching up within the bound: ten years, 120 months of 10.00.
		seventies := e.run("1970-01-01", "1979-12-31", map[string]any{"accountIds": []string{accs[0]}})
		require.Equal(t, "COMPLETED", seventies.Status)
		require.Equal(t, 120, seventies.ChargesCreated)
		require.Equal(t, "1200.00", seventies.Totals[0].Amount)
		require.Equal(t, "1980-01-01", *e.ap(old).NextBillDate)
	})
}
