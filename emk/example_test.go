//go:build cgo

package emk_test

import (
	"context"
	"fmt"
	"time"

	"github.com/agent-os/agentos/emk"
	"github.com/agent-os/agentos/models/glove"
)

// An agent records what it did and asks, before acting again, what went
// wrong last time it did something similar.
func Example() {
	ctx := context.Background()
	g, err := glove.New() // offline embeddings: no network, deterministic
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mem, err := emk.Open("", emk.WithEmbedder(g.Embed), emk.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	defer mem.Close()

	for _, e := range []emk.Episode{
		{Goal: "deploy the web server", Action: "kubectl apply with the latest image tag", Outcome: emk.OutcomeFailure,
			Result: "pods crashed in a loop", Reflection: "pin the image version before deploying"},
		{Goal: "deploy the web server", Action: "helm upgrade with a pinned tag", Outcome: emk.OutcomeSuccess,
			Result: "rolled out in two minutes"},
		{Goal: "book a flight to Paris", Action: "paid with the corporate card", Outcome: emk.OutcomeFailure,
			Result: "the card was declined", Reflection: "ask finance to raise the limit first"},
		{Goal: "cook pasta for dinner", Action: "boiled the water without salt", Outcome: emk.OutcomeFailure,
			Result: "bland food", Reflection: "salt the water"},
	} {
		e.Agent = "ops-bot"
		if _, err := mem.Append(ctx, e); err != nil {
			panic(err)
		}
	}

	// "What went wrong last time I released the website?"
	fails, err := mem.Failures(ctx, "ops-bot", "release a new version of the website", 1)
	if err != nil {
		panic(err)
	}
	for _, f := range fails {
		fmt.Printf("%s: %s -> %s\nlesson: %s\n", f.Episode.Goal, f.Episode.Action, f.Episode.Result, f.Episode.Reflection)
	}
	// Output:
	// deploy the web server: kubectl apply with the latest image tag -> pods crashed in a loop
	// lesson: pin the image version before deploying
}

// Old episodes are distilled into facts; the originals stay.
func ExampleStore_Sleep() {
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	mem, err := emk.Open("", emk.WithClock(func() time.Time { return now }))
	if err != nil {
		panic(err)
	}
	defer mem.Close()
	for i, o := range []emk.Outcome{emk.OutcomeFailure, emk.OutcomeFailure, emk.OutcomeSuccess} {
		_, err := mem.Append(ctx, emk.Episode{Agent: "ops-bot", Goal: "renew the TLS certificate", Action: "certbot renew",
			Outcome: o, Reflection: "open port 80 first", Time: now.AddDate(0, -3, i)})
		if err != nil {
			panic(err)
		}
	}
	rep, err := mem.Sleep(ctx, emk.SleepOptions{})
	if err != nil {
		panic(err)
	}
	n, _ := mem.Count(ctx, "ops-bot")
	fmt.Println(rep.Groups, "fact from", rep.Compressed, "episodes;", n, "episodes stored")
	fmt.Println(rep.Facts[0].Result)
	// Output:
	// 1 fact from 3 episodes; 4 episodes stored
	// 3 episodes of "renew the TLS certificate" from 2026-09-01 to 2026-09-03: 1 success, 2 failure.
	// Actions: "certbot renew" ×3.
	// Reflections: "open port 80 first" ×3.
}
