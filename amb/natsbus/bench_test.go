package natsbus_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/agent-os/agentos/amb"
	"github.com/agent-os/agentos/amb/natsbus"
	"github.com/agent-os/agentos/amb/natsbus/natstest"
)

// BenchmarkPublish measures, against one embedded server in the same run:
// core NATS publish (fire and forget, flushed at the end: the baseline),
// a raw JetStream publish waiting for its ack, and natsbus Publish (which
// validates, encodes and waits for the ack), on file and memory storage.
func BenchmarkPublish(b *testing.B) {
	srv := natstest.Start(b, natstest.Options{})
	ctx := context.Background()
	payload := make([]byte, 128)

	b.Run("core-nats", func(b *testing.B) {
		nc, err := nats.Connect(srv.URL())
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := nc.Publish("bench.core", payload); err != nil {
				b.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			b.Fatal(err)
		}
	})
	for _, mem := range []bool{false, true} {
		storage := "file"
		if mem {
			storage = "memory"
		}
		b.Run("jetstream-raw/"+storage, func(b *testing.B) {
			nc, err := nats.Connect(srv.URL())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			st := jetstream.FileStorage
			if mem {
				st = jetstream.MemoryStorage
			}
			name := "RAW" + storage
			if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: st}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := js.Publish(ctx, name+".x", payload); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("natsbus/"+storage, func(b *testing.B) {
			name := "BUS" + storage
			bus, err := natsbus.Connect(ctx, srv.URL(), &natsbus.Options{Stream: name, Prefix: name, MemoryStorage: mem})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			b.ReportAllocs()
			for b.Loop() {
				if err := bus.Publish(ctx, "bench.topic", amb.Message{Payload: payload}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
