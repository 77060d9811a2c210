package caas

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/agent-os/agentos"
	"github.com/stretchr/testify/require"
)

// TestWriteLoadSeed regenerates the seed of FuzzLoad (an uncompressed
// export of a small collection, so that mutations reach the gob decoder
// rather than break a gzip checksum) when run with -update-seed.
func TestWriteLoadSeed(t *testing.T) {
	if os.Getenv("CAAS_UPDATE_SEED") == "" {
		t.Skip("set CAAS_UPDATE_SEED=1 to rewrite testdata/load-seed.gob")
	}
	s, err := New(hashEmbed)
	require.NoError(t, err)
	c, err := s.Collection(context.Background(), "seed")
	require.NoError(t, err)
	_, err = c.Ingest(context.Background(), Document{Source: "a.md", Text: "# T\n\nbody text", Meta: map[string]string{"k": "v"}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, c.db.ExportToWriter(&buf, false, ""))
	require.NoError(t, os.WriteFile(filepath.Join("testdata", "load-seed.gob"), buf.Bytes(), 0o644))
}

// FuzzLoad feeds arbitrary bytes to the collection file decoder: it must
// load a consistent collection or fail with an error wrapping
// agentos.ErrInvalid, never panic.
func FuzzLoad(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "load-seed.gob"))
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{0x1f, 0x8b})
	f.Add([]byte("not a collection"))
	s, err := New(hashEmbed)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := decodeCollection(s, "fuzz", "fuzz-input", bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		ctx := context.Background()
		u := Usage{}
		for _, si := range c.Sources("") {
			d, err := c.Document(ctx, si.Source)
			require.NoError(t, err)
			cs := c.sources[si.Source].chunks
			checkLoaded(t, d, cs)
			u.Documents++
			u.Vectors += si.Chunks
			u.Bytes += si.Bytes
		}
		require.Equal(t, u, c.Usage())
		if u.Vectors > 0 {
			_, err = c.Search(ctx, Query{Text: "body", K: 3})
			require.NoError(t, err)
		}
	})
}

func checkLoaded(t *testing.T, d Document, cs []Chunk) {
	for _, ch := range cs {
		require.Equal(t, d.Text[ch.Start:ch.End], ch.Text)
		require.Equal(t, d.Source, ch.Source)
	}
}
