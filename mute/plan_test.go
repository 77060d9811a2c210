package mute_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/mute"
)

func TestDecodePlan(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; "" means valid
		cycle   bool
	}{
		{name: "valid", in: restorePlan},
		{name: "unknown field", in: `{"id": "p", "steps": [{"id": "a", "action": "x"}], "extra": 1}`, wantErr: "unknown field"},
		{name: "unknown step field", in: `{"id": "p", "steps": [{"id": "a", "action": "x", "run": true}]}`, wantErr: "unknown field"},
		{name: "trailing data", in: `{"id": "p", "steps": [{"id": "a", "action": "x"}]} {}`, wantErr: "trailing"},
		{name: "not an object", in: `[1]`, wantErr: "cannot unmarshal"},
		{name: "empty", in: ``, wantErr: "EOF"},
		{name: "no steps", in: `{"id": "p", "steps": []}`, wantErr: "no steps"},
		{name: "no id", in: `{"steps": [{"id": "a", "action": "x"}]}`, wantErr: "empty plan id"},
		{name: "empty step id", in: `{"id": "p", "steps": [{"id": "", "action": "x"}]}`, wantErr: "empty step id"},
		{name: "empty action", in: `{"id": "p", "steps": [{"id": "a"}]}`, wantErr: "action"},
		{name: "duplicate step", in: `{"id": "p", "steps": [{"id": "a", "action": "x"}, {"id": "a", "action": "y"}]}`, wantErr: "duplicate"},
		{name: "unknown dependency", in: `{"id": "p", "steps": [{"id": "a", "action": "x", "dependsOn": ["ghost"]}]}`, wantErr: "unknown step \"ghost\""},
		{name: "self dependency", in: `{"id": "p", "steps": [{"id": "a", "action": "x", "dependsOn": ["a"]}]}`, wantErr: "itself"},
		{name: "cycle", in: `{"id": "p", "steps": [{"id": "a", "action": "x", "dependsOn": ["c"]}, {"id": "b", "action": "x", "dependsOn": ["a"]}, {"id": "c", "action": "x", "dependsOn": ["b"]}]}`, wantErr: "cycle", cycle: true},
		{name: "huge number", in: `{"id": "p", "steps": [{"id": "a", "action": "x", "args": {"n": 1e999}}]}`, wantErr: "out of range"},
		{name: "invalid utf-8", in: "{\"id\": \"p\xff\", \"steps\": [{\"id\": \"a\", \"action\": \"x\"}]}", wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := mute.DecodePlan(strings.NewReader(tt.in))
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, p)
				return
			}
			require.ErrorIs(t, err, mute.ErrInvalidPlan)
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.cycle, errorsIsCycle(err))
		})
	}
}

func TestDecodePlanNumbers(t *testing.T) {
	p := mustDecode(t, `{"id": "p", "steps": [{"id": "a", "action": "x", "args": {"i": 3, "f": 2.5, "big": 1e30, "l": [1, {"n": -7}]}}]}`)
	args := p.Steps[0].Args
	require.Equal(t, int64(3), args["i"])
	require.Equal(t, 2.5, args["f"])
	require.Equal(t, 1e30, args["big"])
	require.Equal(t, []any{int64(1), map[string]any{"n": int64(-7)}}, args["l"])
}

func TestPlanOrder(t *testing.T) {
	p := mustDecode(t, `{"id": "p", "steps": [
		{"id": "c", "action": "x", "dependsOn": ["b", "b"]},
		{"id": "b", "action": "x", "dependsOn": ["d"]},
		{"id": "a", "action": "x"},
		{"id": "d", "action": "x"}]}`)
	order, err := p.Order()
	require.NoError(t, err)
	require.Equal(t, []int{2, 3, 1, 0}, order, "a, d, b, c: dependencies first, else as written")
}

// chainPlan is a plan of n steps, each depending on the one before.
func chainPlan(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"id": "big", "steps": [`)
	for i := range n {
		if i > 0 {
			fmt.Fprintf(&b, `,{"id": "s%d", "action": "svc.status", "dependsOn": ["s%d"]}`, i, i-1)
		} else {
			b.WriteString(`{"id": "s0", "action": "svc.status"}`)
		}
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func TestPlanStepBound(t *testing.T) {
	p, err := mute.DecodePlan(bytes.NewReader(chainPlan(mute.MaxSteps)))
	require.NoError(t, err)
	require.Len(t, p.Steps, mute.MaxSteps)
	order, err := p.Order()
	require.NoError(t, err)
	require.Equal(t, mute.MaxSteps-1, order[len(order)-1])

	_, err = mute.DecodePlan(bytes.NewReader(chainPlan(mute.MaxSteps + 1)))
	require.ErrorIs(t, err, mute.ErrInvalidPlan)
	require.ErrorContains(t, err, "more than 10000")

	_, err = mute.DecodePlan(bytes.NewReader(make([]byte, mute.MaxPlanBytes+1)))
	require.ErrorIs(t, err, mute.ErrInvalidPlan)
	require.ErrorContains(t, err, "bytes")
}

func FuzzDecodePlan(f *testing.F) {
	for _, s := range []string{
		restorePlan,
		`{"id": "p", "steps": [{"id": "a", "action": "x", "dependsOn": ["a"]}]}`,
		`{"id": "p", "steps": [{"id": "a", "action": "x", "dependsOn": ["b"]}, {"id": "b", "action": "y", "dependsOn": ["a"]}]}`,
		`{"id": "p", "goal": "g", "steps": [{"id": "a", "action": "x@^1.2", "args": {"n": 1.5e3, "s": [true, null]}}]}`,
		`{"id": "p", "steps": [], "unknown": 1}`,
		`{}`, `null`, `[`, `{"id": "p", "steps": [{"id": "a", "action": "x"}]} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := mute.DecodePlan(bytes.NewReader(data))
		if err != nil {
			require.ErrorIs(t, err, mute.ErrInvalidPlan)
			require.Nil(t, p)
			return
		}
		require.NoError(t, p.Check())
		order, err := p.Order()
		require.NoError(t, err)
		require.Len(t, order, len(p.Steps))
		pos := make(map[string]int, len(order))
		for n, i := range order {
			pos[p.Steps[i].ID] = n
		}
		for _, s := range p.Steps {
			for _, d := range s.DependsOn {
				require.Less(t, pos[d], pos[s.ID], "a step runs after its dependencies")
			}
		}
		// What decodes re-encodes to a plan that decodes the same steps.
		js, err := json.Marshal(p)
		require.NoError(t, err)
		q, err := mute.DecodePlan(bytes.NewReader(js))
		require.NoError(t, err)
		require.Equal(t, p.ID, q.ID)
		require.Len(t, q.Steps, len(p.Steps))
		for i := range p.Steps {
			require.Equal(t, p.Steps[i].ID, q.Steps[i].ID)
			require.Equal(t, p.Steps[i].Action, q.Steps[i].Action)
		}
	})
}

func TestPlanLongDependencyList(t *testing.T) {
	p := &mute.Plan{ID: "p"}
	var deps []string
	for i := range 100 {
		id := fmt.Sprint("d", i)
		p.Steps = append(p.Steps, mute.Step{ID: id, Action: "x"})
		deps = append(deps, id, id)
	}
	p.Steps = append(p.Steps, mute.Step{ID: "last", Action: "x", DependsOn: deps})
	order, err := p.Order()
	require.NoError(t, err)
	require.Equal(t, 100, order[len(order)-1])
}
