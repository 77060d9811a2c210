package hooks

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	var l List[func() int]
	require.True(t, l.Empty())
	collect := func() (out []int) {
		l.Each(func(f func() int) { out = append(out, f()) })
		return out
	}
	one := func() int { return 1 }
	r1, full := l.Add(one, 2)
	require.False(t, full)
	r2, full := l.Add(one, 2) // the same function twice: two entries
	require.False(t, full)
	_, full = l.Add(func() int { return 3 }, 2)
	require.True(t, full, "bounded")
	require.Equal(t, []int{1, 1}, collect())
	r1()
	r1() // idempotent
	require.Equal(t, []int{1}, collect())
	r3, full := l.Add(func() int { return 3 }, 2)
	require.False(t, full, "a removal makes room")
	require.Equal(t, []int{1, 3}, collect(), "in the order added")
	r2()
	r3()
	require.True(t, l.Empty())
}

func TestListConcurrent(t *testing.T) {
	var l List[func()]
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				rm, full := l.Add(func() {}, 1000)
				require.False(t, full)
				l.Each(func(f func()) { f() })
				rm()
			}
		})
	}
	wg.Wait()
	require.True(t, l.Empty())
}
