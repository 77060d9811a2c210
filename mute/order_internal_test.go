package mute

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceOrder is the plainest order: repeatedly take the lowest step
// whose dependencies are all taken; nil when some never are (a cycle).
func referenceOrder(p *Plan) []int {
	index := map[string]int{}
	for i, s := range p.Steps {
		index[s.ID] = i
	}
	taken := make([]bool, len(p.Steps))
	var order []int
	for len(order) < len(p.Steps) {
		found := false
		for i, s := range p.Steps {
			if taken[i] {
				continue
			}
			ok := true
			for _, d := range s.DependsOn {
				if !taken[index[d]] {
					ok = false
				}
			}
			if ok {
				taken[i], found = true, true
				order = append(order, i)
				break
			}
		}
		if !found {
			return nil
		}
	}
	return order
}

// TestOrderFastPath compares Order, fast path and Kahn's algorithm alike,
// with the reference over random plans: forward only, any direction, with
// repeated dependencies and cycles.
func TestOrderFastPath(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forwardSeen, otherSeen, cycles := 0, 0, 0
	for range 3000 {
		n := 1 + rng.IntN(12)
		p := &Plan{ID: "p"}
		forwardOnly := rng.IntN(2) == 0
		for i := range n {
			s := Step{ID: fmt.Sprint("s", i), Action: "x"}
			for range rng.IntN(4) {
				var j int
				if forwardOnly {
					if i == 0 {
						break
					}
					j = rng.IntN(i)
				} else {
					j = rng.IntN(n)
					if j == i {
						continue
					}
				}
				s.DependsOn = append(s.DependsOn, fmt.Sprint("s", j))
			}
			p.Steps = append(p.Steps, s)
		}
		got, err := p.Order()
		want := referenceOrder(p)
		if want == nil {
			require.ErrorIs(t, err, ErrCycle)
			cycles++
			continue
		}
		require.NoError(t, err)
		require.Equal(t, want, got)
		if slices.IsSorted(got) {
			forwardSeen++
		} else {
			otherSeen++
		}
	}
	require.Positive(t, forwardSeen)
	require.Positive(t, otherSeen)
	require.Positive(t, cycles)
}
