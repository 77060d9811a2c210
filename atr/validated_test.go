package atr_test

import (
	"context"
	"testing"

	"github.com/agent-os/agentos/atr"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/stretchr/testify/require"
)

// TestCallValidated checks that CallValidated skips validation only for
// proof from the same tool's Check against the schema it has now, and
// validates everything else in full: no call runs with invalid arguments.
func TestCallValidated(t *testing.T) {
	search := searchTool(t)
	valid := map[string]any{"table": "users"}
	invalid := map[string]any{"table": "nope"}

	proof, err := search.Check(valid)
	require.NoError(t, err)
	_, err = search.Check(invalid)
	require.ErrorIs(t, err, atr.ErrInvalidArgs)

	// A copy of the tool with its own function and, in one case, a
	// schema that refuses everything.
	ran := false
	spy := func(context.Context, map[string]any) (any, error) { ran = true; return "ran", nil }
	copied := *search
	copied.Func = spy
	replaced := *search
	replaced.Func = spy
	replaced.InputSchema = &jsonschema.Schema{Not: &jsonschema.Schema{}}

	tests := []struct {
		name    string
		tool    *atr.Tool
		proof   atr.Validated
		wantRun bool
	}{
		{"own proof runs", &copied, mustCheck(t, &copied, valid), true},
		{"proof from another tool is validated again", &copied, proof, true},
		{"schema replaced after the check", &replaced, proof, false},
		{"unprepared tool, own proof, refused by its schema", &replaced, mustCheckErr(t, &replaced, valid), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran = false
			out, err := tt.tool.CallValidated(t.Context(), tt.proof)
			require.Equal(t, tt.wantRun, ran)
			if tt.wantRun {
				require.NoError(t, err)
				require.Equal(t, "ran", out)
				return
			}
			require.ErrorIs(t, err, atr.ErrInvalidArgs)
		})
	}

	t.Run("zero proof with a schema that needs a property", func(t *testing.T) {
		ran = false
		_, err := copied.CallValidated(t.Context(), atr.Validated{})
		require.ErrorIs(t, err, atr.ErrInvalidArgs, "the empty object lacks table")
		require.False(t, ran)
	})
	t.Run("dead context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		ran = false
		_, err := copied.CallValidated(ctx, mustCheck(t, &copied, valid))
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, ran)
	})
}

func mustCheck(t *testing.T, tool *atr.Tool, args map[string]any) atr.Validated {
	t.Helper()
	v, err := tool.Check(args)
	require.NoError(t, err)
	return v
}

// mustCheckErr returns the (zero) proof of a refused Check.
func mustCheckErr(t *testing.T, tool *atr.Tool, args map[string]any) atr.Validated {
	t.Helper()
	v, err := tool.Check(args)
	require.ErrorIs(t, err, atr.ErrInvalidArgs)
	return v
}
