package scak_test

import (
	"strings"
	"testing"
	"time"

	"github.com/agent-os/agentos/scak"
)

// paragraph is ordinary answer prose, with the words the families start
// on ("no", "not", "i", "there", "data") used innocently, so that the
// pattern path does real work on it.
const paragraph = "The quarterly report shows revenue of $4.2M, up 6% on the previous quarter. " +
	"There is no sign of churn rising: the data from the billing system covers every region, and " +
	"I checked the numbers against the ledger. Not every product line grew; hardware was flat, " +
	"but services rose 11% and now make up a third of the total. "

// longAnswer returns ordinary prose of about n bytes, ending with tail.
func longAnswer(n int, tail string) string {
	var b strings.Builder
	for b.Len()+len(paragraph)+len(tail) <= n {
		b.WriteString(paragraph)
	}
	b.WriteString(tail)
	return b.String()
}

var benchAnswers = map[string]string{
	"short-ok":        "Paris is the capital of France.",
	"short-giveup":    "I'm sorry, but I couldn't find any information about that.",
	"1KB-ok":          longAnswer(1024, ""),
	"4KB-ok":          longAnswer(4096, ""),
	"4KB-giveup-end":  longAnswer(4096, "Unfortunately, I could not find the Q3 figures."),
	"64KB-giveup-end": longAnswer(64<<10, "No data found for the rest."),
}

// BenchmarkDetect times the pattern path (Detector.Match) on one answer:
// short and 4 KB, a give-up and not; 64 KB shows the scan bound at work.
// The target is 5 µs per answer up to a few KB.
func BenchmarkDetect(b *testing.B) {
	d, err := scak.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"short-ok", "short-giveup", "1KB-ok", "4KB-ok", "4KB-giveup-end", "64KB-giveup-end"} {
		a := scak.Answer{Text: benchAnswers[name]}
		want := strings.Contains(name, "giveup")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(a.Text)))
			b.ReportAllocs()
			for b.Loop() {
				if d.GiveUp(d.Match(a)) != want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
	// The labelled set: the mean over 323 real-looking answers, with
	// their evidence.
	set := loadLabelled(b)
	b.Run("labelled-set", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			l := set[n%len(set)]
			d.Match(scak.Answer{Text: l.Text, Evidence: l.Evidence, EmptyOK: l.EmptyOK})
			n++
		}
	})
}

// BenchmarkDetectRatio alternates the original's flat substring list and
// the pattern path on the same answer in one run, so both see the same
// machine load, and reports each one's time per answer and their ratio
// (patterns/naive).
func BenchmarkDetectRatio(b *testing.B) {
	d, err := scak.NewDetector()
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"short-giveup", "4KB-ok", "4KB-giveup-end"} {
		a := scak.Answer{Text: benchAnswers[name]}
		b.Run(name, func(b *testing.B) {
			const batch = 16 // answers per timing, so the clock's cost stays out
			var nt, pt time.Duration
			n := 0
			for b.Loop() {
				t0 := time.Now()
				for range batch {
					naiveGiveUp(a.Text)
				}
				t1 := time.Now()
				for range batch {
					d.Match(a)
				}
				pt += time.Since(t1)
				nt += t1.Sub(t0)
				n += batch
			}
			b.ReportMetric(float64(nt.Nanoseconds())/float64(n), "naive-ns/answer")
			b.ReportMetric(float64(pt.Nanoseconds())/float64(n), "patterns-ns/answer")
			b.ReportMetric(float64(pt)/float64(nt), "ratio")
		})
	}
}
