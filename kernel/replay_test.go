package kernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/policy"
	"github.com/agent-os/agentos/recorder"
)

// replaySink is a Sink that keeps every entry, in order.
type replaySink struct {
	mu      sync.Mutex
	entries []recorder.Entry
}

func (s *replaySink) Append(_ context.Context, e recorder.Entry) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e.Seq = uint64(len(s.entries) + 1)
	s.entries = append(s.entries, e)
	return e.Seq, nil
}

func (s *replaySink) all() []recorder.Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorder.Entry(nil), s.entries...)
}

// replayClock advances a second per reading.
func replayClock() func() time.Time {
	c := kerneltest.NewClock(kerneltest.Epoch)
	return func() time.Time { return c.Advance(time.Second) }
}

func parseDocs(t testing.TB, src ...string) []*policy.Document {
	t.Helper()
	docs := make([]*policy.Document, len(src))
	for i, s := range src {
		d, err := policy.Parse(fmt.Sprintf("p%d.yaml", i), []byte(s))
		require.NoError(t, err)
		docs[i] = d
	}
	return docs
}

// spawnedDetail returns the detail of the "spawned" entry of id.
func spawnedDetail(t *testing.T, entries []recorder.Entry, id agentos.AgentID) string {
	t.Helper()
	for _, e := range entries {
		if e.Kind == recorder.KindLifecycle && e.Message == "spawned" && e.Agent == id {
			return e.Detail
		}
	}
	t.Fatalf("no spawned entry for %s", id)
	return ""
}

// randText is random UTF-8 of at most n bytes, drawn from an alphabet rich
// in what a quoted or space-separated format gets wrong.
func randText(r *rand.Rand, n int) string {
	alphabet := []string{"a", "b", "Z", "0", " ", "=", `"`, `\`, "'", "`", "\n", "\t", "\x00", "\x7f", "é", "世", "\u2028", "🙂", "role", "trust", "\ufffd"}
	var b strings.Builder
	for range r.IntN(12) {
		s := alphabet[r.IntN(len(alphabet))]
		if b.Len()+len(s) > n {
			break
		}
		b.WriteString(s)
	}
	return b.String()
}

// TestParseSpawnDetailRoundTrip spawns agents with random roles, trust and
// labels and reads each back from the spawned entry the kernel wrote: the
// parser is the inverse of the kernel's own formatter.
func TestParseSpawnDetailRoundTrip(t *testing.T) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(7, 11))
	sink := &replaySink{}
	k, err := kernel.New(kernel.WithRecorder(sink), kernel.WithMaxAgents(1000))
	require.NoError(t, err)
	defer func() { require.NoError(t, k.Close()) }()
	trusts := []float64{0, 1, 0.5, 1e-300, 0.1 + 0.2, 1 - 1e-16}
	want := map[agentos.AgentID]policy.Subject{}
	for i := range 300 {
		id := agentos.AgentID(fmt.Sprintf("agent-%d", i))
		s := policy.Subject{Role: randText(r, 128), Trust: r.Float64()}
		if i < len(trusts) {
			s.Trust = trusts[i]
		}
		for range r.IntN(6) {
			key := randLabelKey(r)
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[key] = randText(r, 64)
		}
		opts := []kernel.AgentOption{kernel.WithTrust(s.Trust), kernel.WithLabels(s.Labels)}
		if s.Role != "" || r.IntN(2) == 0 {
			opts = append(opts, kernel.WithRole(s.Role))
		}
		_, err := k.Spawn(ctx, id, opts...)
		require.NoError(t, err)
		want[id] = s
	}
	entries := sink.all()
	for id, s := range want {
		detail := spawnedDetail(t, entries, id)
		got, err := kernel.ParseSpawnDetail(detail)
		require.NoError(t, err, "%s: %q", id, detail)
		require.Equal(t, s, got, "%s: %q", id, detail)
	}
}

func TestParseSpawnDetail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want policy.Subject
		bad  bool
	}{
		{in: ``, want: policy.Subject{}},
		{in: `role="" trust=0`, want: policy.Subject{}},
		{in: `role="analyst" trust=0.75 team="blue" zone="eu west"`, want: policy.Subject{Role: "analyst", Trust: 0.75, Labels: map[string]string{"team": "blue", "zone": "eu west"}}},
		{in: `role="a\"b" trust=1`, want: policy.Subject{Role: `a"b`, Trust: 1}},
		{in: `role="r" trust=0.5 role="x" trust="y"`, want: policy.Subject{Role: "r", Trust: 0.5, Labels: map[string]string{"role": "x", "trust": "y"}}},
		{in: `role="r" trust=0 a b="1"`, bad: true},
		{in: `role="r" trust=0 ="2"`, bad: true},
		{in: `role="r" trust=0 k=v="3"`, bad: true},
		{in: `role="x"`, want: policy.Subject{Role: "x"}},
		{in: `role`, bad: true},
		{in: `trust=0.5 role="x"`, bad: true},
		{in: `role="x`, bad: true},
		{in: `role=x trust=1`, bad: true},
		{in: `role='x' trust=1`, bad: true},
		{in: `role="" trust=NaN`, bad: true},
		{in: `role="" trust=+Inf`, bad: true},
		{in: `role="" trust=high`, bad: true},
		{in: `role="" trust=1 a="1" a="2"`, bad: true},
		{in: `role="x"trust=1`, bad: true},
		{in: `role="x" `, bad: true},
		{in: `role="" trust=1 a=1`, bad: true},
		{in: `role="" trust=1 a="1"b="2"`, bad: true},
		{in: `role="" trust=1 ` + strings.Repeat("x", 1<<20), bad: true},
	} {
		t.Run(tc.in[:min(len(tc.in), 60)], func(t *testing.T) {
			s, err := kernel.ParseSpawnDetail(tc.in)
			if tc.bad {
				require.ErrorIs(t, err, agentos.ErrInvalid)
				require.Equal(t, policy.Subject{}, s)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, s)
		})
	}
}

// FuzzParseSpawnDetail: any detail parses into a subject or fails with
// agentos.ErrInvalid; a subject the kernel could have spawned, spawned,
// is written as a detail that parses back to it.
func FuzzParseSpawnDetail(f *testing.F) {
	for _, s := range []string{
		`role="analyst" trust=0.5 team="blue"`, `role="" trust=0`, `role="é" trust=1 x="\u00e9" y="1"`,
		`role="a b"`, `role="" trust=1e308`, `role="" trust=0 role="x"`, `role="" trust=0 a b="c"`, `x="1"`,
	} {
		f.Add(s)
	}
	sink := &replaySink{}
	k, err := kernel.New(kernel.WithRecorder(sink), kernel.WithMaxAgents(1<<20))
	require.NoError(f, err)
	f.Cleanup(func() { _ = k.Close() })
	n := 0
	f.Fuzz(func(t *testing.T, detail string) {
		s, err := kernel.ParseSpawnDetail(detail)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if s.ID != "" {
			t.Fatalf("parsed an id: %+v", s)
		}
		if !utf8.ValidString(s.Role) || len(s.Role) > 128 || s.Trust < 0 || s.Trust > 1 || len(s.Labels) > 64 {
			return // not a subject the kernel spawns
		}
		for key, v := range s.Labels {
			if !utf8.ValidString(key) || !utf8.ValidString(v) || len(key) > 256 || len(v) > 256 || strings.Contains(key, `="`) {
				return
			}
		}
		n++
		id := agentos.AgentID(fmt.Sprintf("fuzz-%d", n))
		_, err = k.Spawn(context.Background(), id, kernel.WithRole(s.Role), kernel.WithTrust(s.Trust), kernel.WithLabels(s.Labels))
		require.NoError(t, err)
		defer func() { _ = k.Reap(id) }()
		back, err := kernel.ParseSpawnDetail(spawnedDetail(t, sink.all(), id))
		require.NoError(t, err)
		require.Equal(t, s, back)
	})
}

// replayPolicy decides on everything a trail records: role, trust, labels,
// arguments (integers and floats), the peer, the tool's description and a
// rate limit. Its denials refuse, so that no agent is killed.
const replayPolicy = `apiVersion: agentos/v1
kind: Policy
metadata: {name: replay, version: "1"}
spec:
  defaultEffect: allow
  rules:
    - name: interns-small
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && agent.role == "intern" && action.args.n > 7
    - name: float-cap
      effect: deny
      onDeny: refuse
      when: action.op == "exec" && action.args.f > 6.0
    - name: trusted-reports
      effect: deny
      onDeny: refuse
      when: action.tool == "report" && agent.trust < 0.5
    - name: blue-team-read-only
      effect: deny
      onDeny: refuse
      when: action.op == "write" && "team" in agent.labels && agent.labels.team == "blue"
    - name: no-sending-up
      effect: deny
      onDeny: refuse
      when: action.op in ["send", "spawn"] && peer.present && peer.trust > agent.trust
    - name: unclassified-audited
      effect: audit
      when: tool.registered && tool.sideEffect == "unclassified" && tool.version == "1.0.0" && tool.name == "report"
    - name: search
      effect: allow
      when: action.tool == "search"
      limit: {rate: 1, per: 1m}
`

// replayTrail runs a kernel under replayPolicy with random agents doing
// random things, twice (two kernel starts on one trail), and returns the
// trail and the registry describer.
func replayTrail(t *testing.T, seed uint64) ([]recorder.Entry, func(string, string) *policy.Tool) {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 1))
	sink := &replaySink{}
	clock := replayClock()
	var tools func(string, string) *policy.Tool
	for range 2 {
		eng, err := policy.NewEngine(parseDocs(t, replayPolicy), policy.WithClock(clock))
		require.NoError(t, err)
		k, err := kernel.New(kernel.WithPolicy(eng), kernel.WithRecorder(sink), kernel.WithClock(clock),
			kernel.WithTool("search", func(context.Context, map[string]any) (any, error) { return "ok", nil }),
			kernel.WithTool("report", func(context.Context, map[string]any) (any, error) { return "ok", nil }))
		require.NoError(t, err)
		tools = kernel.RegistryTools(k.Registry())
		var agents []*kernel.Agent
		roles := []string{"intern", "analyst", "ops", ""}
		teams := []string{"blue", "red", ""}
		for i := range 4 {
			labels := map[string]string{}
			if team := teams[r.IntN(len(teams))]; team != "" {
				labels["team"] = team
			}
			a, err := k.Spawn(ctx, agentos.AgentID(fmt.Sprintf("a%d", i)), kernel.WithRole(roles[r.IntN(len(roles))]),
				kernel.WithTrust(float64(r.IntN(5))/4), kernel.WithLabels(labels))
			require.NoError(t, err)
			agents = append(agents, a)
		}
		for range 150 {
			a := agents[r.IntN(len(agents))]
			other := agents[r.IntN(len(agents))].ID()
			switch r.IntN(6) {
			case 0, 1:
				tool := []string{"search", "report", "missing"}[r.IntN(3)]
				_, _ = a.Exec(ctx, tool, map[string]any{"n": r.IntN(10), "f": float64(r.IntN(8)) + 0.5, "s": randText(r, 16)})
			case 2:
				_ = a.Write(ctx, "/mem/working/x.txt", []byte("x"))
			case 3:
				_ = a.Gate(other).Admit(ctx, ipc.Crossing{PayloadType: "text/plain", Value: "v"})
			case 4:
				_, _ = a.Do(ctx, agentos.Action{Op: agentos.OpSpawn, Target: other}, func(context.Context) (any, error) { return nil, nil })
			case 5:
				_, _ = a.Read(ctx, "/mem/../../etc/passwd") // refused by the kernel before policy
			}
		}
		require.NoError(t, k.Close())
	}
	return sink.all(), tools
}

// TestReplayReproducesTheKernel is the differential test: a trail replayed
// under the policy it was decided with gives every decision as recorded,
// with nothing incomplete: the rebuilt inputs are the ones the kernel
// built, rate limits included.
func TestReplayReproducesTheKernel(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			entries, tools := replayTrail(t, seed)
			rp, err := kernel.NewReplayer(ctx, parseDocs(t, replayPolicy), kernel.WithReplayTools(tools))
			require.NoError(t, err)
			rules := map[string]int{}
			skipped, replayed := 0, 0
			for i := range entries {
				got, ok, err := rp.Feed(ctx, &entries[i])
				require.NoError(t, err)
				if !ok {
					continue
				}
				if got.Skipped {
					skipped++
					continue
				}
				replayed++
				rules[got.Decision.Rule]++
				require.False(t, got.Changed(false), "entry %d %+v: replayed as %s", entries[i].Seq, entries[i], got.Decision)
				require.Equal(t, entries[i].Message, got.Decision.Message)
				require.Empty(t, got.Incomplete, "entry %d", entries[i].Seq)
			}
			require.Positive(t, skipped)
			require.Greater(t, replayed, 200)
			for _, rule := range []string{"interns-small", "float-cap", "trusted-reports", "search", "unclassified-audited", "no-sending-up"} {
				require.Positive(t, rules[rule], "rule %s never decided: %v", rule, rules)
			}
		})
	}
}

// TestReplayUnderAnotherPolicy: rate limits act statefully in recorded
// order and start afresh at each kernel start.
func TestReplayUnderAnotherPolicy(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	trail := []recorder.Entry{{Kind: recorder.KindLifecycle, Message: "kernel started", Time: at}}
	for k := range 2 {
		if k > 0 {
			trail = append(trail, recorder.Entry{Kind: recorder.KindLifecycle, Message: "kernel started", Time: at})
		}
		trail = append(trail, recorder.Entry{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "alice", Detail: `role="analyst" trust=0.4`})
		for i := range 3 {
			trail = append(trail, recorder.Entry{Kind: recorder.KindDecision, Agent: "alice", Op: agentos.OpExec, Tool: "search",
				Time: at.Add(time.Duration(k*10+i) * time.Second), Effect: agentos.Allow, Rule: "search"})
		}
		trail = append(trail, recorder.Entry{Kind: recorder.KindDecision, Agent: "alice", Op: agentos.OpRead, Path: "/etc",
			Effect: agentos.Deny, Rule: kernel.RulePath})
	}
	newPolicy := `apiVersion: agentos/v1
kind: Policy
metadata: {name: replay, version: "2"}
spec:
  defaultEffect: deny
  rules:
    - name: search
      effect: allow
      when: action.tool == "search" && agent.role == "analyst"
      limit: {rate: 2, per: 1h}
`
	rp, err := kernel.NewReplayer(ctx, parseDocs(t, newPolicy))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rp.Version(), "replay@2+"), rp.Version())
	var changed, skipped []int
	n := 0
	for i := range trail {
		got, ok, err := rp.Feed(ctx, &trail[i])
		require.NoError(t, err)
		if !ok {
			continue
		}
		n++
		if got.Skipped {
			skipped = append(skipped, n)
			require.False(t, got.Changed(false))
			require.Equal(t, kernel.RulePath, got.Recorded.Rule)
			continue
		}
		require.Empty(t, got.Incomplete)
		if got.Changed(false) {
			changed = append(changed, n)
			require.Equal(t, agentos.Deny, got.Decision.Effect)
			require.Contains(t, got.Decision.Message, "rate limit")
		}
	}
	require.Equal(t, []int{3, 7}, changed, "the third search of each kernel run")
	require.Equal(t, []int{4, 8}, skipped)
}

// TestReplayInput: what is rebuilt of each entry, and what is said to be
// missing, for a policy that reads what a trail may lack.
func TestReplayInput(t *testing.T) {
	ctx := context.Background()
	readsAll := `apiVersion: agentos/v1
kind: Policy
metadata: {name: all}
spec:
  rules:
    - name: r
      effect: allow
      when: action.args.n > 1 || peer.role == "ops" || tool.sideEffect == "none" || agent.trust > 0.5
`
	readsNothing := `apiVersion: agentos/v1
kind: Policy
metadata: {name: none}
spec:
  rules:
    - {name: r, effect: allow, when: action.op == "read"}
`
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lifecycle := []recorder.Entry{
		{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "alice", Detail: `role="analyst" trust=0.4 team="risk"`},
		{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "bob", Detail: `role="ops" trust=0`},
		{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "dave", Detail: `role=dave`, Seq: 9},
		{Kind: recorder.KindLifecycle, Message: "spawned", Agent: "erin", Detail: `role="signer" trust=0`},
		{Kind: recorder.KindLifecycle, Message: "reputation success", Agent: "erin", Detail: "identity=did:e score=7.50 verdict=trusted; reported by the host"},
	}
	described := func(name, version string) *policy.Tool {
		if name != "sql" {
			return nil
		}
		return &policy.Tool{Name: name, Version: version, SideEffect: "read"}
	}
	for _, tc := range []struct {
		name       string
		policy     string
		opts       []kernel.ReplayOption
		entry      recorder.Entry
		check      func(t *testing.T, in policy.Input)
		incomplete []string
	}{
		{
			name:   "exec with args and a registered tool",
			policy: readsNothing,
			entry: recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql", Time: at, Trace: "t1",
				Args: json.RawMessage(`{"n":3,"f":1.5,"l":[1,"a"],"m":{"k":true},"z":null}`), Meta: map[string]string{"version": "1.2.0"}},
			check: func(t *testing.T, in policy.Input) {
				assert.Equal(t, map[string]any{"n": int64(3), "f": 1.5, "l": []any{int64(1), "a"}, "m": map[string]any{"k": true}, "z": nil}, in.Action.Args)
				assert.Equal(t, policy.Subject{ID: "alice", Role: "analyst", Trust: 0.4, Labels: map[string]string{"team": "risk"}}, in.Agent)
				assert.Equal(t, &policy.Tool{Name: "sql", Version: "1.2.0"}, in.Tool)
				assert.Equal(t, at, in.Now)
				assert.Equal(t, at, in.Action.At)
				assert.Equal(t, "t1", in.Action.ID)
				assert.Nil(t, in.Peer)
			},
		},
		{
			name:       "the tool description is partial when the policy reads it",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql", Meta: map[string]string{"version": "1.2.0"}},
			incomplete: []string{"the tool's registry description beyond name and version is not recorded"},
		},
		{
			name:   "a describer gives the whole description",
			policy: readsAll,
			opts:   []kernel.ReplayOption{kernel.WithReplayTools(described)},
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql", Meta: map[string]string{"version": "1.2.0"}},
			check: func(t *testing.T, in policy.Input) {
				assert.Equal(t, &policy.Tool{Name: "sql", Version: "1.2.0", SideEffect: "read"}, in.Tool)
			},
		},
		{
			name:       "a tool the describer does not know",
			policy:     readsAll,
			opts:       []kernel.ReplayOption{kernel.WithReplayTools(described)},
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "gone", Meta: map[string]string{"version": "2.0.0"}},
			incomplete: []string{`the tool registry does not describe gone at version "2.0.0": only its name and version are known`},
			check: func(t *testing.T, in policy.Input) {
				assert.Equal(t, &policy.Tool{Name: "gone", Version: "2.0.0"}, in.Tool)
			},
		},
		{
			name:   "an unregistered tool is decided as unregistered, exactly",
			policy: readsAll,
			opts:   []kernel.ReplayOption{kernel.WithReplayTools(described)},
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "sql"},
			check:  func(t *testing.T, in policy.Input) { assert.Nil(t, in.Tool) },
		},
		{
			name:   "a pipe send sees the target as peer",
			policy: readsAll,
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "bob", Meta: map[string]string{"direction": "pipe"}},
			check: func(t *testing.T, in policy.Input) {
				assert.Equal(t, &policy.Subject{ID: "bob", Role: "ops"}, in.Peer)
			},
		},
		{
			name:   "any other target that is an agent is the peer",
			policy: readsAll,
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpSpawn, Target: "bob"},
			check:  func(t *testing.T, in policy.Input) { assert.Equal(t, "bob", in.Peer.ID) },
		},
		{
			name:   "a target that is not an agent is no peer",
			policy: readsAll,
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpSpawn, Target: "nobody"},
			check:  func(t *testing.T, in policy.Input) { assert.Nil(t, in.Peer) },
		},
		{
			name:       "a pipe to an agent whose spawn is not in the trail",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "carol", Meta: map[string]string{"direction": "pipe"}},
			incomplete: []string{"no spawned entry for the peer carol: decided without a peer"},
		},
		{
			name:   "a publish on a topic named as an agent has no peer",
			policy: readsNothing,
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "bob", Meta: map[string]string{"direction": "publish", "payload": "text"}},
			check:  func(t *testing.T, in policy.Input) { assert.Nil(t, in.Peer) },
		},
		{
			name:       "a message payload is not recorded",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "news", Meta: map[string]string{"direction": "publish", "payload": "text"}},
			incomplete: []string{"the message payload (action.args.payload) is not recorded"},
		},
		{
			name:       "a signed delivery's peer is not recorded",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpSend, Target: "bob", Meta: map[string]string{"direction": "receive", "signer": "did:x"}},
			incomplete: []string{"the verified signer did:x (peer) is not recorded"},
			check:      func(t *testing.T, in policy.Input) { assert.Nil(t, in.Peer) },
		},
		{
			name:       "cut arguments",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`{"$truncated":{"bytes":9999}}`), Detail: "args truncated: 10 of 9999 bytes recorded"},
			incomplete: []string{"the arguments were recorded cut (over the kernel's recording limit)"},
		},
		{
			name:   "an argument named $truncated is an argument",
			policy: readsAll,
			entry:  recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`{"$truncated":1}`)},
		},
		{
			name:       "an agent never spawned",
			policy:     readsNothing,
			entry:      recorder.Entry{Agent: "carol", Op: agentos.OpRead, Path: "/mem/x"},
			incomplete: []string{"no spawned entry for agent carol: its role, trust and labels are unknown"},
			check:      func(t *testing.T, in policy.Input) { assert.Equal(t, policy.Subject{ID: "carol"}, in.Agent) },
		},
		{
			name:       "an agent whose spawn entry does not parse",
			policy:     readsNothing,
			entry:      recorder.Entry{Agent: "dave", Op: agentos.OpRead, Path: "/mem/x"},
			incomplete: []string{`the spawned entry (seq 9) of agent dave does not parse (kernel: agentos: invalid argument: spawn detail: value of "role" is not a quoted string): its role, trust and labels are unknown`},
		},
		{
			name:       "an agent with an identity",
			policy:     readsAll,
			entry:      recorder.Entry{Agent: "erin", Op: agentos.OpRead, Path: "/mem/x"},
			incomplete: []string{"agent erin has an iatp identity: its trust is its last recorded reputation score / 10 (to two decimals), its registry labels are not recorded"},
			check:      func(t *testing.T, in policy.Input) { assert.Equal(t, 0.75, in.Agent.Trust) },
		},
		{
			name:   "an agent with an identity, for a policy that does not read trust",
			policy: readsNothing,
			entry:  recorder.Entry{Agent: "erin", Op: agentos.OpRead, Path: "/mem/x"},
		},
		{
			name:       "arguments that are not an object",
			policy:     readsNothing,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`[1]`)},
			incomplete: []string{"the recorded arguments do not decode: arguments are not a JSON object"},
		},
		{
			name:       "two JSON values",
			policy:     readsNothing,
			entry:      recorder.Entry{Agent: "alice", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`{} {}`)},
			incomplete: []string{"the recorded arguments do not decode: more than one JSON value"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := kernel.NewReplayer(ctx, parseDocs(t, tc.policy), tc.opts...)
			require.NoError(t, err)
			for i := range lifecycle {
				_, ok, err := rp.Feed(ctx, &lifecycle[i])
				require.NoError(t, err)
				require.False(t, ok)
			}
			tc.entry.Kind, tc.entry.Effect, tc.entry.Rule = recorder.KindDecision, agentos.Allow, "r"
			got, ok, err := rp.Feed(ctx, &tc.entry)
			require.NoError(t, err)
			require.True(t, ok)
			require.False(t, got.Skipped)
			assert.Equal(t, tc.incomplete, got.Incomplete)
			if tc.check != nil {
				tc.check(t, got.Input)
			}
		})
	}
}

// TestReplayPolicyErrors: a decision the kernel recorded as a policy error
// is decided again (it reached policy); an engine that cannot decide is
// recorded as the kernel records it.
func TestReplayPolicyErrors(t *testing.T) {
	ctx := context.Background()
	rp, err := kernel.NewReplayer(ctx, parseDocs(t, `apiVersion: agentos/v1
kind: Policy
metadata: {name: e}
spec:
  defaultEffect: allow
  rules:
    - {name: r, effect: allow, when: 'action.args.missing == 1'}
`))
	require.NoError(t, err)
	e := recorder.Entry{Kind: recorder.KindDecision, Agent: "a", Op: agentos.OpExec, Tool: "t", Args: json.RawMessage(`{}`),
		Effect: agentos.Deny, Rule: kernel.RulePolicyError, Error: "boom"}
	got, ok, err := rp.Feed(ctx, &e)
	require.NoError(t, err)
	require.True(t, ok)
	require.False(t, got.Skipped)
	require.Equal(t, []string{"boom"}, got.Recorded.Errors)
	require.Equal(t, agentos.Allow, got.Decision.Effect, "the default effect: the erring allow rule does not match")
	require.NotEmpty(t, got.Decision.Errors)
	require.True(t, got.Changed(true))
}

func TestReplayBadInput(t *testing.T) {
	ctx := context.Background()
	_, err := kernel.NewReplayer(ctx, parseDocs(t, `apiVersion: agentos/v1
kind: Policy
metadata: {name: b}
spec:
  rules:
    - {name: x, effect: allow, when: 'actoin.op == "x"'}
`))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	var pe *policy.Error
	require.ErrorAs(t, err, &pe)

	_, err = kernel.NewReplayer(ctx, nil, kernel.WithReplayTools(nil))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = kernel.NewReplayer(ctx, nil, nil)
	require.ErrorIs(t, err, agentos.ErrInvalid)

	rp, err := kernel.NewReplayer(ctx, nil)
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = rp.Feed(cctx, &recorder.Entry{Kind: recorder.KindDecision})
	require.ErrorIs(t, err, context.Canceled)

	// Other kinds are passed over.
	got, ok, err := rp.Feed(ctx, &recorder.Entry{Kind: recorder.KindOutcome, Agent: "a"})
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, kernel.Replayed{}, got)
}

// FuzzReplayArgs: any recorded arguments are decoded into the values the
// kernel hands policy, or said not to decode; the decision is made either
// way.
func FuzzReplayArgs(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1.5,"x",null,true],"c":{"d":{}}}`, `{"n":99999999999999999999999}`, `{"n":1e400}`,
		`[]`, `{} {}`, `null`, `{"s":"\ud800"}`, `{"$truncated":{"bytes":1}}`, `{`,
	} {
		f.Add([]byte(s))
	}
	ctx := context.Background()
	rp, err := kernel.NewReplayer(ctx, parseDocs(f, `apiVersion: agentos/v1
kind: Policy
metadata: {name: f}
spec:
  rules:
    - {name: r, effect: allow, when: 'action.args.n > 1'}
`))
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := recorder.Entry{Kind: recorder.KindDecision, Agent: "a", Op: agentos.OpExec, Tool: "t", Args: raw, Effect: agentos.Allow, Rule: "r"}
		got, ok, err := rp.Feed(ctx, &e)
		require.NoError(t, err)
		require.True(t, ok)
		decoded := got.Input.Action.Args != nil
		undecodable := false
		for _, s := range got.Incomplete {
			undecodable = undecodable || strings.HasPrefix(s, "the recorded arguments do not decode")
		}
		if len(raw) > 0 && decoded == undecodable {
			t.Fatalf("args %q: decoded %v, said undecodable %v", raw, decoded, undecodable)
		}
		if decoded {
			if _, err := json.Marshal(got.Input.Action.Args); err != nil {
				t.Fatalf("decoded args do not encode: %v", err)
			}
		}
	})
}

// randLabelKey is a random label key WithLabels accepts: 1 to 40 of its
// characters, beginning with a letter or a digit.
func randLabelKey(r *rand.Rand) string {
	const first = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const rest = first + "._-/"
	b := []byte{first[r.IntN(len(first))]}
	for range r.IntN(40) {
		b = append(b, rest[r.IntN(len(rest))])
	}
	return string(b)
}

// A label key outside WithLabels' alphabet is refused when the agent is
// spawned, and by ParseSpawnDetail, which reads only details it can read
// one way.
func TestLabelKeys(t *testing.T) {
	k, err := kernel.New()
	require.NoError(t, err)
	defer k.Close()
	for _, key := range []string{"team", "app.kubernetes.io/name", "a_b-c", "0", strings.Repeat("k", 256)} {
		_, err := k.Spawn(t.Context(), agentos.AgentID("ok-"+fmt.Sprint(len(key))+key[:1]), kernel.WithLabels(map[string]string{key: "v"}))
		require.NoError(t, err, key)
	}
	for _, key := range []string{"", `a="b`, "a b", "é", "-x", ".x", "/x", "a=b", "a\"b", "a\nb", strings.Repeat("k", 257)} {
		_, err := k.Spawn(t.Context(), "bad", kernel.WithLabels(map[string]string{key: "v"}))
		require.ErrorIs(t, err, agentos.ErrInvalid, "%q", key)
	}
	for _, detail := range []string{`role="" trust=0 a b="c"`, `role="" trust=0 é="c"`, `role="" trust=0 ="c"`, `role="" trust=0 -x="c"`} {
		_, err := kernel.ParseSpawnDetail(detail)
		require.ErrorIs(t, err, agentos.ErrInvalid, detail)
	}
	s, err := kernel.ParseSpawnDetail(`role="r" trust=0.5 app.kubernetes.io/name="x y" team="a=\"b"`)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"app.kubernetes.io/name": "x y", "team": `a="b`}, s.Labels)
}
