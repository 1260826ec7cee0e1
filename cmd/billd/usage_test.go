package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/ent/usageday"
	"github.com/billd/billd/internal/money"
	"github.com/billd/billd/internal/testenv"
)

// usageTarget provisions a USAGE account-service (Data, MB) through the API and
// returns its id.
func usageTarget(t *testing.T, b *testenv.Billd, identifier string) string {
	t.Helper()
	var svc struct{ CreateService struct{ ID string } }
	b.MustQuery(`mutation { createService(input: {name: "Data", kind: USAGE, unit: "MB"}) { id } }`, nil, &svc)
	var pkg struct {
		CreatePackage struct {
			ID          string
			Frequencies []struct{ ID string }
		}
	}
	b.MustQuery(`mutation($data: ID!) { createPackage(input: {name: "Data only", currencies: ["USD"], services: [{serviceId: $data}],
		frequencies: [{name: "Monthly", interval: MONTH, prices: []}]}) { id frequencies { id } } }`,
		map[string]any{"data": svc.CreateService.ID}, &pkg)
	var acc struct{ CreateAccount struct{ ID string } }
	b.MustQuery(`mutation { createAccount(input: {name: "Customer", currency: "USD", billDay: 1}) { id } }`, nil, &acc)
	var ap struct {
		ProvisionPackage []struct{ Services []struct{ ID string } }
	}
	b.MustQuery(`mutation($in: ProvisionPackageInput!) { provisionPackage(input: $in) { services { id } } }`,
		map[string]any{"in": map[string]any{"accountId": acc.CreateAccount.ID, "packageId": pkg.CreatePackage.ID,
			"frequencyId": pkg.CreatePackage.Frequencies[0].ID, "effectiveDate": "2024-01-01",
			"services": []any{map[string]any{"serviceId": svc.CreateService.ID, "usageIdentifier": identifier}}}}, &ap)
	return ap.ProvisionPackage[0].Services[0].ID
}

// usageCSV writes n records (quantity i%9+1 on day i%28+1 of January) for the
// account-service, by id or (every third) by identifier, with one too precise
// quantity on line bad+2 (0: none).
func usageCSV(t *testing.T, as, identifier string, n, bad int) (string, money.Decimal) {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("key,accountServiceId,usageIdentifier,quantity,date\n")
	total := money.Zero
	for i := 0; i < n; i++ {
		q := fmt.Sprint(i%9 + 1)
		if bad > 0 && i == bad {
			q = "1.5"
		} else {
			total = total.Add(money.MustParse(q))
		}
		id, ident := as, ""
		if i%3 == 0 {
			id, ident = "", identifier
		}
		fmt.Fprintf(&buf, "cdr-%06d,%s,%s,%s,2024-01-%02d\n", i, id, ident, q, i%28+1)
	}
	path := filepath.Join(t.TempDir(), "usage.csv")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	return path, total
}

// usedTotal is what the daily totals of an account-service add up to.
func usedTotal(t *testing.T, b *testenv.Billd) (money.Decimal, int) {
	t.Helper()
	days, err := b.DB.Client.UsageDay.Query().Where(usageday.RecordsGT(0)).All(t.Context())
	require.NoError(t, err)
	sum, n := money.Zero, 0
	for _, d := range days {
		sum, n = sum.Add(d.Quantity), n+d.Records
	}
	return sum, n
}

// TestUsageImport runs `billd usage import` against a test server: 2,500 records in
// three batches, one refused (too precise for MB) and one malformed line, then the
// same file again, which stores nothing twice.
func TestUsageImport(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	b := testenv.Start(t, "sqlite")
	as := usageTarget(t, b, "555-0100")
	path, total := usageCSV(t, as, "555-0100", 2500, 1234)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("cdr-x,too,many,fields,here,2024-01-01\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	env := []string{"BILLD_URL=" + b.HTTP.URL, "BILLD_API_KEY=" + testenv.AdminKey}

	out, errs, code := runBilld(t, bin, env, "usage", "import", path)
	require.Equal(t, 3, code, "some records were refused; stderr: %s", errs)
	require.Equal(t, "accepted 2499, duplicates 0, refused 2\n", out)
	require.Contains(t, errs, "line 1236 refused: BAD_USER_INPUT on quantity")
	require.Contains(t, errs, "line 2502 refused: 6 fields, the header has 5")
	require.Contains(t, errs, "importing [")
	sum, n := usedTotal(t, b)
	require.Equal(t, total.String(), sum.String())
	require.Equal(t, 2499, n)

	out, _, code = runBilld(t, bin, env, "usage", "import", "-batch", "700", path)
	require.Equal(t, 3, code)
	require.Equal(t, "accepted 0, duplicates 2499, refused 2\n", out)
	sum2, n2 := usedTotal(t, b)
	require.Equal(t, sum.String(), sum2.String())
	require.Equal(t, 2499, n2)

	// Bad use: no file, a header without the needed columns.
	_, errs, code = runBilld(t, bin, env, "usage", "import")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "one CSV file")
	noQty := filepath.Join(t.TempDir(), "bad.csv")
	require.NoError(t, os.WriteFile(noQty, []byte("key,accountServiceId,date\nk,1,2024-01-01\n"), 0o600))
	_, errs, code = runBilld(t, bin, env, "usage", "import", noQty)
	require.Equal(t, 1, code)
	require.Contains(t, errs, `no "quantity" column`)
}

// TestUsageImportResumes kills an import halfway (SIGKILL) and runs it again: every
// record is stored exactly once, and the daily totals add up to the file.
func TestUsageImportResumes(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	b := testenv.Start(t, "sqlite")
	as := usageTarget(t, b, "555-0200")
	const n = 20000
	path, total := usageCSV(t, as, "555-0200", n, 0)
	env := []string{"BILLD_URL=" + b.HTTP.URL, "BILLD_API_KEY=" + testenv.AdminKey}

	cmd := exec.Command(bin, "usage", "import", "-batch", "100", path)
	cmd.Env = env
	require.NoError(t, cmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for b.Count("usage_records") < 500 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// The batch in flight when the client died may still commit on the server: what
	// is stored now is a lower bound of what the second run finds.
	stored := b.Count("usage_records")
	require.Less(t, stored, n, "the import was killed before it finished")

	out, errs, code := runBilld(t, bin, env, "usage", "import", path)
	require.Equal(t, 0, code, errs)
	var accepted, duplicates int
	_, err := fmt.Sscanf(out, "accepted %d, duplicates %d, refused 0\n", &accepted, &duplicates)
	require.NoError(t, err, out)
	require.Equal(t, n, accepted+duplicates, out)
	require.GreaterOrEqual(t, duplicates, stored, out)
	require.Less(t, duplicates, n, out)
	sum, count := usedTotal(t, b)
	require.Equal(t, total.String(), sum.String())
	require.Equal(t, n, count)
	require.Equal(t, n, b.Count("usage_records"))
	require.False(t, strings.Contains(errs, "refused:"))
}

// TestUsageImportThreeAtOnce runs three imports of the same file at once, on each
// database: every record is stored once and counted once in the daily totals, and
// the three runs' accepted counts add up to the file.
func TestUsageImportThreeAtOnce(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	testenv.EachDB(t, func(t *testing.T, b *testenv.Billd) {
		as := usageTarget(t, b, "555-0300")
		const n = 3000
		path, total := usageCSV(t, as, "555-0300", n, 0)
		env := []string{"BILLD_URL=" + b.HTTP.URL, "BILLD_API_KEY=" + testenv.AdminKey}
		type result struct {
			out, errs string
			code      int
		}
		results := make(chan result, 3)
		for i := 0; i < 3; i++ {
			go func() {
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, "usage", "import", "-batch", "250", path)
				cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
				code := 0
				if err := cmd.Run(); err != nil {
					code = -1
					if ee, ok := err.(*exec.ExitError); ok {
						code = ee.ExitCode()
					}
				}
				results <- result{stdout.String(), stderr.String(), code}
			}()
		}
		accepted := 0
		for i := 0; i < 3; i++ {
			r := <-results
			require.Equal(t, 0, r.code, r.errs)
			var a, d int
			_, err := fmt.Sscanf(r.out, "accepted %d, duplicates %d, refused 0\n", &a, &d)
			require.NoError(t, err, r.out)
			require.Equal(t, n, a+d, r.out)
			accepted += a
		}
		require.Equal(t, n, accepted, "each record accepted by exactly one import")
		sum, count := usedTotal(t, b)
		require.Equal(t, total.String(), sum.String())
		require.Equal(t, n, count)
		require.Equal(t, n, b.Count("usage_records"))
	})
}
