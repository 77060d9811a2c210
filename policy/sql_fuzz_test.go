package policy

import (
	"testing"
)

// FuzzSQL checks the SQL helpers on any text: they never panic, no text is
// both read-only and destructive, and a DROP stacked before or after any
// text, on a line of its own, is destructive and not read-only whatever
// the text leaves open (an unterminated literal or comment fails closed).
// A read stays a read when repeated, and what is destructive stays so when
// a read follows it.
func FuzzSQL(f *testing.F) {
	for _, c := range sqlCases {
		f.Add(c.q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		readonly, destructive := SQLReadOnly(q), SQLDestructive(q)
		if readonly && destructive {
			t.Fatalf("%q is both read-only and destructive", q)
		}
		for _, stacked := range []string{q + "\n;DROP TABLE x", "DROP TABLE x;\n" + q} {
			if !SQLDestructive(stacked) || SQLReadOnly(stacked) {
				t.Fatalf("%q: a stacked DROP is not destructive, or is read-only", stacked)
			}
		}
		if readonly && !SQLReadOnly(q+"\n;"+q) {
			t.Fatalf("%q is read-only, twice over it is not", q)
		}
		if destructive && !SQLDestructive(q+"\n;SELECT 1") {
			t.Fatalf("%q is destructive, followed by a SELECT it is not", q)
		}
	})
}
