// Package scak is the self-correcting agent kernel: it finds where agents
// fail, works out why with a stronger model, and patches the agents so
// the failure does not come back, every step bounded, recorded and
// reversible. It sits on top of the kernel (layer L4 in
// docs/ARCHITECTURE.md) and sees what the kernel's agents do through a
// kernel.Observer.
//
// # Failure detection
//
// A [Failure] says what kind of failure was found ([Kind]), in which
// agent and syscall, by which rule, with what evidence and how surely.
// Four kinds come from the outcomes of syscalls, found by a [Monitor]; one
// comes from agents' answers, found by a [Detector]:
//
//   - [KindDenied]: policy refused the syscall; Rule is the policy rule.
//   - [KindToolError]: a tool call ran and returned an error (a call
//     interrupted by a signal or a cancelled context is not one).
//   - [KindGiveUp]: an answer, or a tool's textual result, gives up ("no
//     data found", "I cannot answer that") instead of answering; Rule is the
//     pattern family that matched.
//   - [KindLoop]: the same syscall repeated; the agent is stopped with
//     SIGLOOP.
//   - [KindJudged]: a [Judge] found a give-up the patterns did not.
//
// # Give-ups: pattern families
//
// The pattern path ([Detector.Match]) matches families of phrase patterns
// on the normalised words of an answer. Each [Family] has a name, a
// confidence and phrases; [Families] lists the built-in ones: empty (no
// words at all), no-data, not-available, insufficient-info,
// cannot-answer, refusal, deferral and placeholder. [WithFamilies] adds a
// caller's own, validated when the detector is built (a phrase or regular
// expression that does not compile is an error wrapping
// agentos.ErrInvalid). The strongest match wins; a match whose confidence
// reaches the threshold ([WithThreshold], default 0.7) is a give-up.
//
// Normalisation: the text is lower-cased (Unicode), typographic
// apostrophes, backticks and quotes are folded to ASCII ' and ", runs of
// whitespace become one space, and contractions are expanded ("can't" →
// "can not", "couldn't" → "could not", "I'm" → "i am", "it's" → "it is"),
// so one phrase covers every spelling. Words are runs of letters and
// digits, with ', / and . inside them (n/a, 3.5). A sentence ends at . ! ?
// ; : or a line break.
//
// Phrase grammar: space-separated elements, each matching one word:
//
//	word          the word itself (lower case, contractions expanded)
//	a|b|c         any of the words
//	pre*          a word starting with pre (not first)
//	@name         any word of a macro: @data (data, results, records,
//	              information, rows, figures, …), @find, @be, @tell, @i
//	[a|b]         an optional element (not first)
//	~N            a gap of 0 to N words, N ≤ 8 (not first or last)
//	^ or <        first: the match starts the answer, or a sentence
//	$ or >        last: the match ends the answer, or a sentence
//	=0.6          last: this phrase's confidence, instead of the family's
//
// All the words of a match lie in one sentence. Alternatives are single
// words: "no @data found|returned" is a phrase, "turn up|come up" is not
// (write two phrases). A match is set aside as a mention, not a claim, when
// it lies inside a short quotation ("the message "no data found" means…")
// or just after a condition ("if no results are found, …", "when no match
// is found").
//
// Only the first and last bytes of an answer are examined ([WithScan],
// 1024 and 512 by default), so the cost per answer is bounded whatever
// its length: a give-up opens or closes an answer, and one buried in the
// middle of a long answer is not seen. The pattern path allocates nothing
// for an answer that does not match and one string for the match it
// reports; docs/BENCHMARKS.md gives its time and its precision and recall
// on a labelled set of answers (testdata/giveup.jsonl).
//
// # Genuine "no data"
//
// "No results found" is the right answer when there were no results. An
// [Answer] carries the tool results it was based on (Evidence) and a hint
// that an empty result is correct for its task (EmptyOK). A match of a
// family that claims the information is not there (no-data,
// not-available, insufficient-info, cannot-answer: Family.EmptyExplains)
// is faithful, not a give-up, when EmptyOK is set or every evidence item is
// empty (blank, JSON null or an empty container, "0 rows", a short "No
// results."); when some evidence held data, the match's confidence rises
// by [EvidenceBoost]. Refusals, deferrals and placeholders are give-ups
// whatever the evidence.
//
// # Judges
//
// A [Judge] decides what the patterns cannot: [Detector.Detect] asks it
// about answers whose best match is under the threshold
// ([JudgeUndecided]), about every answer not flagged ([JudgeUnflagged]),
// or about all ([JudgeAlways]). [ModelJudge] asks a language model with a
// bounded prompt and a timeout, and parses its reply strictly
// ([ParseJudgement]): a reply that is not exactly the JSON judgement is an
// error wrapping [ErrJudgement], and Detect returns a judge's failure as
// an error wrapping [ErrJudge]: an answer that could not be judged is
// never taken as fine.
//
// # Outcomes and loops
//
// A [Monitor] is a kernel observer: pass [Monitor.Observer] to
// kernel.WithObserver, then [Monitor.Bind] the kernel. It classifies each
// decided syscall (denial, tool error, a string, []byte or fmt.Stringer
// tool result that gives up, by the pattern path only) and feeds a
// [LoopDetector]: the same call — agent, op, tool, path and a canonical
// digest of the arguments ([CallDigest]) — made Repeats times among the
// agent's last Window syscalls (3 in 8 by default, optionally within a
// time span) is a loop. The monitor records an event in the flight
// recorder and sends the agent SIGLOOP, whose default action stops it at
// its next syscall, until the host resumes or kills it. Memory is bounded:
// Window digests per agent, MaxAgents agents (the least recently seen is
// forgotten; [Monitor.Forget] drops a reaped agent at once). Failures go to
// a bounded ring ([Monitor.Failures]) and, optionally, to a channel by a
// send that never blocks; what did not fit is counted ([Monitor.Stats]).
//
// # Differential audit, triage and patches
//
// An [Auditor] audits a failure with a stronger "teacher" model that is
// shown the failed run (the task, the agent's answer, the tool results)
// and diagnoses why it failed, answering in a strict JSON format that is
// parsed, bounded and never taken as "nothing wrong" when unreadable
// ([ParseDiagnosis], [ErrDiagnosis]). [Triage] decides by visible rules
// whether a failure is fixed now or later (a critical tool, a critical
// denial, a VIP user, …). A diagnosis proposes [Patch] values — a rule for
// the agent's prompt, a lesson for its memory, a rule about a tool's use,
// a policy proposal — scoped to an agent and task. A [Store] validates
// them, refuses conflicting ones ([ErrConflict]), applies the active ones
// to a run ([Store.Apply]), counts how often each failure recurs
// ([Store.RecordRun]) and rolls back a patch that did not make its failure
// rarer ([Store.Evaluate]).
//
// # Shadow policy proposals
//
// Where a failure is better prevented by policy than by prompting, a patch
// proposes a policy document. A [Proposer] replays the recorded decisions
// under the proposal as a shadow policy ([Proposer.Evaluate], a
// [ShadowReport] of the decisions that would change), and applies it only
// when an approver says so; a proposal that is refused, fails or times out
// changes nothing ([ErrNotApproved]), and an applied one can be rolled
// back.
//
// # Concurrency
//
// [Detector], [ModelJudge], [LoopDetector] and [Monitor] are safe for
// concurrent use. None of them starts a goroutine: a Monitor runs on the
// goroutine of the syscall it observes, before the syscall returns to the
// agent, and never blocks it.
package scak
