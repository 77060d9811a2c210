package mcp_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/kernel/mcp"
)

func TestPinsRoundTrip(t *testing.T) {
	p := mcp.NewPins()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, p.Set("github.create_issue", mcp.Pin{Digest: [32]byte{1, 2, 3}, ApprovedAt: at, By: "operator"}))
	require.NoError(t, p.Set("github.search", mcp.Pin{Digest: [32]byte{9}, ApprovedAt: at}))
	path := filepath.Join(t.TempDir(), "pins.json")
	require.NoError(t, p.SaveFile(path))
	back, err := mcp.LoadPinsFile(path)
	require.NoError(t, err)
	require.Equal(t, p.Names(), back.Names())
	pin, ok := back.Get("github.create_issue")
	require.True(t, ok)
	require.Equal(t, mcp.Pin{Digest: [32]byte{1, 2, 3}, ApprovedAt: at, By: "operator"}, pin)
	back.Delete("github.search")
	_, ok = back.Get("github.search")
	require.False(t, ok)

	empty, err := mcp.LoadPinsFile(filepath.Join(t.TempDir(), "missing.json"))
	require.NoError(t, err)
	require.Empty(t, empty.Names())
}

func TestLoadPinsRefuses(t *testing.T) {
	const hex64 = "0102030000000000000000000000000000000000000000000000000000000000"
	for name, in := range map[string]string{
		"not JSON":        `{`,
		"wrong version":   `{"version":2,"pins":{}}`,
		"unknown field":   `{"version":1,"pins":{},"extra":1}`,
		"short digest":    `{"version":1,"pins":{"a":{"sha256":"0102","approvedAt":"2026-01-01T00:00:00Z"}}}`,
		"not hex":         `{"version":1,"pins":{"a":{"sha256":"` + strings.Repeat("zz", 32) + `","approvedAt":"2026-01-01T00:00:00Z"}}}`,
		"empty name":      `{"version":1,"pins":{"":{"sha256":"` + hex64 + `","approvedAt":"2026-01-01T00:00:00Z"}}}`,
		"trailing data":   `{"version":1,"pins":{}} {}`,
		"too large":       `{"version":1,"pins":{}}` + strings.Repeat(" ", mcp.MaxPinFileBytes),
		"unknown pin key": `{"version":1,"pins":{"a":{"sha256":"` + hex64 + `","approvedAt":"2026-01-01T00:00:00Z","x":1}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := mcp.LoadPins(strings.NewReader(in))
			require.ErrorIs(t, err, mcp.ErrPins)
			require.ErrorIs(t, err, agentos.ErrInvalid)
		})
	}
	p := mcp.NewPins()
	require.ErrorIs(t, p.Set("", mcp.Pin{}), mcp.ErrPins)
	require.ErrorIs(t, p.Set("a", mcp.Pin{By: strings.Repeat("x", 300)}), mcp.ErrPins)
}

func FuzzLoadPins(f *testing.F) {
	f.Add([]byte(`{"version":1,"pins":{"up.search":{"sha256":"0102030000000000000000000000000000000000000000000000000000000000","approvedAt":"2026-01-01T00:00:00Z","by":"operator"}}}`))
	f.Add([]byte(`{"version":1,"pins":{}}`))
	f.Add([]byte(`{"version":1,"pins":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := mcp.LoadPins(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, mcp.ErrPins) {
				t.Fatalf("error %v does not wrap ErrPins", err)
			}
			return
		}
		// What loads saves, and loads again to the same store.
		var buf bytes.Buffer
		if err := p.Save(&buf); err != nil {
			t.Fatal(err)
		}
		q, err := mcp.LoadPins(&buf)
		if err != nil {
			t.Fatalf("reloading saved pins: %v", err)
		}
		if strings.Join(p.Names(), "\n") != strings.Join(q.Names(), "\n") {
			t.Fatal("names changed")
		}
		for _, n := range p.Names() {
			a, _ := p.Get(n)
			b, _ := q.Get(n)
			if a.Digest != b.Digest || a.By != b.By || !a.ApprovedAt.Equal(b.ApprovedAt) {
				t.Fatalf("pin %q changed: %+v %+v", n, a, b)
			}
		}
	})
}
