package graph_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/access"
	"github.com/billd/billd/internal/server"
	"github.com/billd/billd/internal/testenv"
)

// TestAuditRefusedBeforeExecution proves that mutations refused while their document
// was checked (depth, complexity, validation, parsing) are in the audit log with who,
// what and why, and that refused queries are not.
func TestAuditRefusedBeforeExecution(t *testing.T) {
	t.Parallel()
	url := testenv.DatabaseURL(t, "sqlite")
	b := testenv.StartWith(t, "sqlite", server.Config{DatabaseURL: url, Limits: access.Limits{MaxDepth: 3, MaxComplexity: 50}})
	reader := testenv.StartWith(t, "sqlite", server.Config{DatabaseURL: url, NoWorkers: true}) // reads the log
	op := acxCreateKey(t, b, "ops", "OPERATOR", nil)
	ob := b.As(op.Key)

	cases := []struct {
		doc, code, operation, message string
	}{
		// createPartner > accounts > edges > node > id: five levels.
		{`mutation { createPartner(input: {name: "Deep"}) { accounts { edges { node { id } } } } }`,
			"QUERY_TOO_DEEP", "createPartner", "the query nests 5 levels deep, more than the 3 allowed"},
		// accounts(first: 100) { totalCount } costs 1 + 100, createPartner 1 more.
		{`mutation { createPartner(input: {name: "Costly"}) { accounts(first: 100) { totalCount } } }`,
			"COMPLEXITY_LIMIT_EXCEEDED", "createPartner", "operation has complexity 102, which exceeds the limit of 50"},
		{`mutation { createPartner(input: {nam: "Typo"}) { id } }`,
			"BAD_USER_INPUT", "createPartner", `Field "CreatePartnerInput.name" of required type "String!" was not provided`},
		{`mutation { createPartner(input: {name: "Broken"}`,
			"BAD_USER_INPUT", "(unparsable mutation)", "Expected Name"},
	}
	for _, tc := range cases {
		ob.MustFail(tc.doc, nil, tc.code)
	}
	// A refused query is not a mutation: not audited.
	ob.MustFail(`{ partners { edges { node { accounts { edges { node { id } } } } } } }`, nil, "QUERY_TOO_DEEP")
	require.Zero(t, b.Count("partners"), "nothing was written")

	var log struct {
		AuditLog struct {
			Edges []struct {
				Node struct {
					KeyName, Role, Operation string
					Success                  bool
					ErrorCode                *string
					Message                  *string
					RefusedBeforeExecution   bool
				}
			}
		}
	}
	reader.MustQuery(`{ auditLog(last: 4) { edges { node { keyName role operation success errorCode message
		refusedBeforeExecution } } } }`, nil, &log)
	require.Len(t, log.AuditLog.Edges, 4)
	for i, tc := range cases {
		n := log.AuditLog.Edges[i].Node
		require.Equal(t, "ops", n.KeyName)
		require.Equal(t, "OPERATOR", n.Role)
		require.Equal(t, tc.operation, n.Operation)
		require.False(t, n.Success)
		require.True(t, n.RefusedBeforeExecution)
		require.NotNil(t, n.ErrorCode)
		require.Equal(t, tc.code, *n.ErrorCode)
		require.NotNil(t, n.Message)
		require.Contains(t, *n.Message, tc.message)
	}
}
