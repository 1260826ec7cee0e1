package text_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billd/billd/internal/fault"
	"github.com/billd/billd/internal/text"
)

func TestName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"trimmed", "  Fiber 100  ", "Fiber 100", ""},
		{"200 accented letters are 200 characters", strings.Repeat("é", 200), strings.Repeat("é", 200), ""},
		{"201 characters", strings.Repeat("é", 201), "", "is 201 characters long, more than the 200 allowed"},
		{"empty", " \t ", "", "must not be empty"},
		{"NUL", "a\x00b", "", "U+0000 at character 2"},
		{"escape", "\x1b[1m", "", "U+001B at character 1"},
		{"newline inside", "a\nb", "", "U+000A"},
		{"C1 control", "a\u0085b", "", "U+0085"},
		{"emoji", "Run🏃", "Run🏃", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.in
			err := text.Name("input.name", &s, 200)
			if tc.err == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, s)
				return
			}
			fe, ok := fault.As(err)
			require.True(t, ok)
			require.Equal(t, fault.Invalid, fe.Code)
			require.Equal(t, "input.name", fe.Field)
			require.Contains(t, fe.Message, tc.err)
		})
	}
}

func TestDescription(t *testing.T) {
	t.Parallel()
	require.NoError(t, text.Description("d", nil))
	ok := "two\nlines\tand\r\nbreaks"
	require.NoError(t, text.Description("d", &ok))
	bad := "a\x00"
	require.Error(t, text.Description("d", &bad))
	long := strings.Repeat("x", text.MaxDescription+1)
	require.Error(t, text.Description("d", &long))
}
