package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

func init() { register("log", newLogCmd) }

// logFlags are the flags of agentctl log.
type logFlags struct {
	agent, op, tool, effect, rule, kind, trace string
	since, until                               string
	after                                      uint64
	limit                                      int
	reverse                                    bool
	follow                                     bool
	interval, followFor                        time.Duration
}

func newLogCmd(e *env) *cobra.Command {
	var f logFlags
	c := &cobra.Command{
		Use:   "log FILE",
		Short: "Query a flight recorder",
		Long: `Query a flight recorder: list its entries, oldest first, that match every
filter given. The file is opened read-only and never created.

A syscall leaves a decision entry (what policy decided: effect and rule)
and, if it ran, an outcome entry (status); signals, lifecycle events and
panics have their own kinds. --effect and --rule select decisions.

--since and --until take a time (RFC 3339, e.g. 2026-01-02T15:04:05Z, or a
date, 2026-01-02, in UTC) or a duration before now (90m, 2h, "1h ago",
7d). The range is since <= time < until.

--follow keeps reading: after the entries already recorded it polls the
file every --interval for new ones (a live kernel's recorder, which may be
written while agentctl reads) until interrupted (Ctrl-C), until
--follow-for (counted from the end of the entries already recorded) has
passed, or until --limit entries were printed.

FILE brings the rest of its rollover set (audit.db, audit.000002.db, …,
as verify does), read in chain order; --follow moves on to the next file
when the writer starts one. log does not verify the chain; run "agentctl
verify" for that.

The table is coloured on a terminal unless --no-color or NO_COLOR is set.`,
		Example: `  agentctl log audit.db
  agentctl log audit.db --agent alice --since "1h ago"
  agentctl log audit.db --effect deny --format jsonl
  agentctl log audit.db --rule no-shell --limit 20 --reverse
  agentctl log audit.db --trace 3f2a9c --format json
  agentctl log audit.db --follow --kind decision`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLog(cmd.Context(), e, &f, args[0], time.Now())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.agent, "agent", "", "only entries of this agent")
	fl.StringVar(&f.op, "op", "", "only this operation (read, write, exec, send, signal, …)")
	fl.StringVar(&f.tool, "tool", "", "only calls of this tool")
	fl.StringVar(&f.effect, "effect", "", "only decisions with this effect (allow, deny, approve, audit)")
	fl.StringVar(&f.rule, "rule", "", "only decisions by this policy rule")
	fl.StringVar(&f.kind, "kind", "", "only this kind (decision, outcome, signal, lifecycle, panic)")
	fl.StringVar(&f.trace, "trace", "", "only the entries of this syscall trace")
	fl.StringVar(&f.since, "since", "", "only entries at or after this time (RFC 3339, date, or duration ago)")
	fl.StringVar(&f.until, "until", "", "only entries before this time")
	fl.Uint64Var(&f.after, "after", 0, "only entries after this sequence number")
	fl.IntVar(&f.limit, "limit", 0, "print at most this many entries (0: all)")
	fl.BoolVar(&f.reverse, "reverse", false, "newest first (not with --follow)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing entries as they are recorded")
	fl.DurationVar(&f.interval, "interval", 500*time.Millisecond, "with --follow, how often to look for new entries")
	fl.DurationVar(&f.followFor, "follow-for", 0, "with --follow, stop after this long (0: until interrupted)")
	return c
}

// buildFilter turns the flags into a recorder filter. --rule and --limit
// are applied by printEntries (the recorder does not index rules, and a
// limit spans the files of a rollover set).
func (f *logFlags) buildFilter(now time.Time) (recorder.Filter, error) {
	q := recorder.Filter{Agent: agentos.AgentID(f.agent), Tool: f.tool, Trace: f.trace, After: f.after}
	if f.op != "" {
		q.Op = agentos.Op(f.op)
		if !q.Op.Valid() {
			return q, usageError("--op %q: unknown operation (want one of %s)", f.op, joinOps())
		}
	}
	if f.kind != "" {
		q.Kind = recorder.Kind(f.kind)
		if !q.Kind.Valid() {
			return q, usageError("--kind %q: unknown kind (want decision, outcome, signal, lifecycle or panic)", f.kind)
		}
	}
	if f.effect != "" || f.rule != "" {
		if q.Kind != "" && q.Kind != recorder.KindDecision {
			return q, usageError("--effect and --rule select decisions; they cannot be combined with --kind %s", q.Kind)
		}
		q.Kind = recorder.KindDecision
	}
	if f.effect != "" {
		eff, err := agentos.ParseEffect(f.effect)
		if err != nil {
			return q, usageError("--effect %q: want allow, deny, approve or audit", f.effect)
		}
		q.Effects = []agentos.Effect{eff}
	}
	var err error
	if q.Since, err = parseWhen(f.since, now); err != nil {
		return q, usageError("--since: %v", err)
	}
	if q.Until, err = parseWhen(f.until, now); err != nil {
		return q, usageError("--until: %v", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, usageError("--since %s is not before --until %s", q.Since.Format(time.RFC3339), q.Until.Format(time.RFC3339))
	}
	if f.limit < 0 {
		return q, usageError("--limit %d: must not be negative", f.limit)
	}
	if f.reverse {
		if f.follow {
			return q, usageError("--reverse cannot be combined with --follow")
		}
		q.Order = recorder.Descending
	}
	if f.follow && f.interval <= 0 {
		return q, usageError("--interval %s: must be positive", f.interval)
	}
	if f.followFor < 0 {
		return q, usageError("--follow-for %s: must not be negative", f.followFor)
	}
	return q, nil
}

func joinOps() string {
	var b strings.Builder
	for i, op := range agentos.Ops() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(op))
	}
	return b.String()
}

// parseWhen reads a --since or --until value: "" (no bound), an RFC 3339
// time, a date (UTC midnight), or a duration before now ("90m", "2h",
// "1h ago", "7d"; days are 24 hours).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	d := strings.TrimSpace(strings.TrimSuffix(s, "ago"))
	var dur time.Duration
	var err error
	if days, ok := strings.CutSuffix(d, "d"); ok {
		var n float64
		n, err = strconv.ParseFloat(days, 64)
		if err == nil && (n < 0 || n > 1e5) {
			err = fmt.Errorf("out of range")
		}
		dur = time.Duration(n * float64(24*time.Hour))
	} else {
		dur, err = time.ParseDuration(d)
	}
	if err != nil || dur < 0 {
		return time.Time{}, fmt.Errorf("%q: want an RFC 3339 time (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (90m, 2h, 1h ago, 7d)", s)
	}
	return now.Add(-dur), nil
}

func runLog(ctx context.Context, e *env, f *logFlags, path string, now time.Time) (err error) {
	q, err := f.buildFilter(now)
	if err != nil {
		return err
	}
	if err := checkFile(path); err != nil {
		return err
	}
	files := segments(path)
	if f.reverse {
		slices.Reverse(files)
	}
	w := newEntryWriter(e)
	defer func() {
		if cerr := w.close(); err == nil {
			err = cerr
		}
	}()
	// The entries already recorded are read under the caller's context
	// (SIGINT ends the process as usual); only the follow, which runs until
	// interrupted, turns SIGINT into a clean end. See interruptible.
	n, last := 0, q.After
	for i, p := range files {
		r, err := openRecorder(p)
		if err != nil {
			return err
		}
		left := 0
		if f.limit > 0 {
			left = f.limit - n
		}
		k, seen, err := printEntries(ctx, r, q, f.rule, left, w)
		n, last = n+k, max(last, seen)
		if err == nil && f.follow && i == len(files)-1 && (f.limit == 0 || n < f.limit) {
			fctx, stop := interruptible(ctx)
			defer stop()
			if f.followFor > 0 {
				var cancel context.CancelFunc
				fctx, cancel = context.WithTimeout(fctx, f.followFor)
				defer cancel()
			}
			fl := &follower{path: path, files: len(files), file: p, r: r, q: q, rule: f.rule, last: last, w: w}
			if f.limit > 0 {
				fl.left = f.limit - n
			}
			err = fl.run(fctx, f.interval)
			p, r = fl.file, fl.r
			if fctx.Err() != nil {
				err = nil // interrupted, or --follow-for passed: a normal end
			}
		}
		r.Close()
		if err != nil {
			return readError(p, err)
		}
		if f.limit > 0 && n >= f.limit {
			break
		}
	}
	return nil
}

// printEntries writes the entries of q that match rule (when set), at
// most limit of them (0: all), and returns how many it wrote and the last
// sequence it saw.
func printEntries(ctx context.Context, r *recorder.Recorder, q recorder.Filter, rule string, limit int, w *entryWriter) (n int, last uint64, err error) {
	last = q.After
	q.Limit = 0
	if rule == "" {
		q.Limit = limit
	}
	for en, err := range r.Query(ctx, q) {
		if err != nil {
			return n, last, err
		}
		last = max(last, en.Seq)
		if rule != "" && en.Rule != rule {
			continue
		}
		if err := w.write(&en); err != nil {
			return n, last, err
		}
		n++
		if limit > 0 && n >= limit {
			break
		}
	}
	return n, last, nil
}

// follower tails the last file of a recorder, moving to the next file of
// its rollover set when the writer starts one.
type follower struct {
	path  string             // FILE as given: the first of the set
	files int                // files of the set known so far
	file  string             // the file followed
	r     *recorder.Recorder // open on file; the caller closes the last one
	q     recorder.Filter
	rule  string
	last  uint64 // last sequence seen
	left  int    // entries still to print (0: no bound)
	w     *entryWriter
	// badSince is when the next file of the set was first seen and could
	// not be opened (zero: not so).
	badSince time.Time
}

// newFileGrace bounds how long follow waits for a new file of a rollover
// set to become a readable recorder.
const newFileGrace = 5 * time.Second

// run polls every interval for entries after f.last and prints them until
// ctx ends or f.left more were printed. A new file of the set (the writer
// rolled over) is opened once the current one has been read to its end:
// the writer starts a new file only after its last commit to the old one.
func (f *follower) run(ctx context.Context, interval time.Duration) error {
	if err := f.w.flush(); err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			next := ""
			if segs := segments(f.path); len(segs) > f.files {
				next = segs[f.files]
			}
			done, err := f.poll(ctx)
			if err != nil || done {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			if next == "" {
				break
			}
			r, err := openRecorder(next)
			if err != nil {
				// The writer creates the file, then its schema: give it
				// a moment before calling the file bad.
				if f.badSince.IsZero() {
					f.badSince = time.Now()
				}
				if time.Since(f.badSince) < newFileGrace {
					break
				}
				return err
			}
			f.badSince = time.Time{}
			f.r.Close()
			f.r, f.file = r, next
			f.files++
		}
	}
}

// poll prints the entries of the current file after f.last; done reports
// that f.left entries were printed.
func (f *follower) poll(ctx context.Context) (done bool, err error) {
	q := f.q
	q.After = f.last
	n, seen, err := printEntries(ctx, f.r, q, f.rule, f.left, f.w)
	f.last = seen
	if err != nil {
		return false, err
	}
	if err := f.w.flush(); err != nil {
		return false, err
	}
	if f.left > 0 {
		if f.left -= n; f.left <= 0 {
			return true, nil
		}
	}
	return false, nil
}

// entryWriter streams entries in the chosen format without holding them:
// JSON Lines, a JSON array, or a table whose columns widen as wider values
// come (never narrower), so that a million entries or a follow that never
// ends print in bounded memory.
type entryWriter struct {
	w      *bufio.Writer
	format string
	color  bool
	n      int
	widths [len(logHeaders)]int
	row    [len(logHeaders)]string
	buf    []byte
}

// logHeaders are the table's columns.
var logHeaders = [...]string{"SEQ", "TIME", "AGENT", "KIND", "OP", "OBJECT", "RESULT", "RULE", "DETAIL"}

// minWidths start the table's columns wide enough for common values, so
// that they rarely widen mid-stream.
var minWidths = [len(logHeaders)]int{6, 24, 10, 9, 6, 24, 7, 12, 0}

func newEntryWriter(e *env) *entryWriter {
	return &entryWriter{w: bufio.NewWriterSize(e.stdout, 64<<10), format: e.format, color: useColor(e), widths: minWidths}
}

// useColor reports whether to colour: stdout is a terminal, and neither
// --no-color nor NO_COLOR (non-empty) says no.
func useColor(e *env) bool {
	return !e.noColor && os.Getenv("NO_COLOR") == "" && isTerminal(e.stdout)
}

func (w *entryWriter) write(en *recorder.Entry) error {
	w.n++
	switch w.format {
	case "jsonl", "json":
		b, err := appendEntryJSON(w.buf[:0], en)
		if err != nil {
			return err
		}
		w.buf = b
		if w.format == "json" {
			if w.n == 1 {
				w.w.WriteString("[\n  ")
			} else {
				w.w.WriteString(",\n  ")
			}
		}
		w.w.Write(b)
		if w.format == "jsonl" {
			w.w.WriteByte('\n')
		}
		return nil
	}
	if w.n == 1 {
		w.line(logHeaders[:], nil)
	}
	w.cells(en)
	w.line(w.row[:], en)
	return nil
}

// cells fills w.row with en's table cells.
func (w *entryWriter) cells(en *recorder.Entry) {
	w.buf = strconv.AppendUint(w.buf[:0], en.Seq, 10)
	w.row[0] = string(w.buf)
	w.buf = appendTime(w.buf[:0], en.Time.UTC(), true)
	w.row[1] = string(w.buf)
	w.row[2] = string(en.Agent)
	w.row[3] = string(en.Kind)
	w.row[4] = string(en.Op)
	switch {
	case en.Tool != "":
		w.row[5] = en.Tool
	case en.Path != "":
		w.row[5] = en.Path
	default:
		w.row[5] = string(en.Target)
	}
	w.row[6], w.row[7], w.row[8] = "", "", ""
	switch en.Kind {
	case recorder.KindDecision:
		w.row[6], w.row[7], w.row[8] = en.Effect.String(), en.Rule, en.Message
	case recorder.KindOutcome:
		w.row[6], w.row[8] = string(en.Status), en.Error
	default:
		w.row[8] = en.Message
		if en.Detail != "" {
			if w.row[8] != "" {
				w.row[8] += ": "
			}
			w.row[8] += en.Detail
		}
	}
	w.row[8] = clip(w.row[8], 120)
}

// clip shortens s to at most n runes (n >= 1), the last one an ellipsis
// when it cuts.
func clip(s string, n int) string {
	if len(s) <= n || utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for j := range s {
		if count == n-1 {
			i = j
			break
		}
		count++
	}
	return s[:i] + "…"
}

// line writes one table row, padding each cell to its column's width
// (widening the column first if needed) and colouring the result column
// of an entry on a terminal.
func (w *entryWriter) line(cells []string, en *recorder.Entry) {
	b := w.buf[:0]
	for i, c := range cells {
		width, ctl := scanCell(c)
		if ctl {
			c = cellEscaper.Replace(c)
			width, _ = scanCell(c)
		}
		if i == len(cells)-1 {
			b = append(b, c...)
			break
		}
		w.widths[i] = max(w.widths[i], width)
		color := ""
		if w.color && en != nil {
			color = colorOf(i, en, c)
		}
		if color != "" {
			b = append(b, color...)
			b = append(b, c...)
			b = append(b, "\x1b[0m"...)
		} else {
			b = append(b, c...)
		}
		for pad := w.widths[i] - width + 2; pad > 0; pad -= len(padding) {
			b = append(b, padding[:min(pad, len(padding))]...)
		}
	}
	b = bytes.TrimRight(b, " ")
	b = append(b, '\n')
	w.w.Write(b)
	w.buf = b
}

const padding = "                                                                "

// scanCell returns the width of s in runes (its columns, for the scripts
// agentctl prints) and whether it holds a control character, in one pass
// with a fast path for ASCII.
func scanCell(s string) (width int, ctl bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return utf8.RuneCountInString(s), ctl || strings.ContainsAny(s[i:], "\t\n\r")
		}
		ctl = ctl || c < 0x20
	}
	return len(s), ctl
}

// colorOf returns the ANSI colour of column i of en's row, or "".
func colorOf(i int, en *recorder.Entry, cell string) string {
	const red, green, yellow = "\x1b[31m", "\x1b[32m", "\x1b[33m"
	switch i {
	case 3:
		switch en.Kind {
		case recorder.KindPanic:
			return red
		case recorder.KindSignal:
			return yellow
		}
	case 6:
		switch cell {
		case "deny", "denied", "error", "killed":
			return red
		case "allow", "ok":
			return green
		case "approve", "audit", "canceled", "shadow":
			return yellow
		}
	}
	return ""
}

func (w *entryWriter) flush() error { return w.w.Flush() }

// close ends the output (the closing bracket of a JSON array, the header
// of an empty table) and flushes it.
func (w *entryWriter) close() error {
	switch w.format {
	case "json":
		if w.n == 0 {
			w.w.WriteString("[]\n")
		} else {
			w.w.WriteString("\n]\n")
		}
	case "table":
		if w.n == 0 {
			w.line(logHeaders[:], nil)
		}
	}
	return w.w.Flush()
}
