package policy

import (
	"fmt"
	"sync"
	"time"
)

// DefaultMaxRateBuckets is how many (rule, agent) token buckets the rate
// limiter keeps at most, unless WithMaxRateBuckets says otherwise.
const DefaultMaxRateBuckets = 100000

type bucketKey struct {
	rule  string // compiledRule.limitKey: policy/rule@rate/per
	agent string
}

type bucket struct {
	tokens float64
	last   time.Time
	limit  Limit
}

// limiter holds token buckets per (rule, agent). A bucket that has refilled
// completely is the same as no bucket, so idle buckets are evicted freely:
// a sweep every max/4 new buckets, and one whenever the map is full. When
// the map is full of buckets still in use, new agents are refused (fail
// closed). It is safe for concurrent use.
type limiter struct {
	mu         sync.Mutex
	buckets    map[bucketKey]*bucket
	max        int
	sinceSweep int
}

func newLimiter(max int) *limiter {
	return &limiter{buckets: map[bucketKey]*bucket{}, max: max}
}

// level is the number of tokens at now (a clock that went back refills
// nothing).
func (b *bucket) level(now time.Time) float64 {
	if el := now.Sub(b.last); el > 0 {
		return min(float64(b.limit.Rate), b.tokens+el.Seconds()*float64(b.limit.Rate)/b.limit.Per.Seconds())
	}
	return b.tokens
}

func (b *bucket) full(now time.Time) bool { return b.level(now) >= float64(b.limit.Rate) }

// take checks that every rule in rules has a token for agent at now and,
// when consume is true, takes one from each (all or none). It returns the
// first rule without a token, or an error when no bucket can be made.
func (lm *limiter) take(rules []*compiledRule, agent string, now time.Time, consume bool) (*compiledRule, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	lm.mu.Lock()
	defer lm.mu.Unlock()
	for _, r := range rules {
		b := lm.buckets[bucketKey{r.limitKey, agent}]
		if b != nil && b.level(now) < 1 {
			return r, nil
		}
	}
	if !consume {
		return nil, nil
	}
	for _, r := range rules {
		k := bucketKey{r.limitKey, agent}
		b := lm.buckets[k]
		if b == nil {
			if err := lm.makeRoom(now); err != nil {
				return r, err
			}
			b = &bucket{tokens: float64(r.rule.Limit.Rate), last: now, limit: *r.rule.Limit}
			lm.buckets[k] = b
		}
		b.tokens = b.level(now) - 1
		if now.After(b.last) {
			b.last = now
		}
	}
	return nil, nil
}

// makeRoom is called before adding a bucket, with mu held. It sweeps every
// max/4 additions, and when the map is full (at most every max/16
// additions, so a full map of busy buckets is not rescanned per call).
func (lm *limiter) makeRoom(now time.Time) error {
	lm.sinceSweep++
	if lm.sinceSweep > lm.max/4 || len(lm.buckets) >= lm.max && lm.sinceSweep > lm.max/16 {
		lm.sweep(now)
	}
	if len(lm.buckets) >= lm.max {
		return fmt.Errorf("%w: rate limiter is tracking %d buckets, all in use", ErrRateLimited, lm.max)
	}
	return nil
}

// sweep drops the buckets that have refilled completely.
func (lm *limiter) sweep(now time.Time) {
	lm.sinceSweep = 0
	for k, b := range lm.buckets {
		if b.full(now) {
			delete(lm.buckets, k)
		}
	}
}

func (lm *limiter) len() int {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return len(lm.buckets)
}
