// Package hooks holds a bounded list of callback functions that is read on
// hot paths with one atomic load and changed rarely (copy on write): the
// recorder's commit and sync functions, the kernel's reap functions.
package hooks

import (
	"slices"
	"sync"
	"sync/atomic"
)

// List is a bounded list of functions of type F. The zero value is an
// empty list ready to use; a List must not be copied after first use.
type List[F any] struct {
	mu  sync.Mutex           // serialises changes
	fns atomic.Pointer[[]*F] // copy on write; nil when empty
}

// Add appends fn unless the list holds max functions already (full). The
// returned remove takes fn out again (by identity, so the same function
// added twice is two entries) and may be called more than once.
func (l *List[F]) Add(fn F, max int) (remove func(), full bool) {
	box := &fn
	l.mu.Lock()
	defer l.mu.Unlock()
	var cur []*F
	if p := l.fns.Load(); p != nil {
		cur = *p
	}
	if len(cur) >= max {
		return nil, true
	}
	next := append(slices.Clip(cur), box)
	l.fns.Store(&next)
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			p := l.fns.Load()
			if p == nil {
				return
			}
			next := slices.DeleteFunc(slices.Clone(*p), func(f *F) bool { return f == box })
			if len(next) == 0 {
				l.fns.Store(nil)
				return
			}
			l.fns.Store(&next)
		})
	}, false
}

// Empty reports whether no function is registered: one atomic load.
func (l *List[F]) Empty() bool { return l.fns.Load() == nil }

// Each calls call with every function registered when it is called, in the
// order they were added.
func (l *List[F]) Each(call func(F)) {
	p := l.fns.Load()
	if p == nil {
		return
	}
	for _, f := range *p {
		call(*f)
	}
}
