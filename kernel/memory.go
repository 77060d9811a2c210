package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/caas"
	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/vfs"
)

// Memory is the long-term memory the kernel mounts in every agent's
// namespace. Either store may be nil; the kernel without [WithMemory] keeps
// /mem/episodic/ as an in-memory append-only mount and has nothing at
// /mem/semantic/. The stores belong to the caller: [Kernel.Close] does not
// close them, so one store can outlive a kernel (and be shared by several).
type Memory struct {
	// Episodes backs /mem/episodic/. Each agent sees only its own
	// episodes there, as read-only files named "<id>.json"; it appends with
	// [Agent.Remember] and queries with [Agent.Recall] or [Agent.Search].
	Episodes *emk.Store
	// Context backs /mem/semantic/ with one collection per agent
	// ([CollectionFor]): writing a file there indexes it, reading it back
	// returns the text as written, deleting it removes its chunks, and
	// [Agent.Search] and [Agent.Context] query it.
	Context *caas.Service
	// Shared names collections of Context mounted read-only at
	// /mem/semantic/shared/NAME/ in every namespace, for knowledge the host
	// curates (it ingests through the caas.Service directly). Policy decides
	// who may read or search them: the baseline policy denies every access.
	Shared []string
}

// PrefixShared is where shared collections are mounted, one directory each.
const PrefixShared = vfs.PrefixSemantic + "/shared"

// Bounds of the memory syscalls.
const (
	// MaxEpisodesListed is the most episodes a listing of /mem/episodic/
	// returns; an agent with more gets an error naming [Agent.Recall],
	// never a silently shortened list.
	MaxEpisodesListed = 1000
	// maxHitsRecorded bounds the hits an outcome entry names.
	maxHitsRecorded = 32
)

// WithMemory mounts m's stores in every agent's namespace: an emk store at
// /mem/episodic/ and caas collections at /mem/semantic/. Agents spawned
// before it was given do not exist: the option applies to every Spawn.
func WithMemory(m Memory) Option {
	return func(c *config) error {
		if m.Episodes == nil && m.Context == nil {
			return fmt.Errorf("kernel: %w: memory with neither an episode store nor a context service", agentos.ErrInvalid)
		}
		if len(m.Shared) > 0 && m.Context == nil {
			return fmt.Errorf("kernel: %w: shared collections without a context service", agentos.ErrInvalid)
		}
		seen := map[string]bool{}
		for _, name := range m.Shared {
			if !vfs.ValidName(name) || strings.Contains(name, "/") || name == "." {
				return fmt.Errorf("kernel: %w: shared collection name %q is not one path component", agentos.ErrInvalid, name)
			}
			if seen[name] {
				return fmt.Errorf("kernel: %w: shared collection %q given twice", agentos.ErrInvalid, name)
			}
			seen[name] = true
			if _, err := m.Context.Collection(context.Background(), SharedCollection(name)); err != nil {
				return fmt.Errorf("kernel: shared collection %q: %w", name, err)
			}
		}
		m.Shared = slices.Clone(m.Shared)
		c.memory = &m
		return nil
	}
}

// CollectionFor returns the name of the caas collection that holds agent
// id's /mem/semantic/: "agent:" and the id, or, for an id that is not a
// valid collection name, "agent:" and the first 32 hex digits of its
// SHA-256.
func CollectionFor(id agentos.AgentID) string {
	name := "agent:" + string(id)
	if len(name) <= 128 && !strings.ContainsRune(name, '@') {
		return name
	}
	sum := sha256.Sum256([]byte(id))
	return "agent:" + hex.EncodeToString(sum[:16])
}

// SharedCollection returns the name of the caas collection mounted at
// /mem/semantic/shared/NAME/.
func SharedCollection(name string) string { return "shared:" + name }

// mountMemory adds the memory mounts to a new agent's namespace options and
// namespace. It runs in newAgent, before the agent exists.
func (k *Kernel) memoryOptions(a *Agent) []vfs.Option {
	if k.memory == nil || k.memory.Episodes == nil {
		return nil
	}
	return []vfs.Option{vfs.WithEpisodicMount(&episodicMount{store: k.memory.Episodes, agent: string(a.id)})}
}

func (k *Kernel) mountMemory(ctx context.Context, a *Agent) error {
	m := k.memory
	if m == nil || m.Context == nil {
		return nil
	}
	own, err := m.Context.Collection(ctx, CollectionFor(a.id))
	if err != nil {
		return fmt.Errorf("semantic memory: %w", err)
	}
	if err := a.ns.Mount(ctx, vfs.PrefixSemantic, &semanticMount{semanticView{coll: own, own: true}}); err != nil {
		return fmt.Errorf("semantic memory: %w", err)
	}
	for _, name := range m.Shared {
		coll, err := m.Context.Collection(ctx, SharedCollection(name))
		if err != nil {
			return fmt.Errorf("shared collection %q: %w", name, err)
		}
		if err := a.ns.Mount(ctx, PrefixShared+"/"+name, &semanticView{coll: coll}); err != nil {
			return fmt.Errorf("shared collection %q: %w", name, err)
		}
	}
	return nil
}

// Remember appends an episode to the agent's episodic memory. The episode
// is the agent's own: Agent is filled in (another agent's id is refused),
// Time is the kernel's clock when zero, and every cause must be one of the
// agent's own episodes. Policy sees op "append" on /mem/episodic/ID.json
// with the episode's text fields, outcome, meta and causes as
// action.args. It returns the episode as stored, with its content address.
//
// Remembering an episode identical to a stored one (same fields, same time)
// returns the stored one: episodes are content-addressed. Without
// [WithMemory] episodes it fails with agentos.ErrInvalid.
func (a *Agent) Remember(ctx context.Context, ep emk.Episode) (emk.Episode, error) {
	store := a.episodes()
	if store == nil {
		return emk.Episode{}, fmt.Errorf("kernel: %w: the kernel has no episodic memory (kernel.WithMemory)", agentos.ErrInvalid)
	}
	rq := request{act: agentos.Action{Op: agentos.OpAppend, Path: vfs.PrefixEpisodic}, commit: true}
	switch {
	case ep.Agent != "" && ep.Agent != string(a.id):
		rq.pre, rq.preRule = fmt.Errorf("%w: episode of agent %q", agentos.ErrInvalid, ep.Agent), RuleArgs
	default:
		ep.Agent = string(a.id)
		if ep.Time.IsZero() {
			ep.Time = a.k.now()
		}
		ep.Time = ep.Time.UTC()
		ep.ID, ep.Embedding = "", nil
		rq.act.Path = vfs.PrefixEpisodic + "/" + ep.ComputeID() + ".json"
		args := map[string]any{
			"goal": ep.Goal, "action": ep.Action, "result": ep.Result,
			"reflection": ep.Reflection, "outcome": string(ep.Outcome),
			"causes": slices.Clone(ep.Causes), "meta": ep.Meta,
		}
		rq.setArgs(args)
	}
	rq.run = func(ctx context.Context, _ *agentos.Action) (any, []byte, error) {
		for _, id := range ep.Causes {
			c, err := store.Get(ctx, id)
			if err != nil {
				return nil, nil, fmt.Errorf("cause %s: %w", id, err)
			}
			if c.Agent != ep.Agent {
				return nil, nil, fmt.Errorf("cause %s: %w", id, agentos.ErrNotFound)
			}
		}
		got, err := store.Append(ctx, ep)
		if err != nil {
			return nil, nil, err
		}
		return got, []byte(got.ID), nil
	}
	res, err := a.syscall(ctx, rq)
	got, _ := res.(emk.Episode)
	return got, err
}

// Recall queries the agent's episodic memory: q.Agent is the agent itself
// (another agent's id is refused). Policy sees op "search" on /mem/episodic
// with action.args.query (q.Text), k and outcomes; the outcome entry names
// the ids and scores returned.
func (a *Agent) Recall(ctx context.Context, q emk.Query) ([]emk.Scored, error) {
	store := a.episodes()
	if store == nil {
		return nil, fmt.Errorf("kernel: %w: the kernel has no episodic memory (kernel.WithMemory)", agentos.ErrInvalid)
	}
	rq := request{act: agentos.Action{Op: agentos.OpSearch, Path: vfs.PrefixEpisodic}}
	outcomes := make([]any, len(q.Outcomes))
	for i, o := range q.Outcomes {
		outcomes[i] = string(o)
	}
	if q.Agent != "" && q.Agent != string(a.id) {
		rq.pre, rq.preRule = fmt.Errorf("%w: query of agent %q's episodes", agentos.ErrInvalid, q.Agent), RuleArgs
	} else {
		q.Agent = string(a.id)
		rq.setArgs(map[string]any{"query": q.Text, "k": q.K, "outcomes": outcomes, "meta": q.Meta})
	}
	var note string
	rq.note = func() string { return note }
	rq.run = func(ctx context.Context, _ *agentos.Action) (any, []byte, error) {
		res, err := store.Query(ctx, q)
		if err != nil {
			return nil, nil, err
		}
		hits := make([]hit, len(res))
		for i, r := range res {
			hits[i] = hit{ID: r.Episode.ID, Score: r.Score}
		}
		var d []byte
		d, note = hitsDigest(hits)
		return res, d, nil
	}
	res, err := a.syscall(ctx, rq)
	out, _ := res.([]emk.Scored)
	return out, err
}

// Search runs a similarity search over the files under dir, a directory of
// a searchable mount: /mem/semantic/ (the agent's own documents),
// /mem/semantic/shared/NAME/ or /mem/episodic/. Policy sees op "search"
// on dir with action.args.query and action.args.k (1..vfs.MaxSearchK); the
// outcome entry names the paths and scores of what was returned, and its
// digest covers them.
func (a *Agent) Search(ctx context.Context, dir, query string, k int) ([]vfs.SearchResult, error) {
	rq := request{act: agentos.Action{Op: agentos.OpSearch, Path: dir}}
	rq.setArgs(map[string]any{"query": query, "k": k})
	var note string
	rq.note = func() string { return note }
	rq.run = func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
		res, err := a.ns.Search(ctx, act.Path, vfs.Query{Text: query, K: k})
		if err != nil {
			return nil, nil, err
		}
		hits := make([]hit, len(res))
		for i, r := range res {
			hits[i] = hit{ID: r.Path, Score: r.Score}
		}
		var d []byte
		d, note = hitsDigest(hits)
		return res, d, nil
	}
	res, err := a.syscall(ctx, rq)
	out, _ := res.([]vfs.SearchResult)
	return out, err
}

// Context assembles the context an agent's next prompt needs from the
// semantic memory under dir (/mem/semantic/… or /mem/semantic/shared/NAME/…):
// the best chunks for r.Query that fit r.MaxTokens, after r.Hot and r.Warm,
// with citations (see caas.Collection.Context). r.Prefix is set from dir.
// Policy sees op "search" on dir with action.args.query, max_tokens, k and
// mode "context"; the outcome entry names the cited chunks and scores.
func (a *Agent) Context(ctx context.Context, dir string, r caas.ContextRequest) (caas.Context, error) {
	rq := request{act: agentos.Action{Op: agentos.OpSearch, Path: dir}}
	rq.setArgs(map[string]any{"query": r.Query, "max_tokens": r.MaxTokens, "k": r.K, "mode": "context"})
	var note string
	rq.note = func() string { return note }
	rq.run = func(ctx context.Context, act *agentos.Action) (any, []byte, error) {
		coll, prefix, err := a.collectionAt(act.Path)
		if err != nil {
			return nil, nil, err
		}
		r.Prefix = prefix
		c, err := coll.Context(ctx, r)
		if err != nil {
			return nil, nil, err
		}
		hits := make([]hit, len(c.Citations))
		for i, ct := range c.Citations {
			hits[i] = hit{ID: ct.Source + "#" + strconv.Itoa(ct.Start) + "-" + strconv.Itoa(ct.End), Score: ct.Score}
		}
		d, n := hitsDigest(hits)
		note = n + " tokens=" + strconv.Itoa(c.Tokens)
		return c, append(d, c.Text...), nil
	}
	res, err := a.syscall(ctx, rq)
	out, _ := res.(caas.Context)
	return out, err
}

// collectionAt maps a clean path under /mem/semantic to its collection and
// the source prefix below it.
func (a *Agent) collectionAt(p string) (*caas.Collection, string, error) {
	m := a.k.memory
	if m == nil || m.Context == nil {
		return nil, "", fmt.Errorf("%w: the kernel has no semantic memory (kernel.WithMemory)", agentos.ErrInvalid)
	}
	ctx := context.Background()
	if rest, ok := under(p, PrefixShared); ok && rest != "" {
		name, sub, _ := strings.Cut(rest, "/")
		if slices.Contains(m.Shared, name) {
			coll, err := m.Context.Collection(ctx, SharedCollection(name))
			return coll, sub, err
		}
	}
	rest, ok := under(p, vfs.PrefixSemantic)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s is not under %s", agentos.ErrInvalid, p, vfs.PrefixSemantic)
	}
	if rest == "shared" || strings.HasPrefix(rest, "shared/") {
		return nil, "", fmt.Errorf("%w: %s is no shared collection", agentos.ErrNotFound, p)
	}
	coll, err := m.Context.Collection(ctx, CollectionFor(a.id))
	return coll, rest, err
}

// under reports whether clean path p is dir or below it, and the rest.
func under(p, dir string) (string, bool) {
	if p == dir {
		return "", true
	}
	rest, ok := strings.CutPrefix(p, dir+"/")
	return rest, ok
}

func (a *Agent) episodes() *emk.Store {
	if a.k.memory == nil {
		return nil
	}
	return a.k.memory.Episodes
}

// setArgs copies args into the request as Do does, or marks it refused.
func (rq *request) setArgs(args map[string]any) {
	cp, err := copyArgs(args)
	if err != nil {
		rq.pre, rq.preRule = fmt.Errorf("kernel: arguments: %w", err), RuleArgs
		return
	}
	js, err := json.Marshal(cp)
	if err != nil {
		rq.pre, rq.preRule = fmt.Errorf("kernel: arguments: %w: %w", agentos.ErrInvalid, err), RuleArgs
		return
	}
	rq.act.Args, rq.argsJSON = cp, js
}

// hit is one search result as recorded.
type hit struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// hitsDigest returns the bytes a search's result digest covers (the JSON of
// every hit) and the outcome's detail: the first hits with their scores.
func hitsDigest(hits []hit) ([]byte, string) {
	d, _ := json.Marshal(hits) // strings and finite floats; NaN is mapped below
	if d == nil {
		for i := range hits {
			hits[i].Score = 0
		}
		d, _ = json.Marshal(hits)
	}
	var b strings.Builder
	b.WriteString("hits=")
	b.WriteString(strconv.Itoa(len(hits)))
	for i, h := range hits {
		if i == maxHitsRecorded {
			fmt.Fprintf(&b, " …(%d more)", len(hits)-i)
			break
		}
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(truncateString(h.ID, 256)))
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(h.Score, 'f', 4, 64))
	}
	return d, b.String()
}

// episodicMount is one agent's read-only view of an emk store at
// /mem/episodic/: a flat directory of "<id>.json" files, searchable.
type episodicMount struct {
	store *emk.Store
	agent string
}

var (
	_ vfs.Mount       = (*episodicMount)(nil)
	_ vfs.SearchMount = (*episodicMount)(nil)
)

// episodeID returns the id a file name of the mount names.
func episodeID(name string) (string, error) {
	if !vfs.ValidName(name) {
		return "", fmt.Errorf("%w: invalid name %q", agentos.ErrInvalid, name)
	}
	id, ok := strings.CutSuffix(name, ".json")
	if !ok || strings.Contains(id, "/") || len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %s is not an episode", agentos.ErrNotFound, name)
	}
	return id, nil
}

func (m *episodicMount) get(ctx context.Context, name string) (emk.Episode, []byte, error) {
	id, err := episodeID(name)
	if err != nil {
		return emk.Episode{}, nil, err
	}
	ep, err := m.store.Get(ctx, id)
	if err != nil {
		return emk.Episode{}, nil, err
	}
	if ep.Agent != m.agent {
		return emk.Episode{}, nil, fmt.Errorf("%w: %s", agentos.ErrNotFound, name)
	}
	ep.Embedding = nil
	b, err := ep.MarshalJSON()
	return ep, b, err
}

func (m *episodicMount) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "." {
		return nil, fmt.Errorf("%w: . is a directory", agentos.ErrInvalid)
	}
	_, b, err := m.get(ctx, name)
	return b, err
}

func (m *episodicMount) Stat(ctx context.Context, name string) (vfs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return vfs.FileInfo{}, err
	}
	if name == "." {
		return vfs.FileInfo{Name: ".", IsDir: true}, nil
	}
	ep, b, err := m.get(ctx, name)
	if err != nil {
		return vfs.FileInfo{}, err
	}
	return vfs.FileInfo{Name: name, Size: int64(len(b)), ModTime: ep.Time}, nil
}

func (m *episodicMount) ReadDir(ctx context.Context, name string) ([]vfs.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name != "." {
		if _, err := episodeID(name); err != nil {
			return nil, err
		}
		if _, err := m.Stat(ctx, name); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %s is a file", agentos.ErrInvalid, name)
	}
	n, err := m.store.Count(ctx, m.agent)
	if err != nil {
		return nil, err
	}
	if n > MaxEpisodesListed {
		return nil, fmt.Errorf("%w: %d episodes are more than a listing holds (%d): query them with Agent.Recall", agentos.ErrQuota, n, MaxEpisodesListed)
	}
	eps, err := m.store.List(ctx, m.agent, "", MaxEpisodesListed)
	if err != nil {
		return nil, err
	}
	out := make([]vfs.FileInfo, 0, len(eps))
	for _, ep := range eps {
		ep.Embedding = nil
		b, err := ep.MarshalJSON()
		if err != nil {
			return nil, err
		}
		out = append(out, vfs.FileInfo{Name: ep.ID + ".json", Size: int64(len(b)), ModTime: ep.Time})
	}
	slices.SortFunc(out, func(x, y vfs.FileInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (m *episodicMount) Search(ctx context.Context, dir string, q vfs.Query) ([]vfs.SearchResult, error) {
	if q.K < 1 {
		return nil, fmt.Errorf("%w: k=%d", agentos.ErrInvalid, q.K)
	}
	if dir != "." {
		return nil, fmt.Errorf("%w: %s: /mem/episodic has no subdirectories", agentos.ErrNotFound, dir)
	}
	res, err := m.store.Query(ctx, emk.Query{Agent: m.agent, Text: q.Text, K: q.K})
	if err != nil {
		return nil, err
	}
	out := make([]vfs.SearchResult, len(res))
	for i, r := range res {
		r.Episode.Embedding = nil
		b, err := r.Episode.MarshalJSON()
		if err != nil {
			return nil, err
		}
		out[i] = vfs.SearchResult{Path: r.Episode.ID + ".json", Score: r.Score, Content: b}
	}
	return out, nil
}

// semanticView is a read-only, searchable view of a caas collection: each
// ingested document is a file named by its source.
type semanticView struct {
	coll *caas.Collection
	own  bool // the agent's own collection: "shared/" is reserved
}

var (
	_ vfs.Mount       = (*semanticView)(nil)
	_ vfs.SearchMount = (*semanticView)(nil)
	_ vfs.WriteMount  = (*semanticMount)(nil)
	_ vfs.SearchMount = (*semanticMount)(nil)
)

func checkName(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !vfs.ValidName(name) {
		return fmt.Errorf("%w: invalid name %q", agentos.ErrInvalid, name)
	}
	return nil
}

func (v *semanticView) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := checkName(ctx, name); err != nil {
		return nil, err
	}
	if name == "." {
		return nil, fmt.Errorf("%w: . is a directory", agentos.ErrInvalid)
	}
	d, err := v.coll.Document(ctx, name)
	if err != nil {
		if v.isDir(name) {
			return nil, fmt.Errorf("%w: %s is a directory", agentos.ErrInvalid, name)
		}
		return nil, err
	}
	return []byte(d.Text), nil
}

// isDir reports whether some source lies below name.
func (v *semanticView) isDir(name string) bool {
	for _, s := range v.coll.Sources(name) {
		if s.Source != name {
			return true
		}
	}
	return false
}

// size returns the length of the document source as written.
func (v *semanticView) size(ctx context.Context, source string) (int64, error) {
	d, err := v.coll.Document(ctx, source)
	if err != nil {
		return 0, err
	}
	return int64(len(d.Text)), nil
}

func (v *semanticView) Stat(ctx context.Context, name string) (vfs.FileInfo, error) {
	if err := checkName(ctx, name); err != nil {
		return vfs.FileInfo{}, err
	}
	if name == "." {
		return vfs.FileInfo{Name: ".", IsDir: true}, nil
	}
	// Sources of name are name itself (a file) or below it (a directory).
	for _, s := range v.coll.Sources(name) {
		if s.Source == name {
			n, err := v.size(ctx, name)
			if err != nil {
				return vfs.FileInfo{}, err
			}
			return vfs.FileInfo{Name: path.Base(name), Size: n, ModTime: s.Time}, nil
		}
		return vfs.FileInfo{Name: path.Base(name), IsDir: true}, nil
	}
	return vfs.FileInfo{}, fmt.Errorf("%w: %s", agentos.ErrNotFound, name)
}

func (v *semanticView) ReadDir(ctx context.Context, name string) ([]vfs.FileInfo, error) {
	if err := checkName(ctx, name); err != nil {
		return nil, err
	}
	dir, prefix := "", ""
	if name != "." {
		dir, prefix = name, name+"/"
	}
	var out []vfs.FileInfo
	for _, s := range v.coll.Sources(dir) {
		if s.Source == name {
			return nil, fmt.Errorf("%w: %s is a file", agentos.ErrInvalid, name)
		}
		rest := strings.TrimPrefix(s.Source, prefix)
		if child, _, isDir := strings.Cut(rest, "/"); isDir {
			if len(out) == 0 || out[len(out)-1].Name != child || !out[len(out)-1].IsDir {
				out = append(out, vfs.FileInfo{Name: child, IsDir: true})
			}
			continue
		}
		n, err := v.size(ctx, s.Source)
		if err != nil {
			return nil, err
		}
		out = append(out, vfs.FileInfo{Name: rest, Size: n, ModTime: s.Time})
	}
	if out == nil && name != "." {
		return nil, fmt.Errorf("%w: %s", agentos.ErrNotFound, name)
	}
	slices.SortStableFunc(out, func(x, y vfs.FileInfo) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func (v *semanticView) Search(ctx context.Context, dir string, q vfs.Query) ([]vfs.SearchResult, error) {
	if err := checkName(ctx, dir); err != nil {
		return nil, err
	}
	prefix := ""
	if dir != "." {
		prefix = dir
	}
	hits, err := v.coll.Search(ctx, caas.Query{Text: q.Text, K: q.K, Prefix: prefix})
	if err != nil {
		return nil, err
	}
	out := make([]vfs.SearchResult, len(hits))
	for i, h := range hits {
		out[i] = vfs.SearchResult{Path: h.Chunk.Source, Score: h.Score, Content: []byte(h.Chunk.Text)}
	}
	return out, nil
}

// semanticMount is the agent's own collection: a searchable view that
// writes, where writing a file ingests it and removing it drops its chunks.
type semanticMount struct{ semanticView }

func (m *semanticMount) WriteFile(ctx context.Context, name string, data []byte) error {
	if err := checkName(ctx, name); err != nil {
		return err
	}
	switch {
	case name == ".":
		return fmt.Errorf("%w: . is a directory", agentos.ErrInvalid)
	case name == "shared" || strings.HasPrefix(name, "shared/"):
		return fmt.Errorf("%w: %s: shared/ is reserved for shared collections", agentos.ErrInvalid, name)
	case m.isDir(name):
		return fmt.Errorf("%w: %s is a directory", agentos.ErrInvalid, name)
	}
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		if _, err := m.coll.Document(ctx, p); err == nil {
			return fmt.Errorf("%w: %s is a file", agentos.ErrInvalid, p)
		}
	}
	_, err := m.coll.Ingest(ctx, caas.Document{Source: name, Text: string(data)})
	return err
}

func (m *semanticMount) Remove(ctx context.Context, name string) error {
	if err := checkName(ctx, name); err != nil {
		return err
	}
	if name == "." || m.isDir(name) {
		return fmt.Errorf("%w: %s is a directory", agentos.ErrInvalid, name)
	}
	return m.coll.Remove(ctx, name)
}
