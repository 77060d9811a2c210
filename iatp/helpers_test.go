package iatp

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// epoch is the fixed start of every test clock.
var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is a settable clock for tests; safe for concurrent use.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// detIdentity returns an identity derived from seed, the same every run.
func detIdentity(t testing.TB, seed byte) *Identity {
	t.Helper()
	var s [32]byte
	s[0] = seed
	id, err := NewIdentity(rand.NewChaCha8(s))
	require.NoError(t, err)
	return id
}

// baseManifest is a manifest scoring 7 + 2 (reversible) = 9 before
// privacy adjustments: trusted, fully reversible, session retention.
func baseManifest(now time.Time) Manifest {
	return Manifest{
		Name:          "summarizer",
		TrustLevel:    Trusted,
		Capabilities:  []string{"bus:publish", "tool:sql.query"},
		Reversibility: Reversibility{Level: ReversibleFull, UndoWindow: time.Hour},
		Privacy:       Privacy{Retention: RetentionSession},
		Labels:        map[string]string{"team": "data", "region": "eu-west"},
		IssuedAt:      now,
		Expires:       now.Add(24 * time.Hour),
	}
}

func signed(t testing.TB, id *Identity, m Manifest) SignedManifest {
	t.Helper()
	sm, err := SignManifest(id, m)
	require.NoError(t, err)
	return sm
}

// world is a registry with registered peers and a clock.
type world struct {
	clk *clock
	reg *Registry
	ids []*Identity
}

func newWorld(t testing.TB, n int, opts ...Option) *world {
	t.Helper()
	w := &world{clk: newClock()}
	w.reg = NewRegistry(append([]Option{WithClock(w.clk.Now)}, opts...)...)
	for i := range n {
		id := detIdentity(t, byte(i+1))
		require.NoError(t, w.reg.Register(signed(t, id, baseManifest(epoch))))
		w.ids = append(w.ids, id)
	}
	return w
}
