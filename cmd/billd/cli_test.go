package main_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/calendar"
	"github.com/billd/billd/internal/seed"
	"github.com/billd/billd/internal/testenv"
)

// TestBillCommand runs the real `billd bill` and `billd runs` against a test server:
// the summary's figures, the failures with their reasons, and the exit codes.
//
// Three accounts on the seed package (10.00 + 5.00 a month from 2024-01-01): January
// bills 3 invoices of 15.00, 6 charges, USD 45.00. A fourth account on a package whose
// frequency is broken fails, and the run ends COMPLETED_WITH_ERRORS.
func TestBillCommand(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	b := testenv.Start(t, "sqlite")
	ctx := context.Background()
	cat, err := seed.NewCatalog(ctx, b.Catalog, "Seed")
	require.NoError(t, err)
	_, err = seed.Accounts(ctx, b.DB.Client, cat, 3, calendar.MustParse("2024-01-01"))
	require.NoError(t, err)

	billd := func(key string, args ...string) (stdout, stderr string, code int) {
		return runBilld(t, bin, []string{"BILLD_URL=" + b.HTTP.URL, "BILLD_API_KEY=" + key}, args...)
	}

	out, errs, code := billd(testenv.AdminKey, "bill", "-period-start", "2024-01-01", "-period-end", "2024-01-31")
	require.Equal(t, 0, code, "stderr: %s", errs)
	require.Contains(t, out, " COMPLETED\n")
	require.Contains(t, out, "accounts   3 of 3 processed, 0 failed\n")
	require.Contains(t, out, "invoices   3\n")
	require.Contains(t, out, "charges    6\n")
	require.Contains(t, out, "totals     USD 45.00\n")
	// stderr is not a terminal here: plain progress lines, no carriage returns.
	require.Contains(t, errs, "billing [")
	require.Contains(t, errs, "3/3")
	require.NotContains(t, errs, "\r")

	broken, err := seed.NewCatalog(ctx, b.Catalog, "Broken")
	require.NoError(t, err)
	ids, err := seed.Accounts(ctx, b.DB.Client, broken, 1, calendar.MustParse("2024-01-01"))
	require.NoError(t, err)
	_, err = b.DB.SQL.Exec("UPDATE package_frequencies SET interval_count = 0 WHERE id = " + strconv.Itoa(broken.FrequencyID))
	require.NoError(t, err)

	// February: the three good accounts bill again, the broken one fails.
	out, errs, code = billd(testenv.AdminKey, "bill", "-period-start", "2024-02-01", "-period-end", "2024-02-29")
	require.Equal(t, 3, code, "a run with failures exits 3; stderr: %s", errs)
	require.Contains(t, out, " COMPLETED_WITH_ERRORS\n")
	require.Contains(t, out, "accounts   4 of 4 processed, 1 failed\n")
	require.Contains(t, out, "invoices   3\n")
	require.Contains(t, out, "totals     USD 45.00\n")
	require.Contains(t, out, "failed     account "+strconv.Itoa(ids[0])+" (")

	list, errs, code := billd(testenv.AdminKey, "runs")
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(list), "\n")
	require.Len(t, lines, 3, list)
	require.Contains(t, lines[1], "COMPLETED_WITH_ERRORS", "newest first")
	require.Contains(t, lines[1], "2024-02-01..2024-02-29")
	require.Contains(t, lines[2], "COMPLETED")
	require.Contains(t, lines[2], "USD 45.00")

	// runs watch on a finished run prints the same summary.
	runID := strings.Fields(lines[2])[0]
	out, _, code = billd(testenv.AdminKey, "runs", "watch", runID)
	require.Equal(t, 0, code)
	require.Contains(t, out, "bill run "+runID+" COMPLETED\n")

	// A bad key and no key fail with exit code 1 and say why; nothing is started.
	_, errs, code = billd("billd_nosuchkey000_not-a-key-of-this-server-at-all-0000", "bill", "-period-start", "2024-03-01", "-period-end", "2024-03-31")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "UNAUTHENTICATED")
	_, errs, code = billd("", "runs")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "BILLD_API_KEY")
	require.Equal(t, 2, b.Count("bill_runs"))

	// A READ_ONLY key may list runs but not start one.
	var key struct{ CreateApiKey struct{ Key string } }
	b.MustQuery(`mutation { createApiKey(input: {name: "viewer", role: READ_ONLY}) { key } }`, nil, &key)
	_, errs, code = billd(key.CreateApiKey.Key, "bill", "-period-start", "2024-03-01", "-period-end", "2024-03-31")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "FORBIDDEN")
	_, _, code = billd(key.CreateApiKey.Key, "runs")
	require.Equal(t, 0, code)
}

// TestAPIKeyCommand creates keys with `billd apikey create` straight in the database
// of a running server: the printed key works at once with its role, and bad input is
// refused with exit code 1 and nothing written.
func TestAPIKeyCommand(t *testing.T) {
	t.Parallel()
	bin := buildBilld(t)
	dbURL := testenv.DatabaseURL(t, "sqlite")
	b := testenv.StartURL(t, "sqlite", dbURL)

	create := func(args ...string) (string, string, int) {
		out, errs, code := runBilld(t, bin, nil, append([]string{"apikey", "create", "-db", dbURL, "-log-level", "warn"}, args...)...)
		return strings.TrimSpace(out), errs, code
	}

	key, errs, code := create("--role", "read_only", "--name", "reporting")
	require.Equal(t, 0, code, errs)
	require.Regexp(t, `^billd_[a-z0-9]{12}_[A-Za-z0-9_-]{32,}$`, key)
	require.Contains(t, errs, "shown only now")
	var v struct {
		Viewer struct{ Role, KeyName string }
	}
	b.As(key).MustQuery(`{ viewer { role keyName } }`, nil, &v)
	require.Equal(t, "READ_ONLY", v.Viewer.Role)
	require.Equal(t, "reporting", v.Viewer.KeyName)

	var p struct{ CreatePartner struct{ ID string } }
	b.MustQuery(`mutation { createPartner(input: {name: "Reseller"}) { id } }`, nil, &p)
	key, errs, code = create("-role", "PARTNER", "-partner", p.CreatePartner.ID)
	require.Equal(t, 0, code, errs)
	var pv struct {
		Viewer struct {
			Role    string
			Partner struct{ ID string }
		}
	}
	b.As(key).MustQuery(`{ viewer { role partner { id } } }`, nil, &pv)
	require.Equal(t, "PARTNER", pv.Viewer.Role)
	require.Equal(t, p.CreatePartner.ID, pv.Viewer.Partner.ID)

	before := b.Count("api_keys")
	for _, args := range [][]string{
		{"-role", "ROOT"},    // no such role
		{"-role", "PARTNER"}, // a partner key needs its partner
		{"-role", "OPERATOR", "-partner", p.CreatePartner.ID}, // only partner keys have one
		{"-role", "PARTNER", "-partner", "999"},               // unknown partner
	} {
		out, errs, code := create(args...)
		require.Equal(t, 1, code, "%v: %s", args, errs)
		require.Empty(t, out, "no key is printed")
		require.Contains(t, errs, "billd: ")
	}
	require.Equal(t, before, b.Count("api_keys"))
}

// runBilld runs the billd binary with env and args and returns its output and exit
// code; failing to run it at all fails the test.
func runBilld(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	var exit *exec.ExitError
	if err := cmd.Run(); errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), code
}
