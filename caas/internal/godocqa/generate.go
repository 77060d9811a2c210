package godocqa

import (
	"bytes"
	"cmp"
	"fmt"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"hash/fnv"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Packages are the standard-library packages the set is drawn from.
var Packages = []string{
	"bufio", "bytes", "container/heap", "container/list", "context",
	"crypto/rand", "crypto/sha256", "crypto/tls", "encoding/base64",
	"encoding/binary", "encoding/csv", "encoding/hex", "encoding/json",
	"encoding/xml", "errors", "flag", "fmt", "hash/crc32", "io", "io/fs",
	"log/slog", "maps", "math", "math/big", "math/rand/v2", "mime/multipart",
	"net", "net/http", "net/url", "os", "os/exec", "path/filepath", "reflect",
	"regexp", "slices", "sort", "strconv", "strings", "sync", "sync/atomic",
	"text/template", "time", "unicode/utf8",
}

// Sizes of the generated set.
const (
	// NumDocs is the most documents kept: when the packages hold more
	// documented symbols, those with the lowest hashes of their Source are
	// kept.
	NumDocs = 2500
	// NumQueries is how many queries of each kind are drawn, by the same
	// hash, from the symbols that qualify.
	NumQueries = 400
	// MaxTextBytes bounds one document's doc comment: a longer one is cut at
	// the last sentence (or word) that fits.
	MaxTextBytes = 1500
	// maxDeclBytes bounds the declaration printed before the doc comment.
	maxDeclBytes = 300
	// minQueryWords is the fewest words a description query keeps.
	minQueryWords = 4
)

// symbol is a documented exported symbol before selection.
type symbol struct {
	pkg    string // import path
	name   string // "HasPrefix", "Reader.ReadString"
	ident  string // the last name: "HasPrefix", "ReadString"
	decl   string
	doc    string // the doc comment on one line
	first  string // its first sentence ("" when it has only one)
	rest   string // the doc comment after the first sentence
	source string // pkg + "/" + name
	isType bool
}

// Version returns the Go release of the installation at goroot, from its
// VERSION file ("go1.26.8").
func Version(goroot string) (string, error) {
	b, err := os.ReadFile(filepath.Join(goroot, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("godocqa: version of %s: %w", goroot, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if line = strings.TrimSpace(line); line == "" {
		return "", fmt.Errorf("godocqa: version of %s: %w: empty VERSION file", goroot, ErrCorrupt)
	}
	return line, nil
}

// Generate reads the doc comments of [Packages] under goroot/src, as
// compiled for linux/amd64 without cgo, and returns the set: at most
// [NumDocs] documents sorted by Source, and [NumQueries] description
// queries then [NumQueries] identifier queries, each group sorted by
// answer. Deprecated and undocumented symbols are left out. The result
// depends only on the sources read.
func Generate(goroot string) ([]Doc, []Query, error) {
	ctx := build.Default
	ctx.GOROOT = goroot
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", false
	ctx.BuildTags, ctx.ToolTags, ctx.ReleaseTags = nil, nil, build.Default.ReleaseTags
	ctx.GOPATH = ""

	var syms []symbol
	for _, pkg := range slices.Sorted(slices.Values(Packages)) {
		s, err := readPackage(&ctx, filepath.Join(goroot, "src", filepath.FromSlash(pkg)), pkg)
		if err != nil {
			return nil, nil, err
		}
		syms = append(syms, s...)
	}
	if len(syms) == 0 {
		return nil, nil, fmt.Errorf("godocqa: no documented symbols under %s", goroot)
	}
	byHash(syms, "doc")
	if len(syms) > NumDocs {
		syms = syms[:NumDocs]
	}

	descs := describe(syms)
	idents := identify(syms)
	described := make(map[string]bool, len(descs))
	for _, q := range descs {
		described[q.Answer] = true
	}
	docs := make([]Doc, 0, len(syms))
	for _, s := range syms {
		text := s.doc
		if described[s.source] {
			text = s.rest
		}
		docs = append(docs, Doc{Source: s.source, Text: s.decl + "\n" + cut(text, MaxTextBytes)})
	}
	slices.SortFunc(docs, func(a, b Doc) int { return cmp.Compare(a.Source, b.Source) })
	return docs, append(descs, idents...), nil
}

// readPackage returns the documented, non-deprecated exported functions,
// types and methods of the package in dir.
func readPackage(ctx *build.Context, dir, importPath string) ([]symbol, error) {
	bp, err := ctx.ImportDir(dir, 0)
	if err != nil {
		return nil, fmt.Errorf("godocqa: %s: %w", importPath, err)
	}
	fset := token.NewFileSet()
	files := make([]*ast.File, 0, len(bp.GoFiles))
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, fmt.Errorf("godocqa: %s: %w", importPath, err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, importPath)
	if err != nil {
		return nil, fmt.Errorf("godocqa: %s: %w", importPath, err)
	}
	var out []symbol
	add := func(name, ident, decl, comment string) {
		s, ok := newSymbol(p, importPath, name, ident, decl, comment)
		if ok {
			s.isType = strings.HasPrefix(decl, "type ")
			out = append(out, s)
		}
	}
	for _, f := range p.Funcs {
		add(f.Name, f.Name, funcDecl(fset, f.Decl), f.Doc)
	}
	for _, t := range p.Types {
		add(t.Name, t.Name, typeDecl(fset, t), t.Doc)
		for _, f := range t.Funcs {
			add(f.Name, f.Name, funcDecl(fset, f.Decl), f.Doc)
		}
		for _, m := range t.Methods {
			if m.Level > 0 {
				continue // promoted from an embedded type; documented there
			}
			add(t.Name+"."+m.Name, m.Name, funcDecl(fset, m.Decl), m.Doc)
		}
	}
	return out, nil
}

var (
	deprecated = regexp.MustCompile(`(?m)^Deprecated:`)
	// docLink is a doc link, "[Reader]" or "[*bytes.Buffer.Len]", kept as
	// the name it links, as go doc prints it.
	docLink = regexp.MustCompile(`\[(\*?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\]`)
)

func newSymbol(p *doc.Package, importPath, name, ident, decl, comment string) (symbol, bool) {
	if !token.IsExported(ident) || strings.TrimSpace(comment) == "" || deprecated.MatchString(comment) {
		return symbol{}, false
	}
	one := oneLine(docLink.ReplaceAllString(comment, "$1"))
	s := symbol{pkg: importPath, name: name, ident: ident, decl: decl, doc: one, source: importPath + "/" + name}
	if syn := p.Synopsis(one); syn != "" && strings.HasPrefix(one, syn) {
		if rest := strings.TrimSpace(one[len(syn):]); rest != "" {
			s.first, s.rest = syn, rest
		}
	}
	return s, true
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func funcDecl(fset *token.FileSet, d *ast.FuncDecl) string {
	c := *d
	c.Doc, c.Body = nil, nil
	return printNode(fset, &c)
}

func typeDecl(fset *token.FileSet, t *doc.Type) string {
	for _, spec := range t.Decl.Specs {
		ts, ok := spec.(*ast.TypeSpec)
		if !ok || ts.Name.Name != t.Name {
			continue
		}
		c := *ts
		c.Doc, c.Comment = nil, nil
		if _, ok := c.Type.(*ast.StructType); ok {
			return "type " + t.Name + " struct"
		}
		s := "type " + printNode(fset, &c)
		if len(s) > maxDeclBytes {
			if _, ok := c.Type.(*ast.InterfaceType); ok {
				return "type " + t.Name + " interface"
			}
			return cut(s, maxDeclBytes)
		}
		return s
	}
	return "type " + t.Name
}

func printNode(fset *token.FileSet, n any) string {
	var buf bytes.Buffer
	cfg := printer.Config{Mode: printer.RawFormat}
	if err := cfg.Fprint(&buf, fset, n); err != nil {
		return fmt.Sprintf("<%v>", err) // unreachable for nodes parsed from valid files
	}
	return oneLine(buf.String())
}

// cut returns s if it fits in max bytes, else its longest prefix that ends
// a sentence (". ") or, failing that, a word, and fits.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	if i := strings.LastIndex(s, ". "); i > max/2 {
		return s[:i+1]
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		return s[:i]
	}
	return strings.ToValidUTF8(s, "")
}

// hash64 is the selection order: FNV-1a of a salt and the source, stable
// across Go releases.
func hash64(salt, source string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(source))
	return h.Sum64()
}

func byHash(syms []symbol, salt string) {
	slices.SortStableFunc(syms, func(a, b symbol) int {
		return cmp.Or(cmp.Compare(hash64(salt, a.source), hash64(salt, b.source)), cmp.Compare(a.source, b.source))
	})
}

// describe returns the description queries: the first sentence of a
// symbol's doc comment with its names removed, for symbols whose comment
// has a second sentence, whose query keeps minQueryWords words and is not
// also another symbol's.
func describe(syms []symbol) []Query {
	count := map[string]int{}
	texts := make([]string, len(syms))
	for i, s := range syms {
		if s.first == "" {
			continue
		}
		texts[i] = stripNames(s.first, s)
		count[strings.ToLower(texts[i])]++
	}
	cand := make([]symbol, 0, len(syms))
	text := map[string]string{}
	for i, s := range syms {
		t := texts[i]
		if t == "" || count[strings.ToLower(t)] > 1 || len(strings.Fields(t)) < minQueryWords {
			continue
		}
		cand = append(cand, s)
		text[s.source] = t
	}
	byHash(cand, "description")
	cand = cand[:min(len(cand), NumQueries)]
	qs := make([]Query, 0, len(cand))
	for _, s := range cand {
		qs = append(qs, Query{Text: text[s.source], Kind: KindDescription, Answer: s.source})
	}
	slices.SortFunc(qs, func(a, b Query) int { return cmp.Compare(a.Answer, b.Answer) })
	return qs
}

// stripNames removes from a first sentence the symbol's name (with a
// leading article, or qualified by its package or type) and the package's
// name, and the full stop.
func stripNames(sentence string, s symbol) string {
	pkgName := packageName(s.pkg)
	names := []string{regexp.QuoteMeta(s.ident)}
	if s.name != s.ident {
		names = append(names, regexp.QuoteMeta(s.name))
	}
	alt := strings.Join(names, "|")
	re := regexp.MustCompile(`^(?:(?:An?|The) )?(?:` + alt + `)\b|\b(?:\*?` + regexp.QuoteMeta(pkgName) + `\.)?(?:` + alt + `)\b|\b` + regexp.QuoteMeta(pkgName) + `\b`)
	t := re.ReplaceAllString(sentence, "")
	t = oneLine(t)
	t = strings.TrimLeft(t, " ,;:")
	t = strings.TrimRight(t, " .")
	return t
}

// identify returns the identifier queries: a question naming a symbol in
// code form, the name unambiguous among syms (qualified by the package's
// name when the bare name is not).
func identify(syms []symbol) []Query {
	bare := map[string]int{}
	qualified := map[string]int{}
	for _, s := range syms {
		bare[s.name]++
		qualified[qualify(s)]++
	}
	cand := make([]symbol, 0, len(syms))
	for _, s := range syms {
		if qualified[qualify(s)] == 1 {
			cand = append(cand, s)
		}
	}
	byHash(cand, "identifier")
	cand = cand[:min(len(cand), NumQueries)]
	qs := make([]Query, 0, len(cand))
	for _, s := range cand {
		h := hash64("template", s.source)
		name := qualify(s)
		if bare[s.name] == 1 && h%2 == 0 {
			name = s.name
		}
		var text string
		switch h / 2 % 4 {
		case 0:
			text = "how do I use " + name
		case 1:
			text = "what does " + name + " do"
		case 2:
			text = name + " example"
		default:
			if s.isType {
				text = "what is " + name
			} else {
				text = "when should I call " + name
			}
		}
		qs = append(qs, Query{Text: text, Kind: KindIdentifier, Answer: s.source})
	}
	slices.SortFunc(qs, func(a, b Query) int { return cmp.Compare(a.Answer, b.Answer) })
	return qs
}

// qualify names s as code does: "strings.NewReplacer", "bufio.Reader.ReadString".
func qualify(s symbol) string {
	return packageName(s.pkg) + "." + s.name
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// packageName returns the name code uses for importPath: its last element,
// or the one before a major version ("math/rand/v2" is rand).
func packageName(importPath string) string {
	if base := path.Base(importPath); !majorVersion.MatchString(base) {
		return base
	}
	return path.Base(path.Dir(importPath))
}
