package recorder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/agent-os/agentos"
)

// AnchorSink stores signed anchors somewhere the recorder's owner cannot
// rewrite: another machine, a stream, a write-once log. Publish must return
// only once the anchor is stored; it is called by one goroutine at a time.
type AnchorSink interface {
	Publish(ctx context.Context, a SignedAnchor) error
}

// AnchorSource is what a Publisher anchors: *Recorder is one.
type AnchorSource interface {
	Anchor() Anchor
}

var _ AnchorSource = (*Recorder)(nil)

// PublisherOptions configure a Publisher. Nil means defaults.
type PublisherOptions struct {
	// Source names the recorder in every anchor (see SignedAnchor.Source).
	Source string
	// Every publishes an anchor once the head is this many entries past
	// the last anchor published (checked whenever Appended is called).
	// Zero: no count trigger.
	Every uint64
	// Interval publishes an anchor at least this often while the head
	// moves. Zero: no time trigger. When Every and Interval are both zero
	// they default to 1000 entries and 10 seconds.
	Interval time.Duration
	// Tick, when set, replaces the ticker of Interval (tests inject one);
	// each value received is one Interval.
	Tick <-chan time.Time
	// Timeout bounds one Publish of the sink. Default 10 seconds.
	Timeout time.Duration
	// Clock gives the time anchors are signed at. Default time.Now.
	Clock func() time.Time
	// OnError is called, on the publisher's goroutine, when a publish
	// started by a trigger fails. The next trigger tries again.
	OnError func(error)
}

// Publisher signs the head of a recorder with an Ed25519 key and publishes
// it to a sink every Every entries and every Interval, from one goroutine
// that NewPublisher starts and Close stops. Its methods are safe for
// concurrent use; publishes are serialized and never go backwards.
type Publisher struct {
	src  AnchorSource
	key  ed25519.PrivateKey
	sink AnchorSink
	o    PublisherOptions

	notify chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu      sync.Mutex // held while publishing
	last    SignedAnchor
	has     bool
	closed  bool
	lastErr error
}

// NewPublisher starts a publisher of src's anchors to sink, signed with
// key. It returns agentos.ErrInvalid for a nil source or sink, a key that is
// not an Ed25519 private key or a source name out of bounds.
func NewPublisher(src AnchorSource, key ed25519.PrivateKey, sink AnchorSink, opts *PublisherOptions) (*Publisher, error) {
	var o PublisherOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case src == nil || sink == nil:
		return nil, fmt.Errorf("%w: recorder: publisher needs a source and a sink", agentos.ErrInvalid)
	case len(key) != ed25519.PrivateKeySize:
		return nil, fmt.Errorf("%w: recorder: Ed25519 private key of %d bytes, want %d", agentos.ErrInvalid, len(key), ed25519.PrivateKeySize)
	case o.Interval < 0 || o.Timeout < 0:
		return nil, fmt.Errorf("%w: recorder: negative publisher interval or timeout", agentos.ErrInvalid)
	}
	if err := checkSource(o.Source); err != nil {
		return nil, err
	}
	if o.Every == 0 && o.Interval == 0 {
		o.Every, o.Interval = 1000, 10*time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Publisher{src: src, key: key, sink: sink, o: o,
		notify: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{})}
	tick := o.Tick
	var stop func() bool
	if tick == nil && o.Interval > 0 {
		t := time.NewTicker(o.Interval)
		tick, stop = t.C, func() bool { t.Stop(); return true }
	}
	go p.run(ctx, tick, stop)
	return p, nil
}

// Source returns what p anchors.
func (p *Publisher) Source() AnchorSource { return p.src }

// Appended tells p that entries were appended; it never blocks. p checks
// the head against Every on its own goroutine.
func (p *Publisher) Appended() {
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

// run is the publisher's goroutine, joined by Close.
func (p *Publisher) run(ctx context.Context, tick <-chan time.Time, stop func() bool) {
	defer close(p.done)
	if stop != nil {
		defer stop()
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return
		case <-p.notify:
			if p.o.Every > 0 {
				err = p.publish(ctx, p.o.Every)
			}
		case <-tick:
			err = p.publish(ctx, 1)
		}
		if err != nil && ctx.Err() == nil && p.o.OnError != nil {
			p.o.OnError(err)
		}
	}
}

// Publish signs the current head and publishes it now, unless it is the
// head last published, and returns the anchor last published. It returns
// agentos.ErrClosed after Close, and the sink's error.
func (p *Publisher) Publish(ctx context.Context) (SignedAnchor, error) {
	err := p.publish(ctx, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, err
}

// publish publishes the head when it is at least min entries past the last
// anchor published (or none was).
func (p *Publisher) publish(ctx context.Context, min uint64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("recorder: publish anchor: %w", agentos.ErrClosed)
	}
	a := p.src.Anchor()
	if p.has && (a == p.last.Anchor || a.Seq < p.last.Anchor.Seq+min) {
		return nil
	}
	s, err := SignAnchor(p.key, p.o.Source, a, p.o.Clock())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	if err := p.sink.Publish(ctx, s); err != nil {
		p.lastErr = fmt.Errorf("recorder: publish anchor %d: %w", a.Seq, err)
		return p.lastErr
	}
	p.last, p.has, p.lastErr = s, true, nil
	return nil
}

// Last returns the anchor last published, and false when none was.
func (p *Publisher) Last() (SignedAnchor, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last, p.has
}

// Err returns the error of the last publish when it failed, else nil.
func (p *Publisher) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

// Close stops the publisher's goroutine, abandoning a publish in flight,
// and waits for it. It does not publish: call Publish first to anchor the
// final head. Close is idempotent; Publish afterwards returns
// agentos.ErrClosed.
func (p *Publisher) Close() error {
	p.once.Do(func() {
		p.cancel()
		<-p.done
		p.mu.Lock()
		p.closed = true
		p.mu.Unlock()
	})
	return nil
}

// MemoryAnchors is an AnchorSink that keeps the last Max anchors in
// memory, for tests and for a process that forwards them itself. It is
// safe for concurrent use.
type MemoryAnchors struct {
	// Max bounds the anchors kept; the oldest go first. Default 4096.
	Max int

	mu      sync.Mutex
	anchors []SignedAnchor
}

var _ AnchorSink = (*MemoryAnchors)(nil)

// Publish keeps a.
func (m *MemoryAnchors) Publish(ctx context.Context, a SignedAnchor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.Max
	if limit <= 0 {
		limit = 4096
	}
	if len(m.anchors) >= limit {
		m.anchors = append(m.anchors[:0], m.anchors[len(m.anchors)-limit+1:]...)
	}
	m.anchors = append(m.anchors, a)
	return nil
}

// Anchors returns the anchors kept, oldest first.
func (m *MemoryAnchors) Anchors() []SignedAnchor {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SignedAnchor(nil), m.anchors...)
}

// AnchorFile is an AnchorSink that appends anchors to a file as JSON Lines,
// fsyncing each. A file on the recorder's own host is no stronger than the
// recorder's file against someone who can write both; the signatures still
// stop forged anchors, not deleted ones. Safe for concurrent use.
type AnchorFile struct {
	mu     sync.Mutex
	f      *os.File
	closed bool
}

var _ AnchorSink = (*AnchorFile)(nil)

// OpenAnchorFile opens path for appending anchors, creating it (mode 0600)
// when absent.
func OpenAnchorFile(path string) (*AnchorFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("recorder: anchor file: %w", err)
	}
	return &AnchorFile{f: f}, nil
}

// Publish appends a as one line and fsyncs the file.
func (s *AnchorFile) Publish(ctx context.Context, a SignedAnchor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: recorder: anchor file: %v", agentos.ErrInvalid, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("recorder: anchor file: %w", agentos.ErrClosed)
	}
	if _, err := s.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("recorder: anchor file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("recorder: anchor file: %w", err)
	}
	return nil
}

// Close closes the file. It is idempotent.
func (s *AnchorFile) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.f.Close()
}

// ReadAnchorFile reads the anchors of a file written by AnchorFile, in
// order, each with ParseSignedAnchor. A malformed line is an error wrapping
// agentos.ErrInvalid with its line number. Signatures are not checked (see
// VerifySignatures).
func ReadAnchorFile(path string) ([]SignedAnchor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("recorder: anchor file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1024), MaxSignedAnchorBytes+1)
	var out []SignedAnchor
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		a, err := ParseSignedAnchor(b)
		if err != nil {
			return nil, fmt.Errorf("recorder: %s line %d: %w", path, line, err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%w: recorder: %s: a line exceeds %d bytes", agentos.ErrInvalid, path, MaxSignedAnchorBytes)
		}
		return nil, fmt.Errorf("recorder: anchor file: %w", err)
	}
	return out, nil
}
