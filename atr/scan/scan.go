package scan

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Severity grades a finding. The zero value is [SeverityNone], which no
// finding carries: it is the answer of [Max] for no findings.
type Severity int

// Severities, in increasing order.
const (
	SeverityNone     Severity = iota
	SeverityLow               // informational: common in clean definitions
	SeverityMedium            // suspicious: worth an operator's look
	SeverityHigh              // the shape of an attack; quarantine by default
	SeverityCritical          // a known attack pattern
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

// String returns "none", "low", "medium", "high" or "critical".
func (s Severity) String() string {
	if s < 0 || int(s) >= len(severityNames) {
		return "severity(" + strconv.Itoa(int(s)) + ")"
	}
	return severityNames[s]
}

// MarshalText encodes the severity as its name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || int(s) >= len(severityNames) {
		return nil, fmt.Errorf("scan: %w: severity %d", ErrInvalid, int(s))
	}
	return []byte(severityNames[s]), nil
}

// UnmarshalText decodes a severity from its name; it returns an error
// wrapping [ErrInvalid] for any other text.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity returns the severity named name ("low", "medium", "high",
// "critical" or "none"), or an error wrapping [ErrInvalid].
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if n == name {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("scan: %w: unknown severity %q", ErrInvalid, name)
}

// Kind names what a finding found.
type Kind string

// Kinds of finding.
const (
	KindInvisible     Kind = "invisible-unicode" // zero-width, format, bidi, tag or variation-selector characters
	KindHiddenMarkup  Kind = "hidden-markup"     // HTML or Markdown comments, invisible elements
	KindInjection     Kind = "prompt-injection"  // instructions aimed at the model
	KindEncoded       Kind = "encoded-blob"      // a long base64 or hex run
	KindExfiltration  Kind = "exfiltration"      // destinations, transfer verbs, secrets
	KindHiddenText    Kind = "hidden-text"       // text after a long run of blank lines or spaces
	KindConfusable    Kind = "confusable"        // look-alike characters from other scripts
	KindShadowing     Kind = "shadowing"         // a name that imitates a known tool's
	KindPermissive    Kind = "permissive-schema" // a schema that accepts too much
	KindInvalidSchema Kind = "invalid-schema"    // a schema that is not JSON or over the bounds
	KindOversized     Kind = "oversized"         // text over the scan bound: the rest was not scanned
)

// Finding is one thing a scan found.
type Finding struct {
	Kind     Kind
	Severity Severity
	// Field is where it was found: "name", "description", a schema path
	// such as "inputSchema/properties/q/description" (JSON Pointer
	// escaping for the property names), a property's name itself as
	// "inputSchema/properties/q#name", or the field a blob was decoded
	// from followed by "/base64@OFFSET", "/hex@OFFSET" or "/tags@OFFSET".
	Field string
	// Message says what was found, in words.
	Message string
	// Evidence is the text around the finding, quoted as a Go string
	// literal with every non-ASCII character escaped, and cut to at most
	// about [MaxEvidence] bytes.
	Evidence string
	// Offset is the byte offset of the finding in its field's text (for
	// a decoded blob's field, in the decoded text).
	Offset int
}

// String formats the finding on one line.
func (f Finding) String() string {
	return fmt.Sprintf("%s %s at %s+%d: %s %s", f.Severity, f.Kind, f.Field, f.Offset, f.Message, f.Evidence)
}

// Max returns the highest severity among findings, or [SeverityNone].
func Max(findings []Finding) Severity {
	m := SeverityNone
	for _, f := range findings {
		m = max(m, f.Severity)
	}
	return m
}

// AtLeast returns the findings whose severity is at least min, in order.
func AtLeast(findings []Finding, min Severity) []Finding {
	var out []Finding
	for _, f := range findings {
		if f.Severity >= min {
			out = append(out, f)
		}
	}
	return out
}

// MaxEvidence bounds the bytes of text a finding quotes as evidence.
const MaxEvidence = 96

// Defaults of [Options].
const (
	DefaultMaxTextBytes   = 32 << 10 // per text field
	DefaultMaxTotalBytes  = 256 << 10
	DefaultMaxSchemaBytes = 1 << 20
	DefaultMaxSchemaDepth = 64
	DefaultMaxSchemaNodes = 20_000
	DefaultMaxDecodeDepth = 3
	DefaultMaxFindings    = 128
	DefaultHugeMaxLength  = 1 << 20
)

// Options bound and tune a [Scanner]. Zero fields take the defaults.
type Options struct {
	// MaxTextBytes bounds the bytes of one text field that are scanned; a
	// longer field is reported as [KindOversized] at high severity, since
	// the rest went unscanned.
	MaxTextBytes int
	// MaxTotalBytes bounds the bytes of text scanned in one call, all
	// fields and decoded blobs together; what is left over is reported as
	// [KindOversized] at high severity.
	MaxTotalBytes int
	// MaxSchemaBytes, MaxSchemaDepth and MaxSchemaNodes bound the input
	// schema; one over them is reported as [KindInvalidSchema].
	MaxSchemaBytes int
	MaxSchemaDepth int
	MaxSchemaNodes int
	// MaxDecodeDepth bounds how many times an encoded blob found in
	// decoded text is decoded again.
	MaxDecodeDepth int
	// MaxFindings bounds the findings of one call; the rest are dropped
	// after the most severe ones are kept.
	MaxFindings int
	// HugeMaxLength is the maxLength above which a string property is
	// reported as unbounded.
	HugeMaxLength int
}

// Scanner scans tool definitions. Build one with [New]; the zero value is
// not usable. It is immutable and safe for concurrent use.
type Scanner struct {
	o Options
}

// New returns a scanner with the options in o; nil or zero fields mean the
// defaults. Negative values are treated as zero.
func New(o *Options) *Scanner {
	var c Options
	if o != nil {
		c = *o
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxTextBytes, DefaultMaxTextBytes)
	def(&c.MaxTotalBytes, DefaultMaxTotalBytes)
	def(&c.MaxSchemaBytes, DefaultMaxSchemaBytes)
	def(&c.MaxSchemaDepth, DefaultMaxSchemaDepth)
	def(&c.MaxSchemaNodes, DefaultMaxSchemaNodes)
	def(&c.MaxDecodeDepth, DefaultMaxDecodeDepth)
	def(&c.MaxFindings, DefaultMaxFindings)
	def(&c.HugeMaxLength, DefaultHugeMaxLength)
	return &Scanner{o: c}
}

var defaultScanner = New(nil)

// Tool scans a tool definition with the default options; see
// [Scanner.Tool].
func Tool(name, description string, inputSchema []byte) []Finding {
	return defaultScanner.Tool(name, description, inputSchema)
}

// Tool scans a tool definition: its name, its description and its input
// schema (JSON; nil or empty means the definition has none, which is
// reported as permissive). Findings come in field order, and within a field
// by offset; a clean definition returns none.
func (s *Scanner) Tool(name, description string, inputSchema []byte) []Finding {
	c := s.newCollector()
	s.scanName(c, name)
	s.scanText(c, "description", description, 0)
	s.scanSchema(c, inputSchema)
	return c.result()
}

// Text scans one text the model reads (a title, a server's instructions, a
// prompt), reporting its findings under field.
func (s *Scanner) Text(field, text string) []Finding {
	c := s.newCollector()
	s.scanText(c, field, text, 0)
	return c.result()
}

// collector gathers the findings of one call, bounded.
type collector struct {
	max      int
	findings []Finding
	dropped  int
	decoded  int // bytes decoded from blobs so far, bounded by the text bound times the depth
	budget   int // bytes of text left to scan
	// exhausted: the budget ran out and that was reported.
	exhausted bool
}

func (s *Scanner) newCollector() *collector {
	return &collector{max: s.o.MaxFindings, budget: s.o.MaxTotalBytes}
}

func (c *collector) add(f Finding) {
	if len(c.findings) >= 4*c.max {
		// Keep memory bounded while still letting a severe finding in
		// late text displace a mild early one in result.
		c.compact()
	}
	c.findings = append(c.findings, f)
}

func (c *collector) compact() {
	slices.SortStableFunc(c.findings, func(a, b Finding) int { return int(b.Severity - a.Severity) })
	c.dropped += len(c.findings) - c.max
	c.findings = c.findings[:c.max]
}

// result returns the findings: one per kind, field and offset (the most
// severe, when two patterns matched the same place), at most max.
func (c *collector) result() []Finding {
	type at struct {
		kind   Kind
		field  string
		offset int
	}
	first := map[at]int{}
	kept := c.findings[:0]
	for _, f := range c.findings {
		k := at{f.Kind, f.Field, f.Offset}
		if i, ok := first[k]; ok {
			if f.Severity > kept[i].Severity {
				kept[i] = f
			}
			continue
		}
		first[k] = len(kept)
		kept = append(kept, f)
	}
	c.findings = kept
	if len(c.findings) > c.max {
		c.compact()
	}
	return c.findings
}

// evidence quotes text[from:to], widened by a little context and cut to
// MaxEvidence bytes.
func evidence(text string, from, to int) string {
	const ctx = 16
	from = max(0, min(from, len(text)))
	to = max(from, min(to, len(text)))
	a, b := max(0, from-ctx), min(len(text), to+ctx)
	for a > 0 && !utf8.RuneStart(text[a]) {
		a--
	}
	for b < len(text) && !utf8.RuneStart(text[b]) {
		b++
	}
	snip := text[a:b]
	q := strconv.QuoteToASCII(snip)
	if len(q) > MaxEvidence {
		q = q[:MaxEvidence]
		// Do not end inside an escape sequence.
		if i := strings.LastIndexByte(q, '\\'); i >= len(q)-10 {
			q = q[:i]
		}
		q += "…"
	}
	return q
}
