package natsbus

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

// AnchorStreamOptions configure NewAnchorStream. Nil means defaults.
type AnchorStreamOptions struct {
	// Stream names the JetStream stream. Default "AGENTOS_ANCHORS".
	Stream string
	// Subject is the subject prefix: the anchors of a recorder whose
	// source is S go to <Subject>.<hex of S>. Default "agentos.anchors".
	Subject string
	// Replicas of the stream in a cluster. Default 1.
	Replicas int
	// MemoryStorage keeps the stream in memory (tests); the default is
	// file storage.
	MemoryStorage bool
	// MaxFetch bounds the anchors Fetch returns. Default 100000.
	MaxFetch int
}

// AnchorStream is a recorder.AnchorSink that publishes signed anchors to a
// NATS JetStream stream, off the recorder's host, and fetches them back
// for verification. The stream is created with deletes and purges denied,
// so a client cannot remove an anchor through the JetStream API (the
// server's operator still can: the signatures, not the stream, prove that
// an anchor is genuine). Safe for concurrent use.
type AnchorStream struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	o      AnchorStreamOptions
}

var _ recorder.AnchorSink = (*AnchorStream)(nil)

// NewAnchorStream creates (or updates) the anchor stream on nc. The caller
// keeps ownership of nc. It returns an error wrapping ErrConfig for
// invalid options or a stream that cannot be created before ctx ends.
// A reader that must not change the server, such as a verifier, uses
// OpenAnchorStream.
func NewAnchorStream(ctx context.Context, nc *nats.Conn, o *AnchorStreamOptions) (*AnchorStream, error) {
	opts, js, err := anchorStreamSetup(nc, o)
	if err != nil {
		return nil, err
	}
	storage := jetstream.FileStorage
	if opts.MemoryStorage {
		storage = jetstream.MemoryStorage
	}
	cfg := jetstream.StreamConfig{
		Name:       opts.Stream,
		Subjects:   []string{opts.Subject + ".>"},
		Storage:    storage,
		Replicas:   opts.Replicas,
		MaxMsgSize: recorder.MaxSignedAnchorBytes,
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardNew,
		DenyDelete: true,
		DenyPurge:  true,
	}
	var stream jetstream.Stream
	for {
		actx, cancel := context.WithTimeout(ctx, time.Second)
		stream, err = js.CreateOrUpdateStream(actx, cfg)
		cancel()
		if err == nil {
			break
		}
		if !sleepCtx(ctx, 100*time.Millisecond, nil) {
			return nil, fmt.Errorf("%w: anchor stream %s: %w", ErrConfig, opts.Stream, err)
		}
	}
	return &AnchorStream{js: js, stream: stream, o: opts}, nil
}

// OpenAnchorStream opens the existing anchor stream on nc for Fetch and
// Latest, creating and changing nothing on the server (of the options,
// Stream, Subject and MaxFetch apply). A stream that does not exist gives
// an error wrapping agentos.ErrNotFound; one whose subjects do not hold
// Subject's anchors an error wrapping ErrConfig. The caller keeps
// ownership of nc.
func OpenAnchorStream(ctx context.Context, nc *nats.Conn, o *AnchorStreamOptions) (*AnchorStream, error) {
	opts, js, err := anchorStreamSetup(nc, o)
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, opts.Stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return nil, fmt.Errorf("%w: natsbus: anchor stream %s", agentos.ErrNotFound, opts.Stream)
	case err != nil:
		return nil, fmt.Errorf("natsbus: anchor stream %s: %w", opts.Stream, err)
	}
	want := opts.Subject + ".>"
	if !slices.Contains(stream.CachedInfo().Config.Subjects, want) {
		return nil, fmt.Errorf("%w: stream %s does not hold subject %s (it holds %v)",
			ErrConfig, opts.Stream, want, stream.CachedInfo().Config.Subjects)
	}
	return &AnchorStream{js: js, stream: stream, o: opts}, nil
}

// anchorStreamSetup fills in o's defaults and checks nc.
func anchorStreamSetup(nc *nats.Conn, o *AnchorStreamOptions) (AnchorStreamOptions, jetstream.JetStream, error) {
	var opts AnchorStreamOptions
	if o != nil {
		opts = *o
	}
	if opts.Stream == "" {
		opts.Stream = "AGENTOS_ANCHORS"
	}
	if opts.Subject == "" {
		opts.Subject = "agentos.anchors"
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.MaxFetch <= 0 {
		opts.MaxFetch = 100000
	}
	if nc == nil {
		return opts, nil, fmt.Errorf("%w: nil connection", ErrConfig)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return opts, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return opts, js, nil
}

// subject is where the anchors of source go: the source in hex, so that
// any source is one subject token.
func (s *AnchorStream) subject(source string) string {
	return s.o.Subject + "." + hex.EncodeToString([]byte(source))
}

// Publish stores a in the stream and returns once the server acknowledged
// it. A retried publish of the same anchor is stored once (the message id
// is derived from the anchor).
func (s *AnchorStream) Publish(ctx context.Context, a recorder.SignedAnchor) error {
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("%w: natsbus: anchor: %v", agentos.ErrInvalid, err)
	}
	id := hex.EncodeToString([]byte(a.Source)) + "." + strconv.FormatUint(a.Anchor.Seq, 10) + "." + a.Anchor.Hash.String()[:16] +
		"." + strconv.FormatInt(a.Time.UnixNano(), 10)
	if _, err := s.js.Publish(ctx, s.subject(a.Source), b, jetstream.WithMsgID(id)); err != nil {
		return fmt.Errorf("natsbus: publish anchor %d: %w", a.Anchor.Seq, err)
	}
	return nil
}

// Fetch returns every anchor of source stored in the stream, in the order
// they were stored (at most MaxFetch: more is an error). A message that is
// not a well-formed signed anchor of source is an error wrapping
// agentos.ErrInvalid with its stream sequence: the stream holds nothing
// else. Signatures are not checked here; pass the result to
// recorder.VerifySignatures with the key you trust.
func (s *AnchorStream) Fetch(ctx context.Context, source string) ([]recorder.SignedAnchor, error) {
	subj := s.subject(source)
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return nil, fmt.Errorf("natsbus: anchors of %q: %w", source, err)
	}
	n := info.State.Subjects[subj]
	if n == 0 {
		return nil, nil
	}
	if n > uint64(s.o.MaxFetch) {
		return nil, fmt.Errorf("%w: natsbus: %d anchors of %q exceed MaxFetch %d", agentos.ErrInvalid, n, source, s.o.MaxFetch)
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return nil, fmt.Errorf("natsbus: anchors of %q: %w", source, err)
	}
	out := make([]recorder.SignedAnchor, 0, n)
	for uint64(len(out)) < n {
		wait := 5 * time.Second
		if d, ok := ctx.Deadline(); ok {
			wait = max(time.Until(d), time.Millisecond)
		}
		batch, err := cons.Fetch(int(min(n-uint64(len(out)), 1000)), jetstream.FetchMaxWait(wait))
		if err != nil {
			return nil, fmt.Errorf("natsbus: anchors of %q: %w", source, err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			a, err := parseAnchorMsg(m, source)
			if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, fmt.Errorf("natsbus: anchors of %q: %w", source, err)
		}
		if got == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("natsbus: anchors of %q: %d of %d delivered", source, len(out), n)
		}
	}
	return out, nil
}

// Latest returns the anchor of source stored last; ok is false when there
// is none.
func (s *AnchorStream) Latest(ctx context.Context, source string) (a recorder.SignedAnchor, ok bool, err error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, s.subject(source))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return recorder.SignedAnchor{}, false, nil
	}
	if err != nil {
		return recorder.SignedAnchor{}, false, fmt.Errorf("natsbus: latest anchor of %q: %w", source, err)
	}
	a, err = parseAnchor(m.Data, m.Sequence, source)
	return a, err == nil, err
}

func parseAnchorMsg(m jetstream.Msg, source string) (recorder.SignedAnchor, error) {
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	return parseAnchor(m.Data(), seq, source)
}

func parseAnchor(b []byte, seq uint64, source string) (recorder.SignedAnchor, error) {
	a, err := recorder.ParseSignedAnchor(b)
	if err != nil {
		return recorder.SignedAnchor{}, fmt.Errorf("natsbus: anchor stream message %d: %w", seq, err)
	}
	if a.Source != source {
		return recorder.SignedAnchor{}, fmt.Errorf("%w: natsbus: anchor stream message %d is of %q, not %q", agentos.ErrInvalid, seq, a.Source, source)
	}
	return a, nil
}
