package attack

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/kernel/kerneltest"
	"github.com/agent-os/agentos/models/glove"
)

// countingEmbedder counts the texts it embeds: a search or an index that
// policy refused must not reach it.
type countingEmbedder struct {
	g *glove.Embedder
	n atomic.Int64
}

func (c *countingEmbedder) Embed(ctx context.Context, text string) ([]float32, error) {
	c.n.Add(1)
	return c.g.Embed(ctx, text)
}

// memoryKernel builds a kernel whose memory embeds with a counting
// embedder, governed by pol.
func memoryKernel(t *testing.T, pol string, q caas.Quota) (*kerneltest.Kernel, *countingEmbedder) {
	t.Helper()
	g, err := glove.New()
	require.NoError(t, err)
	ce := &countingEmbedder{g: g}
	eps, err := emk.Open("", emk.WithEmbedder(ce.Embed))
	require.NoError(t, err)
	t.Cleanup(func() { _ = eps.Close() })
	opts := []caas.Option{}
	if q != (caas.Quota{}) {
		opts = append(opts, caas.WithQuota(q))
	}
	svc, err := caas.New(ce.Embed, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	k := kerneltest.NewWithMemory(t, kernel.Memory{Episodes: eps, Context: svc, Shared: []string{"kb"}}, kerneltest.Policy(pol))
	return k, ce
}

const memoryAttackPolicy = `
apiVersion: agentos/v1
kind: Policy
metadata: {name: memory-attack}
spec:
  defaultEffect: allow
  rules:
    - name: no-ssn-queries
      effect: deny
      onDeny: refuse
      when: action.op == "search" && pii.ssn(action.args.query)
    - name: no-secret-docs
      effect: deny
      onDeny: refuse
      when: action.op == "write" && path.under(action.path, "/mem/semantic/secret")
    - name: no-card-episodes
      effect: deny
      onDeny: refuse
      when: action.op == "append" && path.under(action.path, "/mem/episodic") && pii.card(action.args.result)
`

// Threat: a refused memory syscall that still runs. A search carrying an
// SSN, an index of a forbidden path and an episode carrying a card number
// are refused, and none of them reached the embedder or the stores: the
// query was never embedded, nothing was indexed or remembered.
func TestDeniedMemorySyscallsNeverRun(t *testing.T) {
	ctx := context.Background()
	k, ce := memoryKernel(t, memoryAttackPolicy, caas.Quota{})
	a := k.MustSpawn("agent-1")
	require.NoError(t, a.Write(ctx, "/mem/semantic/notes.txt", []byte("The quarterly report is due on Friday.")))
	before := ce.n.Load()

	for _, q := range []string{"078-05-1120", "who is 078 05 1120", "report for 078-05-1120 please"} {
		_, err := a.Search(ctx, "/mem/semantic", q, 3)
		kerneltest.DeniedBy(t, err, "no-ssn-queries")
		_, err = a.Context(ctx, "/mem/semantic", caas.ContextRequest{Query: q, MaxTokens: 100})
		kerneltest.DeniedBy(t, err, "no-ssn-queries")
		_, err = a.Recall(ctx, emk.Query{Text: q, K: 3})
		kerneltest.DeniedBy(t, err, "no-ssn-queries")
	}
	for _, p := range []string{"/mem/semantic/secret/plan.txt", "/mem/semantic//secret/plan.txt", "/mem/semantic/./secret/plan.txt", "/mem/semantic/x/../secret/plan.txt"} {
		err := a.Write(ctx, p, []byte("the launch codes"))
		require.Error(t, err, p)
	}
	_, err := a.Remember(ctx, emk.Episode{Goal: "pay", Result: "used card 4111-1111-1111-1111"})
	kerneltest.DeniedBy(t, err, "no-card-episodes")

	assert.Equal(t, before, ce.n.Load(), "a refused syscall reached the embedder")
	srcs := k.Memory.Context
	coll, err := srcs.Collection(ctx, kernel.CollectionFor("agent-1"))
	require.NoError(t, err)
	assert.Len(t, coll.Sources(""), 1)
	n, err := k.Memory.Episodes.Count(ctx, "")
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Threat: one agent reading another's memory. Agent 2 guesses agent 1's
// episode ids and document names, walks up with "..", searches for its
// words, and chains an episode onto one of agent 1's: it finds nothing and
// builds on nothing.
func TestAgentsCannotReachEachOthersMemory(t *testing.T) {
	ctx := context.Background()
	k, _ := memoryKernel(t, memoryAttackPolicy, caas.Quota{})
	a := k.MustSpawn("agent-1")
	b := k.MustSpawn("agent-2")
	ep, err := a.Remember(ctx, emk.Episode{Goal: "negotiate the acquisition of Initech", Result: "offer at 40M", Outcome: emk.OutcomeSuccess})
	require.NoError(t, err)
	require.NoError(t, a.Write(ctx, "/mem/semantic/deals/initech.md", []byte("# Initech\n\nWe offered 40M for Initech.")))

	for _, p := range []string{
		"/mem/episodic/" + ep.ID + ".json",
		"/mem/episodic/../episodic/" + ep.ID + ".json",
		"/mem/semantic/deals/initech.md",
		"/mem/semantic/../semantic/deals/initech.md",
	} {
		_, err := b.Read(ctx, p)
		require.Error(t, err, p)
		assert.NotContains(t, err.Error(), "40M")
	}
	res, err := b.Search(ctx, "/mem/semantic", "Initech acquisition offer", 10)
	require.NoError(t, err)
	assert.Empty(t, res)
	res, err = b.Search(ctx, "/mem/episodic", "Initech acquisition offer", 10)
	require.NoError(t, err)
	assert.Empty(t, res)
	got, err := b.Recall(ctx, emk.Query{Text: "Initech", K: 10})
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = b.Remember(ctx, emk.Episode{Goal: "follow up", Causes: []string{ep.ID}})
	require.ErrorIs(t, err, agentos.ErrNotFound)
	_, err = b.Remember(ctx, emk.Episode{Goal: "impersonate", Agent: "agent-1"})
	require.Error(t, err)
	n, err := k.Memory.Episodes.Count(ctx, "agent-1")
	require.NoError(t, err)
	assert.Equal(t, 1, n, "agent 2 added nothing to agent 1's memory")
}

// Threat: an agent writing into a shared collection the host curates. Even
// under a policy that allows everything, the shared mount is read-only.
func TestSharedCollectionsAreReadOnlyToAgents(t *testing.T) {
	ctx := context.Background()
	k, _ := memoryKernel(t, memoryAttackPolicy, caas.Quota{})
	coll, err := k.Memory.Context.Collection(ctx, kernel.SharedCollection("kb"))
	require.NoError(t, err)
	_, err = coll.Ingest(ctx, caas.Document{Source: "refunds.md", Text: "Refunds are approved by finance."})
	require.NoError(t, err)
	a := k.MustSpawn("agent-1")
	for _, p := range []string{"/mem/semantic/shared/kb/refunds.md", "/mem/semantic/shared/kb/new.md"} {
		err := a.Write(ctx, p, []byte("Refunds are approved by anyone."))
		require.ErrorIs(t, err, agentos.ErrReadOnly, p)
		err = a.Delete(ctx, p)
		require.Error(t, err, p)
	}
	err = a.Write(ctx, "/mem/semantic/shared/other.md", []byte("x"))
	require.Error(t, err, "shared/ in the own collection is reserved")
	d, err := coll.Document(ctx, "refunds.md")
	require.NoError(t, err)
	assert.Equal(t, "Refunds are approved by finance.", d.Text)
}

// Threat: memory exhaustion through semantic memory. Documents beyond the
// collection's quota are refused whole, and the collection keeps what it
// had.
func TestSemanticMemoryQuota(t *testing.T) {
	ctx := context.Background()
	k, _ := memoryKernel(t, memoryAttackPolicy, caas.Quota{MaxVectors: 20, MaxBytes: 64 << 10})
	a := k.MustSpawn("agent-1")
	para := strings.Repeat("An agent writes a long paragraph about nothing in particular. ", 20) + "\n\n"
	var refused error
	for i := range 100 {
		if err := a.Write(ctx, "/mem/semantic/doc"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+".txt", []byte(strings.Repeat(para, 4))); err != nil {
			refused = err
			break
		}
	}
	require.ErrorIs(t, refused, agentos.ErrQuota)
	coll, err := k.Memory.Context.Collection(ctx, kernel.CollectionFor("agent-1"))
	require.NoError(t, err)
	u := coll.Usage()
	assert.LessOrEqual(t, u.Vectors, 20)
	assert.LessOrEqual(t, u.Bytes, int64(64<<10))
}
