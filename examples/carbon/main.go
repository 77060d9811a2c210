// Command carbon is the carbon auditor case study: a reporter agent's
// sustainability claims are checked by an auditor agent against emissions
// data before any of them reaches the public disclosure register.
//
// The auditor first reconciles its two data sources, the plants' own
// meters and a satellite estimate, month by month: a cmvk.Monitor under
// the Carbon profile (euclidean drift, threshold 0.15) compares each
// month's pair of readings with the pair of the first month, and when the
// two sources part ways at one plant, kernel.DriftAlarm records the
// evidence in the flight recorder and sends the auditor SIGDRIFT; the
// host's handler puts that plant's figures under review. Then the claims
// cross a typed pipe, reporter | PolicyCheck(esg.Claim) | audit, and each
// is checked against the meters through a governed tool: a true claim is
// published, a false one is refused and the finding kept in the auditor's
// working memory, and a claim that agrees with a meter the satellite
// contradicts is held. The reporter's attempt to publish its false claim
// itself is refused by policy. The operator reads the findings through
// kernel.Inspect, and the flight recorder's trail is printed and its chain
// verified. Everything runs offline and deterministically.
//
// Run it with:
//
//	go run ./examples/carbon
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/cmvk"
	"github.com/agent-os/agentos/examples/carbon/esg"
	"github.com/agent-os/agentos/ipc"
	"github.com/agent-os/agentos/kernel"
	"github.com/agent-os/agentos/recorder"
	"github.com/agent-os/agentos/signals"
)

//go:embed policy.yaml
var policyYAML []byte

// months are the months of the data, Q2 then Q3 of 2026.
var months = []string{"2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09"}

// data holds each source's monthly Scope 1 emissions in tCO2e. Gdańsk's
// meters fall by more than a third in July; the satellite sees a plant
// that emits as before.
var data = map[string]map[string][]float64{
	"meter": {
		"rotterdam": {4300, 4250, 4230, 4150, 4140, 4106},
		"gdansk":    {3000, 2980, 3010, 1900, 1850, 1820},
	},
	"satellite": {
		"rotterdam": {4310, 4240, 4250, 4160, 4120, 4110},
		"gdansk":    {3020, 2990, 3000, 2900, 2850, 2830},
	},
}

// facilities are reconciled in this order.
var facilities = []string{"rotterdam", "gdansk"}

// claims are the reporter's, in the order it files them.
var claims = []esg.Claim{
	{ID: "C1", Facility: "rotterdam", Quarter: "2026-Q3", Kind: esg.Total, Value: 12_400,
		Text: "Rotterdam emitted 12,400 tCO2e of Scope 1 in Q3 2026."},
	{ID: "C2", Facility: "rotterdam", Quarter: "2026-Q3", Kind: esg.Cut, Value: 12,
		Text: "Rotterdam cut its Scope 1 emissions by 12% quarter on quarter."},
	{ID: "C3", Facility: "gdansk", Quarter: "2026-Q3", Kind: esg.Cut, Value: 38,
		Text: "Gdańsk cut its Scope 1 emissions by 38% quarter on quarter."},
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "carbon:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	rep, err := audit(ctx, w)
	if err != nil {
		return err
	}
	if !slices.Equal(rep.published, []string{"C1"}) {
		return fmt.Errorf("published %v, want only C1", rep.published)
	}
	return nil
}

// report is what the audit did, for the test.
type report struct {
	verdicts  map[string]string // by claim id: certified, refused, held
	published []string          // what register.publish received
	alerts    []cmvk.Alert
	review    map[string]bool // facilities under review after SIGDRIFT
	selfPub   error           // the reporter's own publish attempt
	findings  map[string]string
	trail     []recorder.Entry
	verified  uint64
}

func audit(ctx context.Context, w io.Writer) (*report, error) {
	step := func(s string) { fmt.Fprintln(w, "\n== "+s) }
	var tick atomic.Int64
	start := time.Date(2026, 10, 15, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }
	rep := &report{verdicts: map[string]string{}, review: map[string]bool{}, findings: map[string]string{}}

	rec, err := recorder.Open("", &recorder.Options{Durability: recorder.WriteAhead, Clock: clock})
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	k, err := kernel.New(
		kernel.WithPolicySource("policy.yaml", policyYAML),
		kernel.WithRecorder(rec),
		kernel.WithClock(clock),
		kernel.WithTool("emissions.series", series),
		// The register is the tool's own state; only the auditor reaches it.
		kernel.WithTool("register.publish", func(_ context.Context, args map[string]any) (any, error) {
			id, _ := args["claim"].(string)
			rep.published = append(rep.published, id)
			return "published " + id, nil
		}),
	)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	reporter, err := k.Spawn(ctx, "reporter", kernel.WithRole("reporter"))
	if err != nil {
		return nil, err
	}
	auditor, err := k.Spawn(ctx, "auditor", kernel.WithRole("auditor"))
	if err != nil {
		return nil, err
	}

	// The drift monitor, wired to the kernel. The alarm and the SIGDRIFT
	// handler run on the goroutine that calls Observe, this one.
	alarm := kernel.DriftAlarm(k)
	mon, err := cmvk.NewMonitor(cmvk.Carbon, cmvk.WithWindow(2), cmvk.WithMonitorClock(clock),
		// The Carbon profile's metric compares vectors, and every
		// observation here brings its own: there is no text to embed.
		cmvk.WithMonitorEmbedder(func(context.Context, string) ([]float32, error) {
			return nil, errors.New("the readings are vectors; there is no text to embed")
		}),
		cmvk.WithAlarm(func(ctx context.Context, al cmvk.Alert) {
			rep.alerts = append(rep.alerts, al)
			alarm(ctx, al)
		}))
	if err != nil {
		return nil, err
	}
	d, err := k.SignalDispatcher("auditor")
	if err != nil {
		return nil, err
	}
	if err := d.Handle(signals.SIGDRIFT, func(context.Context, signals.Info) error {
		rep.review[rep.alerts[len(rep.alerts)-1].Task] = true
		return nil
	}); err != nil {
		return nil, err
	}

	step(fmt.Sprintf("the auditor reconciles meters with satellite estimates (profile %s, %s %.2f, window 2)",
		cmvk.Carbon.Name, cmvk.Carbon.Metric, cmvk.Carbon.Threshold))
	for _, f := range facilities {
		meter, err := fetch(ctx, auditor, "meter", f)
		if err != nil {
			return nil, err
		}
		sat, err := fetch(ctx, auditor, "satellite", f)
		if err != nil {
			return nil, err
		}
		for i, m := range months {
			// The month's pair of readings, scaled to the meter's: the
			// first month's pair is the baseline, and the drift grows as
			// the sources part ways, whatever the plant emits.
			dr, err := mon.Observe(ctx, "auditor", f, cmvk.Observation{Embedding: []float32{1, float32(sat[i] / meter[i])}})
			if err != nil {
				return nil, err
			}
			mark := ""
			if dr.Alarmed {
				mark = fmt.Sprintf("  ← drift: SIGDRIFT to the auditor, %s under review", f)
			}
			fmt.Fprintf(w, "  %-9s %s meter %5s satellite %5s  drift %.2f window %.2f%s\n",
				f, m, tco2(meter[i]), tco2(sat[i]), dr.Sample, dr.Window, mark)
		}
	}

	step("the reporter's claims cross the pipe to the auditor")
	pipe := ipc.Then(
		ipc.PolicyCheck[esg.Claim](reporter.Gate("auditor")),
		ipc.Func[esg.Claim, string](func(ctx context.Context, c esg.Claim) (string, error) {
			return check(ctx, auditor, c, rep.review[c.Facility])
		}),
	)
	for _, c := range claims {
		verdict, err := pipe.Execute(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("claim %s: %w", c.ID, err)
		}
		rep.verdicts[c.ID], _, _ = strings.Cut(verdict, ":")
		fmt.Fprintf(w, "  %s %q\n     %s\n", c.ID, c.Text, verdict)
	}

	step("the reporter publishes its refused claim itself")
	_, rep.selfPub = reporter.Exec(ctx, "register.publish", map[string]any{"claim": claims[1].ID, "text": claims[1].Text})
	var v *agentos.PolicyViolation
	if !errors.As(rep.selfPub, &v) {
		return nil, fmt.Errorf("the reporter's own publication was not refused: %v", rep.selfPub)
	}
	fmt.Fprintf(w, "  refused by rule %s (%s): %s; the reporter is still %s\n",
		v.Decision.Rule, v.Decision.Severity, v.Decision.Message, reporter.State())

	step("the operator reads the auditor's findings (kernel.Inspect)")
	fsys, err := k.Inspect("auditor")
	if err != nil {
		return nil, err
	}
	entries, err := fs.ReadDir(fsys, "mem/working/findings")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, "mem/working/findings/"+e.Name())
		if err != nil {
			return nil, err
		}
		rep.findings[e.Name()] = string(b)
		fmt.Fprintf(w, "  /mem/working/findings/%s: %s\n", e.Name(), b)
	}

	step("the flight recorder's trail: refusals, publications, drift")
	if err := rec.Flush(ctx); err != nil {
		return nil, err
	}
	for e, err := range rec.Query(ctx, recorder.Filter{}) {
		if err != nil {
			return nil, err
		}
		rep.trail = append(rep.trail, e)
		if (e.Kind == recorder.KindDecision && (e.Effect != agentos.Allow || e.Tool == "register.publish")) ||
			e.Kind == recorder.KindSignal || strings.HasPrefix(e.Message, "drift alert") {
			fmt.Fprintln(w, "  "+describe(e))
		}
	}
	vr, err := rec.Verify(ctx)
	if err != nil {
		return nil, err
	}
	if !vr.OK {
		return nil, fmt.Errorf("recorder chain broken: %w", vr.Err())
	}
	rep.verified = vr.Entries
	fmt.Fprintf(w, "  chain verified: %d entries\n", vr.Entries)
	return rep, nil
}

// check audits one claim as the auditor, against the meters, and returns
// its verdict: "certified: …", "refused: …" or "held: …". A claim that fails
// is recorded as a finding in the auditor's working memory.
func check(ctx context.Context, auditor *kernel.Agent, c esg.Claim, underReview bool) (string, error) {
	meter, err := fetch(ctx, auditor, "meter", c.Facility)
	if err != nil {
		return "", err
	}
	q2, q3 := sum(meter[:3]), sum(meter[3:])
	var measured string
	var ok bool
	switch c.Kind {
	case esg.Total:
		ok = math.Abs(c.Value-q3) <= 0.01*q3 // within 1%
		measured = fmt.Sprintf("the meters say %s tCO2e", tco2(q3))
	case esg.Cut:
		cut := 100 * (q2 - q3) / q2
		ok = math.Abs(c.Value-cut) <= 1 // within a percentage point
		measured = fmt.Sprintf("the meters say %.1f%%", cut)
	default:
		return "", fmt.Errorf("claim %s: %w: kind %q", c.ID, agentos.ErrInvalid, c.Kind)
	}
	var verdict string
	switch {
	case !ok:
		verdict = "refused: " + measured
	case underReview:
		verdict = "held: " + measured + ", but the satellite contradicts " + c.Facility + "'s meters"
	default:
		out, err := auditor.Exec(ctx, "register.publish", map[string]any{"claim": c.ID, "text": c.Text})
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("certified: %s; %v", measured, out), nil
	}
	if err := auditor.Write(ctx, "/mem/working/findings/"+c.ID+".txt", []byte(c.Text+" "+verdict)); err != nil {
		return "", err
	}
	return verdict, nil
}

// fetch reads one source's monthly series for a facility through the
// governed emissions.series tool.
func fetch(ctx context.Context, a *kernel.Agent, source, facility string) ([]float64, error) {
	out, err := a.Exec(ctx, "emissions.series", map[string]any{"source": source, "facility": facility})
	if err != nil {
		return nil, err
	}
	s, ok := out.([]float64)
	if !ok || len(s) != len(months) {
		return nil, fmt.Errorf("emissions.series returned %T", out)
	}
	return s, nil
}

// series is the emissions.series tool: a source's monthly figures for a
// facility, a copy the caller may keep.
func series(_ context.Context, args map[string]any) (any, error) {
	source, _ := args["source"].(string)
	facility, _ := args["facility"].(string)
	s, ok := data[source][facility]
	if !ok {
		return nil, fmt.Errorf("emissions.series: %s/%s: %w", source, facility, agentos.ErrNotFound)
	}
	return slices.Clone(s), nil
}

func sum(xs []float64) float64 {
	var t float64
	for _, x := range xs {
		t += x
	}
	return t
}

// tco2 renders tonnes with a thousands separator.
func tco2(x float64) string {
	n := int64(math.Round(x))
	if n < 1000 {
		return fmt.Sprint(n)
	}
	return fmt.Sprintf("%d,%03d", n/1000, n%1000)
}

// describe renders one recorder entry on a line.
func describe(e recorder.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%-3d %-9s %-8s", e.Seq, e.Kind, e.Agent)
	switch e.Kind {
	case recorder.KindDecision:
		fmt.Fprintf(&b, " %s %s %s → %s (%s)", e.Op, e.Tool, e.Args, e.Effect, e.Rule)
	case recorder.KindSignal:
		fmt.Fprintf(&b, " %s: %s", e.Detail, e.Message)
	default:
		fmt.Fprintf(&b, " %s", e.Message)
	}
	return b.String()
}
