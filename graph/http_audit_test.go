package graph_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/testenv"
)

// TestGraphQLOverHTTPAudit runs the GraphQL-over-HTTP audit suite of npm graphql-http
// (its serverAudits) against the real handler: every MUST and every SHOULD passes.
// The MAYs are reported by the suite as notices, and billd takes most of them too
// (400 for malformed parameters, GET for queries, no mutations over GET).
func TestGraphQLOverHTTPAudit(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	require.NoError(t, err, "Node.js is needed for the GraphQL-over-HTTP audit (CI installs it)")
	dir, err := filepath.Abs("../test/js")
	require.NoError(t, err)
	npmCI(t, dir)
	b := testenv.Start(t, "sqlite")
	cmd := exec.Command(node, filepath.Join(dir, "http-audit.mjs"), b.HTTP.URL+"/query")
	cmd.Env = append(os.Environ(), "BILLD_API_KEY="+b.Key)
	out, err := cmd.Output()
	require.NoError(t, err, "node: %s", out)
	var results []struct {
		ID, Name, Status, Reason string
	}
	require.NoError(t, json.Unmarshal(out, &results), "%s", out)
	must, should := 0, 0
	for _, r := range results {
		switch {
		case strings.HasPrefix(r.Name, "MUST"):
			must++
		case strings.HasPrefix(r.Name, "SHOULD"):
			should++
		default:
			continue
		}
		require.Equal(t, "ok", r.Status, "%s %s: %s", r.ID, r.Name, r.Reason)
	}
	// The suite of graphql-http 1.23.1 has 13 MUST and 23 SHOULD audits.
	require.Equal(t, 13, must)
	require.Equal(t, 23, should)
}
