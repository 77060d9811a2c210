package vfs_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agent-os/agentos"
	"github.com/agent-os/agentos/vfs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostilePaths is the table of paths an agent might try. want is the cleaned
// path, or "" when Clean must refuse the path with agentos.ErrInvalid.
var hostilePaths = []struct {
	name, path, want string
}{
	// Accepted, canonical or made canonical.
	{"root", "/", "/"},
	{"plain", "/mem/working/a", "/mem/working/a"},
	{"double slash", "/mem//working/a", "/mem/working/a"},
	{"trailing slash", "/mem/working/a/", "/mem/working/a"},
	{"dot component", "/mem/./working/a", "/mem/working/a"},
	{"only slashes", "///", "/"},
	{"slash dot", "/.", "/"},
	{"dot slash dot", "/./././", "/"},
	{"three dots is a name", "/mem/working/...", "/mem/working/..."},
	{"hidden file", "/mem/working/.hidden", "/mem/working/.hidden"},
	{"dots inside a name", "/mem/working/a..b", "/mem/working/a..b"},
	{"dot-dot prefix in a name", "/mem/working/..a", "/mem/working/..a"},
	{"unicode name", "/mem/working/日本語", "/mem/working/日本語"},
	{"space in a name", "/mem/working/a b", "/mem/working/a b"},
	{"percent encoding is not decoded", "/mem/working/%2e%2e/%2f", "/mem/working/%2e%2e/%2f"},
	{"prefix confusion is Clean's business only as a name", "/policyX/a", "/policyX/a"},
	{"replacement character is a character", "/mem/working/\ufffd", "/mem/working/\ufffd"},
	{"fullwidth letters are just letters", "/mem/working/ｐｏｌｉｃｙ", "/mem/working/ｐｏｌｉｃｙ"},
	{"longest component", "/" + strings.Repeat("a", vfs.MaxNameLen), "/" + strings.Repeat("a", vfs.MaxNameLen)},
	{"deepest path", strings.Repeat("/a", vfs.MaxComponents), strings.Repeat("/a", vfs.MaxComponents)},
	{"empty components do not count", strings.Repeat("/a", vfs.MaxComponents) + "//", strings.Repeat("/a", vfs.MaxComponents)},

	// Refused.
	{"empty", "", ""},
	{"relative", "mem/working/a", ""},
	{"dot relative", "./mem/working/a", ""},
	{"dot-dot relative", "../etc/passwd", ""},
	{"root dot-dot", "/..", ""},
	{"escape from root", "/../etc/passwd", ""},
	{"escape from mount", "/mem/working/../../etc/passwd", ""},
	{"dot-dot staying inside", "/mem/working/a/../b", ""},
	{"trailing dot-dot", "/mem/working/..", ""},
	{"dot-dot after double slash", "//../x", ""},
	{"dot-dot into policy", "/mem/working/../../policy/p.yaml", ""},
	{"NUL inside", "/mem/working/a\x00b", ""},
	{"NUL alone", "/mem/working/\x00", ""},
	{"NUL before prefix", "/\x00/policy", ""},
	{"NUL truncation trick", "/mem/working/a.txt\x00.yaml", ""},
	{"newline", "/mem/working/a\nb", ""},
	{"carriage return", "/mem/working/a\rb", ""},
	{"tab", "/mem/working/a\tb", ""},
	{"escape sequence", "/mem/working/\x1b[31mred", ""},
	{"DEL", "/mem/working/a\x7f", ""},
	{"C1 next line", "/mem/working/\u0085", ""},
	{"right-to-left override", "/mem/working/txt.\u202eexe", ""},
	{"left-to-right isolate", "/mem/working/a\u2066b", ""},
	{"zero-width space", "/mem/working/a\u200bb", ""},
	{"zero-width joiner in prefix", "/pol\u200dicy/p.yaml", ""},
	{"byte-order mark", "/mem/working/\ufeff", ""},
	{"soft hyphen", "/mem/working/pol\u00adicy", ""},
	{"tag character", "/mem/working/\U000e0001", ""},
	{"line separator", "/mem/working/\u2028", ""},
	{"paragraph separator", "/mem/working/\u2029", ""},
	{"noncharacter", "/mem/working/\ufffe", ""},
	{"invalid UTF-8 byte", "/mem/working/\xff", ""},
	{"overlong slash", "/mem/working/\xc0\xaf", ""},
	{"overlong dot-dot", "/mem/working/\xc0\xae\xc0\xae/x", ""},
	{"UTF-16 surrogate", "/mem/working/\xed\xa0\x80", ""},
	{"truncated sequence", "/mem/working/\xe6\x97", ""},
	{"backslash", "/mem/working/a\\b", ""},
	{"backslash separators", "\\mem\\working", ""},
	{"backslash dot-dot", "/mem/working/..\\..\\policy", ""},
	{"drive letter", "C:\\Windows", ""},
	{"leading space", " /mem/working/a", ""},
	{"URL", "file:///etc/passwd", ""},
	{"too long", strings.Repeat("/a", vfs.MaxPathLen/2+1), ""},
	{"component too long", "/" + strings.Repeat("a", vfs.MaxNameLen+1), ""},
	{"too deep", strings.Repeat("/a", vfs.MaxComponents+1), ""},
	{"too long before cleaning", "/a" + strings.Repeat("/", vfs.MaxPathLen), ""},
}

func TestCleanHostilePaths(t *testing.T) {
	require.GreaterOrEqual(t, len(hostilePaths), 50)
	for _, c := range hostilePaths {
		t.Run(c.name, func(t *testing.T) {
			got, err := vfs.Clean(c.path)
			if c.want != "" {
				require.NoError(t, err)
				assert.Equal(t, c.want, got)
				return
			}
			require.Error(t, err, "accepted as %q", got)
			assert.ErrorIs(t, err, agentos.ErrInvalid)
			assert.ErrorIs(t, err, fs.ErrInvalid)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, "clean", pe.Op)
			// The error is safe to print: no raw control bytes or invalid UTF-8.
			msg := err.Error()
			assert.True(t, utf8.ValidString(msg), "%q", msg)
			assert.NotContains(t, msg, "\x00")
			assert.NotContains(t, msg, "\n")
			assert.LessOrEqual(t, len(pe.Path), 3*200, "path in the error is shortened")
		})
	}
}

// TestNamespaceRefusesHostilePaths runs every refused path of the table
// through every namespace operation: each fails with ErrInvalid and nothing
// changes.
func TestNamespaceRefusesHostilePaths(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	before := f.Usage()
	for _, c := range hostilePaths {
		if c.want != "" {
			continue
		}
		for op, call := range map[agentos.Op]func() error{
			agentos.OpRead:   func() error { _, err := f.Read(ctx, c.path); return err },
			agentos.OpWrite:  func() error { return f.Write(ctx, c.path, []byte("x")) },
			agentos.OpAppend: func() error { return f.Append(ctx, c.path, []byte("x")) },
			agentos.OpStat:   func() error { _, err := f.Stat(ctx, c.path); return err },
			agentos.OpList:   func() error { _, err := f.List(ctx, c.path); return err },
			agentos.OpDelete: func() error { return f.Delete(ctx, c.path) },
			agentos.OpSearch: func() error { _, err := f.Search(ctx, c.path, vfs.Query{Text: "x", K: 1}); return err },
		} {
			err := call()
			require.ErrorIs(t, err, agentos.ErrInvalid, "%s %s", op, c.name)
			var pe *fs.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, string(op), pe.Op)
		}
	}
	assert.Equal(t, before, f.Usage())
}

// TestMountPrefixConfusion: resolution matches whole components only.
func TestMountPrefixConfusion(t *testing.T) {
	f := newAgentFS(t)
	ctx := t.Context()
	require.NoError(t, f.Write(ctx, "/mem/working/a", []byte("a")))
	for _, p := range []string{
		"/policyX", "/policyX/p.yaml", "/policy.yaml", "/polic", "/Policy/p.yaml", "/POLICY",
		"/mem/workingX/a", "/mem/working2/a", "/mem/work", "/memX/working/a", "/state2/x",
		"/statecheckpoints", "/mem/semantic/x", "/nope", "/mem/working-a",
	} {
		_, err := f.Read(ctx, p)
		assert.ErrorIs(t, err, agentos.ErrNotFound, p)
		assert.ErrorIs(t, err, fs.ErrNotExist, p)
		err = f.Write(ctx, p, []byte("x"))
		assert.ErrorIs(t, err, agentos.ErrNotFound, "write %s", p)
	}
	data, err := f.Read(ctx, "/mem/working/a")
	require.NoError(t, err)
	assert.Equal(t, "a", string(data))
}

func FuzzClean(f *testing.F) {
	for _, c := range hostilePaths {
		f.Add(c.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out, err := vfs.Clean(p)
		if err != nil {
			if !errors.Is(err, agentos.ErrInvalid) {
				t.Fatalf("Clean(%q) error %v does not wrap ErrInvalid", p, err)
			}
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("Clean(%q) = %q, not absolute", p, out)
		}
		if len(out) > len(p) {
			t.Fatalf("Clean(%q) = %q grew", p, out)
		}
		for comp := range strings.SplitSeq(out[1:], "/") {
			if comp == ".." || comp == "." || (comp == "" && out != "/") {
				t.Fatalf("Clean(%q) = %q has component %q", p, out, comp)
			}
		}
		if !utf8.ValidString(out) || strings.ContainsAny(out, "\x00\\") {
			t.Fatalf("Clean(%q) = %q holds a refused character", p, out)
		}
		again, err := vfs.Clean(out)
		if err != nil || again != out {
			t.Fatalf("Clean not idempotent: Clean(%q) = %q, Clean of that = %q, %v", p, out, again, err)
		}
		if out != "/" && !vfs.ValidName(out[1:]) {
			t.Fatalf("Clean(%q) = %q whose name is not valid", p, out)
		}
	})
}
