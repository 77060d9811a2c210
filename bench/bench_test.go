package bench

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
)

var benchCases = []struct {
	name string
	in   Input
	want agentos.Effect
}{
	{"allowed", inputAllowed, agentos.Allow},
	{"denied", inputDenied, agentos.Deny},
	{"no-rule", inputNoRule, agentos.Deny},
}

// loop runs decide in a b.Loop with allocations reported. Beside ns/op
// (wall time) it reports cpu-ns/op, the process CPU time (all threads, so
// garbage collection included) per decision: on a shared machine the wall
// time of a run depends on the other load, its CPU time much less.
func loop(b *testing.B, decide func() (agentos.Effect, error), want agentos.Effect) {
	got, err := decide()
	require.NoError(b, err)
	require.Equal(b, want.String(), got.String())
	b.ReportAllocs()
	cpu0, ok := processCPU()
	for b.Loop() {
		if _, err := decide(); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

func benchDecide(b *testing.B, d Decider, in Input, want agentos.Effect) {
	ctx := context.Background()
	loop(b, func() (agentos.Effect, error) { return d.Decide(ctx, in) }, want)
}

// BenchmarkDecide decides the same three actions with the 100-rule policy in
// every engine, each given the action as agentos hands it over (OPA and
// Cedar convert it to their input types inside the timed call, as an
// integration would).
func BenchmarkDecide(b *testing.B) {
	engines := deciders(b, Table())
	for _, bc := range benchCases {
		for _, e := range engines {
			b.Run(bc.name+"/"+e.name, func(b *testing.B) { benchDecide(b, e.d, bc.in, bc.want) })
		}
	}
}

// BenchmarkDecideEvalOnly times OPA and Cedar on inputs converted before the
// loop: their evaluation cost alone, a lower bound for either.
func BenchmarkDecideEvalOnly(b *testing.B) {
	ctx := context.Background()
	o, err := NewOPA(ctx, Table())
	require.NoError(b, err)
	c, err := NewCedar(Table())
	require.NoError(b, err)
	for _, bc := range benchCases {
		b.Run(bc.name+"/opa", func(b *testing.B) {
			v, err := ast.InterfaceToValue(OPAInput(bc.in))
			require.NoError(b, err)
			loop(b, func() (agentos.Effect, error) { return o.DecideParsed(ctx, v) }, bc.want)
		})
		b.Run(bc.name+"/cedar", func(b *testing.B) {
			req, ents, err := CedarRequest(bc.in)
			require.NoError(b, err)
			loop(b, func() (agentos.Effect, error) { return c.DecideRequest(req, ents) }, bc.want)
		})
	}
}

// BenchmarkRules decides the allowed action with the 1-rule policy (the one
// rule that allows it) and with the 100-rule policy, in every engine.
func BenchmarkRules(b *testing.B) {
	one := deciders(b, OneRule())
	hundred := deciders(b, Table())
	for i := range one {
		b.Run(one[i].name+"/rules=1", func(b *testing.B) { benchDecide(b, one[i].d, inputAllowed, agentos.Allow) })
		b.Run(hundred[i].name+"/rules=100", func(b *testing.B) { benchDecide(b, hundred[i].d, inputAllowed, agentos.Allow) })
	}
}
