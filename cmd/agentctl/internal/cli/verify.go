package cli

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/recorder"
)

func init() { register("verify", newVerifyCmd) }

type verifyFlags struct {
	anchor, pubkey, source string
	// Anchors in a NATS JetStream stream (amb/natsbus.AnchorStream).
	natsURL, natsStream, natsSubject string
	natsTimeout                      time.Duration
}

func newVerifyCmd(e *env) *cobra.Command {
	var f verifyFlags
	c := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Verify the hash chain of a flight recorder",
		Long: `Verify the hash chain of a flight recorder: every entry links to the one
before and hashes to its stored hash, and the chain starts at the zero
genesis. On a break it names the first bad entry and the kind of
tampering (edited, deleted, inserted, reordered, truncated, genesis,
rewritten) and exits 1.

One FILE is verified with the rest of its rollover set: audit.db, then
audit.000002.db, audit.000003.db, … as long as they exist (the names the
recorder gives them). Several FILEs are verified as one set, in the order
given.

A chain alone cannot show entries cut from its end, or a chain rewritten
with every later hash recomputed. Anchors kept elsewhere do: --anchor
reads a file of signed anchors (one JSON object a line, as the recorder's
anchor publisher writes them), checks each signature with --pubkey (an
Ed25519 public key in hex or base64, or a file holding one) and that each
is of --source (default: the source the anchors name, which must all be
the same), then verifies that the chain passes through every anchor.
--anchor-nats reads them instead (or as well) from the NATS JetStream
stream the kernel's anchor publisher writes to (amb/natsbus), for the
recorder named by --source, which it then requires. agentctl reads the
stream with the configuration the publisher gives it (--anchor-stream,
--anchor-subject: the same defaults), and creates it, empty, if absent.

On a terminal, stderr shows what is being verified and the time spent
(the recorder reports no progress within a file).

Exit codes: 0 the chain verifies, 1 it does not (or an anchor's signature
does not), 2 a usage error or a file that is not a readable recorder.`,
		Example: `  agentctl verify audit.db
  agentctl verify audit.db audit.000002.db
  agentctl verify audit.db --anchor anchors.jsonl --pubkey anchor.pub
  agentctl verify audit.db --anchor-nats nats://anchors.example:4222 --source host1:/var/audit.db --pubkey anchor.pub
  agentctl verify audit.db --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), e, &f, args)
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.anchor, "anchor", "", "file of signed anchors the chain must pass through")
	fl.StringVar(&f.pubkey, "pubkey", "", "Ed25519 public key of the anchors (hex, base64, or a file holding one)")
	fl.StringVar(&f.source, "source", "", "recorder source the anchors must name (default: theirs, if all agree)")
	fl.StringVar(&f.natsURL, "anchor-nats", "", "NATS server whose JetStream stream holds the signed anchors")
	fl.StringVar(&f.natsStream, "anchor-stream", "AGENTOS_ANCHORS", "with --anchor-nats, the stream")
	fl.StringVar(&f.natsSubject, "anchor-subject", "agentos.anchors", "with --anchor-nats, the subject prefix")
	fl.DurationVar(&f.natsTimeout, "nats-timeout", 10*time.Second, "with --anchor-nats, bound on connecting and fetching")
	return c
}

// verifyResult is what verify prints.
type verifyResult struct {
	Files   []string        `json:"files"`
	OK      bool            `json:"ok"`
	Entries uint64          `json:"entries"`
	Genesis recorder.Anchor `json:"genesis"`
	Head    recorder.Anchor `json:"head"`
	Anchors int             `json:"anchors"`
	Broken  *brokenLink     `json:"broken,omitempty"`
	// Unknown counts permitted decisions with no outcome (a crash or kill
	// mid-syscall); it does not make the chain fail.
	Unknown uint64 `json:"unknown_outcomes"`
}

type brokenLink struct {
	Seq    uint64          `json:"seq"`
	Reason recorder.Reason `json:"reason"`
	Detail string          `json:"detail,omitempty"`
	File   string          `json:"file,omitempty"`
}

func runVerify(ctx context.Context, e *env, f *verifyFlags, args []string) error {
	anchors, err := loadAnchors(ctx, f)
	if err != nil {
		return err
	}
	files, err := recorderFiles(args)
	if err != nil {
		return err
	}
	done := startProgress(e.stderr, files)
	rep, err := recorder.VerifyFilesAnchored(ctx, anchors, files...)
	done()
	if err != nil {
		return readError(describe(files), err)
	}
	res := verifyResult{Files: files, OK: rep.OK, Entries: rep.Entries, Genesis: rep.Genesis, Head: rep.Head,
		Anchors: len(anchors), Unknown: rep.Unknown.Count}
	if b := rep.Broken; b != nil {
		res.Broken = &brokenLink{Seq: b.Seq, Reason: b.Reason, Detail: b.Detail, File: b.File}
	}
	err = writeRecords(e, []string{"FILES", "ENTRIES", "HEAD", "ANCHORS", "RESULT"}, []verifyResult{res}, func(r verifyResult) []string {
		result := "ok"
		if r.Broken != nil {
			result = fmt.Sprintf("broken at seq %d: %s", r.Broken.Seq, r.Broken.Reason)
		}
		if r.Broken == nil && r.Unknown > 0 {
			result += fmt.Sprintf(" (%d unknown outcomes)", r.Unknown)
		}
		return []string{strings.Join(r.Files, ","), fmt.Sprint(r.Entries), fmt.Sprint(r.Head.Seq), fmt.Sprint(r.Anchors), result}
	})
	if err != nil {
		return err
	}
	if rep.Broken != nil {
		return readError(describe(files), rep.Broken)
	}
	if !rep.OK {
		return checkFailed("%s: the chain does not verify", describe(files))
	}
	return nil
}

// describe names a set of files in an error: the first, and how many more.
func describe(files []string) string {
	if len(files) == 1 {
		return files[0]
	}
	return fmt.Sprintf("%s (+%d files)", files[0], len(files)-1)
}

// loadAnchors reads the signed anchors of --anchor and --anchor-nats and
// checks their signatures.
func loadAnchors(ctx context.Context, f *verifyFlags) ([]recorder.Anchor, error) {
	if f.anchor == "" && f.natsURL == "" {
		if f.pubkey != "" || f.source != "" {
			return nil, usageError("--pubkey and --source need --anchor or --anchor-nats")
		}
		return nil, nil
	}
	if f.pubkey == "" {
		return nil, usageError("anchors need --pubkey: an anchor whose signature is not checked proves nothing")
	}
	if f.natsURL != "" && f.source == "" {
		return nil, usageError("--anchor-nats needs --source: the stream keeps the anchors of each recorder apart")
	}
	pub, err := parsePublicKey(f.pubkey)
	if err != nil {
		return nil, err
	}
	var signed []recorder.SignedAnchor
	from := f.anchor
	if f.anchor != "" {
		if err := checkInput(f.anchor, "an anchor file"); err != nil {
			return nil, err
		}
		if signed, err = recorder.ReadAnchorFile(f.anchor); err != nil {
			return nil, usageError("%s", plain(err))
		}
	}
	if f.natsURL != "" {
		more, err := fetchNATSAnchors(ctx, f)
		if err != nil {
			return nil, err
		}
		signed = append(signed, more...)
		if from == "" {
			from = f.natsURL
		}
	}
	if len(signed) == 0 {
		return nil, usageError("%s: no anchors", from)
	}
	source := f.source
	if source == "" {
		source = signed[0].Source
		for _, s := range signed[1:] {
			if s.Source != source {
				return nil, usageError("%s: anchors of several sources (%q, %q): choose one with --source", from, source, s.Source)
			}
		}
	}
	anchors, err := recorder.VerifySignatures(pub, source, signed)
	if errors.Is(err, recorder.ErrSignature) {
		return nil, checkFailed("%s: %s", from, plain(err))
	}
	if err != nil {
		return nil, usageError("%s: %s", from, plain(err))
	}
	return anchors, nil
}

// fetchNATSAnchors fetches the signed anchors of f.source from the
// anchor stream at f.natsURL, within f.natsTimeout.
func fetchNATSAnchors(ctx context.Context, f *verifyFlags) ([]recorder.SignedAnchor, error) {
	if f.natsTimeout <= 0 {
		return nil, usageError("--nats-timeout %s: must be positive", f.natsTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, f.natsTimeout)
	defer cancel()
	nc, err := nats.Connect(f.natsURL, nats.Name("agentctl verify"), nats.Timeout(f.natsTimeout), nats.NoReconnect())
	if err != nil {
		return nil, usageError("--anchor-nats %s: %v", f.natsURL, err)
	}
	defer nc.Close()
	// Open, never create or update: verifying changes nothing on the server.
	st, err := natsbus.OpenAnchorStream(ctx, nc, &natsbus.AnchorStreamOptions{Stream: f.natsStream, Subject: f.natsSubject})
	if errors.Is(err, agentos.ErrNotFound) {
		return nil, usageError("--anchor-nats %s: no stream %s on the server (see --anchor-stream)", f.natsURL, f.natsStream)
	}
	if err != nil {
		return nil, usageError("--anchor-nats %s: %s", f.natsURL, strings.TrimPrefix(err.Error(), "natsbus: "))
	}
	signed, err := st.Fetch(ctx, f.source)
	if err != nil {
		return nil, usageError("--anchor-nats %s: %s", f.natsURL, strings.TrimPrefix(plain(err), "natsbus: "))
	}
	return signed, nil
}

// parsePublicKey reads an Ed25519 public key given as hex or base64, or
// as the name of a file holding one.
func parsePublicKey(s string) (ed25519.PublicKey, error) {
	text := s
	if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() {
		if st.Size() > 4096 {
			return nil, usageError("--pubkey %s: file too large for a key", s)
		}
		b, err := os.ReadFile(s)
		if err != nil {
			return nil, usageError("--pubkey %s: %v", s, unwrapPathError(err))
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	for _, dec := range []func(string) ([]byte, error){hex.DecodeString, base64.StdEncoding.DecodeString, base64.RawURLEncoding.DecodeString} {
		if b, err := dec(text); err == nil && len(b) == ed25519.PublicKeySize {
			return ed25519.PublicKey(b), nil
		}
	}
	return nil, usageError("--pubkey %s: not an Ed25519 public key (want 64 hex digits or base64 of 32 bytes, or a file holding one)", s)
}

// progressEvery is how often the progress line is redrawn.
var progressEvery = 200 * time.Millisecond

// startProgress shows, on a terminal only, which files verify walks and
// for how long, redrawn every progressEvery on one line of w; the returned stop
// ends it, clears the line and waits for its goroutine. The recorder
// reports no progress within a file, so the line shows the files and the
// time spent, not a fraction.
func startProgress(w io.Writer, files []string) (stop func()) {
	if !isTerminal(w) {
		return func() {}
	}
	var size int64
	for _, p := range files {
		if st, err := os.Stat(p); err == nil {
			size += st.Size()
		}
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		start := time.Now()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		spin := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-quit:
				fmt.Fprint(w, "\r\x1b[K")
				return
			case <-t.C:
			}
			fmt.Fprintf(w, "\r\x1b[Kverifying %s (%d file(s), %.1f MiB) %c %s",
				describe(files), len(files), float64(size)/(1<<20), spin[i%len(spin)], time.Since(start).Truncate(100*time.Millisecond))
		}
	})
	return func() {
		close(quit)
		wg.Wait()
	}
}
