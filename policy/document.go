package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agent-os/agentos"
	"go.yaml.in/yaml/v3"
)

// APIVersion and Kind are the only apiVersion and kind a policy document
// may declare.
const (
	APIVersion = "agentos/v1"
	Kind       = "Policy"
)

// Bounds on what a document may hold. Larger input is refused at load.
const (
	MaxSourceSize       = 1 << 20 // bytes in one file or document
	MaxRules            = 10000   // rules in one document
	MaxVariables        = 256     // variables in one document
	MaxExpressionLength = 16384   // bytes in one CEL expression
	MaxMessageLength    = 4096    // bytes in one rule message
	maxRate             = 1_000_000_000
	maxPer              = 7 * 24 * time.Hour
	minPer              = time.Millisecond
)

// Document is one parsed policy document. It is immutable once returned
// by [Parse], [ParseFile] or [ParseDir]; do not modify it (an [Engine]
// shares it with everything that reads [Engine.Documents]).
type Document struct {
	Name    string // metadata.name
	Version string // metadata.version ("" when absent)
	// Description is metadata.description, free text.
	Description string
	File        string // the file (or name passed to Parse) it came from
	// Source is the raw text of this document, as it was read (for a
	// multi-document file, only this document's part).
	Source []byte
	// DefaultEffect applies when no rule of any document matched. It is
	// Deny when the document does not say otherwise (HasDefault false).
	DefaultEffect agentos.Effect
	HasDefault    bool
	Variables     []Variable
	Rules         []Rule
	// Egress is spec.egress: the network destinations agents' tool
	// processes may reach (see [EgressRule]), as written; hostnames are
	// resolved when an [Engine] loads the document.
	Egress []EgressRule
	Line   int // line in File where the document starts
}

// Variable is a named CEL expression a document's rules refer to as
// variables.NAME. It may use the variables declared before it.
type Variable struct {
	Name       string
	Expression string
	Line       int
	Column     int
	expr       exprPos
}

// OnDeny says what the kernel does to an agent whose action a deny rule
// stopped.
type OnDeny uint8

const (
	// OnDenyKill (the default) fails the syscall and kills the agent.
	OnDenyKill OnDeny = iota
	// OnDenyRefuse fails the syscall and lets the agent go on.
	OnDenyRefuse
)

func (o OnDeny) String() string {
	if o == OnDenyRefuse {
		return "refuse"
	}
	return "kill"
}

// Limit is a token-bucket rate limit on an allow or audit rule: at most
// Rate permitted actions per Per for each agent, refilled continuously.
type Limit struct {
	Rate int
	Per  time.Duration
}

// Rule is one rule of a document.
type Rule struct {
	Name        string
	Description string
	Effect      agentos.Effect
	When        string // CEL expression; must be boolean
	Message     string
	Severity    agentos.Severity
	OnDeny      OnDeny
	Limit       *Limit // nil when the rule has no limit
	Line        int    // position of the rule in File
	Column      int
	when        exprPos
}

// exprPos remembers where an expression sits in the file, to turn CEL's
// expression-relative positions into file positions.
type exprPos struct {
	line, col int
	style     yaml.Style
}

// fileLine maps a 1-based line and column inside the expression to the
// file. Plain and quoted single-line scalars map exactly; block scalars map
// the line exactly and the column from the start of the line.
func (p exprPos) fileLine(src []byte, line, col int) (int, int) {
	if p.line == 0 {
		return 0, 0
	}
	switch {
	case p.style&(yaml.LiteralStyle) != 0:
		// Block content starts on the next line; its indentation is that
		// of the first content line.
		return p.line + line, indentOf(src, p.line+1) + col
	case p.style&yaml.FoldedStyle != 0:
		return p.line + 1, 0
	case line <= 1:
		c := p.col + col - 1
		if p.style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			c++
		}
		return p.line, c
	default:
		return p.line + line - 1, 0
	}
}

// indentOf returns the number of leading spaces of 1-based line l of src.
func indentOf(src []byte, l int) int {
	for i := 1; i < l; i++ {
		j := bytes.IndexByte(src, '\n')
		if j < 0 {
			return 0
		}
		src = src[j+1:]
	}
	n := 0
	for n < len(src) && src[n] == ' ' {
		n++
	}
	return n
}

var (
	namePattern     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$`)
	variablePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	separatorLine   = regexp.MustCompile(`^(---|\.\.\.)([ \t].*)?\r?$`)
)

// Parse parses one policy document (YAML, or JSON, which is YAML) named
// name (used in error messages and kept as [Document.File]). A source
// holding several YAML documents is refused; use [ParseFile] for those.
// Errors are [*Error] values wrapping [agentos.ErrInvalid].
func Parse(name string, src []byte) (*Document, error) {
	if len(src) > MaxSourceSize {
		return nil, &Error{File: name, Msg: fmt.Sprintf("document is %d bytes, over the limit of %d", len(src), MaxSourceSize)}
	}
	segs := splitDocuments(src)
	if len(segs) == 0 {
		return nil, &Error{File: name, Msg: "empty document"}
	}
	if len(segs) > 1 {
		return nil, &Error{File: name, Line: segs[1].line, Msg: "more than one YAML document (use ParseFile for multi-document files)"}
	}
	return parseSegment(name, segs[0])
}

// ParseFile reads and parses a file holding one or more policy documents
// separated by YAML document markers (---).
func ParseFile(path string) ([]*Document, error) {
	src, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return parseMulti(path, src)
}

// ParseDir parses every *.yaml, *.yml and *.json file directly in dir (not
// in subdirectories), in lexical order of file name, except policy test
// files (see [IsTestFile]). All files are read; the errors of every bad
// file are reported together.
func ParseDir(dir string) ([]*Document, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var docs []*Document
	var errs errorList
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		if IsTestFile(e.Name()) {
			continue
		}
		d, err := ParseFile(filepath.Join(dir, e.Name()))
		if err != nil {
			errs.add(err)
			continue
		}
		docs = append(docs, d...)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return docs, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSourceSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(src) > MaxSourceSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is over the limit of %d bytes", MaxSourceSize)}
	}
	return src, nil
}

func parseMulti(name string, src []byte) ([]*Document, error) {
	segs := splitDocuments(src)
	if len(segs) == 0 {
		return nil, &Error{File: name, Msg: "no policy document in file"}
	}
	docs := make([]*Document, 0, len(segs))
	var errs errorList
	for _, s := range segs {
		d, err := parseSegment(name, s)
		if err != nil {
			errs.add(err)
			continue
		}
		docs = append(docs, d)
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return docs, nil
}

// segment is one YAML document of a stream: its text with the lines before
// it blanked, so that positions reported by the YAML parser are positions
// in the file.
type segment struct {
	src  []byte // this document's own text
	line int    // 1-based line in the file where it starts
}

// splitDocuments cuts a YAML stream at document markers (a line that is
// "---" or "..." followed by nothing or blanks). YAML forbids such lines
// inside content, so the cut is the one the YAML parser makes. Segments
// with nothing but blanks and comments are dropped.
func splitDocuments(src []byte) []segment {
	var segs []segment
	start, startLine := 0, 1
	line := 1
	flush := func(end int) {
		s := src[start:end]
		if hasContent(s) {
			segs = append(segs, segment{src: s, line: startLine})
		}
	}
	for i := 0; i <= len(src); {
		j := bytes.IndexByte(src[i:], '\n')
		var l []byte
		next := len(src) + 1
		if j >= 0 {
			l = src[i : i+j]
			next = i + j + 1
		} else {
			l = src[i:]
		}
		if separatorLine.Match(l) {
			flush(i)
			start, startLine = min(next, len(src)), line+1
			if bytes.HasPrefix(l, []byte("---")) {
				rest := bytes.TrimSpace(l[3:])
				if len(rest) > 0 && rest[0] != '#' {
					// Content after the marker on the same line belongs to
					// the document: keep it, blanking the marker.
					start, startLine = i, line
				}
			}
		}
		if j < 0 {
			break
		}
		i = next
		line++
	}
	flush(len(src))
	return segs
}

func hasContent(s []byte) bool {
	for len(s) > 0 {
		var l []byte
		if j := bytes.IndexByte(s, '\n'); j >= 0 {
			l, s = s[:j], s[j+1:]
		} else {
			l, s = s, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) > 0 && l[0] != '#' && !bytes.HasPrefix(l, []byte("%")) {
			return true
		}
	}
	return false
}

// parseSegment parses one document. The YAML parser sees the segment
// preceded by blank lines so that its positions are file positions.
func parseSegment(name string, seg segment) (*Document, error) {
	text := seg.src
	if bytes.HasPrefix(bytes.TrimLeft(text, " \t"), []byte("---")) {
		// A marker with content on its line: blank the marker itself.
		text = bytes.Clone(text)
		k := bytes.Index(text, []byte("---"))
		copy(text[k:], "   ")
	}
	padded := make([]byte, 0, seg.line-1+len(text))
	padded = append(padded, bytes.Repeat([]byte{'\n'}, seg.line-1)...)
	padded = append(padded, text...)

	dec := yaml.NewDecoder(bytes.NewReader(padded))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: seg.line, Msg: "empty document"}
		}
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Line: seg.line, Msg: "more than one YAML document in one segment"}
	}
	p := &parser{file: name, src: padded}
	d := p.document(&root)
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	d.File = name
	d.Source = seg.src
	d.Line = seg.line
	return d, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

func yamlError(name string, err error) error {
	e := &Error{File: name, Msg: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: "), Err: err}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}

// parser walks a yaml.Node tree, checking every field.
type parser struct {
	file   string
	src    []byte
	policy string
	errs   errorList
}

func (p *parser) errorf(n *yaml.Node, rule, format string, args ...any) {
	e := &Error{File: p.file, Policy: p.policy, Rule: rule, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs.add(e)
}

// fields checks that n is a mapping with only the allowed keys, each at
// most once, and returns key → value node in document order.
func (p *parser) fields(n *yaml.Node, rule, what string, allowed ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, rule, "%s must be a mapping, not %s", what, kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
			p.errorf(k, rule, "%s: keys must be plain field names", what)
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			p.errorf(k, rule, "unknown field %q in %s (known: %s)", k.Value, what, strings.Join(allowed, ", "))
			continue
		}
		if _, dup := out[k.Value]; dup {
			p.errorf(k, rule, "field %q given twice in %s", k.Value, what)
			continue
		}
		if v.Kind == yaml.AliasNode || v.Anchor != "" || k.Anchor != "" {
			p.errorf(v, rule, "YAML anchors and aliases are not allowed in policy documents")
			continue
		}
		out[k.Value] = v
	}
	return out
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("the %s %q", strings.TrimPrefix(n.Tag, "!!"), n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// str returns the scalar string value of n (any scalar but null).
func (p *parser) str(n *yaml.Node, rule, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, rule, "%s must be a string, not %s", field, kindName(n))
		return "", false
	}
	if n.Tag == "!!binary" {
		p.errorf(n, rule, "%s must be a string, not binary data", field)
		return "", false
	}
	return n.Value, true
}

func (p *parser) document(root *yaml.Node) *Document {
	n := root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			p.errorf(n, "", "empty document")
			return nil
		}
		n = n.Content[0]
	}
	f := p.fields(n, "", "the document", "apiVersion", "kind", "metadata", "spec")
	if f == nil {
		return nil
	}
	d := &Document{}
	// metadata first, so later errors can name the policy.
	if m, ok := f["metadata"]; ok {
		p.metadata(m, d)
	} else {
		p.errorf(n, "", "missing field metadata (with metadata.name)")
	}
	if v, ok := f["apiVersion"]; !ok {
		p.errorf(n, "", "missing field apiVersion (want %q)", APIVersion)
	} else if s, ok := p.str(v, "", "apiVersion"); ok && s != APIVersion {
		p.errorf(v, "", "apiVersion is %q, want %q", s, APIVersion)
	}
	if v, ok := f["kind"]; !ok {
		p.errorf(n, "", "missing field kind (want %q)", Kind)
	} else if s, ok := p.str(v, "", "kind"); ok && s != Kind {
		p.errorf(v, "", "kind is %q, want %q", s, Kind)
	}
	if s, ok := f["spec"]; ok {
		p.spec(s, d)
	} else {
		p.errorf(n, "", "missing field spec")
	}
	return d
}

func (p *parser) metadata(n *yaml.Node, d *Document) {
	f := p.fields(n, "", "metadata", "name", "version", "description")
	if f == nil {
		return
	}
	if v, ok := f["name"]; !ok {
		p.errorf(n, "", "missing field metadata.name")
	} else if s, ok := p.str(v, "", "metadata.name"); ok {
		if !namePattern.MatchString(s) {
			p.errorf(v, "", "metadata.name %q is not a valid name (letters, digits, '.', '_', '-'; at most 128)", s)
		} else {
			d.Name = s
			p.policy = s
		}
	}
	if v, ok := f["version"]; ok {
		if s, ok := p.str(v, "", "metadata.version"); ok {
			if !namePattern.MatchString(s) {
				p.errorf(v, "", "metadata.version %q is not a valid version (letters, digits, '.', '_', '-')", s)
			} else {
				d.Version = s
			}
		}
	}
	if v, ok := f["description"]; ok {
		d.Description, _ = p.str(v, "", "metadata.description")
	}
}

func (p *parser) spec(n *yaml.Node, d *Document) {
	f := p.fields(n, "", "spec", "defaultEffect", "variables", "rules", "egress")
	if f == nil {
		return
	}
	if v, ok := f["defaultEffect"]; ok {
		if s, ok := p.str(v, "", "spec.defaultEffect"); ok {
			e, err := agentos.ParseEffect(s)
			if err != nil {
				p.errorf(v, "", "spec.defaultEffect: unknown effect %q (want allow, deny, approve or audit)", s)
			} else {
				d.DefaultEffect, d.HasDefault = e, true
			}
		}
	}
	if v, ok := f["variables"]; ok {
		p.variables(v, d)
	}
	if v, ok := f["rules"]; ok {
		p.rules(v, d)
	}
	if v, ok := f["egress"]; ok {
		p.egress(v, d)
	}
}

func (p *parser) variables(n *yaml.Node, d *Document) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "", "spec.variables must be a list, not %s", kindName(n))
		return
	}
	if len(n.Content) > MaxVariables {
		p.errorf(n, "", "spec.variables has %d entries, over the limit of %d", len(n.Content), MaxVariables)
		return
	}
	seen := map[string]bool{}
	for _, vn := range n.Content {
		f := p.fields(vn, "", "a variable", "name", "expression")
		if f == nil {
			continue
		}
		v := Variable{Line: vn.Line, Column: vn.Column}
		label := ""
		if x, ok := f["name"]; !ok {
			p.errorf(vn, "", "variable without a name")
			continue
		} else if s, ok := p.str(x, "", "variable name"); ok {
			if !variablePattern.MatchString(s) {
				p.errorf(x, "", "variable name %q is not an identifier", s)
				continue
			}
			v.Name = s
			label = "variable " + strconv.Quote(s)
		} else {
			continue
		}
		if seen[v.Name] {
			p.errorf(vn, label, "duplicate variable name")
			continue
		}
		seen[v.Name] = true
		x, ok := f["expression"]
		if !ok {
			p.errorf(vn, label, "missing field expression")
			continue
		}
		if s, ok := p.expression(x, label, "expression"); ok {
			v.Expression = s
			v.expr = exprPos{line: x.Line, col: x.Column, style: x.Style}
		}
		d.Variables = append(d.Variables, v)
	}
}

func (p *parser) expression(n *yaml.Node, label, field string) (string, bool) {
	s, ok := p.str(n, label, field)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		p.errorf(n, label, "%s is empty", field)
		return "", false
	}
	if len(s) > MaxExpressionLength {
		p.errorf(n, label, "%s is %d bytes, over the limit of %d", field, len(s), MaxExpressionLength)
		return "", false
	}
	return s, true
}

func (p *parser) rules(n *yaml.Node, d *Document) {
	d.Rules = namedList(p, n, "rules", "rule", MaxRules, p.rule, func(r Rule) string { return r.Name })
}

// namedList parses the list at spec.<field>: each entry with item, at most
// max of them, refusing a name used twice (the label of errors is what
// "rule" or "egress" is).
func namedList[T any](p *parser, n *yaml.Node, field, what string, max int, item func(*yaml.Node, int) (T, bool), name func(T) string) []T {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "", "spec.%s must be a list, not %s", field, kindName(n))
		return nil
	}
	if len(n.Content) > max {
		p.errorf(n, "", "spec.%s has %d entries, over the limit of %d", field, len(n.Content), max)
		return nil
	}
	var out []T
	seen := map[string]int{}
	for i, en := range n.Content {
		v, ok := item(en, i)
		if !ok {
			continue
		}
		if line, dup := seen[name(v)]; dup {
			p.errorf(en, what+" "+strconv.Quote(name(v)), "duplicate %s name (first defined at line %d)", what, line)
			continue
		}
		seen[name(v)] = en.Line
		out = append(out, v)
	}
	return out
}

func (p *parser) rule(n *yaml.Node, i int) (Rule, bool) {
	early := fmt.Sprintf("rule #%d", i+1)
	if n.Kind == yaml.MappingNode {
		for k := 0; k+1 < len(n.Content); k += 2 {
			if n.Content[k].Value == "name" && n.Content[k+1].Kind == yaml.ScalarNode && namePattern.MatchString(n.Content[k+1].Value) {
				early = "rule " + strconv.Quote(n.Content[k+1].Value)
			}
		}
	}
	f := p.fields(n, early, "a rule",
		"name", "description", "effect", "when", "message", "severity", "onDeny", "limit")
	if f == nil {
		return Rule{}, false
	}
	r := Rule{Line: n.Line, Column: n.Column}
	label := fmt.Sprintf("rule #%d", i+1)
	if x, ok := f["name"]; !ok {
		p.errorf(n, label, "missing field name")
		return r, false
	} else if s, ok := p.str(x, label, "name"); ok {
		if !namePattern.MatchString(s) {
			p.errorf(x, label, "rule name %q is not a valid name (letters, digits, '.', '_', '-'; at most 128)", s)
			return r, false
		}
		r.Name = s
		label = "rule " + strconv.Quote(s)
	} else {
		return r, false
	}
	ok := true
	bad := func(x *yaml.Node, format string, args ...any) {
		p.errorf(x, label, format, args...)
		ok = false
	}
	if x, has := f["effect"]; !has {
		bad(n, "missing field effect (allow, deny, approve or audit)")
	} else if s, good := p.str(x, label, "effect"); !good {
		ok = false
	} else if e, err := agentos.ParseEffect(s); err != nil {
		bad(x, "unknown effect %q (want allow, deny, approve or audit)", s)
	} else {
		r.Effect = e
	}
	if x, has := f["when"]; !has {
		bad(n, "missing field when (a boolean CEL expression; write \"true\" to match everything)")
	} else if s, good := p.expression(x, label, "when"); !good {
		ok = false
	} else {
		r.When = s
		r.when = exprPos{line: x.Line, col: x.Column, style: x.Style}
	}
	if x, has := f["description"]; has {
		r.Description, _ = p.str(x, label, "description")
	}
	if x, has := f["message"]; has {
		if s, good := p.str(x, label, "message"); !good {
			ok = false
		} else if len(s) > MaxMessageLength {
			bad(x, "message is %d bytes, over the limit of %d", len(s), MaxMessageLength)
		} else {
			r.Message = s
		}
	}
	if x, has := f["severity"]; has {
		if s, good := p.str(x, label, "severity"); !good {
			ok = false
		} else if sev, err := agentos.ParseSeverity(s); err != nil {
			bad(x, "unknown severity %q (want info, low, medium, high or critical)", s)
		} else {
			r.Severity = sev
		}
	}
	if x, has := f["onDeny"]; has {
		s, good := p.str(x, label, "onDeny")
		switch {
		case !good:
			ok = false
		case s == "kill":
			r.OnDeny = OnDenyKill
		case s == "refuse":
			r.OnDeny = OnDenyRefuse
		default:
			bad(x, "unknown onDeny %q (want kill or refuse)", s)
		}
		if good && r.Effect != agentos.Deny && f["effect"] != nil && ok {
			bad(x, "onDeny applies only to deny rules, and this rule's effect is %s", r.Effect)
		}
	}
	if x, has := f["limit"]; has {
		l, good := p.limit(x, label)
		switch {
		case !good:
			ok = false
		case f["effect"] != nil && r.Effect != agentos.Allow && r.Effect != agentos.Audit:
			bad(x, "limit applies only to allow and audit rules, and this rule's effect is %s", r.Effect)
		default:
			r.Limit = l
		}
	}
	return r, ok
}

func (p *parser) limit(n *yaml.Node, label string) (*Limit, bool) {
	f := p.fields(n, label, "limit", "rate", "per")
	if f == nil {
		return nil, false
	}
	l := &Limit{}
	ok := true
	if x, has := f["rate"]; !has {
		p.errorf(n, label, "limit: missing field rate (a positive integer)")
		ok = false
	} else if s, good := p.str(x, label, "limit.rate"); !good {
		ok = false
	} else if v, err := strconv.Atoi(s); err != nil || v < 1 || v > maxRate {
		p.errorf(x, label, "limit.rate %q is not an integer between 1 and %d", s, maxRate)
		ok = false
	} else {
		l.Rate = v
	}
	if x, has := f["per"]; !has {
		p.errorf(n, label, "limit: missing field per (a duration such as 1s, 1m or 1h)")
		ok = false
	} else if s, good := p.str(x, label, "limit.per"); !good {
		ok = false
	} else if v, err := time.ParseDuration(s); err != nil || v < minPer || v > maxPer {
		p.errorf(x, label, "limit.per %q is not a duration between %v and %v (e.g. 1s, 1m, 1h)", s, minPer, maxPer)
		ok = false
	} else {
		l.Per = v
	}
	return l, ok
}
