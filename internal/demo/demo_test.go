package demo_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/accountpackage"
	"github.com/billd/billd/internal/demo"
	"github.com/billd/billd/internal/testenv"
)

// TestLoadIsIdempotent loads 30 demo accounts twice: the second load adds nothing.
// Accounts 1..30 get one main package each, Support Plus when i%3 == 0 (10 of them)
// and Onboarding when i%7 == 0 (4): 44 account-packages; those of accounts 15 and 30
// are canceled.
func TestLoadIsIdempotent(t *testing.T) {
	t.Parallel()
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		ctx := context.Background()
		s := demo.Services{Client: b.DB.Client, Catalog: b.Catalog, Accounts: b.Accounts, Provisioning: b.Provisioning}
		for range 2 {
			require.NoError(t, demo.Load(ctx, s, 30, b.Clock.Now(), nil))
			require.Equal(t, 30, b.Count("accounts"))
			require.Equal(t, 5, b.Count("packages"))
			require.Equal(t, 44, b.Count("account_packages"))
			canceled, err := b.DB.Client.AccountPackage.Query().Where(accountpackage.CancellationDateNotNil()).Count(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, canceled)
		}
		// Growing the demo adds only the missing accounts.
		require.NoError(t, demo.Load(ctx, s, 35, b.Clock.Now(), nil))
		require.Equal(t, 35, b.Count("accounts"))
	})
}
