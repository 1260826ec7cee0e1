package graph_test

import (
	"os"
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
	for name, ct := range contract.Types {
		if ct.BuiltIn {
			continue
		}
		st, ok := schema.Types[name]
		require.True(t, ok, "type %s is missing", name)
		require.Equal(t, ct.Kind, st.Kind, "kind of %s", name)
		for _, iface := range ct.Interfaces {
			require.Contains(t, st.Interfaces, iface, "%s implements %s", name, iface)
		}
		for _, ev := range ct.EnumValues {
			require.NotNil(t, st.EnumValues.ForName(ev.Name), "enum value %s.%s", name, ev.Name)
		}
		for _, cf := range ct.Fields {
			sf := st.Fields.ForName(cf.Name)
			require.NotNil(t, sf, "field %s.%s is missing", name, cf.Name)
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
}
