package scak_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos/scak"
)

// labelled is one line of testdata/giveup.jsonl.
type labelled struct {
	Text     string   `json:"text"`
	Evidence []string `json:"evidence"`
	EmptyOK  bool     `json:"empty_ok"`
	Label    string   `json:"label"` // "give_up" or "ok"
	Note     string   `json:"note"`
	// Split is "holdout" for the lines written after the families were
	// tuned, and never tuned on; "" for the lines they were tuned on.
	Split string `json:"split"`
}

func loadLabelled(t testing.TB) []labelled {
	t.Helper()
	f, err := os.Open("testdata/giveup.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var l labelled
		require.NoError(t, dec.Decode(&l), "line %d", n)
		require.Contains(t, []string{"give_up", "ok"}, l.Label, "line %d", n)
		require.NotEmpty(t, l.Note, "line %d", n)
		require.Contains(t, []string{"", "holdout"}, l.Split, "line %d", n)
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	return out
}

// naivePhrases is the flat phrase list of the original detector: a
// case-insensitive substring search, blind to evidence and context.
var naivePhrases = []string{
	"no data found", "no data available", "no results", "no information", "not available",
	"cannot answer", "can't answer", "unable to", "insufficient information",
	"i don't know", "i do not know", "could not find", "couldn't find", "not found",
}

func naiveGiveUp(text string) bool {
	lower := strings.ToLower(text)
	for _, p := range naivePhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// confusion counts a detector's calls against the labels.
type confusion struct{ tp, fp, tn, fn int }

func (c *confusion) add(want, got bool) {
	switch {
	case want && got:
		c.tp++
	case want:
		c.fn++
	case got:
		c.fp++
	default:
		c.tn++
	}
}

func (c confusion) precision() float64 { return float64(c.tp) / float64(c.tp+c.fp) }
func (c confusion) recall() float64    { return float64(c.tp) / float64(c.tp+c.fn) }
func (c confusion) f1() float64 {
	p, r := c.precision(), c.recall()
	return 2 * p * r / (p + r)
}

// TestGiveUpEval measures the pattern path on the labelled set: precision,
// recall and F1 of "give-up", with the misses listed, beside the flat
// substring list of the original detector. The figures are reported in
// docs/BENCHMARKS.md; the floors below are what the set reaches today.
func TestGiveUpEval(t *testing.T) {
	set := loadLabelled(t)
	require.GreaterOrEqual(t, len(set), 240)
	d, err := scak.NewDetector()
	require.NoError(t, err)

	var pat, naive, dev, hold confusion
	var misses []string
	for _, l := range set {
		want := l.Label == "give_up"
		m := d.Match(scak.Answer{Text: l.Text, Evidence: l.Evidence, EmptyOK: l.EmptyOK})
		got := d.GiveUp(m)
		pat.add(want, got)
		naive.add(want, naiveGiveUp(l.Text))
		if l.Split == "holdout" {
			hold.add(want, got)
		} else {
			dev.add(want, got)
		}
		if got != want {
			kind := "missed give-up"
			if got {
				kind = "false alarm (" + m.Family + ": " + m.Text + ")"
			}
			misses = append(misses, kind+" ["+l.Note+"]: "+l.Text)
		}
	}
	t.Logf("labelled answers: %d (%d give-ups, %d ok)", len(set), pat.tp+pat.fn, pat.tn+pat.fp)
	for _, r := range []struct {
		name string
		c    confusion
	}{{"patterns, all", pat}, {"patterns, tuning lines", dev}, {"patterns, holdout lines", hold}, {"naive substring list, all", naive}} {
		t.Logf("%-26s precision %.3f recall %.3f F1 %.3f (tp %d fp %d tn %d fn %d)",
			r.name+":", r.c.precision(), r.c.recall(), r.c.f1(), r.c.tp, r.c.fp, r.c.tn, r.c.fn)
	}
	for _, m := range misses {
		t.Log(m)
	}
	require.GreaterOrEqual(t, pat.precision(), 0.9, "precision fell")
	require.GreaterOrEqual(t, pat.recall(), 0.85, "recall fell")
}
