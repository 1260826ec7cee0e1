package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

func TestBuiltinCatalog(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		var out struct {
			Currencies []struct {
				Code      string
				Name      string
				Precision int
			}
			Statuses []struct {
				Code     string
				Billable bool
				ReadOnly bool
			}
		}
		b.MustQuery(`{ currencies { code name precision } statuses { code billable readOnly } }`, nil, &out)
		prec := map[string]int{}
		for _, c := range out.Currencies {
			prec[c.Code] = c.Precision
		}
		require.Equal(t, map[string]int{"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "JPY": 0}, prec)
		type st struct{ billable, readOnly bool }
		got := map[string]st{}
		for _, s := range out.Statuses {
			got[s.Code] = st{s.Billable, s.ReadOnly}
		}
		require.Equal(t, map[string]st{
			"ACTIVE": {true, false}, "SUSPENDED": {true, false},
			"PENDING": {false, false}, "CANCELED": {false, true},
		}, got)
	})
}
