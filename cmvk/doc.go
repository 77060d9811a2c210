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
// inputs drift 0, one empty input drifts 1 (for the embedding metrics a
// text of white space alone is empty; the JSON metric has no empty case:
// an empty text is not JSON); embeddings or distributions of
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
//   - numeric ([NumericDrift]): the share of numbers, paired in order, that
//     differ beyond a [Tolerance].
//   - cosine, euclidean, manhattan, chebyshev ([CosineDrift] …): 1 − cos
//     clamped to [0, 1], and each norm of a−b divided by the sum of the
//     same norms of a and b, which the triangle inequality keeps in [0, 1].
//   - distributions ([JSDrift]): Jensen–Shannon divergence / ln 2 of the
//     normalised inputs; negative weights are refused.
//
// # Profiles
//
// A [Profile] is a metric and a threshold: two answers agree when their
// drift is at most the threshold. The original's profiles are [General]
// (cosine 0.3), [Carbon] (euclidean 0.15), [Financial] (chebyshev 0.10),
// [Medical] (manhattan 0.20), [Strict] (euclidean 0.05) and [Lenient]
// (cosine 0.5); the embedding ones need an [agentos.Embedder] (for example
// models/glove's, offline). This package adds [CodeProfile] (code 0.25),
// [JSONProfile] (json 0, the same shape) and [LexicalProfile] (lexical
// 0.3). [ProfileByName] finds them by name.
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
// ("the drug is safe" and "the drug is not safe" are lexically close); use
// an embedding profile, or the structural and numeric metrics, where that
// matters, and know that bag-of-words embeddings lose negation too. The
// lexical, sequence and code metrics cost time quadratic in the input and
// refuse inputs over [MaxSequence] elements ([ErrTooLarge]). A Monitor
// bounds its keys by evicting the least recently observed one, whose next
// observation becomes a new baseline: size [WithMaxKeys] above the number
// of live (agent, task) pairs, or an agent that floods keys can reset its
// own baseline.
package cmvk
