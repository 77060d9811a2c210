package amb

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// item is one message waiting in a subscriber queue.
type item struct {
	msg    Message
	seq    uint64
	stored time.Time
	reply  *memReply // non-nil for a request
	order  uint64    // arrival order in this queue
	index  int       // heap index
}

// prioQueue is a heap: highest priority first, then arrival order.
type prioQueue []*item

func (q prioQueue) Len() int { return len(q) }
func (q prioQueue) Less(i, j int) bool {
	if q[i].msg.Priority != q[j].msg.Priority {
		return q[i].msg.Priority > q[j].msg.Priority
	}
	return q[i].order < q[j].order
}
func (q prioQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *prioQueue) Push(x any) {
	it := x.(*item)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *prioQueue) Pop() any {
	old := *q
	n := len(old)
	it := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	it.index = -1
	return it
}

// lowest returns the index of the lowest-priority, oldest item.
func (q prioQueue) lowest() int {
	low := 0
	for i, it := range q {
		l := q[low]
		if it.msg.Priority < l.msg.Priority || it.msg.Priority == l.msg.Priority && it.order < l.order {
			low = i
		}
	}
	return low
}

// memSub is a memory-bus subscription. Its delivery goroutine (run) is
// started by Subscribe and joined by Unsubscribe and Close.
type memSub struct {
	bus     *Memory
	pattern string
	h       Handler
	cancel  context.CancelFunc

	replayFrom, replayTo uint64

	mu      sync.Mutex
	q       prioQueue
	order   uint64
	stopped bool
	waiters int           // publishers blocked for room
	space   chan struct{} // closed (and replaced) when room appears and waiters > 0
	ready   chan struct{} // capacity 1: the queue became non-empty
	done    chan struct{} // closed by stop
	exited  chan struct{} // closed when run returns
}

func (s *memSub) Pattern() string { return s.pattern }

// Unsubscribe implements [Subscription].
func (s *memSub) Unsubscribe() error {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	s.stop()
	<-s.exited
	return nil
}

func (s *memSub) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	s.q = nil
	close(s.done)
	s.cancel()
}

// enqueue adds it to the queue, applying the overflow policy when full.
func (s *memSub) enqueue(ctx context.Context, it *item) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	s.mu.Lock()
	for {
		if s.stopped {
			s.mu.Unlock()
			select {
			case <-s.bus.closing:
				return ErrClosed
			default:
				return nil // unsubscribed: nothing to deliver to
			}
		}
		if len(s.q) < s.bus.o.QueueSize {
			s.order++
			it.order = s.order
			heap.Push(&s.q, it)
			s.mu.Unlock()
			select {
			case s.ready <- struct{}{}:
			default:
			}
			return nil
		}
		if s.bus.o.Overflow == OverflowDropLowest {
			s.order++
			it.order = s.order
			victim := it
			if low := s.q.lowest(); s.q[low].msg.Priority <= it.msg.Priority {
				victim = heap.Remove(&s.q, low).(*item)
				heap.Push(&s.q, it)
			}
			s.mu.Unlock()
			s.bus.st.dropped.Add(1)
			s.bus.deadLetter(victim, DeadOverflow, fmt.Sprintf("queue of %d full", s.bus.o.QueueSize), 0, s.pattern)
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(s.bus.o.BlockTimeout)
		}
		s.waiters++
		space := s.space
		s.mu.Unlock()
		var err error
		select {
		case <-space:
		case <-s.done:
		case <-ctx.Done():
			err = ctx.Err()
		case <-timer.C:
			err = fmt.Errorf("%w: subscriber %q, %d queued for %s", ErrQueueFull, s.pattern, s.bus.o.QueueSize, s.bus.o.BlockTimeout)
		}
		s.mu.Lock()
		s.waiters--
		if err != nil {
			s.mu.Unlock()
			s.bus.st.dropped.Add(1)
			s.bus.deadLetter(it, DeadQueueFull, err.Error(), 0, s.pattern)
			return err
		}
	}
}

// next waits for the highest-priority queued item; false once stopped.
func (s *memSub) next() (*item, bool) {
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return nil, false
		}
		if len(s.q) > 0 {
			it := heap.Pop(&s.q).(*item)
			if s.waiters > 0 {
				close(s.space)
				s.space = make(chan struct{})
			}
			s.mu.Unlock()
			return it, true
		}
		s.mu.Unlock()
		select {
		case <-s.ready:
		case <-s.done:
			return nil, false
		}
	}
}

func (s *memSub) run(ctx context.Context) {
	defer s.bus.wg.Done()
	defer close(s.exited)
	const batch = 64
	for from := s.replayFrom; from <= s.replayTo; {
		es := s.bus.retained(from, s.replayTo, s.pattern, batch)
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			if ctx.Err() != nil {
				return
			}
			s.deliver(ctx, &item{msg: e.msg, seq: e.seq, stored: e.stored})
			from = e.seq + 1
		}
	}
	for {
		it, ok := s.next()
		if !ok {
			return
		}
		s.deliver(ctx, it)
	}
}

// deliver calls the handler, retrying with backoff, and dead-letters what
// fails for good. It returns early when ctx is cancelled.
func (s *memSub) deliver(ctx context.Context, it *item) {
	b := s.bus
	for attempt := 1; ; attempt++ {
		if it.msg.Expired(b.o.Clock()) {
			b.st.expired.Add(1)
			b.deadLetter(it, DeadExpired, "expired at "+it.msg.Expires.Format(time.RFC3339Nano), attempt-1, s.pattern)
			return
		}
		d := Delivery{Message: it.msg.Clone(), Seq: it.seq, Stored: it.stored, Attempt: attempt}
		if it.reply != nil {
			d.reply = it.reply
		}
		panicked, err := call(ctx, s.h, d)
		if err == nil {
			b.st.delivered.Add(1)
			return
		}
		b.st.failed.Add(1)
		if panicked {
			b.st.panics.Add(1)
		}
		if it.reply != nil {
			// A requester is waiting: answer it even when the subscription
			// ended while the handler ran, rather than let it time out.
			it.reply.fail(err)
			return
		}
		if panicked {
			// Dead-lettered even when the subscription ended meanwhile
			// (a kernel kills the agent whose handler panicked, which ends
			// its subscriptions): the panic is the message's fate, not a
			// shutdown's, and nobody else will see the message.
			b.deadLetter(it, DeadPanic, err.Error(), attempt, s.pattern)
			return
		}
		if ctx.Err() != nil {
			return // unsubscribed or closed while the handler ran
		}
		if attempt >= b.o.Retry.MaxAttempts {
			b.deadLetter(it, DeadHandlerError, err.Error(), attempt, s.pattern)
			return
		}
		b.st.retried.Add(1)
		t := time.NewTimer(b.o.Retry.Backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// call runs h, turning a panic into an error.
func call(ctx context.Context, h Handler, d Delivery) (panicked bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked, err = true, fmt.Errorf("amb: handler panicked: %v", r)
		}
	}()
	return false, h(ctx, d)
}

// CallHandler runs h on d and recovers a panic, reporting it as an error and
// panicked=true. Implementations outside this package use it.
func CallHandler(ctx context.Context, h Handler, d Delivery) (panicked bool, err error) {
	return call(ctx, h, d)
}
