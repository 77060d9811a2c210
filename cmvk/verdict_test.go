package cmvk

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/models/glove"
)

func ans(name, text string) Answer {
	return Answer{Name: name, Completion: agentos.Completion{Text: text}}
}

func failed(name string, err error) Answer { return Answer{Name: name, Err: err} }

func TestVerify(t *testing.T) {
	boom := errors.New("down")
	paris := "The capital of France is Paris."
	for _, tc := range []struct {
		name       string
		answers    Answers
		profile    Profile
		agree      bool
		rep        string
		majority   []string
		dissenters []string
		failed     []string
		confidence float64 // checked when >= 0
	}{
		{name: "none", profile: LexicalProfile, confidence: 0},
		{name: "one", answers: Answers{ans("a", paris)}, profile: LexicalProfile, rep: "a", majority: []string{"a"}, confidence: 0},
		{name: "unanimous", answers: Answers{ans("a", paris), ans("b", paris), ans("c", paris)}, profile: LexicalProfile,
			agree: true, rep: "a", majority: []string{"a", "b", "c"}, confidence: 1},
		{name: "two of three", answers: Answers{ans("a", paris), ans("b", "Lyon, obviously!"), ans("c", paris)}, profile: LexicalProfile,
			agree: true, rep: "a", majority: []string{"a", "c"}, dissenters: []string{"b"}, confidence: 2.0 / 3},
		{name: "tie two against two", answers: Answers{ans("a", "alpha beta"), ans("b", "alpha beta"), ans("c", "gamma delta"), ans("d", "gamma delta")},
			profile: LexicalProfile, rep: "a", majority: []string{"a", "b"}, dissenters: []string{"c", "d"}, confidence: 0.5},
		{name: "failures count against", answers: Answers{ans("a", paris), ans("b", paris), failed("c", boom), failed("d", boom)},
			profile: LexicalProfile, rep: "a", majority: []string{"a", "b"}, failed: []string{"c", "d"}, confidence: 0.5},
		{name: "quorum-cancelled not counted", answers: Answers{ans("a", paris), failed("q", ErrQuorum), ans("b", paris)},
			profile: LexicalProfile, agree: true, rep: "a", majority: []string{"a", "b"}, confidence: 1},
		{name: "all failed", answers: Answers{failed("a", boom), failed("b", boom)}, profile: LexicalProfile, failed: []string{"a", "b"}, confidence: 0},
		{name: "json with a non-JSON answer", answers: Answers{ans("a", `{"x":1}`), ans("b", "```json\n{ \"x\": 1.0 }\n```"), ans("c", `x = 1`)},
			profile: JSONProfile, agree: true, rep: "a", majority: []string{"a", "b"}, dissenters: []string{"c"}, confidence: 2.0 / 3},
		{name: "representative is the closest", answers: Answers{ans("a", "1 2 3 4"), ans("b", "1 2 3 5"), ans("c", "1 2 3 4")},
			profile: Profile{Name: "n", Metric: Numeric, Threshold: 0.3}, agree: true, rep: "a", majority: []string{"a", "b", "c"}, confidence: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Verify(context.Background(), tc.answers, tc.profile, VerifyOptions{})
			require.NoError(t, err)
			require.Equal(t, tc.agree, v.Agree, v.Reason)
			require.NotEmpty(t, v.Reason)
			require.Equal(t, tc.rep, v.Representative)
			require.Equal(t, tc.majority, v.Majority)
			require.Equal(t, tc.dissenters, v.Dissenters)
			require.Equal(t, tc.failed, v.Failed)
			if tc.confidence >= 0 {
				require.InDelta(t, tc.confidence, v.Confidence, 1e-9)
			}
			require.True(t, v.Drift >= 0 && v.Drift <= 1)
			ok := len(tc.answers.OK())
			require.Len(t, v.Pairs, ok*(ok-1)/2)
		})
	}
}

func TestVerifyPairsAndDrift(t *testing.T) {
	v, err := Verify(context.Background(), Answers{ans("a", `{"x":1}`), ans("b", `nope`)}, JSONProfile, VerifyOptions{})
	require.NoError(t, err)
	require.Len(t, v.Pairs, 1)
	require.ErrorIs(t, v.Pairs[0].Err, ErrNotJSON)
	require.Equal(t, Pair{A: "a", B: "b", Drift: 1, Confidence: 0, Err: v.Pairs[0].Err}, v.Pairs[0])
	require.Equal(t, 1.0, v.Drift)
	require.False(t, v.Agree)
}

func TestVerifyEmbedding(t *testing.T) {
	g, err := glove.New()
	require.NoError(t, err)
	as := Answers{
		ans("a", "The car is fast and red."),
		ans("b", "The automobile is quick and red."),
		ans("c", "Bananas are a good source of potassium."),
	}
	v, err := Verify(context.Background(), as, General, VerifyOptions{Embedder: g.Embed})
	require.NoError(t, err)
	require.True(t, v.Agree, v.Reason)
	require.Equal(t, []string{"a", "b"}, v.Majority)
	require.Equal(t, []string{"c"}, v.Dissenters)

	_, err = Verify(context.Background(), as, General, VerifyOptions{})
	require.ErrorIs(t, err, ErrNoEmbedder)
	boom := errors.New("embedder down")
	_, err = Verify(context.Background(), as, General, VerifyOptions{Embedder: func(context.Context, string) ([]float32, error) { return nil, boom }})
	require.ErrorIs(t, err, boom)
	_, err = Verify(context.Background(), as, Profile{Metric: "x"}, VerifyOptions{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Verify(ctx, as, General, VerifyOptions{Embedder: g.Embed})
	require.ErrorIs(t, err, context.Canceled)
	_, err = Verify(context.Background(), make(Answers, MaxModels+1), LexicalProfile, VerifyOptions{})
	require.ErrorIs(t, err, agentos.ErrInvalid)
}

// A blank answer under an embedding profile is an empty answer, not an
// embedder failure that stops the other answers being verified.
func TestVerifyBlankAnswerEmbedding(t *testing.T) {
	g, err := glove.New()
	require.NoError(t, err)
	ctx := context.Background()
	as := Answers{
		ans("a", "The car is fast and red."),
		ans("b", "The automobile is quick and red."),
		ans("c", " \n\t"),
	}
	v, err := Verify(ctx, as, General, VerifyOptions{Embedder: g.Embed})
	require.NoError(t, err)
	require.True(t, v.Agree, v.Reason)
	require.Equal(t, []string{"a", "b"}, v.Majority)
	require.Equal(t, []string{"c"}, v.Dissenters)
	require.Equal(t, 1.0, v.Pairs[1].Drift, "a vs the blank answer")

	refuse := func(_ context.Context, s string) ([]float32, error) {
		if strings.TrimSpace(s) == "" {
			return nil, errors.New("nothing to embed")
		}
		return []float32{1, 0}, nil
	}
	for _, tc := range []struct {
		a, b string
		want Score
	}{
		{"  ", "", identical},
		{"\n", " \t", identical},
		{" ", "Paris", disjoint},
		{"Paris", "\n", disjoint},
		{"Paris", "Paris", identical},
	} {
		s, err := Compare(ctx, Cosine, tc.a, tc.b, refuse)
		require.NoError(t, err, "%q vs %q", tc.a, tc.b)
		require.Equal(t, tc.want, s, "%q vs %q", tc.a, tc.b)
	}
}
