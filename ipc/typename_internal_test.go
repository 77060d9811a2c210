package ipc

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPkgName(t *testing.T) {
	tests := []struct{ path, want string }{
		{"example.com/x/research", "research"},
		{"example.com/x/research/v2", "research"},
		{"example.com/x/research/v10", "research"},
		{"example.com/x/v1", "v1"},
		{"example.com/x/v0", "v0"},
		{"example.com/x/v2x", "v2x"},
		{"gopkg.in/yaml.v3", "yaml.v3"},
		{"main", "main"},
		{"v2", "v2"},
		{"time", "time"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			assert.Equal(t, tt.want, pkgName(tt.path))
		})
	}
}

func TestQualifyNames(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Box[int]", "Box[int]"},
		{"Box[example.com/x/research.Result]", "Box[research.Result]"},
		{"Pair[*example.com/x/research/v2.Result,map[string][]example.com/y.T]", "Pair[*research.Result,map[string][]y.T]"},
		{"Box[gopkg.in/yaml.v3.Node]", "Box[yaml.v3.Node]"},
		{"func(example.com/a.B) error", "func(a.B) error"},
		{"struct { X example.com/é/ü.Ω }", "struct { X ü.Ω }"},
		{"a/b", "a/b"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, qualifyNames(tt.in))
		})
	}
}

// FuzzQualifyNames checks that rewriting a type's spelling never panics, is
// idempotent, and leaves no import path before a type name.
func FuzzQualifyNames(f *testing.F) {
	for _, s := range []string{
		"Box[example.com/x/research.Result]",
		"Pair[*example.com/x/v2.T,map[string][]a/b.C]",
		"struct { A example.com/p.Q; B func(x/y.Z) }",
		"a/b", "/", "./.", "/v2.T", "\xff/\xfe.x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := qualifyNames(s)
		if twice := qualifyNames(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
		for _, tok := range strings.FieldsFunc(once, func(r rune) bool { return !isNameRune(r) }) {
			if slash := strings.LastIndexByte(tok, '/'); slash >= 0 && strings.Contains(tok[slash:], ".") {
				t.Fatalf("%q -> %q keeps a qualified path in %q", s, once, tok)
			}
		}
	})
}
