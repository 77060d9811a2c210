package recorder_test

import (
	"context"
	"fmt"

	"github.com/agent-os/agentos/recorder"
)

// An in-memory recorder bounded by MaxEntries keeps the newest entries and
// verifies them from the last one it dropped.
func ExampleOptions_maxEntries() {
	ctx := context.Background()
	rec, _ := recorder.Open("", &recorder.Options{MaxEntries: 3})
	defer rec.Close()
	for i := range 5 {
		rec.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Agent: "agent-001", Detail: fmt.Sprint("event ", i)})
	}
	for e := range rec.Query(ctx, recorder.Filter{}) {
		fmt.Println(e.Seq, e.Detail)
	}
	rep, _ := rec.Verify(ctx)
	fmt.Println("ok", rep.OK, "checked", rep.Entries, "from", rep.Genesis.Seq, "evicted", rep.Evicted)
	// Output:
	// 3 event 2
	// 4 event 3
	// 5 event 4
	// ok true checked 3 from 2 evicted 2
}
