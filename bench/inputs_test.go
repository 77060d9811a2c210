package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/agent-os/agentos"
)

var benchNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// The three actions the benchmarks decide, all on web.search (a tool with no
// regex rule, so that the Cedar set holds every rule that applies to them).
var (
	inputAllowed = Input{
		Action: agentos.Action{ID: "t-1", Agent: "agent-7", Op: agentos.OpExec, Tool: "web.search",
			Args: map[string]any{"query": "golang benchmarks", "results": 10, "safe": true}, At: benchNow},
		Agent: Subject{ID: "agent-7", Role: "analyst", Trust: 0.9, Labels: map[string]string{"team": "research"}},
		Now:   benchNow,
	}
	inputDenied = Input{
		Action: agentos.Action{ID: "t-2", Agent: "agent-7", Op: agentos.OpExec, Tool: "web.search",
			Args: map[string]any{"query": "site:internal.corp payroll", "results": 10, "safe": true}, At: benchNow},
		Agent: Subject{ID: "agent-7", Role: "analyst", Trust: 0.9, Labels: map[string]string{"team": "research"}},
		Now:   benchNow,
	}
	inputNoRule = Input{
		Action: agentos.Action{ID: "t-3", Agent: "agent-7", Op: agentos.OpExec, Tool: "weather.get",
			Args: map[string]any{"city": "Lisbon"}, At: benchNow},
		Agent: Subject{ID: "agent-7", Role: "analyst", Trust: 0.9, Labels: map[string]string{"team": "research"}},
		Now:   benchNow,
	}
)

var otherOps = []agentos.Op{agentos.OpRead, agentos.OpSend, agentos.OpWrite}

// generateInputs returns n pseudo-random inputs (fixed seed) that sit on
// and around every rule's condition: deny values and their alternatives,
// integers at, just above and far from each threshold, strings that match
// each prefix or pattern and near misses, every role and trust level, a few
// non-exec ops and calls to tools no rule names. Every argument has the type
// its rules expect (see equivalenceInputs for why).
func generateInputs(seed uint64, n int) []Input {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	out := make([]Input, 0, n)
	for i := range n {
		in := Input{
			Action: agentos.Action{ID: fmt.Sprintf("t-%d", i), Op: agentos.OpExec, At: benchNow,
				Args: map[string]any{}, Meta: map[string]string{"session": fmt.Sprintf("s-%d", i%7)}},
			Agent: Subject{ID: fmt.Sprintf("agent-%d", i%13), Role: pick(Roles),
				Trust: TrustLevels[rng.IntN(len(TrustLevels))], Labels: map[string]string{"tier": pick([]string{"a", "b"})}},
			Now: benchNow,
		}
		in.Action.Agent = agentos.AgentID(in.Agent.ID)
		if rng.IntN(10) == 0 {
			in.Action.Op = otherOps[rng.IntN(len(otherOps))]
		}
		if i%8 == 7 {
			in.Action.Tool = pick(UnknownTools)
			in.Action.Args["city"] = "Lisbon"
			out = append(out, in)
			continue
		}
		t := Tools[(i-i/8)%len(Tools)] // every tool in turn
		in.Action.Tool = t.Name
		if rng.IntN(10) < 7 {
			in.Agent.Role = pick(t.Roles) // mostly a role the tool admits
		}
		if rng.IntN(10) < 6 {
			if rng.IntN(3) == 0 {
				in.Action.Args[t.DenyArg] = t.DenyVal
			} else {
				in.Action.Args[t.DenyArg] = t.DenyAlts[rng.IntN(len(t.DenyAlts))]
			}
		}
		if rng.IntN(10) < 8 {
			vals := []int{0, t.Audit, t.Audit + 1, t.Approve, t.Approve + 1, rng.IntN(2*t.Approve + 1), rng.IntN(t.Audit + 1)}
			in.Action.Args[t.NumArg] = vals[rng.IntN(len(vals))]
		}
		if t.StrArg != "" && rng.IntN(10) < 7 {
			if rng.IntN(5) < 2 {
				in.Action.Args[t.StrArg] = pick(t.StrBad)
			} else {
				in.Action.Args[t.StrArg] = pick(t.StrGood)
			}
		}
		if rng.IntN(4) == 0 {
			in.Action.Args["note"] = "unrelated"
		}
		out = append(out, in)
	}
	return out
}
