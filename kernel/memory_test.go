package kernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/vfs"
)

// memoryPolicy lets agents use their memory, lets only indexers write
// semantic memory, refuses searches that carry an SSN or ask for more than
// 5 results, and lets readers search the shared "handbook" collection.
const memoryPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: memory, version: "1"}
spec:
  defaultEffect: deny
  rules:
    - name: own-memory
      effect: allow
      when: >-
        action.op in ["read", "write", "append", "stat", "list", "delete", "search"] &&
        path.under(action.path, "/mem") && !path.under(action.path, "/mem/semantic/shared")
    - name: only-indexers-index
      effect: deny
      onDeny: refuse
      when: action.op in ["write", "delete"] && path.under(action.path, "/mem/semantic") && agent.role != "indexer"
      message: only indexers may add to semantic memory
    - name: no-pii-in-queries
      effect: deny
      onDeny: refuse
      when: action.op == "search" && has(action.args.query) && pii.ssn(action.args.query)
      message: queries must not carry personal data
    - name: cap-k
      effect: deny
      onDeny: refuse
      when: action.op == "search" && has(action.args.k) && action.args.k > 5
      message: at most 5 results per query
    - name: handbook-readers
      effect: allow
      when: >-
        action.op in ["read", "stat", "list", "search"] &&
        path.under(action.path, "/mem/semantic/shared/handbook") && agent.role in ["indexer", "reader"]
`

const guide = `# Deploying the service

The service runs behind a load balancer. Deploy with the blue-green strategy.

## Rollback

To roll back a bad deployment, switch the load balancer back to the previous colour.
`

func memKernel(t *testing.T, opts ...kernel.Option) *kerneltest.Kernel {
	t.Helper()
	return kerneltest.NewWithMemory(t, kernel.Memory{}, append([]kernel.Option{kerneltest.Policy(memoryPolicy)}, opts...)...)
}

func outcomeOf(t *testing.T, k *kerneltest.Kernel, id agentos.AgentID, trace string) recorder.Entry {
	t.Helper()
	es := k.Query(recorder.Filter{Agent: id, Trace: trace, Kind: recorder.KindOutcome})
	require.Len(t, es, 1, "outcome of %s", trace)
	return es[0]
}

func TestSemanticMemoryIndexReadSearch(t *testing.T) {
	ctx := context.Background()
	k := memKernel(t)
	a := k.MustSpawn("indexer-1", kernel.WithRole("indexer"))

	require.NoError(t, a.Write(ctx, "/mem/semantic/docs/deploy.md", []byte(guide)))
	got, err := a.Read(ctx, "/mem/semantic/docs/deploy.md")
	require.NoError(t, err)
	assert.Equal(t, guide, string(got))

	list, err := a.List(ctx, "/mem/semantic")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, vfs.FileInfo{Name: "docs", IsDir: true}, vfs.FileInfo{Name: list[0].Name, IsDir: list[0].IsDir})
	fi, err := a.Stat(ctx, "/mem/semantic/docs/deploy.md")
	require.NoError(t, err)
	assert.Equal(t, int64(len(guide)), fi.Size)

	res, err := a.Search(ctx, "/mem/semantic", "how do I roll back a deployment", 3)
	require.NoError(t, err)
	require.NotEmpty(t, res)
	assert.Equal(t, "/mem/semantic/docs/deploy.md", res[0].Path)
	assert.Contains(t, string(res[0].Content), "roll back")

	// The decision shows the query and k to policy; the outcome names the
	// hits and their scores.
	d := k.LastDecision("indexer-1")
	assert.Equal(t, agentos.OpSearch, d.Op)
	var args map[string]any
	require.NoError(t, json.Unmarshal(d.Args, &args))
	assert.Equal(t, "how do I roll back a deployment", args["query"])
	assert.EqualValues(t, 3, args["k"])
	o := outcomeOf(t, k, "indexer-1", d.Trace)
	assert.Contains(t, o.Detail, `"/mem/semantic/docs/deploy.md"=`)
	assert.NotEmpty(t, o.ResultDigest)

	// Search below a directory that holds nothing finds nothing; deleting
	// the document removes it from search.
	res, err = a.Search(ctx, "/mem/semantic/other", "roll back", 3)
	require.NoError(t, err)
	assert.Empty(t, res)
	require.NoError(t, a.Delete(ctx, "/mem/semantic/docs/deploy.md"))
	res, err = a.Search(ctx, "/mem/semantic", "roll back", 3)
	require.NoError(t, err)
	assert.Empty(t, res)
}

func TestSemanticMemoryPolicy(t *testing.T) {
	ctx := context.Background()
	k := memKernel(t)
	idx := k.MustSpawn("indexer-1", kernel.WithRole("indexer"))
	rd := k.MustSpawn("reader-1", kernel.WithRole("reader"))
	require.NoError(t, idx.Write(ctx, "/mem/semantic/deploy.md", []byte(guide)))

	t.Run("only indexers index", func(t *testing.T) {
		err := rd.Write(ctx, "/mem/semantic/notes.md", []byte("a note"))
		kerneltest.DeniedBy(t, err, "only-indexers-index")
		_, err = rd.Read(ctx, "/mem/semantic/notes.md")
		require.ErrorIs(t, err, agentos.ErrNotFound, "the refused write never ran")
	})
	t.Run("pii in a query", func(t *testing.T) {
		_, err := idx.Search(ctx, "/mem/semantic", "customer 123-45-6789 deployment", 3)
		v := kerneltest.DeniedBy(t, err, "no-pii-in-queries")
		es := k.Query(recorder.Filter{Agent: "indexer-1", Trace: v.Action.ID, Kind: recorder.KindOutcome})
		assert.Empty(t, es, "a refused search has no outcome: it never ran")
	})
	t.Run("k capped", func(t *testing.T) {
		_, err := idx.Search(ctx, "/mem/semantic", "deployment", 50)
		kerneltest.DeniedBy(t, err, "cap-k")
		_, err = idx.Context(ctx, "/mem/semantic", caas.ContextRequest{Query: "deployment", MaxTokens: 100, K: 6})
		kerneltest.DeniedBy(t, err, "cap-k")
	})
	t.Run("agents do not see each other's documents", func(t *testing.T) {
		list, err := rd.List(ctx, "/mem/semantic")
		require.NoError(t, err)
		assert.Empty(t, list)
		res, err := rd.Search(ctx, "/mem/semantic", "roll back a deployment", 5)
		require.NoError(t, err)
		assert.Empty(t, res)
	})
	t.Run("k out of range", func(t *testing.T) {
		for _, n := range []int{0, -1} {
			_, err := idx.Search(ctx, "/mem/semantic", "deployment", n)
			require.ErrorIs(t, err, agentos.ErrInvalid, "k=%d", n)
		}
	})
	t.Run("shared is reserved", func(t *testing.T) {
		err := idx.Write(ctx, "/mem/semantic/shared/x.md", []byte("x"))
		require.Error(t, err)
	})
}

func TestSharedCollections(t *testing.T) {
	ctx := context.Background()
	const leave = "# Leave\n\nEmployees get 25 days of paid leave a year.\n"
	build := func(t *testing.T, opts ...kernel.Option) *kerneltest.Kernel {
		t.Helper()
		k := kerneltest.NewWithMemory(t, kernel.Memory{Shared: []string{"handbook"}}, opts...)
		// The host curates a shared collection through the service itself.
		coll, err := k.Memory.Context.Collection(ctx, kernel.SharedCollection("handbook"))
		require.NoError(t, err)
		_, err = coll.Ingest(ctx, caas.Document{Source: "leave.md", Text: leave})
		require.NoError(t, err)
		return k
	}

	t.Run("baseline denies", func(t *testing.T) {
		k := build(t)
		a := k.MustSpawn("agent-1")
		_, err := a.Read(ctx, "/mem/semantic/shared/handbook/leave.md")
		kerneltest.DeniedBy(t, err, "baseline-no-shared-memory")
	})
	t.Run("policy allows readers", func(t *testing.T) {
		k := build(t, kerneltest.Policy(memoryPolicy))
		rd := k.MustSpawn("reader-1", kernel.WithRole("reader"))
		got, err := rd.Read(ctx, "/mem/semantic/shared/handbook/leave.md")
		require.NoError(t, err)
		assert.Equal(t, leave, string(got))
		res, err := rd.Search(ctx, "/mem/semantic/shared/handbook", "how many holidays do employees get", 3)
		require.NoError(t, err)
		require.NotEmpty(t, res)
		assert.Equal(t, "/mem/semantic/shared/handbook/leave.md", res[0].Path)
		c, err := rd.Context(ctx, "/mem/semantic/shared/handbook", caas.ContextRequest{Query: "paid leave", MaxTokens: 50, K: 3})
		require.NoError(t, err)
		require.NotEmpty(t, c.Citations)
		assert.Equal(t, "leave.md", c.Citations[0].Source)

		other := k.MustSpawn("guest-1", kernel.WithRole("guest"))
		_, err = other.Search(ctx, "/mem/semantic/shared/handbook", "leave", 3)
		kerneltest.Denied(t, err)
	})
	t.Run("read-only", func(t *testing.T) {
		k := build(t, kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: open}
spec:
  defaultEffect: allow
`))
		a := k.MustSpawn("agent-1")
		err := a.Write(ctx, "/mem/semantic/shared/handbook/leave.md", []byte("nothing"))
		require.ErrorIs(t, err, agentos.ErrReadOnly)
		got, err := a.Read(ctx, "/mem/semantic/shared/handbook/leave.md")
		require.NoError(t, err)
		assert.Equal(t, leave, string(got))
	})
}

func TestEpisodicMemory(t *testing.T) {
	ctx := context.Background()
	k := memKernel(t)
	a := k.MustSpawn("agent-1")
	b := k.MustSpawn("agent-2")

	first, err := a.Remember(ctx, emk.Episode{
		Goal: "deploy the billing service", Action: "kubectl apply", Result: "pods crash-looped",
		Reflection: "the config map was missing", Outcome: emk.OutcomeFailure,
	})
	require.NoError(t, err)
	require.Len(t, first.ID, 64)
	assert.Equal(t, "agent-1", first.Agent)
	assert.Equal(t, kerneltest.Epoch, first.Time)
	d := k.LastDecision("agent-1")
	assert.Equal(t, agentos.OpAppend, d.Op)
	assert.Equal(t, "/mem/episodic/"+first.ID+".json", d.Path)

	k.Clock.Advance(24 * 60 * 60 * 1e9)
	second, err := a.Remember(ctx, emk.Episode{
		Goal: "deploy the billing service", Action: "create the config map, then kubectl apply",
		Result: "healthy", Outcome: emk.OutcomeSuccess, Causes: []string{first.ID},
	})
	require.NoError(t, err)

	// The files: the agent's own episodes, read-only.
	data, err := a.Read(ctx, "/mem/episodic/"+first.ID+".json")
	require.NoError(t, err)
	dec, err := emk.Decode(data)
	require.NoError(t, err)
	assert.Equal(t, first.Goal, dec.Goal)
	list, err := a.List(ctx, "/mem/episodic")
	require.NoError(t, err)
	assert.Len(t, list, 2)
	err = a.Write(ctx, "/mem/episodic/"+first.ID+".json", []byte("{}"))
	require.ErrorIs(t, err, agentos.ErrReadOnly)

	// What went wrong last time?
	got, err := a.Recall(ctx, emk.Query{Text: "deploying billing", K: 5, Outcomes: []emk.Outcome{emk.OutcomeFailure}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, first.ID, got[0].Episode.ID)
	o := outcomeOf(t, k, "agent-1", k.LastDecision("agent-1").Trace)
	assert.Contains(t, o.Detail, first.ID)

	res, err := a.Search(ctx, "/mem/episodic", "billing deployment", 5)
	require.NoError(t, err)
	assert.Len(t, res, 2)

	// Another agent sees none of it and cannot build on it.
	_, err = b.Read(ctx, "/mem/episodic/"+first.ID+".json")
	require.ErrorIs(t, err, agentos.ErrNotFound)
	got, err = b.Recall(ctx, emk.Query{Text: "billing", K: 5})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = b.Remember(ctx, emk.Episode{Goal: "x", Causes: []string{second.ID}})
	require.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = b.Remember(ctx, emk.Episode{Goal: "x", Agent: "agent-1"})
	kerneltest.DeniedBy(t, err, kernel.RuleArgs)
	_, err = b.Recall(ctx, emk.Query{Agent: "agent-1", Text: "billing", K: 5})
	kerneltest.DeniedBy(t, err, kernel.RuleArgs)
	n, err := k.Memory.Episodes.Count(ctx, "agent-2")
	require.NoError(t, err)
	assert.Zero(t, n, "refused episodes were never stored")
}

func TestEpisodicPolicyDenialStoresNothing(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.NewWithMemory(t, kernel.Memory{}, kerneltest.Policy(`
apiVersion: agentos/v1
kind: Policy
metadata: {name: no-secrets-in-memory}
spec:
  defaultEffect: allow
  rules:
    - name: no-card-numbers
      effect: deny
      onDeny: refuse
      when: action.op == "append" && path.under(action.path, "/mem/episodic") && pii.card(action.args.result)
`))
	a := k.MustSpawn("agent-1")
	_, err := a.Remember(ctx, emk.Episode{Goal: "pay", Result: "charged card 4111 1111 1111 1111"})
	kerneltest.DeniedBy(t, err, "no-card-numbers")
	n, err := k.Memory.Episodes.Count(ctx, "")
	require.NoError(t, err)
	assert.Zero(t, n)
	_, err = a.Remember(ctx, emk.Episode{Goal: "pay", Result: "charged the card on file"})
	require.NoError(t, err)
}

func TestContextWithinBudget(t *testing.T) {
	ctx := context.Background()
	k := memKernel(t)
	a := k.MustSpawn("indexer-1", kernel.WithRole("indexer"))
	require.NoError(t, a.Write(ctx, "/mem/semantic/deploy.md", []byte(guide)))
	require.NoError(t, a.Write(ctx, "/mem/semantic/food.md", []byte("# Lunch\n\nThe canteen serves pasta on Fridays.\n")))
	c, err := a.Context(ctx, "/mem/semantic", caas.ContextRequest{Query: "roll back a deployment", MaxTokens: 60, K: 5})
	require.NoError(t, err)
	assert.LessOrEqual(t, c.Tokens, 60)
	require.NotEmpty(t, c.Citations)
	assert.Equal(t, "deploy.md", c.Citations[0].Source)
	o := outcomeOf(t, k, "indexer-1", k.LastDecision("indexer-1").Trace)
	assert.Contains(t, o.Detail, "deploy.md#")

	_, err = a.Context(ctx, "/mem/working", caas.ContextRequest{Query: "x", MaxTokens: 10})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestMemoryOptionErrors(t *testing.T) {
	_, err := kernel.New(kernel.WithMemory(kernel.Memory{}))
	require.ErrorIs(t, err, agentos.ErrInvalid)
	_, err = kernel.New(kernel.WithMemory(kernel.Memory{Shared: []string{"x"}}))
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

func TestWithoutMemory(t *testing.T) {
	ctx := context.Background()
	k := kerneltest.New(t)
	a := k.MustSpawn("agent-1")
	_, err := a.Remember(ctx, emk.Episode{Goal: "x"})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	// /mem/episodic is the append-only scratch mount it always was.
	require.NoError(t, a.Append(ctx, "/mem/episodic/log", []byte("one\n")))
	_, err = a.Search(ctx, "/mem/semantic", "x", 1)
	require.Error(t, err)
	assert.False(t, errors.Is(err, agentos.ErrDenied) && strings.Contains(err.Error(), "own-search"))
}
