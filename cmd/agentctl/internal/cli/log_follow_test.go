package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// TestLogFollow follows a recorder that another goroutine appends to, in
// process, and checks that every entry appended is printed once, in order,
// and that agentctl leaves no goroutine behind.
func TestLogFollow(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "live.db")
	ctx := context.Background()
	rec, err := recorder.Open(path, &recorder.Options{Sync: recorder.SyncNormal})
	require.NoError(t, err)
	defer rec.Close()
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			_, err := rec.Append(ctx, recorder.Entry{Kind: recorder.KindLifecycle, Agent: agentos.AgentID("a"), Detail: "e"})
			require.NoError(t, err)
		}
	}
	appendN(0, 5)

	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 5 {
			time.Sleep(5 * time.Millisecond)
			appendN(5+i*5, 5)
		}
	})
	var out, errOut bytes.Buffer
	code := Main([]string{"log", path, "--follow", "--interval", "2ms", "--follow-for", "60s", "--limit", "30", "--format", "jsonl"}, nil, &out, &errOut)
	wg.Wait()
	require.Equal(t, ExitOK, code, errOut.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 30)
	for i, l := range lines {
		require.True(t, strings.HasPrefix(l, `{"seq":`+itoa(i+1)+`,`), "line %d: %s", i, l)
	}

	// The other read commands leave nothing running either.
	for _, args := range [][]string{{"verify", path}, {"stats", path, "--by", "hour"}, {"export", path}} {
		out.Reset()
		require.Equal(t, ExitOK, Main(args, nil, &out, &errOut), "%v: %s", args, errOut.String())
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
