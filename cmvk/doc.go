// Package cmvk is cross-model verification: the same prompt to several
// models, the drift between their answers, a verdict on whether they agree,
// a generator checked by a hostile verifier, and a monitor that notices when
// an agent's answers drift from their baseline.
//
// # Usage
//
// [Ask] fans a prompt out to named models concurrently (bounded by
// [WithLimit], each under [WithTimeout], answers bounded by
// [WithMaxAnswerBytes]) and returns every answer with its error and
// latency; with [WithQuorum] it stops waiting once enough answers agree.
// [Verify] turns the answers into a [Verdict] under a [Profile]:
//
//	answers, err := cmvk.Ask(ctx, prompt, models, cmvk.WithQuorum(2, cmvk.LexicalProfile))
//	v, err := cmvk.Verify(ctx, answers, cmvk.LexicalProfile, cmvk.VerifyOptions{})
//	if !v.Agree { … } // v.Dissenters, v.Failed, v.Pairs say why
//
// [Refine] runs a generator against a hostile verifier until a draft is
// approved. [NewMonitor] returns a [Monitor] whose Observe measures each
// answer of an (agent, task) against the key's baseline and calls the
// alarm of [WithAlarm] when the rolling window's mean drift crosses the
// profile's threshold. The kernel wires that callback to SIGDRIFT; the
// monitor itself records nothing and enforces nothing.
//
// # Metrics
//
// Every metric returns a [Score]: a Drift in [0, 1] (0 the same, 1 nothing
// in common) and a Confidence in [0, 1]. Shared edge cases: two empty
// inputs drift 0, one empty input drifts 1 (for the embedding, jsonvalue
// and polarity metrics a text of white space alone is empty; the json
// shape metric has no empty case: an empty text is not JSON); embeddings or distributions of
// different lengths drift 1 with confidence 0.5; NaN and ±Inf are errors
// ([ErrNotFinite]), never scores.
//
//   - lexical ([LexicalDrift], the original CMVK verify):
//     drift = 1 − (0.3·char-ratio + 0.5·word-ratio + 0.2·line-count-ratio),
//     the ratios being Ratcliff/Obershelp ([Ratio], difflib's
//     SequenceMatcher without its junk heuristics) over runes and words and
//     min/max of the line counts; confidence = 1 − the population standard
//     deviation of the three sub-drifts.
//   - sequence ([SequenceDrift]): 0.4·normalised Levenshtein + 0.3·(1 −
//     Jaccard) + 0.3·(1 − LCS/max length), over words.
//   - json ([JSONShapeDrift]): 1 − Jaccard of the typed key paths, values
//     ignored. code ([CodeShapeDrift]): 1 − Ratio of the token skeletons of
//     [CodeShape] (identifiers, numbers and strings abstracted; brackets,
//     operators and indentation kept).
//   - jsonvalue ([JSONValueDrift]): the share of leaves (scalars, empty
//     objects and arrays, by path; keys in any order, array elements by
//     index) not equal on both sides: numbers within a [Tolerance], strings
//     with white space collapsed and case folded. A Markdown fence is
//     removed first.
//   - codetoken ([CodeTokenDrift]): 1 − Ratio of the [CodeTokens]:
//     keywords, operators and literals kept, comments and layout dropped,
//     names alpha-renamed except free functions and members, so renamed
//     variables drift 0 and "<" for "<=" does not.
//   - numeric ([NumericDrift]): the share of numbers, paired in order, that
//     differ beyond a [Tolerance]. figures ([QuantityDrift]): the share of
//     figures ([Quantities]: thousands separators, currency symbols,
//     percentages, scale words, units, number words, versions, dates)
//     left unpaired, in any order, a figure written with fewer decimals
//     matching its rounding.
//   - polarity ([PolarityDrift]): 1 when [Contradiction] finds opposite
//     opening verdicts, or the same content words with an odd number of
//     negations and antonyms between them; else 0.
//   - factual ([FactualDrift]): the cosine drift of the embeddings, raised
//     to 1 by a contradiction or by a conflicting figure ([FiguresConflict]:
//     a figure on each side that the other does not state).
//   - cosine, euclidean, manhattan, chebyshev ([CosineDrift] …): 1 − cos
//     clamped to [0, 1], and each norm of a−b divided by the sum of the
//     same norms of a and b, which the triangle inequality keeps in [0, 1].
//   - distributions ([JSDrift]): Jensen–Shannon divergence / ln 2 of the
//     normalised inputs; negative weights are refused.
//
// # Profiles
//
// A [Profile] is a metric and a threshold: two answers agree when their
// drift is at most the threshold. [ProfileByName] finds the built-in ones:
//
//	profile    metric                                     threshold
//	general    factual (cosine + contradictions + figures)  0.18
//	financial  factual                                      0.18
//	medical    factual                                      0.18
//	carbon     euclidean                                    0.15
//	strict     euclidean                                    0.05
//	lenient    cosine                                       0.5
//	code       codetoken                                    0
//	json       jsonvalue                                    0
//	numeric    figures                                      0
//	lexical    lexical                                      0.3
//
// The embedding ones need an [agentos.Embedder] (for example models/glove's,
// offline). The original CMVK judged general by cosine at 0.3, financial by
// Chebyshev at 0.10 and medical by Manhattan at 0.20 distance alone; on
// hand-labelled answer pairs (cmvk/testdata/driftpairs.jsonl, see
// docs/BENCHMARKS.md) those missed nearly every negation and changed
// figure, and the last two flagged paraphrases, so they are now the
// composite, with the cosine threshold chosen on the tune half of the pairs
// (between the largest paraphrase drift and the smallest drift of an
// answer the checks do not catch). Financial and medical share general's
// threshold: the tune half held too few of their pairs to set them apart.
// code and json were the shape metrics (code 0.25, json 0), which let a
// changed operator or value through. Build a Profile to judge by the
// original: Profile{Name: "general", Metric: Cosine, Threshold: 0.3}.
//
// # Verdicts
//
// Verify compares every pair of successful answers and picks the
// representative answer that agrees with the most others; its majority is
// it and those that agree with it. Agree means that majority is more than
// half of the answers counted, failures included (fail closed) and those
// skipped by a quorum excluded; a tie does not agree, and fewer than two
// answers never agree. Confidence is the majority's share, discounted by
// its spread: see [Verdict].
//
// # Concurrency
//
// Ask joins every goroutine it starts before it returns; models must honour
// ctx. The metrics are pure functions. A [Monitor] is safe for concurrent
// use, and its alarm runs on the goroutine that called Observe, outside its
// lock.
//
// # Caveats
//
// Agreement is not truth: models that share a training set share its
// mistakes, and a majority of them agreeing on a wrong answer is a
// confident wrong verdict. Lexical similarity is not semantic similarity
// ("the drug is safe" and "the drug is not safe" are lexically close), and
// bag-of-words embeddings lose negation too; the factual profiles add a
// contradiction check, but it reads words, not syntax: a contradiction in
// other words, a wrong name or place ("Canberra" / "Sydney") and an answer
// that leaves facts out are left to the embedding, which scores them
// close. The code metric compares tokens, not behaviour: a loop written as
// recursion, or r*r as r**2, drifts. The
// lexical, sequence, code and codetoken metrics cost time quadratic in the
// input and refuse inputs over [MaxSequence] elements ([ErrTooLarge]); the
// others are linear. A Monitor
// bounds its keys by evicting the least recently observed one, whose next
// observation becomes a new baseline: size [WithMaxKeys] above the number
// of live (agent, task) pairs, or an agent that floods keys can reset its
// own baseline.
package cmvk
