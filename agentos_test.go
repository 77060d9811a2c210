package agentos_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestZeroDecisionDenies(t *testing.T) {
	var d agentos.Decision
	assert.Equal(t, agentos.Deny, d.Effect)
	assert.False(t, d.Permits())
	assert.False(t, d.Refuse, "zero value must mean the default onDeny (kill)")
}

func TestEffectText(t *testing.T) {
	for _, e := range []agentos.Effect{agentos.Deny, agentos.Allow, agentos.Approve, agentos.Audit} {
		b, err := e.MarshalText()
		require.NoError(t, err)
		var back agentos.Effect
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, e, back)
	}
	for _, bad := range []string{"", "Allow", "ALLOW", "allow ", "permit"} {
		_, err := agentos.ParseEffect(bad)
		assert.ErrorIs(t, err, agentos.ErrInvalid, bad)
	}
	_, err := agentos.Effect(9).MarshalText()
	assert.ErrorIs(t, err, agentos.ErrInvalid)
	assert.True(t, agentos.Audit.Permits())
	assert.False(t, agentos.Approve.Permits())
}

func TestSeverityText(t *testing.T) {
	for s := agentos.SeverityInfo; s <= agentos.SeverityCritical; s++ {
		b, err := s.MarshalText()
		require.NoError(t, err)
		var back agentos.Severity
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, s, back)
	}
	_, err := agentos.ParseSeverity("urgent")
	assert.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestPolicyViolationIsDenied(t *testing.T) {
	v := &agentos.PolicyViolation{
		Action:   agentos.Action{Agent: "a1", Op: agentos.OpExec, Tool: "sql.query"},
		Decision: agentos.Decision{Effect: agentos.Deny, Rule: "no-sql", Message: "no"},
	}
	err := fmt.Errorf("syscall: %w", v)
	assert.ErrorIs(t, err, agentos.ErrDenied)
	assert.NotErrorIs(t, err, agentos.ErrKilled)
	var pv *agentos.PolicyViolation
	require.True(t, errors.As(err, &pv))
	assert.Equal(t, "no-sql", pv.Decision.Rule)
	assert.Contains(t, err.Error(), `tool="sql.query"`)
}

func TestOps(t *testing.T) {
	for _, op := range agentos.Ops() {
		assert.True(t, op.Valid(), op)
	}
	for _, op := range []agentos.Op{"", "READ", "read ", "exec\x00", "ехес"} {
		assert.False(t, op.Valid(), "%q", op)
	}
	assert.False(t, agentos.OpRead.SideEffect())
	assert.True(t, agentos.OpExec.SideEffect())
	assert.True(t, agentos.OpWrite.SideEffect())
}

// Deny over approve over audit over allow; an unnamed effect ranks as deny.
func TestEffectOverrides(t *testing.T) {
	order := []agentos.Effect{agentos.Allow, agentos.Audit, agentos.Approve, agentos.Deny}
	for i, a := range order {
		for j, b := range order {
			require.Equal(t, i > j, a.Overrides(b), "%v over %v", a, b)
		}
	}
	require.False(t, agentos.Effect(9).Overrides(agentos.Deny))
	require.True(t, agentos.Effect(9).Overrides(agentos.Approve))
}
