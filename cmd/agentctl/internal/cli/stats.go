package cli

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/recorder"
)

func init() { register("stats", newStatsCmd) }

type statsFlags struct {
	by, agent, since, until string
}

func newStatsCmd(e *env) *cobra.Command {
	var f statsFlags
	c := &cobra.Command{
		Use:   "stats FILE...",
		Short: "Count the entries of a flight recorder by agent, op, effect and rule",
		Long: `Count the entries of a flight recorder: in all, by agent, by operation, by
kind, and for decisions by effect and by policy rule. With --by hour or
--by day it counts per period instead: entries, decisions, and decisions
allowed and denied (approve and audit count under their own columns).

One FILE is counted with the rest of its rollover set (audit.db,
audit.000002.db, …); several FILEs are counted together. --agent, --since
and --until narrow the entries counted, as for "agentctl log". Stats do not
verify the chain: run "agentctl verify" for that.`,
		Example: `  agentctl stats audit.db
  agentctl stats audit.db --by day --since 7d
  agentctl stats audit.db --agent alice --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd.Context(), e, &f, args, time.Now())
		},
	}
	fl := c.Flags()
	fl.StringVar(&f.by, "by", "", "count per period: hour or day (UTC)")
	fl.StringVar(&f.agent, "agent", "", "only entries of this agent")
	fl.StringVar(&f.since, "since", "", "only entries at or after this time (RFC 3339, date, or duration ago)")
	fl.StringVar(&f.until, "until", "", "only entries before this time")
	return c
}

// statsResult is what stats prints without --by.
type statsResult struct {
	Files    []string          `json:"files"`
	Entries  uint64            `json:"entries"`
	Oldest   time.Time         `json:"oldest,omitzero"`
	Newest   time.Time         `json:"newest,omitzero"`
	ByAgent  map[string]uint64 `json:"by_agent"`
	ByOp     map[string]uint64 `json:"by_op"`
	ByKind   map[string]uint64 `json:"by_kind"`
	ByEffect map[string]uint64 `json:"by_effect"`
	ByRule   map[string]uint64 `json:"by_rule"`
}

// periodStats is one row of stats --by.
type periodStats struct {
	Start     time.Time `json:"start"`
	Entries   uint64    `json:"entries"`
	Decisions uint64    `json:"decisions"`
	Allowed   uint64    `json:"allowed"`
	Denied    uint64    `json:"denied"`
	Approve   uint64    `json:"approve"`
	Audit     uint64    `json:"audit"`
}

func runStats(ctx context.Context, e *env, f *statsFlags, args []string, now time.Time) error {
	var period time.Duration
	switch f.by {
	case "":
	case "hour":
		period = time.Hour
	case "day":
		period = 24 * time.Hour
	default:
		return usageError("--by %q: want hour or day", f.by)
	}
	lf := logFlags{agent: f.agent, since: f.since, until: f.until}
	q, err := lf.buildFilter(now)
	if err != nil {
		return err
	}
	files, err := recorderFiles(args)
	if err != nil {
		return err
	}
	res := statsResult{Files: files, ByAgent: map[string]uint64{}, ByOp: map[string]uint64{},
		ByKind: map[string]uint64{}, ByEffect: map[string]uint64{}, ByRule: map[string]uint64{}}
	periods := map[int64]*periodStats{}
	for _, p := range files {
		if err := countFile(ctx, p, q, &res, period, periods); err != nil {
			return err
		}
	}
	if period > 0 {
		keys := slices.Sorted(maps.Keys(periods))
		rows := make([]periodStats, len(keys))
		for i, k := range keys {
			rows[i] = *periods[k]
		}
		layout := "2006-01-02T15:04Z"
		if period == 24*time.Hour {
			layout = "2006-01-02"
		}
		return writeRecords(e, []string{"PERIOD", "ENTRIES", "DECISIONS", "ALLOWED", "DENIED", "APPROVE", "AUDIT"}, rows, func(r periodStats) []string {
			return []string{r.Start.Format(layout), fmtUint(r.Entries), fmtUint(r.Decisions), fmtUint(r.Allowed), fmtUint(r.Denied), fmtUint(r.Approve), fmtUint(r.Audit)}
		})
	}
	if e.format != "table" {
		return writeRecords(e, nil, []statsResult{res}, nil)
	}
	type row struct{ by, value, n string }
	rows := []row{{"total", "entries", fmtUint(res.Entries)}}
	if !res.Oldest.IsZero() {
		rows = append(rows, row{"time", "oldest", res.Oldest.Format(time.RFC3339Nano)}, row{"time", "newest", res.Newest.Format(time.RFC3339Nano)})
	}
	for _, g := range []struct {
		name string
		m    map[string]uint64
	}{{"agent", res.ByAgent}, {"op", res.ByOp}, {"kind", res.ByKind}, {"effect", res.ByEffect}, {"rule", res.ByRule}} {
		for _, k := range slices.Sorted(maps.Keys(g.m)) {
			rows = append(rows, row{g.name, k, fmtUint(g.m[k])})
		}
	}
	return writeRecords(e, []string{"BY", "VALUE", "ENTRIES"}, rows, func(r row) []string { return []string{r.by, r.value, r.n} })
}

func fmtUint(n uint64) string { return strconv.FormatUint(n, 10) }

// countFile adds the entries of the recorder at path that match q to res
// and, when period is set, to periods (keyed by period start, Unix
// seconds).
func countFile(ctx context.Context, path string, q recorder.Filter, res *statsResult, period time.Duration, periods map[int64]*periodStats) error {
	r, err := openRecorder(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for en, err := range r.Query(ctx, q) {
		if err != nil {
			return readError(path, err)
		}
		res.Entries++
		if res.Oldest.IsZero() || en.Time.Before(res.Oldest) {
			res.Oldest = en.Time
		}
		if en.Time.After(res.Newest) {
			res.Newest = en.Time
		}
		agent := string(en.Agent)
		if agent == "" {
			agent = "(kernel)"
		}
		res.ByAgent[agent]++
		if en.Op != "" {
			res.ByOp[string(en.Op)]++
		}
		res.ByKind[string(en.Kind)]++
		decision := en.Kind == recorder.KindDecision
		if decision {
			res.ByEffect[en.Effect.String()]++
			rule := en.Rule
			if rule == "" {
				rule = "(none)"
			}
			res.ByRule[rule]++
		}
		if period > 0 {
			start := en.Time.UTC().Truncate(period)
			p := periods[start.Unix()]
			if p == nil {
				p = &periodStats{Start: start}
				periods[start.Unix()] = p
			}
			p.Entries++
			if decision {
				p.Decisions++
				switch en.Effect {
				case agentos.Allow:
					p.Allowed++
				case agentos.Deny:
					p.Denied++
				case agentos.Approve:
					p.Approve++
				case agentos.Audit:
					p.Audit++
				}
			}
		}
	}
	return nil
}
