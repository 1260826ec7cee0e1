package graph_test

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// TestSchemaKeepsTheContract checks that schema.graphql offers everything of the API
// contract (testdata/contract.graphql, a copy of the spec clients are written
// against) with the same names and types: types, fields, field arguments, input
// fields, enum values and interfaces. The schema may add; it may not rename, remove
// or retype.
//
// The v2 contract is served feature by feature: what is not served yet is listed in
// testdata/contract_pending.txt, one name a line. A name is either served exactly
// as the contract says or listed there; a listed name that is served fails the test
// too, so the list only ever shrinks.
func TestSchemaKeepsTheContract(t *testing.T) {
	t.Parallel()
	load := func(path string) *ast.Schema {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		s, gerr := gqlparser.LoadSchema(&ast.Source{Name: path, Input: string(b)})
		require.Nil(t, gerr, "%s", path)
		return s
	}
	contract := load("testdata/contract.graphql")
	schema := load("../schema.graphql")
	pendingText, err := os.ReadFile("testdata/contract_pending.txt")
	require.NoError(t, err)
	pending := map[string]bool{}
	for _, line := range strings.Split(string(pendingText), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			pending[line] = true
		}
	}
	missing := map[string]bool{}
	for name, ct := range contract.Types {
		if ct.BuiltIn {
			continue
		}
		st, ok := schema.Types[name]
		if !ok {
			missing[name] = true
			continue
		}
		require.Equal(t, ct.Kind, st.Kind, "kind of %s", name)
		for _, iface := range ct.Interfaces {
			require.Contains(t, st.Interfaces, iface, "%s implements %s", name, iface)
		}
		for _, ev := range ct.EnumValues {
			if st.EnumValues.ForName(ev.Name) == nil {
				missing[name+"."+ev.Name] = true
			}
		}
		for _, cf := range ct.Fields {
			sf := st.Fields.ForName(cf.Name)
			if sf == nil {
				missing[name+"."+cf.Name] = true
				continue
			}
			require.Equal(t, cf.Type.String(), sf.Type.String(), "type of %s.%s", name, cf.Name)
			for _, ca := range cf.Arguments {
				sa := sf.Arguments.ForName(ca.Name)
				require.NotNil(t, sa, "argument %s.%s(%s)", name, cf.Name, ca.Name)
				require.Equal(t, ca.Type.String(), sa.Type.String(), "type of %s.%s(%s)", name, cf.Name, ca.Name)
			}
			for _, sa := range sf.Arguments {
				if cf.Arguments.ForName(sa.Name) == nil {
					require.False(t, sa.Type.NonNull && sa.DefaultValue == nil,
						"added argument %s.%s(%s) must be optional", name, cf.Name, sa.Name)
				}
			}
		}
		if st.Kind == ast.InputObject {
			for _, sf := range st.Fields {
				if ct.Fields.ForName(sf.Name) == nil {
					require.False(t, sf.Type.NonNull && sf.DefaultValue == nil,
						"added input field %s.%s must be optional", name, sf.Name)
				}
			}
		}
	}
	list := func(m map[string]bool) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		sort.Strings(out)
		return out
	}
	require.Equal(t, list(pending), list(missing),
		"contract names not served must be exactly those of testdata/contract_pending.txt")
}
