// Package recordertest is a conformance kit for flight recorders: Test runs
// the append, query, verify, tamper-detection and close semantics of
// package recorder against any implementation of the small Recorder
// interface below, the way testing/fstest checks an fs.FS.
package recordertest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// Recorder is what the kit tests: the methods the kernel uses.
type Recorder interface {
	Append(ctx context.Context, e recorder.Entry) (uint64, error)
	Query(ctx context.Context, f recorder.Filter) iter.Seq2[recorder.Entry, error]
	Verify(ctx context.Context) (recorder.Report, error)
	VerifyAnchor(ctx context.Context, a recorder.Anchor) (recorder.Report, error)
	Anchor() recorder.Anchor
	Flush(ctx context.Context) error
	Close() error
}

var _ Recorder = (*recorder.Recorder)(nil)

// Tamperer edits a recorder's committed storage behind its back, bypassing
// its append-only protections, the way an attacker with write access to the
// storage would. No hash is recomputed unless the caller did so.
type Tamperer interface {
	// Replace overwrites every stored field of the entry at e.Seq with e's.
	Replace(e recorder.Entry) error
	// Delete removes the entry at seq.
	Delete(seq uint64) error
	// Swap exchanges every stored field but the sequence between a and b.
	Swap(a, b uint64) error
	// Insert moves the entries at at and after it one place up and stores
	// e at at.
	Insert(at uint64, e recorder.Entry) error
	// Truncate removes every entry after after.
	Truncate(after uint64) error
}

// Factory returns a new, empty recorder. Its Tamperer may be nil, and then
// the tamper tests are skipped. The kit closes the recorder; the factory
// may register further cleanup with t.Cleanup.
type Factory func(t *testing.T) (Recorder, Tamperer)

// Test runs the conformance tests as subtests of t.
func Test(t *testing.T, newRecorder Factory) {
	t.Run("AppendChains", func(t *testing.T) { testAppend(t, newRecorder) })
	t.Run("RejectsInvalid", func(t *testing.T) { testInvalid(t, newRecorder) })
	t.Run("Query", func(t *testing.T) { testQuery(t, newRecorder) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newRecorder) })
	t.Run("Tamper", func(t *testing.T) { testTamper(t, newRecorder) })
	t.Run("Anchors", func(t *testing.T) { testAnchors(t, newRecorder) })
	t.Run("Close", func(t *testing.T) { testClose(t, newRecorder) })
}

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Sample returns the i-th entry of a deterministic workload: decision and
// outcome pairs of several agents, with a signal and a lifecycle entry now
// and then. Every field that applies is set: sends carry a payload type and
// meta labels (one in two with a value that JSON must escape). Each call
// returns a new Meta map.
func Sample(i int) recorder.Entry {
	agent := agentos.AgentID(fmt.Sprintf("agent-%d", i%3))
	trace := fmt.Sprintf("t-%d", i/2)
	at := base.Add(time.Duration(i) * time.Second)
	ops := []agentos.Op{agentos.OpExec, agentos.OpRead, agentos.OpWrite, agentos.OpSend}
	op := ops[(i/2)%len(ops)]
	e := recorder.Entry{Time: at, Trace: trace, Agent: agent, Op: op, PolicyVersion: "v1"}
	switch op {
	case agentos.OpExec:
		e.Tool = "sql.query"
		e.Args = []byte(fmt.Sprintf(`{"query":"SELECT %d","limit":%d}`, i, i%5))
	case agentos.OpSend:
		e.Target = "agent-9"
		e.Meta = map[string]string{"sender": string(agent), "trace": trace}
		if (i/8)%2 == 0 {
			e.PayloadType = "example.com/billing.Invoice"
			e.Meta["direction"] = "pipe"
		} else {
			e.PayloadType = "application/json"
			e.Meta["direction"] = "publish"
			e.Meta["pattern"] = "billing.*"
			e.Meta["note"] = "say \"hi\" <b>&amp; é\n\u2028"
		}
	default:
		e.Path = fmt.Sprintf("/mem/working/f%d.txt", i%4)
	}
	switch {
	case i%10 == 9:
		return recorder.Entry{Time: at, Agent: agent, Kind: recorder.KindSignal, Detail: "SIGSTOP"}
	case i%10 == 8:
		return recorder.Entry{Time: at, Agent: agent, Kind: recorder.KindLifecycle, Detail: "spawn"}
	case i%2 == 0:
		e.Kind = recorder.KindDecision
		e.Effect = []agentos.Effect{agentos.Allow, agentos.Deny, agentos.Audit, agentos.Approve}[(i/2)%4]
		e.Rule = fmt.Sprintf("rule-%d", i%7)
		e.Message = "decided"
		e.Severity = agentos.Severity(i % 5)
	default:
		e.Kind = recorder.KindOutcome
		e.Effect = agentos.Allow
		e.Status = recorder.StatusOK
		if i%4 == 3 {
			e.Status, e.Error = recorder.StatusError, "boom"
		}
		e.Duration = time.Duration(i) * time.Millisecond
		e.ResultDigest = fmt.Sprintf("sha256:%064x", i)
	}
	return e
}

func fill(t *testing.T, r Recorder, n int) []recorder.Entry {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		seq, err := r.Append(ctx, Sample(i))
		if err != nil {
			t.Fatalf("Append(%d): %v", i, err)
		}
		if seq != uint64(i+1) {
			t.Fatalf("Append(%d) = seq %d, want %d", i, seq, i+1)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	return all(t, r, recorder.Filter{})
}

func all(t *testing.T, r Recorder, f recorder.Filter) []recorder.Entry {
	t.Helper()
	var out []recorder.Entry
	for e, err := range r.Query(context.Background(), f) {
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		out = append(out, e)
	}
	return out
}

func open(t *testing.T, newRecorder Factory) (Recorder, Tamperer) {
	r, tm := newRecorder(t)
	t.Cleanup(func() { r.Close() })
	return r, tm
}

func verifyOK(t *testing.T, r Recorder, n int) recorder.Report {
	t.Helper()
	rep, err := r.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !rep.OK || rep.Broken != nil {
		t.Fatalf("Verify of an untouched chain: %+v", rep.Broken)
	}
	if rep.Entries != uint64(n) || rep.Head.Seq != uint64(n) {
		t.Fatalf("Verify checked %d entries up to %d, want %d", rep.Entries, rep.Head.Seq, n)
	}
	return rep
}

func testAppend(t *testing.T, newRecorder Factory) {
	r, _ := open(t, newRecorder)
	if a := r.Anchor(); a.Seq != 0 {
		t.Fatalf("Anchor of an empty recorder = %d, want 0", a.Seq)
	}
	const n = 40
	got := fill(t, r, n)
	if len(got) != n {
		t.Fatalf("Query returned %d entries, want %d", len(got), n)
	}
	var prev recorder.Hash
	for i, e := range got {
		want := Sample(i)
		want.Args, _ = recorder.CanonicalJSON(want.Args)
		want.Seq, want.PrevHash, want.Hash = e.Seq, e.PrevHash, e.Hash
		if e.Seq != uint64(i+1) {
			t.Fatalf("entry %d has seq %d", i, e.Seq)
		}
		if !equal(e, want) {
			t.Fatalf("entry %d reads back as\n%+v\nwant\n%+v", e.Seq, e, want)
		}
		if e.PrevHash != prev {
			t.Fatalf("entry %d PrevHash %s, want %s", e.Seq, e.PrevHash, prev)
		}
		if h := recorder.ComputeHash(prev, e); h != e.Hash {
			t.Fatalf("entry %d Hash %s, ComputeHash %s", e.Seq, e.Hash, h)
		}
		prev = e.Hash
	}
	rep := verifyOK(t, r, n)
	if a := r.Anchor(); a != rep.Head || a.Hash != prev {
		t.Fatalf("Anchor %+v, Verify head %+v, last hash %s", a, rep.Head, prev)
	}
	rep, err := r.VerifyAnchor(context.Background(), r.Anchor())
	if err != nil || !rep.OK {
		t.Fatalf("VerifyAnchor(head) = %+v, %v", rep.Broken, err)
	}
	// The decision and outcome of one syscall share a trace.
	tr := all(t, r, recorder.Filter{Trace: "t-0"})
	if len(tr) != 2 || tr[0].Kind != recorder.KindDecision || tr[1].Kind != recorder.KindOutcome {
		t.Fatalf("trace t-0 = %d entries %v", len(tr), kinds(tr))
	}
}

func kinds(es []recorder.Entry) []recorder.Kind {
	var k []recorder.Kind
	for _, e := range es {
		k = append(k, e.Kind)
	}
	return k
}

func equal(a, b recorder.Entry) bool {
	return a.Seq == b.Seq && a.Time.Equal(b.Time) && a.Trace == b.Trace && a.Agent == b.Agent &&
		a.Kind == b.Kind && a.Op == b.Op && a.Tool == b.Tool && a.Path == b.Path && a.Target == b.Target &&
		string(a.Args) == string(b.Args) && a.PolicyVersion == b.PolicyVersion && a.Rule == b.Rule &&
		a.Effect == b.Effect && a.Message == b.Message && a.Severity == b.Severity && a.Status == b.Status &&
		a.Error == b.Error && a.Duration == b.Duration && a.ResultDigest == b.ResultDigest &&
		a.Detail == b.Detail && a.PayloadType == b.PayloadType && maps.Equal(a.Meta, b.Meta) &&
		(a.Meta == nil) == (b.Meta == nil) && a.PrevHash == b.PrevHash && a.Hash == b.Hash
}

func testInvalid(t *testing.T, newRecorder Factory) {
	r, _ := open(t, newRecorder)
	ctx := context.Background()
	bad := map[string]recorder.Entry{
		"unknown kind":           {Kind: "verdict", Trace: "t"},
		"empty kind":             {Trace: "t"},
		"decision no trace":      {Kind: recorder.KindDecision},
		"outcome no trace":       {Kind: recorder.KindOutcome},
		"args not JSON":          {Kind: recorder.KindDecision, Trace: "t", Args: []byte(`{"a":`)},
		"args two values":        {Kind: recorder.KindDecision, Trace: "t", Args: []byte(`{} {}`)},
		"effect out of range":    {Kind: recorder.KindDecision, Trace: "t", Effect: 9},
		"severity out of range":  {Kind: recorder.KindDecision, Trace: "t", Severity: 9},
		"negative duration":      {Kind: recorder.KindOutcome, Trace: "t", Duration: -1},
		"payload type too long":  {Kind: recorder.KindDecision, Trace: "t", PayloadType: strings.Repeat("p", recorder.MaxPayloadType+1)},
		"payload type not UTF-8": {Kind: recorder.KindDecision, Trace: "t", PayloadType: "pkg.T\xff"},
		"too many meta entries":  {Kind: recorder.KindDecision, Trace: "t", Meta: manyMeta(recorder.MaxMetaEntries + 1)},
		"meta key too long":      {Kind: recorder.KindDecision, Trace: "t", Meta: map[string]string{strings.Repeat("k", recorder.MaxMetaKey+1): "v"}},
		"meta value too long":    {Kind: recorder.KindDecision, Trace: "t", Meta: map[string]string{"k": strings.Repeat("v", recorder.MaxMetaValue+1)}},
		"meta key not UTF-8":     {Kind: recorder.KindDecision, Trace: "t", Meta: map[string]string{"k\xc3": "v"}},
		"meta value not UTF-8":   {Kind: recorder.KindDecision, Trace: "t", Meta: map[string]string{"k": "\xed\xa0\x80"}},
	}
	for name, e := range bad {
		if _, err := r.Append(ctx, e); !errors.Is(err, agentos.ErrInvalid) {
			t.Errorf("%s: Append error %v, want agentos.ErrInvalid", name, err)
		}
	}
	// Nothing invalid took a sequence number.
	seq, err := r.Append(ctx, Sample(0))
	if err != nil || seq != 1 {
		t.Fatalf("Append after rejected entries = %d, %v; want 1", seq, err)
	}
	// Payload type and meta at their limits are accepted and read back.
	limits := recorder.Entry{Kind: recorder.KindDecision, Trace: "limits",
		PayloadType: strings.Repeat("é", recorder.MaxPayloadType/2), Meta: manyMeta(recorder.MaxMetaEntries)}
	limits.Meta[strings.Repeat("k", recorder.MaxMetaKey)] = strings.Repeat("v", recorder.MaxMetaValue)
	delete(limits.Meta, "k00")
	if _, err := r.Append(ctx, limits); err != nil {
		t.Fatalf("Append of an entry at the payload type and meta limits: %v", err)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	got := all(t, r, recorder.Filter{Trace: "limits"})
	if len(got) != 1 || got[0].PayloadType != limits.PayloadType || !maps.Equal(got[0].Meta, limits.Meta) {
		t.Fatalf("entry at the limits reads back as %+v", got)
	}
}

// manyMeta returns a Meta map of n entries.
func manyMeta(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprintf("k%02d", i)] = "v"
	}
	return m
}

// match is the reference semantics of recorder.Filter.
func match(f recorder.Filter, e recorder.Entry) bool {
	return (f.Agent == "" || e.Agent == f.Agent) && (f.Op == "" || e.Op == f.Op) &&
		(f.Tool == "" || e.Tool == f.Tool) && (f.Kind == "" || e.Kind == f.Kind) &&
		(f.PayloadType == "" || e.PayloadType == f.PayloadType) &&
		(f.Trace == "" || e.Trace == f.Trace) &&
		(len(f.Effects) == 0 || slices.Contains(f.Effects, e.Effect)) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || e.Time.Before(f.Until)) &&
		(f.After == 0 || e.Seq > f.After) && (f.Before == 0 || e.Seq < f.Before)
}

func testQuery(t *testing.T, newRecorder Factory) {
	r, _ := open(t, newRecorder)
	const n = 600 // more than one page of any reasonable implementation
	everything := fill(t, r, n)
	filters := map[string]recorder.Filter{
		"all":               {},
		"agent":             {Agent: "agent-1"},
		"op":                {Op: agentos.OpRead},
		"tool":              {Tool: "sql.query"},
		"payload type":      {PayloadType: "example.com/billing.Invoice"},
		"payload type kind": {PayloadType: "application/json", Kind: recorder.KindOutcome},
		"kind":              {Kind: recorder.KindDecision},
		"trace":             {Trace: "t-7"},
		"effects":           {Effects: []agentos.Effect{agentos.Deny, agentos.Approve}},
		"deny only":         {Effects: []agentos.Effect{agentos.Deny}, Kind: recorder.KindDecision},
		"time range":        {Since: base.Add(100 * time.Second), Until: base.Add(400 * time.Second)},
		"combined":          {Agent: "agent-0", Op: agentos.OpExec, Kind: recorder.KindOutcome},
		"limit":             {Limit: 7},
		"limit large":       {Agent: "agent-2", Limit: 300},
		"descending":        {Order: recorder.Descending},
		"descending limit":  {Order: recorder.Descending, Limit: 5, Kind: recorder.KindSignal},
		"cursor":            {After: 250, Before: 260},
		"cursor descending": {Before: 300, Order: recorder.Descending, Limit: 280},
		"no match":          {Agent: "nobody"},
	}
	for name, f := range filters {
		t.Run(name, func(t *testing.T) {
			var want []recorder.Entry
			for _, e := range everything {
				if match(f, e) {
					want = append(want, e)
				}
			}
			if f.Order == recorder.Descending {
				slices.Reverse(want)
			}
			if f.Limit > 0 && len(want) > f.Limit {
				want = want[:f.Limit]
			}
			got := all(t, r, f)
			if len(got) != len(want) {
				t.Fatalf("%d entries, want %d", len(got), len(want))
			}
			for i := range got {
				if !equal(got[i], want[i]) {
					t.Fatalf("result %d is seq %d, want %d", i, got[i].Seq, want[i].Seq)
				}
			}
		})
	}
	// Stopping the iteration early is allowed, and the body may append.
	count := 0
	for _, err := range r.Query(context.Background(), recorder.Filter{}) {
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Append(context.Background(), Sample(count)); err != nil {
			t.Fatalf("Append inside a Query loop: %v", err)
		}
		if count++; count == 3 {
			break
		}
	}
}

func testConcurrent(t *testing.T, newRecorder Factory) {
	r, _ := open(t, newRecorder)
	const workers, each = 8, 50
	var wg sync.WaitGroup
	seqs := make(chan uint64, workers*each)
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				seq, err := r.Append(context.Background(), Sample(w*each+i))
				if err != nil {
					errs <- err
					return
				}
				seqs <- seq
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if _, err := r.Verify(context.Background()); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(seqs)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[uint64]bool{}
	for s := range seqs {
		if seen[s] {
			t.Fatalf("seq %d given twice", s)
		}
		seen[s] = true
	}
	for s := uint64(1); s <= workers*each; s++ {
		if !seen[s] {
			t.Fatalf("seq %d never given", s)
		}
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, r, workers*each)
}

// fieldEdits change one stored field each.
var fieldEdits = map[string]func(*recorder.Entry){
	"Time":        func(e *recorder.Entry) { e.Time = e.Time.Add(time.Nanosecond) },
	"Trace":       func(e *recorder.Entry) { e.Trace += "x" },
	"Agent":       func(e *recorder.Entry) { e.Agent += "x" },
	"Kind":        func(e *recorder.Entry) { e.Kind = recorder.KindPanic },
	"Op":          func(e *recorder.Entry) { e.Op = agentos.OpDelete },
	"Tool":        func(e *recorder.Entry) { e.Tool = "sql.exec" },
	"Path":        func(e *recorder.Entry) { e.Path += "x" },
	"Target":      func(e *recorder.Entry) { e.Target += "x" },
	"Args":        func(e *recorder.Entry) { e.Args = []byte(`{"query":"DROP TABLE users"}`) },
	"PayloadType": func(e *recorder.Entry) { e.PayloadType += "x" },
	"Meta": func(e *recorder.Entry) {
		m := maps.Clone(e.Meta) // e shares its map with the original entry
		if m == nil {
			m = map[string]string{}
		}
		m["direction"] += "x"
		e.Meta = m
	},
	"PolicyVersion": func(e *recorder.Entry) { e.PolicyVersion = "v0" },
	"Rule":          func(e *recorder.Entry) { e.Rule += "x" },
	"Effect":        func(e *recorder.Entry) { e.Effect = (e.Effect + 1) % 4 },
	"Message":       func(e *recorder.Entry) { e.Message += "x" },
	"Severity":      func(e *recorder.Entry) { e.Severity = (e.Severity + 1) % 5 },
	"Status":        func(e *recorder.Entry) { e.Status = "x" },
	"Error":         func(e *recorder.Entry) { e.Error += "x" },
	"Duration":      func(e *recorder.Entry) { e.Duration++ },
	"ResultDigest":  func(e *recorder.Entry) { e.ResultDigest += "x" },
	"Detail":        func(e *recorder.Entry) { e.Detail += "x" },
	"PrevHash":      func(e *recorder.Entry) { e.PrevHash[5] ^= 1 },
	"Hash":          func(e *recorder.Entry) { e.Hash[31] ^= 0x80 },
}

func expectBroken(t *testing.T, rep recorder.Report, err error, seq uint64, reason recorder.Reason) {
	t.Helper()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.OK || rep.Broken == nil {
		t.Fatalf("Verify did not detect the change (checked %d entries)", rep.Entries)
	}
	if rep.Broken.Seq != seq || rep.Broken.Reason != reason {
		t.Fatalf("Verify: %v; want seq %d, %s", rep.Broken, seq, reason)
	}
	if !errors.Is(rep.Err(), recorder.ErrTampered) {
		t.Fatalf("Report.Err() = %v, want recorder.ErrTampered", rep.Err())
	}
}

func testTamper(t *testing.T, newRecorder Factory) {
	const n = 30
	setup := func(t *testing.T) (Recorder, Tamperer, []recorder.Entry) {
		r, tm := open(t, newRecorder)
		if tm == nil {
			t.Skip("no Tamperer")
		}
		return r, tm, fill(t, r, n)
	}
	ctx := context.Background()
	t.Run("Fields", func(t *testing.T) {
		r, tm, es := setup(t)
		for name, edit := range fieldEdits {
			for _, target := range []uint64{1, 14, n} {
				orig := es[target-1]
				e := orig
				edit(&e)
				if err := tm.Replace(e); err != nil {
					t.Fatalf("%s: Replace: %v", name, err)
				}
				rep, err := r.Verify(ctx)
				t.Run(fmt.Sprintf("%s@%d", name, target), func(t *testing.T) {
					expectBroken(t, rep, err, target, recorder.ReasonEdited)
				})
				if err := tm.Replace(orig); err != nil {
					t.Fatalf("%s: restore: %v", name, err)
				}
			}
		}
		verifyOK(t, r, n)
	})
	t.Run("Rewritten", func(t *testing.T) {
		// An entry replaced by a forgery with a recomputed hash is caught
		// at the forgery, because its successor recorded the real hash.
		r, tm, es := setup(t)
		e := es[9]
		e.Effect = agentos.Allow
		e.Rule = "forged"
		e.Hash = recorder.ComputeHash(e.PrevHash, e)
		if err := tm.Replace(e); err != nil {
			t.Fatal(err)
		}
		rep, err := r.Verify(ctx)
		expectBroken(t, rep, err, 10, recorder.ReasonEdited)
	})
	for _, seq := range []uint64{1, 12, n - 1} {
		t.Run(fmt.Sprintf("Delete@%d", seq), func(t *testing.T) {
			r, tm, _ := setup(t)
			if err := tm.Delete(seq); err != nil {
				t.Fatal(err)
			}
			rep, err := r.Verify(ctx)
			expectBroken(t, rep, err, seq, recorder.ReasonDeleted)
		})
	}
	for _, pair := range [][2]uint64{{3, 17}, {10, 11}, {1, n}} {
		t.Run(fmt.Sprintf("Swap@%d,%d", pair[0], pair[1]), func(t *testing.T) {
			r, tm, _ := setup(t)
			if err := tm.Swap(pair[0], pair[1]); err != nil {
				t.Fatal(err)
			}
			rep, err := r.Verify(ctx)
			expectBroken(t, rep, err, pair[0], recorder.ReasonReordered)
		})
	}
	for _, at := range []uint64{1, 15, n} {
		t.Run(fmt.Sprintf("Insert@%d", at), func(t *testing.T) {
			r, tm, es := setup(t)
			// The forger knows the algorithm: the forged entry links to its
			// predecessor and carries a correct hash of itself.
			forged := Sample(2)
			forged.Args, _ = recorder.CanonicalJSON(forged.Args)
			forged.Time = forged.Time.UTC()
			forged.Rule = "forged"
			forged.Seq = at
			if at > 1 {
				forged.PrevHash = es[at-2].Hash
			}
			forged.Hash = recorder.ComputeHash(forged.PrevHash, forged)
			if err := tm.Insert(at, forged); err != nil {
				t.Fatal(err)
			}
			rep, err := r.Verify(ctx)
			expectBroken(t, rep, err, at, recorder.ReasonInserted)
		})
	}
	t.Run("Truncate", func(t *testing.T) {
		r, tm, _ := setup(t)
		anchor := r.Anchor()
		if anchor.Seq != n {
			t.Fatalf("Anchor = %d, want %d", anchor.Seq, n)
		}
		if err := tm.Truncate(n - 4); err != nil {
			t.Fatal(err)
		}
		// Without the anchor a truncated chain is a valid shorter chain.
		rep, err := r.Verify(ctx)
		if err != nil || !rep.OK || rep.Head.Seq != n-4 {
			t.Fatalf("Verify without anchor = %+v, %v; want OK up to %d", rep, err, n-4)
		}
		rep, err = r.VerifyAnchor(ctx, anchor)
		expectBroken(t, rep, err, n-3, recorder.ReasonTruncated)
	})
}

func testClose(t *testing.T, newRecorder Factory) {
	r, _ := newRecorder(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := r.Append(ctx, Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := r.Append(ctx, Sample(5)); !errors.Is(err, agentos.ErrClosed) {
		t.Errorf("Append after Close: %v, want agentos.ErrClosed", err)
	}
	if err := r.Flush(ctx); !errors.Is(err, agentos.ErrClosed) {
		t.Errorf("Flush after Close: %v, want agentos.ErrClosed", err)
	}
	if _, err := r.Verify(ctx); !errors.Is(err, agentos.ErrClosed) {
		t.Errorf("Verify after Close: %v, want agentos.ErrClosed", err)
	}
	for _, err := range r.Query(ctx, recorder.Filter{}) {
		if !errors.Is(err, agentos.ErrClosed) {
			t.Errorf("Query after Close: %v, want agentos.ErrClosed", err)
		}
	}
	if a := r.Anchor(); a.Seq != 5 {
		t.Errorf("Anchor after Close = %d; Close must commit accepted entries", a.Seq)
	}
}

// testAnchors checks that an anchor names both ends of the chain and that
// VerifyAnchor holds the chain to both: the genesis it starts from and the
// hash at the head.
func testAnchors(t *testing.T, newRecorder Factory) {
	r, _ := open(t, newRecorder)
	ctx := context.Background()
	fill(t, r, 5)
	mid := r.Anchor()
	for i := 5; i < 12; i++ {
		if _, err := r.Append(ctx, Sample(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	head := r.Anchor()
	if head.GenesisSeq != 0 || !head.GenesisHash.IsZero() || head.Seq != 12 {
		t.Fatalf("Anchor of a new recorder = %+v, want the zero genesis and head 12", head)
	}
	check := func(name string, a recorder.Anchor, seq uint64, reason recorder.Reason) {
		t.Helper()
		rep, err := r.VerifyAnchor(ctx, a)
		if reason == "" {
			if err != nil || !rep.OK {
				t.Fatalf("%s: VerifyAnchor = %v, %v; want OK", name, rep.Broken, err)
			}
			return
		}
		t.Run(name, func(t *testing.T) { expectBroken(t, rep, err, seq, reason) })
	}
	check("head", head, 0, "")
	check("mid", mid, 0, "")
	// A holder who vouches for the chain from entry 5 on.
	check("from mid", recorder.Anchor{Seq: head.Seq, Hash: head.Hash, GenesisSeq: mid.Seq, GenesisHash: mid.Hash}, 0, "")
	wrongGenesis := head
	wrongGenesis.GenesisHash[0] ^= 1
	check("wrong genesis", wrongGenesis, 1, recorder.ReasonGenesis)
	wrongMid := recorder.Anchor{Seq: head.Seq, Hash: head.Hash, GenesisSeq: mid.Seq, GenesisHash: mid.Hash}
	wrongMid.GenesisHash[3] ^= 1
	check("wrong mid genesis", wrongMid, 1, recorder.ReasonRewritten)
	wrongHead := head
	wrongHead.Hash[31] ^= 1
	check("wrong head", wrongHead, 1, recorder.ReasonRewritten)
	ahead := head
	ahead.Seq += 3
	check("ahead", ahead, 13, recorder.ReasonTruncated)
	if _, err := r.VerifyAnchor(ctx, recorder.Anchor{Seq: 1, GenesisSeq: 2}); !errors.Is(err, agentos.ErrInvalid) {
		t.Errorf("VerifyAnchor of a head before its genesis: %v, want agentos.ErrInvalid", err)
	}
}
