package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/billrun"
	"github.com/billd/billd/internal/demo"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// demoAccounts is how many demo accounts the browser bills.
const demoAccounts = 600

// shown is what test/js/dashboard-e2e.mjs read off the run's page.
type shown struct {
	RunID       string            `json:"runId"`
	Status      string            `json:"status"`
	Processed   int               `json:"processed"`
	Total       int               `json:"total"`
	Failed      int               `json:"failed"`
	Invoices    int               `json:"invoices"`
	Charges     int               `json:"charges"`
	Totals      map[string]string `json:"totals"`
	SawProgress bool              `json:"sawProgress"`
	Role        string            `json:"role"`
	Error       any               `json:"error"`
}

// TestDashboardEndToEnd drives the dashboard in headless Chromium (playwright-core,
// test/js/dashboard-e2e.mjs): sign in with the admin key, start a bill run of 600 demo
// accounts through the form, follow its page to the end. The run is throttled (batches
// of 20, a pause after each) so the page shows it moving. What the page showed must be
// what the API says of the run.
func TestDashboardEndToEnd(t *testing.T) {
	browser := chromium(t)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("Node.js is not installed: the dashboard's browser test needs it (and npm) to drive Chromium")
	}
	dir, err := filepath.Abs("../test/js")
	require.NoError(t, err)
	npmCI(t, dir)

	b := testenv.StartWith(t, "sqlite", server.Config{Billing: billrun.Config{BatchSize: 20, Pause: 30 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	require.NoError(t, demo.Load(ctx, demo.Services{Client: b.DB.Client, Catalog: b.Catalog, Accounts: b.Accounts,
		Provisioning: b.Provisioning}, demoAccounts, b.Clock.Now(), nil))

	shot := filepath.Join(artifactDir(t), "dashboard-e2e.png")
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "dashboard-e2e.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL="+b.HTTP.URL, "API_KEY="+testenv.AdminKey, "CHROMIUM="+browser,
		"PERIOD_START=2024-01-01", "PERIOD_END=2024-01-31", "SCREENSHOT="+shot)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, runErr := cmd.Output()
	t.Logf("dashboard-e2e.mjs: %s", bytes.TrimSpace(out))
	if _, err := os.Stat(shot); err == nil {
		t.Logf("screenshot of the run's page: %s", shot)
	}
	require.NoError(t, runErr, "dashboard-e2e.mjs failed\nstdout: %s\nstderr: %s", out, stderr.String())
	var page shown
	require.NoError(t, json.Unmarshal(bytes.TrimSpace(out), &page), "the script's output: %s", out)
	require.Nil(t, page.Error)
	require.FileExists(t, shot)

	// The run as the API has it.
	var api struct {
		Node struct {
			ID                string
			Status            string
			AccountsTotal     int
			AccountsProcessed int
			AccountsFailed    int
			InvoicesCreated   int
			ChargesCreated    int
			Totals            []struct {
				Currency struct{ Code string }
				Amount   string
			}
		}
	}
	b.MustQuery(`query ($id: ID!) { node(id: $id) { ... on BillRun { id status accountsTotal accountsProcessed
		accountsFailed invoicesCreated chargesCreated totals { currency { code } amount } } } }`,
		map[string]any{"id": page.RunID}, &api)
	run := api.Node
	require.Equal(t, page.RunID, run.ID, "the run the page followed exists")

	require.Equal(t, "ADMIN", page.Role, "the page shows the key's role")
	require.Equal(t, "COMPLETED", run.Status)
	require.Equal(t, run.Status, page.Status)
	require.Equal(t, demoAccounts, run.AccountsTotal)
	require.Equal(t, demoAccounts, run.AccountsProcessed)
	require.Equal(t, demoAccounts, page.Total)
	require.Equal(t, demoAccounts, page.Processed)
	require.Equal(t, run.AccountsFailed, page.Failed)
	require.Equal(t, run.InvoicesCreated, page.Invoices)
	require.Equal(t, run.ChargesCreated, page.Charges)
	require.Positive(t, run.InvoicesCreated, "the demo data bills something")
	totals := map[string]string{}
	for _, tot := range run.Totals {
		totals[tot.Currency.Code] = tot.Amount
	}
	require.NotEmpty(t, totals)
	require.Equal(t, totals, page.Totals, "totals per currency")
	require.True(t, page.SawProgress, "the page showed the run part way (0 < processed < total) before its end")
}

// chromium returns the browser to drive ($CHROMIUM, else /usr/bin/chromium) or skips.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		t.Skipf("no Chromium at %s (set CHROMIUM to a Chromium or Chrome binary): the dashboard's browser test needs one", path)
	}
	return path
}

// artifactDir is where the screenshot goes: $BILLD_ARTIFACTS (kept after the test, for
// CI to upload), else a temporary directory.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BILLD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(dir)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

var (
	npmOnce  sync.Once
	npmErr   error
	errNoNPM = errors.New("npm is not installed")
)

// npmCI installs test/js's packages (npm ci, from the lock file) once per test binary,
// unless playwright-core is already there.
func npmCI(t *testing.T, dir string) {
	t.Helper()
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core", "package.json")); err == nil {
			return
		}
		if _, err := exec.LookPath("npm"); err != nil {
			npmErr = errNoNPM
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = errors.New("npm ci in " + dir + ": " + err.Error() + "\n" + string(out))
		}
	})
	if errors.Is(npmErr, errNoNPM) {
		t.Skip("npm is not installed and test/js/node_modules has no playwright-core: the dashboard's browser test needs it")
	}
	require.NoError(t, npmErr)
}
