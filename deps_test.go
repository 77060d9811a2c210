package agentos_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/agent-os/agentos"

// layers is the table of docs/ARCHITECTURE.md: the layer of each top-level package of
// the module. Subpackages (amb/natsbus, vfs/vfstest, …) belong to the layer
// of their top-level package. internal/… is shared plumbing at layer 0.
var layers = map[string]int{
	"":         0,
	"internal": 0,
	"policy":   1, "recorder": 1, "signals": 1, "vfs": 1, "ipc": 1, "bpf": 1,
	"cmvk": 1, "caas": 1, "emk": 1,
	"iatp": 2, "amb": 2, "atr": 2,
	"kernel": 3,
	"scak":   4, "mute": 4,
	"models": 0,
}

// unrestricted top-level directories may import anything.
var unrestricted = map[string]bool{"examples": true, "cmd": true, "attack": true}

func topOf(pkg string) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
	top, _, _ := strings.Cut(rel, "/")
	return top
}

// allowed reports whether package from may import package to, both inside
// the module.
func allowed(from, to string) bool {
	ft, tt := topOf(from), topOf(to)
	if unrestricted[ft] {
		return true
	}
	if ft == tt {
		return true // a package and its own subpackages (adapters, test kits)
	}
	fl, ok1 := layers[ft]
	tl, ok2 := layers[tt]
	if !ok1 || !ok2 {
		return false
	}
	if tl == 0 {
		return true
	}
	// Strictly downward: a layer imports only layers below it, never a
	// sibling of its own layer.
	return tl < fl
}

func TestLayering(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p struct {
			ImportPath   string
			Imports      []string
			TestImports  []string
			XTestImports []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		checked++
		top := topOf(p.ImportPath)
		if _, ok := layers[top]; !ok && !unrestricted[top] {
			t.Errorf("package %s is not in the layer table of docs/ARCHITECTURE.md (add it to deps_test.go)", p.ImportPath)
			continue
		}
		check := func(imports []string, what string) {
			for _, imp := range imports {
				if imp != module && !strings.HasPrefix(imp, module+"/") {
					continue
				}
				if !allowed(p.ImportPath, imp) {
					t.Errorf("%s %s %s: imports out of its layer (see docs/ARCHITECTURE.md)", p.ImportPath, what, imp)
				}
			}
		}
		check(p.Imports, "imports")
		// Tests may use test kits and the kernel from below only through
		// external test packages that sit in unrestricted places; keep them
		// to the same rule so that layering also holds for test code.
		check(p.TestImports, "(test) imports")
		check(p.XTestImports, "(external test) imports")
	}
	if checked == 0 {
		t.Fatal("go list returned no packages")
	}
}

func TestAllowed(t *testing.T) {
	m := module + "/"
	cases := []struct {
		from, to string
		want     bool
	}{
		{m + "policy", module, true},
		{m + "policy", m + "recorder", false},
		{m + "kernel", m + "policy", true},
		{m + "policy", m + "kernel", false},
		{m + "amb/natsbus", m + "amb", true},
		{m + "amb", m + "iatp", false},
		{m + "kernel/kerneltest", m + "kernel", true},
		{m + "scak", m + "kernel", true},
		{m + "examples/quickstart", m + "kernel", true},
		{m + "vfs/vfstest", m + "vfs", true},
		{m + "recorder", m + "internal/canon", true},
		{m + "unknown", m + "policy", false},
	}
	for _, c := range cases {
		if got := allowed(c.from, c.to); got != c.want {
			t.Errorf("allowed(%s, %s) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}
